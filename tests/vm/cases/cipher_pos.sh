# shellcheck shell=bash disable=SC2034
# cipher_pos.sh - AES-GCM whenever one key is enough (sourced by
# tests/vm/suite.sh; run alone: tests/vm/run-case cipher_pos)
#
# Description:
#	The cipher by need (src/cipher.c) with real kernel TLS and real
#	zfs, on both kernels (the answers differ: 6.12 cannot change kernel
#	keys, 7.2 can):
#	cipher-push-fits: splice -> splice, srcpool/data@s1 (~13 MiB) at the
#	  default key limit: AES-GCM on both sides; why: fits_one_key on
#	  6.12, key_update where both can change keys.
#	cipher-pull-fits: a pull, the sender (splice) listening, the
#	  receiver (direct, which never changes keys) connecting and
#	  offering AES-GCM only: AES-GCM, fits_one_key on both sides.
#	cipher-pull-big: the same with --key-limit 16 on the sender, so the
#	  stream may exceed a key: the sender sends the client away (on
#	  6.12 at the handshake, insufficient_security; on 7.2 after the
#	  REQUEST, status 5, since it could change keys but the receiver
#	  cannot), the client connects again offering ChaCha20-Poly1305
#	  first ("connecting again" in its -v log), and the snapshot arrives
#	  under ChaCha20 (why: may_exceed_key_limit), guids equal.
#
# Strategy:
#	xfer (suite-lib.sh) with --json logs; jf reads the session lines'
#	cipher and cipher_why; the receiver's dataset is destroyed after
#	each case.
#
# Cases: cipher-push-fits cipher-pull-fits cipher-pull-big
# Tags: kernels=all zfs
# Limit: 120
# Order: 13

# cipher_case NAME SEND-PLANE RECV-PLANE PULL WANT-CIPHER WANT-WHY-S
# WANT-WHY-R [SENDER-KEY-LIMIT]
cipher_case() {
    local name=$1 ms=$2 mr=$3 d=dstpool/$1 t0=$SECONDS cs cr ws wr
    xfer_reset
    PULL=$4 SEND_ARGS=(srcpool/data@s1) RECV_ARGS=("$d") R_XOPTS=(-v)
    [[ -n ${8:-} ]] && S_XOPTS=(--key-limit "$8")
    xfer "$name" "$ms" "$mr"
    expect_rc sender "$S_RC" 0
    expect_rc receiver "$R_RC" 0
    same_guid srcpool/data@s1 "$d@s1"
    cs=$(jf "$name.s" cipher) cr=$(jf "$name.r" cipher)
    ws=$(jf "$name.s" cipher_why) wr=$(jf "$name.r" cipher_why)
    [[ $cs == "$5" && $cr == "$5" ]] || err "cipher sender ${cs:-?} receiver ${cr:-?} (want $5)"
    [[ $ws == "$6" ]] || err "sender cipher_why ${ws:-?} (want $6)"
    [[ $wr == "$7" ]] || err "receiver cipher_why ${wr:-?} (want $7)"
    if [[ $5 == *CHACHA* ]]; then
        expect_log "$name.r" 'connecting again offering ChaCha20-Poly1305 first'
    elif grep -aq 'connecting again' "$W/$name.r.log"; then
        err "the receiver connected twice where one key is enough"
    fi
    verdict "$name" "$ms->$mr$([[ $4 == 1 ]] && echo ' (pull)')${8:+, sender --key-limit $8}: $cs ($ws / $wr), guid ok ($((SECONDS - t0)) s)" "$name.s" "$name.r"
    zfs destroy -r "$d" 2>/dev/null
}

# the sender of the big pull: on 6.12 it needed ChaCha20 itself; on 7.2
# it could change keys and took what the client offered the second time
if [[ $KREKEY == 1 ]]; then why=key_update big=peer_choice
else why=fits_one_key big=may_exceed_key_limit; fi
want cipher-push-fits &&
    cipher_case cipher-push-fits splice splice 0 TLS_AES_256_GCM_SHA384 "$why" "$why"
want cipher-pull-fits &&
    cipher_case cipher-pull-fits splice direct 1 TLS_AES_256_GCM_SHA384 fits_one_key fits_one_key
want cipher-pull-big &&
    cipher_case cipher-pull-big splice direct 1 TLS_CHACHA20_POLY1305_SHA256 "$big" may_exceed_key_limit 16
