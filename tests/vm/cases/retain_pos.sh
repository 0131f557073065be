# shellcheck shell=bash disable=SC2034
# retain_pos.sh - retention: serve prunes a client's pushes by its keep
# grid, sync --keep prunes a pull's target (sourced by tests/vm/suite.sh)
#
# Description:
#	retain-serve: serve in zkb, client alpha "push dstpool/ret" with
#	  "keep newest=2" (prune-interval 0: after pushes only).  alpha
#	  syncs srcpool/rt@r1..r5: once the push has ended, serve's pruner
#	  leaves exactly r4 r5 (by zfs list) and logs one line per snapshot
#	  destroyed, naming the rule.  A hold on r4 and two new snapshots:
#	  r4 (held) r6 r7 remain, r5 went.  Released: serve --prune-dry-run
#	  prints "would destroy dstpool/ret/rt@r4" and destroys nothing;
#	  with ZKTLS_NOW before the snapshots' creation (a clock behind)
#	  serve --prune-now destroys nothing; then it destroys r4: r6 r7.
#	  The source's next sync is an incremental from r7 (its bookmark).
#	retain-sync-pull: zktls sync --keep newest=2 pulls srcpool/rt into
#	  dstpool/rpull/rt and leaves its two newest; --keep newest=1
#	  --dry-run prints what would go and changes nothing; a real run
#	  then leaves the newest alone, which the server still has (the
#	  base of the next incremental).
#
# Strategy:
#	Snapshots cannot be given a creation time: the calendar itself
#	(periods, DST, gaps, skew) is test_retain's; here real zfs, the
#	after-push hook, the exact names left, the hold, the dry runs and
#	the injected now.  One serve for both cases.
#
# Cases: retain-serve retain-sync-pull
# Tags: kernels=all zfs chain
# Limit: 240
# Order: 71

# rt_snaps DS: its snapshot names after '@', oldest first, on one line
rt_snaps() {
    zfs list -H -o name -t snapshot -s createtxg -d 1 "$1" 2>/dev/null | sed 's/^[^@]*@//' | tr '\n' ' ' | sed 's/ $//'
}
# rt_wait DS WANT SECONDS: wait until DS's snapshots are WANT
rt_wait() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        [[ $(rt_snaps "$1") == "$2" ]] && return 0
        nap 0.1
    done
    return 1
}
if want_any retain-; then
    t0=$SECONDS
    zfs create -o mountpoint="$W/src/rt" srcpool/rt || err "cannot make srcpool/rt"
    for s in r1 r2 r3 r4 r5; do head -c 64K /dev/urandom >"$W/src/rt/$s"; zfs snapshot srcpool/rt@$s; done
    zfs create dstpool/ret && zfs create dstpool/rpull
    cat >"$W/retain.conf" <<CONF
