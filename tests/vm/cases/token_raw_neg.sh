# shellcheck shell=bash disable=SC2034
# token_raw_neg.sh - a non-raw resume token is refused against send -w
# (sourced by tests/vm/suite.sh)
#
# Description:
#	A real resume token from a non-raw partial receive of an encrypted
#	dataset, against a raw (-w) send: refused (sender exit 4, "resume
#	token refused: it continues a non-raw send ..."), nothing decrypted
#	goes out (the receiver: "the sender ended the session before sending
#	anything"), the partial receive unchanged.  A raw partial is resumed
#	raw: guid equal, keystatus unavailable.
#
# Strategy:
#	The partials are made locally (zfs send | head -c 1M | zfs recv -s);
#	srcpool/enc is raw_encrypted_pos.sh's when it ran, else made here.
#
# Cases: token-raw
# Tags: kernels=all zfs
# Limit: 300
# Order: 41

if want token-raw; then
    t0=$SECONDS
    if [[ -z $(guid srcpool/enc@e1) ]]; then
        echo "zktls-suite-passphrase" >"$W/keyfile"
        zfs create -o encryption=on -o keyformat=passphrase -o keylocation="file://$W/keyfile" \
            -o mountpoint="$W/src/enc" srcpool/enc
        head -c 2M /dev/urandom >"$W/src/enc/f1"
        zfs snapshot srcpool/enc@e1
    fi
    zfs send srcpool/enc@e1 | head -c 1M | zfs recv -s dstpool/tokplain 2>/dev/null
    tok=$(zfs get -H -o value receive_resume_token dstpool/tokplain 2>/dev/null)
    [[ -n $tok && $tok != - ]] || err "no partial (non-raw) receive to resume"
    xfer_reset
    SEND_ARGS=(-w srcpool/enc@e1) RECV_ARGS=(-s dstpool/tokplain)
    xfer tokplain splice splice
    expect_rc sender "$S_RC" 4
    expect_log tokplain.s 'resume token refused: it continues a non-raw send of srcpool/enc@e1, but -w was asked'
    expect_log tokplain.r 'the sender ended the session before sending anything'
    [[ -z $(guid dstpool/tokplain@e1) ]] || err "dstpool/tokplain@e1 was received"
    [[ $(zfs get -H -o value receive_resume_token dstpool/tokplain) == "$tok" ]] || err "the partial receive changed"
    zfs send -w srcpool/enc@e1 | head -c 1M | zfs recv -s dstpool/tokraw 2>/dev/null
    xfer_reset
    SEND_ARGS=(-w srcpool/enc@e1) RECV_ARGS=(-s dstpool/tokraw)
    xfer tokraw splice splice
    expect_rc "raw resume: sender" "$S_RC" 0; expect_rc "raw resume: receiver" "$R_RC" 0
    expect_log tokraw.s 'resuming an interrupted transfer of srcpool/enc@e1'
    same_guid srcpool/enc@e1 dstpool/tokraw@e1
    [[ $(zfs get -H -o value keystatus dstpool/tokraw 2>/dev/null) == unavailable ]] ||
        err "the resumed raw receive is not encrypted (keystatus '$(zfs get -H -o value keystatus dstpool/tokraw 2>/dev/null)')"
    verdict token-raw "non-raw token vs send -w refused ($(jerr tokplain.s | cut -c1-100)); raw token resumed raw, keystatus unavailable ($((SECONDS - t0)) s)" tokplain tokraw
    zfs destroy -r dstpool/tokplain 2>/dev/null; zfs destroy -r dstpool/tokraw 2>/dev/null
fi
