# shellcheck shell=bash disable=SC2034
# raw_encrypted_pos.sh - a raw (-w) stream of an encrypted dataset
# (sourced by tests/vm/suite.sh)
#
# Description:
#	splice->splice send -w of an aes-256-gcm dataset: both exit 0, guid
#	equal, the received dataset is aes-256-gcm with its key unavailable
#	until zfs load-key, after which the file checksums equal.
#
# Strategy:
#	srcpool/enc (passphrase in $W/keyfile, a marker file) is made here
#	and kept (token_raw_neg.sh uses it when it exists).
#
# Cases: raw-encrypted-w
# Tags: kernels=all zfs
# Limit: 240
# Order: 22

if want raw-encrypted-w; then
    t0=$SECONDS
    echo "zktls-suite-passphrase" >"$W/keyfile"
    zfs create -o encryption=on -o keyformat=passphrase -o keylocation="file://$W/keyfile" \
        -o mountpoint="$W/src/enc" srcpool/enc || err "cannot create the encrypted dataset"
    head -c 2M /dev/urandom >"$W/src/enc/f1"
    yes "$MARK" | head -c 256K >"$W/src/enc/marker.txt"
    zfs snapshot srcpool/enc@e1
    esum=$(snap_sum srcpool/enc@e1)
    xfer_reset
    SEND_ARGS=(-w srcpool/enc@e1) RECV_ARGS=(dstpool/enc)
    xfer enc splice splice
    expect_rc sender "$S_RC" 0; expect_rc receiver "$R_RC" 0
    same_guid srcpool/enc@e1 dstpool/enc@e1
    [[ $(zfs get -H -o value encryption dstpool/enc 2>/dev/null) == aes-256-gcm ]] ||
        err "received dataset encryption '$(zfs get -H -o value encryption dstpool/enc 2>/dev/null)' (want aes-256-gcm)"
    [[ $(zfs get -H -o value keystatus dstpool/enc 2>/dev/null) == unavailable ]] ||
        err "received raw dataset keystatus is not 'unavailable'"
    if zfs load-key -L "file://$W/keyfile" dstpool/enc 2>/dev/null; then
        [[ $(snap_sum dstpool/enc@e1) == "$esum" ]] || err "file checksum after load-key differs"
    else
        err "zfs load-key of the received dataset failed"
    fi
    verdict raw-encrypted-w "splice->splice -w of an aes-256-gcm dataset: guid equal, key unavailable until load-key, then sums equal ($((SECONDS - t0)) s)" enc
    zfs destroy -r dstpool/enc 2>/dev/null
fi