listen $ZKB_IP:0
cert $CERTS/beta.pem
key $CERTS/beta.key
ca $CERTS/ca.pem
user nobody
prune-interval 0
client alpha {
	name alpha
	push dstpool/ret
	pull srcpool/rt
	keep newest=2
}
CONF
    ZK_TO=600 zk_start rsrv "$ZKB" serve --config "$W/retain.conf" --json
    if ! port=$(wait_listen rsrv 60); then
        err "serve did not listen"
        verdict retain-serve "" rsrv
        verdict retain-sync-pull "" rsrv
    else
        SRV=$ZKB_IP:$port
        zk_start rs1 "$ZKA" sync --json "${TLS_A[@]}" --timeout 60 srcpool/rt "$SRV"
        zk_wait rs1; rc=$?
        expect_rc "sync r1..r5" "$rc" 0
        rt_wait dstpool/ret/rt "r4 r5" 30 || err "after the push: [$(rt_snaps dstpool/ret/rt)] (want r4 r5)"
        for ((i = 0; i < 50; i++)); do
            [[ $(grep -ac 'destroyed dstpool/ret' "$W/rsrv.log") == 3 ]] && break
            nap 0.1
        done
        [[ $(grep -ac 'destroyed dstpool/ret' "$W/rsrv.log") == 3 ]] || err "destroy lines: $(grep -a destroyed "$W/rsrv.log" | tr '\n' ' ')"
        for s in r1 r2 r3; do
            expect_log rsrv "client alpha: destroyed dstpool/ret/rt@$s \\(outside keep grid newest=2\\)"
        done
        # a hold keeps r4
        zfs hold keepme dstpool/ret/rt@r4 || err "zfs hold"
        for s in r6 r7; do head -c 64K /dev/urandom >"$W/src/rt/$s"; zfs snapshot srcpool/rt@$s; done
        zk_start rs2 "$ZKA" sync --json "${TLS_A[@]}" --timeout 60 srcpool/rt "$SRV"
        zk_wait rs2; rc=$?
        expect_rc "sync r6 r7" "$rc" 0
        rt_wait dstpool/ret/rt "r4 r6 r7" 30 || err "with r4 held: [$(rt_snaps dstpool/ret/rt)] (want r4 r6 r7)"
        zfs release keepme dstpool/ret/rt@r4
        # dry run: says r4 would go, destroys nothing
        ip netns exec "$ZKB" "$ZK" serve --config "$W/retain.conf" --prune-dry-run >"$W/rdry.out" 2>"$W/rdry.log"
        expect_rc "prune-dry-run" "$?" 0
        [[ $(<"$W/rdry.out") == "would destroy dstpool/ret/rt@r4 (outside keep grid newest=2)" ]] ||
            err "prune-dry-run said: $(tr '\n' '|' <"$W/rdry.out")"
        [[ $(rt_snaps dstpool/ret/rt) == "r4 r6 r7" ]] || err "after the dry run: [$(rt_snaps dstpool/ret/rt)]"
        # a clock behind the snapshots: all in its future, none goes
        past=$(($(zfs get -H -p -o value creation dstpool/ret/rt@r4) - 3600))
        ip netns exec "$ZKB" env ZKTLS_NOW=$past "$ZK" serve --config "$W/retain.conf" --prune-now >/dev/null 2>"$W/rpast.log"
        expect_rc "prune-now, now an hour before r4" "$?" 0
        [[ $(rt_snaps dstpool/ret/rt) == "r4 r6 r7" ]] || err "with now in the past: [$(rt_snaps dstpool/ret/rt)]"
        ip netns exec "$ZKB" "$ZK" serve --config "$W/retain.conf" --prune-now >/dev/null 2>"$W/rnow.log"
        expect_rc "prune-now" "$?" 0
        [[ $(rt_snaps dstpool/ret/rt) == "r6 r7" ]] || err "after prune-now: [$(rt_snaps dstpool/ret/rt)] (want r6 r7)"
        expect_log rnow "client alpha: destroyed dstpool/ret/rt@r4 \\(outside keep grid newest=2\\)"
        # the source's next sync goes on from r7
        head -c 64K /dev/urandom >"$W/src/rt/r8"; zfs snapshot srcpool/rt@r8
        zk_start rs3 "$ZKA" sync --json "${TLS_A[@]}" --timeout 60 srcpool/rt "$SRV"
        zk_wait rs3; rc=$?
        expect_rc "sync r8" "$rc" 0
        same_guid srcpool/rt@r8 dstpool/ret/rt@r8
        rt_wait dstpool/ret/rt "r7 r8" 30 || err "after r8: [$(rt_snaps dstpool/ret/rt)] (want r7 r8)"
        grep -aq '"level":"error"' "$W/rsrv.log" && err "serve logged errors: $(grep -a '"level":"error"' "$W/rsrv.log" | head -2)"
        verdict retain-serve "keep newest=2 after each push: r4 r5, then held r4 r6 r7; dry run and a clock behind destroyed nothing; prune-now: r6 r7; next sync incremental ($((SECONDS - t0)) s)" rsrv rs1 rs2 rs3 rdry rnow

        t0=$SECONDS
        zk_start rp1 "$ZKA" sync --json "${TLS_A[@]}" --timeout 60 --keep newest=2 "$SRV:srcpool/rt" dstpool/rpull/rt
        zk_wait rp1; rc=$?
        expect_rc "pull --keep newest=2" "$rc" 0
        [[ $(rt_snaps dstpool/rpull/rt) == "r7 r8" ]] || err "after the pull: [$(rt_snaps dstpool/rpull/rt)] (want r7 r8)"
        same_guid srcpool/rt@r8 dstpool/rpull/rt@r8
        expect_log rp1 "sync --keep: destroyed dstpool/rpull/rt@r6 \\(outside keep grid newest=2\\)"
        ZK_OUT=$W/rp2.out zk_start rp2 "$ZKA" sync "${TLS_A[@]}" --timeout 60 --keep newest=1 --dry-run "$SRV:srcpool/rt" dstpool/rpull/rt
        zk_wait rp2; rc=$?
        expect_rc "pull --keep newest=1 --dry-run" "$rc" 0
        grep -q "^would destroy dstpool/rpull/rt@r7 (outside keep grid newest=1)$" "$W/rp2.out" || err "dry run said: $(tr '\n' '|' <"$W/rp2.out")"
        [[ $(rt_snaps dstpool/rpull/rt) == "r7 r8" ]] || err "after the dry run: [$(rt_snaps dstpool/rpull/rt)]"
        zk_start rp3 "$ZKA" sync --json "${TLS_A[@]}" --timeout 60 --keep newest=1 "$SRV:srcpool/rt" dstpool/rpull/rt
        zk_wait rp3; rc=$?
        expect_rc "pull --keep newest=1" "$rc" 0
        [[ $(rt_snaps dstpool/rpull/rt) == "r8" ]] || err "after --keep newest=1: [$(rt_snaps dstpool/rpull/rt)] (want r8)"
        verdict retain-sync-pull "pull --keep newest=2: r7 r8; dry run listed r7, changed nothing; newest=1: r8 ($((SECONDS - t0)) s)" rp1 rp2 rp3 rsrv
    fi
    zk_stop rsrv
    zfs destroy -r dstpool/ret 2>/dev/null; zfs destroy -r dstpool/rpull 2>/dev/null; zfs destroy -r srcpool/rt 2>/dev/null
fi
