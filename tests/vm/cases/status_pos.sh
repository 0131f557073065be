# shellcheck shell=bash disable=SC2034
# status_pos.sh - zktls status of a running serve, its state across a
# restart, staleness, metrics another user reads (sourced by
# tests/vm/suite.sh)
#
# Description:
#	zktls serve in zkb (clients alpha, expect 12s, and ghost, expect 2s,
#	never seen).  While zktls sync --rate 1M pushes 6 MiB from zka,
#	zktls status --json shows the session: client alpha, push, its
#	plane, bytes so far above 0 and below the whole.  After it, alpha's
#	dataset has its last success (the snapshot, the stream's bytes) and
#	is not stale; ghost is.  serve stopped and started again: status
#	shows the same last success (same time); once 12 s have passed,
#	alpha's dataset is flagged stale (table and JSON).  The metrics file
#	is read by nobody (uid 65534): zktls_stale of both, the certificate
#	expiry of cert and ca.
#
# Strategy:
#	The state and control socket in $W/st/state; status is asked from
#	the host's root namespace (a path socket crosses network
#	namespaces).  The last success's time read from status --json
#	before the restart is compared with the one after.
#
# Cases: status
# Tags: kernels=all zfs
# Limit: 240
# Order: 62

if want status; then
    t0=$SECONDS
    st_json() {   # st_json FILE PY-EXPR: evaluate PY-EXPR on the JSON in FILE (as d)
        python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
    }
    mkdir -p -m 0755 "$W/st" "$W/st/state"
    chmod 0755 "$W"
    zfs create dstpool/st
    zfs create -o mountpoint="$W/src/st" srcpool/st && head -c 6M /dev/urandom >"$W/src/st/f" &&
        zfs snapshot srcpool/st@s1
    cat >"$W/st/zktls.conf" <<CONF
listen $ZKB_IP:0
cert $CERTS/beta.pem
key $CERTS/beta.key
ca $CERTS/ca.pem
user nobody
metrics $W/st/zktls.prom
state-dir $W/st/state
client alpha {
	name alpha
	push dstpool/st
	expect 12s
}
client ghost {
	name ghost
	push dstpool/st
	expect 2s
}
CONF
    ST=("$ZK" status --control "$W/st/state/control")
    ZK_TO=300 zk_start sts "$ZKB" serve --config "$W/st/zktls.conf" --json
    if port=$(wait_listen sts 60); then
        zk_start stp "$ZKA" sync --json "${TLS_A[@]}" --rate 1M srcpool/st "$ZKB_IP:$port"
        seen='' bytes='' plane=''
        for ((i = 0; i < 200; i++)); do
            "${ST[@]}" --json >"$W/st/run.json" 2>&1
            bytes=$(st_json "$W/st/run.json" '[a["bytes"] for a in d["active"] if a["direction"] == "push"][0]')
            if [[ -n $bytes && $bytes -gt 0 ]]; then
                seen=1
                break
            fi
            nap 0.1
        done
        if [[ -n $seen ]]; then
            plane=$(st_json "$W/st/run.json" 'd["active"][0]["plane"]')
            who=$(st_json "$W/st/run.json" 'd["active"][0]["client"]')
            [[ $who == alpha && $bytes -lt 6291456 ]] ||
                err "active session: client '$who', $bytes bytes: $(cat "$W/st/run.json")"
        else
            err "no active push with bytes in zktls status: $(cat "$W/st/run.json")"
        fi
        zk_wait stp; p_rc=$?
        expect_rc "sync --rate 1M" "$p_rc" 0
        same_guid srcpool/st@s1 dstpool/st/st@s1
        "${ST[@]}" --json >"$W/st/after.json" 2>&1
        ds=dstpool/st/st
        q="[x for x in d['datasets'] if x['client'] == 'alpha' and x['dataset'] == '$ds'][0]"
        t1=$(st_json "$W/st/after.json" "$q['last_success']['time']")
        [[ $(st_json "$W/st/after.json" "$q['last_success']['snapshot']") == s1 ]] ||
            err "last success after the push: $(cat "$W/st/after.json")"
        [[ $(st_json "$W/st/after.json" "$q['stale']") == False ]] || err "alpha's dataset stale at once: $(cat "$W/st/after.json")"
        [[ $(st_json "$W/st/after.json" "d['silent_clients']") == "['ghost']" ]] ||
            err "ghost not flagged: $(cat "$W/st/after.json")"
        # a restart: the state survives
        zk_stop sts
        ZK_TO=300 zk_start sts2 "$ZKB" serve --config "$W/st/zktls.conf" --json
        if port2=$(wait_listen sts2 60); then
            for ((i = 0; i < 50; i++)); do [[ -S $W/st/state/control ]] && break; nap 0.1; done
            "${ST[@]}" --json >"$W/st/restart.json" 2>&1
            t2=$(st_json "$W/st/restart.json" "$q['last_success']['time']")
            [[ -n $t1 && $t1 == "$t2" ]] || err "last success $t1 before the restart, '$t2' after: $(cat "$W/st/restart.json")"
            # staleness: past alpha's expect of 12 s
            while (($(date +%s) - ${t1:-0} <= 13)); do nap 0.5; done
            "${ST[@]}" --json >"$W/st/stale.json" 2>&1
            [[ $(st_json "$W/st/stale.json" "$q['stale']") == True ]] || err "not stale after 12 s: $(cat "$W/st/stale.json")"
            "${ST[@]}" >"$W/st/stale.txt" 2>&1
            grep -Eq "^  alpha +push .* STALE +$ds\$" "$W/st/stale.txt" || err "the table: $(cat "$W/st/stale.txt")"
            # the metrics, as nobody (rewritten by a query session)
            ip netns exec "$ZKA" "$ZK" list --connect "$ZKB_IP:$port2" "${TLS_A[@]}" dstpool/st >/dev/null 2>&1
            for ((i = 0; i < 50; i++)); do
                grep -q "^zktls_stale{client=\"alpha\",dataset=\"$ds\"} 1\$" "$W/st/zktls.prom" && break
                nap 0.1
            done
            setpriv --reuid=65534 --regid=65534 --clear-groups cat "$W/st/zktls.prom" >"$W/st/nobody.prom" 2>&1 ||
                err "nobody cannot read the metrics: $(head -2 "$W/st/nobody.prom")"
            grep -q "^zktls_stale{client=\"alpha\",dataset=\"$ds\"} 1\$" "$W/st/nobody.prom" &&
                grep -q '^zktls_stale{client="ghost",dataset="\*"} 1$' "$W/st/nobody.prom" &&
                grep -q '^zktls_certificate_expiry_timestamp_seconds{file="ca"} [0-9]' "$W/st/nobody.prom" &&
                grep -q "^zktls_last_success_timestamp_seconds{client=\"alpha\",dataset=\"$ds\"} $t1\$" "$W/st/nobody.prom" ||
                err "metrics as nobody: $(grep -E 'stale|expiry|last_success' "$W/st/nobody.prom" | tr '\n' ' ')"
        else
            err "serve did not listen after the restart"
        fi
        zk_stop sts2
    else
        err "serve did not listen"
    fi
    zk_stop sts
    verdict status "during a paced push: $bytes bytes so far on plane $plane; last success kept across a restart ($t1); stale flagged past expect; metrics read by nobody ($((SECONDS - t0)) s)" sts stp sts2
    zfs destroy -r dstpool/st 2>/dev/null; zfs destroy -r srcpool/st 2>/dev/null
fi
