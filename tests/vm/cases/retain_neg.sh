# shellcheck shell=bash disable=SC2034
# retain_neg.sh - a client cannot make serve destroy its backups
# (sourced by tests/vm/suite.sh)
#
# Description:
#	retain-client-refused: serve in zkb, client alpha "push dstpool/rneg"
#	(rollback no, the default; no keep).  alpha pushes srcpool/rn@n1
#	n2 n3.  Then, as a client taken over would, it rolls its source
#	back to n1, makes n4 and tries every way a client has to make the
#	server lose n2 and n3: an incremental -i from the older n1 (zfs
#	receive -F would roll the server back), a replication stream -R -I
#	from n1 (with -F zfs destroys what the stream lacks), a full -R
#	stream over the existing dataset, a sync push of the diverged source,
#	and sync --keep on a push.  Each fails (exit not 0), the server's
#	snapshots are exactly n1 n2 n3 with their guids afterwards, and a
#	pass of serve's pruner (--prune-now) destroys nothing: alpha has no
#	keep grid.  Then, the oracle checked: with "rollback yes" in the
#	rule (SIGHUP) the same -R -I stream leaves exactly n1 n4 (zfs receive
#	-F drops what the stream lacks), as zktls.conf(5) warns.
#	A session's ZOP_DESTROY of a snapshot, which no message
#	of the protocol can ask for, is refused by policy_zfs (test_policy).
#
# Strategy:
#	One serve; the attempts run one after the other against it; the
#	server's list (names and guids) is compared after each.
#
# Cases: retain-client-refused
# Tags: kernels=all zfs
# Limit: 240
# Order: 72

# rn_list DS: "name guid" of its snapshots, oldest first, on one line
rn_list() {
    zfs list -H -p -o name,guid -t snapshot -s createtxg -d 1 "$1" 2>/dev/null | sed 's/^[^@]*@//' | tr '\t\n' ': ' | sed 's/ $//'
}
if want retain-client-refused; then
    t0=$SECONDS
    zfs create -o mountpoint="$W/src/rn" srcpool/rn || err "cannot make srcpool/rn"
    for s in n1 n2 n3; do head -c 64K /dev/urandom >"$W/src/rn/$s"; zfs snapshot srcpool/rn@$s; done
    zfs create dstpool/rneg
    cat >"$W/rneg.conf" <<CONF
listen $ZKB_IP:0
cert $CERTS/beta.pem
key $CERTS/beta.key
ca $CERTS/ca.pem
user nobody
client alpha {
	name alpha
	push dstpool/rneg
}
CONF
    ZK_TO=600 zk_start rnsrv "$ZKB" serve --config "$W/rneg.conf" --json
    tried=''
    if ! port=$(wait_listen rnsrv 60); then
        err "serve did not listen"
    else
        SRV=$ZKB_IP:$port
        zk_start rn0 "$ZKA" sync --json "${TLS_A[@]}" --timeout 60 srcpool/rn "$SRV"
        zk_wait rn0; rc=$?
        expect_rc "sync n1..n3" "$rc" 0
        want_list="n1:$(guid srcpool/rn@n1) n2:$(guid srcpool/rn@n2) n3:$(guid srcpool/rn@n3)"
        [[ $(rn_list dstpool/rneg/rn) == "$want_list" ]] || err "after the first push: [$(rn_list dstpool/rneg/rn)] (want $want_list)"
        # the client diverges: back to n1, a new n4
        zfs rollback -r srcpool/rn@n1 && head -c 64K /dev/urandom >"$W/src/rn/n4" && zfs snapshot srcpool/rn@n4 ||
            err "cannot diverge srcpool/rn"
        n=0
        for attempt in "send -i srcpool/rn@n1 srcpool/rn@n4" "send -R -I srcpool/rn@n1 srcpool/rn@n4" \
            "send -R srcpool/rn@n4" "sync srcpool/rn" "sync --keep newest=1 srcpool/rn"; do
            n=$((n + 1))
            read -r -a words <<<"$attempt"
            if [[ ${words[0]} == send ]]; then
                zk_start "rna$n" "$ZKA" "${words[@]:0:${#words[@]}-1}" --json "${TLS_A[@]}" --timeout 60 \
                    --connect "$SRV" "${words[-1]}"
            else
                zk_start "rna$n" "$ZKA" "${words[@]}" --json "${TLS_A[@]}" --timeout 60 "$SRV"
            fi
            zk_wait "rna$n"; rc=$?
            [[ $rc != 0 ]] || err "'$attempt' succeeded"
            tried+="'$attempt' exit $rc; "
            got=$(rn_list dstpool/rneg/rn)
            [[ $got == "$want_list" ]] || err "after '$attempt': [$got] (want $want_list)"
        done
        # the pruner, as serve runs it: alpha has no keep grid
        ip netns exec "$ZKB" "$ZK" serve --config "$W/rneg.conf" --prune-now >/dev/null 2>"$W/rnp.log"
        expect_rc "prune-now" "$?" 0
        [[ $(rn_list dstpool/rneg/rn) == "$want_list" ]] || err "after prune-now: [$(rn_list dstpool/rneg/rn)]"
        grep -aq 'destroyed' "$W/rnsrv.log" "$W/rnp.log" && err "a destroy was logged"
        # the oracle sees a loss: with "rollback yes" (zfs receive -F)
        # the same -R -I stream drops n2 and n3
        sed -i 's/^\tpush dstpool\/rneg$/\tpush dstpool\/rneg\n\trollback yes/' "$W/rneg.conf"
        kill -HUP "$(cat "$W/rnsrv.pid")"
        for ((i = 0; i < 100; i++)); do
            grep -aq 'reloaded' "$W/rnsrv.log" && break
            nap 0.1
        done
        zk_start rnf "$ZKA" send -R -I srcpool/rn@n1 --json "${TLS_A[@]}" --timeout 60 --connect "$SRV" srcpool/rn@n4
        zk_wait rnf; rc=$?
        expect_rc "with rollback yes, send -R -I" "$rc" 0
        got=$(rn_list dstpool/rneg/rn)
        [[ $got == "n1:$(guid srcpool/rn@n1) n4:$(guid srcpool/rn@n4)" ]] ||
            err "with rollback yes: [$got] (want n1 n4: -F drops n2 n3)"
        tried+="with rollback yes the same -R -I stream left [$(sed 's/:[0-9]*//g' <<<"$got")]; "
    fi
    zk_stop rnsrv
    verdict retain-client-refused "${tried}without it the server kept exactly n1 n2 n3, guids equal ($((SECONDS - t0)) s)" rnsrv rna1 rna2 rna3 rna4 rna5 rnf
    zfs destroy -r dstpool/rneg 2>/dev/null; zfs destroy -r srcpool/rn 2>/dev/null
fi
