# shellcheck shell=bash disable=SC2034
# serve_pos.sh - zktls serve: clients at once, a pull, an unprivileged
# network process (sourced by tests/vm/suite.sh)
#
# Description:
#	zktls serve in zkb (splice; clients alpha and delta by certificate):
#	two clients push at once (alpha direct, delta splice) into
#	dstpool/srv/{alpha,delta}, guids equal, delta's policy property
#	(org.zktls:from=delta) set; alpha pulls @s4 incrementally from @s1,
#	guid equal; a clone of a clone of a snapshot outside alpha's pull
#	area is refused (exit 4) without naming what lies outside; serve
#	logs no error; the metrics file counts alpha's two sessions.  The
#	network-facing process of a session is unprivileged: uid 65534,
#	CapEff 0, NoNewPrivs 1, Seccomp 2 (from /proc).
#
# Strategy:
#	delta's certificate is made here; the session processes are found
#	among serve's grandchildren while the pushes run.  Runs after the
#	background group has ended (as it always did: nothing beside it).
#
# Cases: serve
# Tags: kernels=all zfs slow alone
# Limit: 900
# Order: 60

if want serve; then
    t0=$SECONDS
    client_cert delta
    zfs create dstpool/srv && zfs create dstpool/srv/alpha && zfs create dstpool/srv/delta
    { serve_conf_head "metrics $W/zktls.prom"; cat <<CONF; } >"$W/zktls.conf"
client alpha {
	name alpha
	push dstpool/srv/alpha
	pull srcpool/data
}
client delta {
	name delta
	push dstpool/srv/delta
	property org.zktls:from=delta
}
CONF
    ZK_TO=1200 zk_start srv "$ZKB" serve --config "$W/zktls.conf" --json
    if port=$(wait_listen srv 60); then
        D=(--cert "$CERTS/delta.pem" --key "$CERTS/delta.key" --ca "$CERTS/ca.pem" --peer-name beta)
        zk_start sa "$ZKA" send --mode direct --json "${TLS_A[@]}" --connect "$ZKB_IP:$port" srcpool/data@s1
        zk_start sd "$ZKA" send --mode splice --json "${D[@]}" --connect "$ZKB_IP:$port" srcpool/data@s2
        # the network-facing process of a session, while they run
        net='' nuid='' ncap='' nnp='' nsc=''
        for ((i = 0; i < 100; i++)); do
            [[ -n $net ]] && break
            for p in $(pgrep -P "$(cat "$W/srv.pid")"); do
                for c in $(pgrep -P "$p"); do
                    read -r nuid ncap nnp nsc < <(awk '/^Uid:/ { u = $2 } /^CapEff:/ { c = $2 } /^NoNewPrivs:/ { n = $2 } /^Seccomp:/ { s = $2 } END { print u, c, n, s }' /proc/$c/status 2>/dev/null)
                    [[ $nuid == 65534 ]] && { net=$c; break 2; }
                done
            done
            nap 0.05
        done
        if [[ -n $net ]]; then
            [[ $nuid == 65534 && $ncap == 0000000000000000 && $nnp == 1 && $nsc == 2 ]] ||
                err "network process $net: uid $nuid CapEff $ncap NoNewPrivs $nnp Seccomp $nsc"
        else
            err "no unprivileged network process seen"
        fi
        zk_wait sa; a_rc=$?
        zk_wait sd; d_rc=$?
        expect_rc "alpha (direct)" "$a_rc" 0; expect_rc "delta (splice)" "$d_rc" 0
        same_guid srcpool/data@s1 dstpool/srv/alpha/data@s1
        same_guid srcpool/data@s2 dstpool/srv/delta/data@s2
        v=$(zfs get -H -o value org.zktls:from dstpool/srv/delta/data 2>&1)
        [[ $v == delta ]] || err "delta's policy property: org.zktls:from is '$v'"
        # alpha pulls @s4, incremental from @s1 which it has
        zfs create dstpool/pulled && zfs send srcpool/data@s1 | zfs recv -u dstpool/pulled/data
        zk_start pl "$ZKA" recv --mode splice --json "${TLS_A[@]}" --connect "$ZKB_IP:$port" \
            --source srcpool/data@s4 dstpool/pulled/data
        zk_wait pl; p_rc=$?
        expect_rc "alpha pulls" "$p_rc" 0
        same_guid srcpool/data@s4 dstpool/pulled/data@s4
        grep -aq '"level":"error"' "$W/srv.log" && err "serve logged errors: $(grep -a '"level":"error"' "$W/srv.log" | head -2)"
        # a clone in alpha's pull area of a clone in it of a snapshot
        # outside it (two hops) is not sent, and the refusal does not
        # name what lies outside
        zfs create srcpool/other && zfs snapshot srcpool/other@x &&
            zfs clone srcpool/other@x srcpool/data/b && zfs snapshot srcpool/data/b@y &&
            zfs clone srcpool/data/b@y srcpool/data/cl && zfs snapshot srcpool/data/cl@c
        zk_start clone "$ZKA" recv --mode splice "${TLS_A[@]}" --connect "$ZKB_IP:$port" \
            --source srcpool/data/cl@c dstpool/pulled/cl
        zk_wait clone; c_rc=$?
        expect_rc "alpha pulls a clone of a clone of srcpool/other@x" "$c_rc" 4
        grep -q 'other' "$W/clone.log" && err "the refusal names the origin outside: $(tail -1 "$W/clone.log")"
        grep -q "srcpool/data/cl is a clone whose origin lies outside what client alpha may read" "$W/clone.log" ||
            err "clone pull: $(tail -1 "$W/clone.log")"
        zfs list dstpool/pulled/cl >/dev/null 2>&1 && err "the clone arrived"
        zfs destroy -r srcpool/data/cl; zfs destroy -r srcpool/data/b; zfs destroy -r srcpool/other
        grep -q 'zktls_sessions_total{client="alpha",plane="splice",result="ok"} 2' "$W/zktls.prom" 2>/dev/null ||
            err "metrics: $(grep sessions_total "$W/zktls.prom" 2>/dev/null | tr '\n' ' ')"
    else
        err "serve did not listen"
    fi
    zk_stop srv
    verdict serve "two clients at once (direct, splice) into dstpool/srv/{alpha,delta}, guids equal, delta's policy property set; alpha pulled @s4 incrementally and not a clone of another dataset; network process uid $nuid CapEff $ncap NoNewPrivs $nnp Seccomp $nsc ($((SECONDS - t0)) s)" srv sa sd pl
    zfs destroy -r dstpool/srv 2>/dev/null; zfs destroy -r dstpool/pulled 2>/dev/null
fi
