# shellcheck shell=bash disable=SC2034
# quiet_dead_neg.sh - a peer that vanishes during a silence is noticed
# (sourced by tests/vm/suite.sh)
#
# Description:
#	The source's zfs send goes silent for 40 s; 4 s into the silence the
#	sender's link goes down.  The receiver (--timeout 8) notices by TCP
#	keepalive within 25 s of the link going down, long before the
#	silence ends: exit 4, "timed out" (or "unreachable"); the sender
#	does not exit 0; nothing committed.  On splice and direct receivers.
#
# Strategy:
#	quiet_zfs (case-lib.sh) wraps zfs for the sender; a watcher waits
#	for the session's connection, takes zka's link down 4 s in, and
#	times the receiver's session line.  Runs in a background worker, on
#	a host pair of its own (the link goes down).
#
# Cases: quiet-dead-splice quiet-dead-direct
# Tags: kernels=all zfs slow bg
# Limit: 240
# Order: 50

# quiet_dead NAME RECV-PLANE: the source goes silent for 40 s and, 4 s into
# the silence, the sender's host vanishes (its link goes down): the
# receiver (--timeout 8) must notice through TCP keepalive long before the
# silence ends, exit 4 with "timed out", nothing committed.
quiet_dead() {
    local name=$1 mr=$2 t0=$SECONDS d=dstpool/$1 el rel
    xfer_reset
    S_ENV="ZKTLS_ZFS=$(quiet_zfs 40 "$name")"
    XFER_OPTS=(--timeout 8) SEND_ARGS=(srcpool/data@s1) RECV_ARGS=("$d")
    (
        # 4 s into the silence (the session is up, its first MiB
        # through: the connection is established and has been for a
        # while; under load the start can take seconds)
        for ((i = 0; i < 600; i++)); do
            # (the session's connection: not zktls's loopback probe)
            ip netns exec "$ZKA" ss -Htn state established dst "$ZKB_IP" 2>/dev/null | grep -q . && break
            nap 0.1
        done
        nap 4
        ip -n "$ZKA" link set "${ZKA}0" down
        local down=$SECONDS
        # The receiver's own end of the wire: when did it give up?
        for ((i = 0; i < 300; i++)); do
            [[ -s $W/$name.r.log ]] && grep -aq '"event":"session"' "$W/$name.r.log" && break
            nap 0.1
        done
        echo $((SECONDS - down)) >"$W/$name.rgone"
    ) &
    local watcher=$!
    xfer "$name" splice "$mr"
    wait "$watcher"
    ip -n "$ZKA" link set "${ZKA}0" up
    el=$((SECONDS - t0))
    rel=$(cat "$W/$name.rgone" 2>/dev/null)
    expect_rc receiver "$R_RC" 4
    [[ $S_RC != 0 ]] || err "sender exit 0 with its peer gone"
    expect_log "$name.r" '"level":"error".*(timed out|unreachable)'
    [[ -n $rel && $rel -lt 25 ]] || err "the receiver ended ${rel:-never} s after the link went down (want < 25 s: keepalive with --timeout 8 gives up within about 16 s of the last data; the source resumes ~35 s later)"
    [[ -z $(guid "$d@s1") ]] || err "$d@s1 exists after the peer vanished"
    verdict "$name" "link down 4 s into a 40 s silence: receiver ($mr) exit $R_RC '$(jerr "$name.r" | cut -c1-70)' ${rel:-?} s later, sender exit $S_RC (${el} s)" "$name"
    zfs destroy -r "$d" 2>/dev/null
}
want quiet-dead-splice && quiet_dead quiet-dead-splice splice
want quiet-dead-direct && quiet_dead quiet-dead-direct direct
