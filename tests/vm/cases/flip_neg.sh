# shellcheck shell=bash disable=SC2034
# flip_neg.sh - one flipped bit on the wire is refused
# (sourced by tests/vm/suite.sh)
#
# Description:
#	The relay flips one bit at 2 MiB + 777: the receiver fails with
#	"TLS record authentication failed" and exit 4, the sender fails (not
#	0, not a timeout), nothing is committed (no snapshot, no dataset); on
#	a kernel-plane receiver TlsDecryptError rises in its namespace.  On
#	splice, user and direct receivers.
#
# Strategy:
#	tests/host/relay.py --flip-at between splice senders and each
#	receiving plane; tls_stat of zkb before and after.
#
# Cases: flip-splice flip-user flip-direct
# Tags: kernels=all zfs
# Limit: 240
# Order: 34

flip_case() {   # flip_case RECV-PLANE
    local mr=$1 t0=$SECONDS d=dstpool/flip-$1 de0 de1
    de0=$(ns_stat "$ZKB" | cut -d' ' -f5)
    xfer_reset
    SEND_ARGS=(srcpool/data@s1) RECV_ARGS=("$d") RELAY_OPTS=(--flip-at $((2 * 1048576 + 777)))
    xfer "flip-$mr" splice "$mr"
    de1=$(ns_stat "$ZKB" | cut -d' ' -f5)
    [[ $S_RC != 0 && $S_RC != 124 ]] || err "sender exit $S_RC (want a failure, not 0/timeout)"
    [[ $R_RC == 4 ]] || err "receiver ($mr) exit $R_RC (want 4: corrupted stream)"
    expect_log "flip-$mr.r" '"level":"error".*TLS record authentication failed'
    grep -q 'flipped a bit' "$W/flip-$mr.relay.log" 2>/dev/null || err "the relay did not flip"
    [[ -z $(guid "$d@s1") ]] || err "$d@s1 exists: a corrupted stream was committed"
    zfs list -H "$d" >/dev/null 2>&1 && err "$d exists after a corrupted full stream"
    local ded=''
    if is_kernel "$mr"; then
        [[ $((de1 - de0)) -ge 1 ]] || err "TlsDecryptError in zkb +$((de1 - de0)) (want >= 1)"
        ded=", TlsDecryptError +$((de1 - de0))"
    fi
    verdict "flip-$mr" "bit flip at 2 MiB: receiver ($mr) exit $R_RC 'TLS record authentication failed', sender exit $S_RC, nothing committed$ded ($((SECONDS - t0)) s)" "flip-$mr"
}
want flip-splice && flip_case splice
want flip-user && flip_case user
want flip-direct && flip_case direct
