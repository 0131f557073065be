# shellcheck shell=bash disable=SC2034
# sync_pos.sh - zktls sync against a zktls serve, push and pull
# (sourced by tests/vm/suite.sh)
#
# Description:
#	zktls sync in zka against a zktls serve in zkb, every case comparing
#	the snapshot GUIDs of both sides:
#	sync-full: the first sync is a full send, one base bookmark
#	  zktls:LEN:HOST:PORT:a1.
#	sync-incr: three new snapshots in one -I stream, the bookmark moved.
#	sync-bookmark: the base snapshot pruned: -i from its bookmark.
#	sync-dry-run: --dry-run plans "-I @a5 srcpool/sy@a6" and changes no
#	  snapshot, bookmark or hold, sends nothing.
#	sync-diverged: a target with a snapshot of its own is refused
#	  (exit 2), synced once that is gone.
#	sync-result-lost: a snapshot committed whose RESULT was lost is not
#	  sent again: up to date, bookmark moved.
#	sync-hold: --protect hold: a hold on the new base, the old released;
#	  a held base cannot be destroyed.
#	sync-tree: -r with a child added between runs; a rerun with nothing
#	  new lists both trees at once and opens no other connection.
#	sync-jobs: -r --jobs 4 over a parent and four children.
#	sync-resume: killed mid-stream, the rerun resumes from the server's
#	  token (a shorter stream).
#	sync-rate: --rate 2M, at most 10 % over (and not starved below 1.4
#	  MiB/s), from TCP's count of the bytes the server acknowledged
#	  mid-stream.
#	sync-pull: pulls: full, incremental, a diverged local target refused
#	  then --rollback (naming what it destroys), -r, the server's base
#	  pruned (-i from its bookmark for alpha).
#
# Strategy:
#	One serve (ZK_TO 3000) outlives the cases, which build on each
#	other in this order (one srcpool/sy grows from case to case): a
#	selected sync case runs them all (chain).  Runs after the background
#	group has ended: sync-rate times a transfer.
#
# Cases: sync-full sync-incr sync-bookmark sync-dry-run sync-diverged
# Cases: sync-result-lost sync-hold sync-tree sync-jobs sync-resume
# Cases: sync-rate sync-pull
# Tags: kernels=all zfs slow alone chain
# Limit: 240
# Order: 70

# zktls sync against a zktls serve in zkb: pushes of srcpool/sy (and
# trees) into dstpool/sync, pulls of srcpool/sy into dstpool/pulled.
# Every sub-case compares the snapshot GUIDs of both sides.
# snaplist DS: "name guid" of its snapshots, oldest first, names without DS
snaplist() {
    zfs list -H -p -o name,guid -t snapshot -s createtxg -d 1 "$1" 2>/dev/null | sed "s|^$1@||" | tr '\t' ' '
}
# same_snaps SRC DST [EXTRA-IN-DST...]: every snapshot of SRC is in DST with
# its guid, and DST has no others but EXTRA
same_snaps() {
    local src=$1 dst=$2 a b re='^$'
    shift 2
    [[ $# -gt 0 ]] && { re=$(printf '^%s |' "$@"); re=${re%|}; }
    a=$(snaplist "$src" | awk '{ print $2 }' | sort)
    b=$(snaplist "$dst" | grep -v -E "$re" | awk '{ print $2 }' | sort)
    [[ -n $a && $a == "$b" ]] || err "snapshots of $src [$(snaplist "$src" | tr '\n' ' ')] != $dst [$(snaplist "$dst" | tr '\n' ' ')]"
}
# sync_run TAG ARGS...: zktls sync in zka, waited for; SY_RC its exit
sync_run() {
    local tag=$1
    shift
    zk_start "$tag" "$ZKA" sync --json "${TLS_A[@]}" --timeout 60 "$@"
    zk_wait "$tag"; SY_RC=$?
}
# sy_field TAG KEY: a field of the sync-summary line
sy_field() {
    grep -a '"event":"sync-summary"' "$W/$1.log" 2>/dev/null | tail -n1 |
        sed -n "s/.*\"$2\":\\([0-9]*\\).*/\\1/p"
}
# sjf TAG KEY: a field of the last sender session line (jf takes the last
# session line, which in a sync log is a listing)
sjf() {
    grep -a '"event":"session","role":"sender"' "$W/$1.log" 2>/dev/null | tail -n1 |
        sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p"
}
# bookmarks DS: our bookmarks of DS (names after '#')
zk_bookmarks() {
    zfs list -H -o name -t bookmark -d 1 "$1" 2>/dev/null | sed -n 's/^[^#]*#\(zktls[_:].*\)$/\1/p' | tr '\n' ' '
}
if want_any sync-; then
    t0=$SECONDS
    zfs create -o mountpoint="$W/src/sy" srcpool/sy && head -c 2M /dev/urandom >"$W/src/sy/f" &&
        zfs snapshot srcpool/sy@a1 || err "cannot make srcpool/sy"
    zfs create dstpool/sync && zfs create dstpool/pulled
    cat >"$W/sync-srv.conf" <<CONF
listen $ZKB_IP:0
cert $CERTS/beta.pem
key $CERTS/beta.key
ca $CERTS/ca.pem
user nobody
metrics $W/sync-srv.prom
client alpha {
	name alpha
	push dstpool/sync
	pull srcpool/sy
	pull srcpool/big
	max-sessions 4
}
CONF
    # The server outlives every sync case (ZK_TO bounds one transfer; the
    # sync cases together take several minutes, more on a busy host).
    ZK_TO=3000 zk_start ssrv "$ZKB" serve --config "$W/sync-srv.conf" --json
    if ! port=$(wait_listen ssrv 60); then
        err "serve did not listen"
        verdict sync-setup "" ssrv
    else
        SRV=$ZKB_IP:$port
        # 1. the first sync is a full send
        sync_run sy1 srcpool/sy "$SRV"
        expect_rc "first sync" "$SY_RC" 0
        same_snaps srcpool/sy dstpool/sync/sy
        bm=$(zk_bookmarks srcpool/sy)
        [[ $bm =~ ^zktls:[0-9]+:[0-9.]+:[0-9]+:a1\ $ ]] || err "bookmarks after the first sync: '$bm' (want one zktls:LEN:HOST:PORT:a1)"
        verdict sync-full "srcpool/sy@a1 -> dstpool/sync/sy, guids equal, base bookmark $bm($((SECONDS - t0)) s)" sy1 ssrv

        # 2. three new snapshots: one -I stream
        t0=$SECONDS
        for s in a2 a3 a4; do head -c 256K /dev/urandom >"$W/src/sy/$s"; zfs snapshot srcpool/sy@$s; done
        sync_run sy2 srcpool/sy "$SRV"
        expect_rc "incremental sync" "$SY_RC" 0
        same_snaps srcpool/sy dstpool/sync/sy
        n=$(grep -ac '"event":"session","role":"sender"' "$W/sy2.log")
        [[ $n == 1 ]] || err "$n transfers for three snapshots (want one -I stream)"
        [[ $(sy_field sy2 snapshots) == 3 ]] || err "summary: $(grep -a sync-summary "$W/sy2.log")"
        bm=$(zk_bookmarks srcpool/sy)
        [[ $bm =~ ^zktls:[0-9]+:[0-9.]+:[0-9]+:a4\ $ ]] || err "bookmarks: '$bm' (want only ..._a4)"
        verdict sync-incr "a2..a4 in one -I stream, guids equal, bookmark moved to $bm($((SECONDS - t0)) s)" sy2

        # 3. the base snapshot pruned: the incremental starts at its bookmark
        t0=$SECONDS
        head -c 256K /dev/urandom >"$W/src/sy/a5"; zfs snapshot srcpool/sy@a5
        zfs destroy srcpool/sy@a4
        sync_run sy3 srcpool/sy "$SRV"
        expect_rc "sync from a bookmark" "$SY_RC" 0
        same_snaps srcpool/sy dstpool/sync/sy a4
        grep -aq '"what":"srcpool/sy@a5"' "$W/sy3.log" || err "no transfer of srcpool/sy@a5"
        bm=$(zk_bookmarks srcpool/sy)
        [[ $bm =~ ^zktls:[0-9]+:[0-9.]+:[0-9]+:a5\ $ ]] || err "bookmarks: '$bm' (want only ..._a5)"
        verdict sync-bookmark "srcpool/sy@a4 destroyed: -i from its bookmark to @a5, guids equal ($((SECONDS - t0)) s)" sy3

        # 4. --dry-run changes nothing
        t0=$SECONDS
        head -c 256K /dev/urandom >"$W/src/sy/a6"; zfs snapshot srcpool/sy@a6
        before=$(zfs list -H -p -o name,guid -t all -r srcpool/sy dstpool/sync; zfs holds -H -r srcpool/sy@a5 2>&1)
        sync_run sy4 -n srcpool/sy "$SRV"
        after=$(zfs list -H -p -o name,guid -t all -r srcpool/sy dstpool/sync; zfs holds -H -r srcpool/sy@a5 2>&1)
        expect_rc "dry run" "$SY_RC" 0
        [[ $before == "$after" ]] || err "the dry run changed something: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ')"
        expect_log sy4 '"result":"planned".*"detail":"-I @a5 srcpool/sy@a6'
        grep -aq '"event":"session","role":"sender"' "$W/sy4.log" && err "the dry run sent something"
        verdict sync-dry-run "plan '$(grep -a '"result":"planned"' "$W/sy4.log" | sed 's/.*"detail":"\([^"]*\)".*/\1/')', snapshots, bookmarks and holds unchanged ($((SECONDS - t0)) s)" sy4

        # 5. a diverged target is refused
        t0=$SECONDS
        zfs snapshot dstpool/sync/sy@theirs
        sync_run sy5 srcpool/sy "$SRV"
        expect_rc "diverged target" "$SY_RC" 2
        expect_log sy5 'dstpool/sync/sy has diverged from srcpool/sy: it has dstpool/sync/sy@theirs'
        [[ -z $(guid dstpool/sync/sy@a6) ]] || err "a6 arrived on a diverged target"
        zfs destroy dstpool/sync/sy@theirs
        sync_run sy5b srcpool/sy "$SRV"
        expect_rc "sync after the divergence was removed" "$SY_RC" 0
        same_snaps srcpool/sy dstpool/sync/sy a4
        verdict sync-diverged "refused ('$(jerr sy5 | cut -c1-90)'), then synced once the target's own snapshot was gone ($((SECONDS - t0)) s)" sy5 sy5b

        # 6. the last session committed but its RESULT was lost: the next
        # run finds the snapshot by guid and sends nothing
        t0=$SECONDS
        head -c 64K /dev/urandom >"$W/src/sy/a7"; zfs snapshot srcpool/sy@a7
        zfs send -i @a6 srcpool/sy@a7 | zfs recv -u dstpool/sync/sy
        sync_run sy6 srcpool/sy "$SRV"
        expect_rc "sync after a lost RESULT" "$SY_RC" 0
        grep -aq '"event":"session","role":"sender"' "$W/sy6.log" && err "a transfer ran: $(grep -a '"event":"session","role":"sender"' "$W/sy6.log" | head -1)"
        [[ $(sy_field sy6 current) == 1 ]] || err "not reported up to date: $(grep -a sync-summary "$W/sy6.log")"
        same_snaps srcpool/sy dstpool/sync/sy a4
        [[ $(zk_bookmarks srcpool/sy) =~ [_:]a7\ $ ]] || err "bookmark not moved to a7: $(zk_bookmarks srcpool/sy)"
        verdict sync-result-lost "@a7 already committed: nothing sent, up to date, bookmark at a7 ($((SECONDS - t0)) s)" sy6

        # 6b. --protect hold: a hold on the new base, the old one released
        t0=$SECONDS
        zfs snapshot srcpool/sy@h1
        sync_run sy6h --protect hold srcpool/sy "$SRV"
        zfs snapshot srcpool/sy@h2
        sync_run sy6i --protect hold srcpool/sy "$SRV"
        expect_rc "sync --protect hold" "$SY_RC" 0
        same_snaps srcpool/sy dstpool/sync/sy a4
        h1=$(zfs holds -H srcpool/sy@h1 | awk '{ print $2 }' | tr '\n' ' ')
        h2=$(zfs holds -H srcpool/sy@h2 | awk '{ print $2 }' | tr '\n' ' ')
        [[ -z $h1 && $h2 =~ ^zktls_[0-9._]+\ $ ]] || err "holds: @h1 '$h1' (want none), @h2 '$h2' (want zktls_HOST_PORT)"
        zfs destroy srcpool/sy@h2 2>/dev/null && err "a held snapshot was destroyed"
        [[ -n $h2 ]] && zfs release "${h2% }" srcpool/sy@h2
        verdict sync-hold "--protect hold: hold '${h2% }' moved from @h1 to @h2; a held base cannot be pruned ($((SECONDS - t0)) s)" sy6h sy6i

        # 7. -r: a tree, a child added between runs
        t0=$SECONDS
        zfs create srcpool/sy/c1 && head -c 512K /dev/urandom >"$W/src/sy/c1/f" && zfs snapshot srcpool/sy/c1@a1
        sync_run sy7 -r srcpool/sy "$SRV"
        expect_rc "sync -r" "$SY_RC" 0
        zfs create srcpool/sy/c2 && head -c 512K /dev/urandom >"$W/src/sy/c2/f" && zfs snapshot srcpool/sy/c2@a1
        zfs snapshot srcpool/sy/c1@a2
        sync_run sy7b -r srcpool/sy "$SRV"
        expect_rc "sync -r with a new child" "$SY_RC" 0
        same_snaps srcpool/sy dstpool/sync/sy a4
        same_snaps srcpool/sy/c1 dstpool/sync/sy/c1
        same_snaps srcpool/sy/c2 dstpool/sync/sy/c2
        [[ $(sy_field sy7b datasets) == 3 && $(sy_field sy7b updated) == 2 && $(sy_field sy7b current) == 1 ]] ||
            err "summary: $(grep -a sync-summary "$W/sy7b.log")"
        # 7c. nothing new: both trees listed at once (one zfs list, one
        # LIST), no session and no listing of its own for any dataset
        # (the server's metrics count its connections, rewritten as each
        # one ends)
        conns() { awk '/^zktls_sessions_total/ { s += $2 } END { print s + 0 }' "$W/sync-srv.prom" 2>/dev/null; }
        c0=$(conns)
        sync_run sy7c -r -v srcpool/sy "$SRV"
        expect_rc "sync -r of a current tree" "$SY_RC" 0
        here=$(zfs list -H -t snapshot,bookmark -r srcpool/sy | wc -l)
        there=$(zfs list -H -t snapshot,bookmark -r dstpool/sync/sy | wc -l)
        expect_log sy7c "both trees listed at once: 3 datasets with $here snapshots and bookmarks here, 3 with $there there"
        [[ $(sy_field sy7c current) == 3 ]] || err "summary: $(grep -a sync-summary "$W/sy7c.log")"
        for ((i = 0; i < 20; i++)); do [[ $(($(conns) - c0)) -ge 1 ]] && break; nap 0.1; done
        nq=$(($(conns) - c0))
        [[ $nq == 1 ]] || err "$nq connections for a current tree (want 1: the tree's listing)"
        grep -aq '"event":"session"' "$W/sy7c.log" && err "a session ran for a current tree"
        verdict sync-tree "-r: c1 full, then c2 new and c1 incremental, parent up to date; then the current tree in one listing ($here and $there snapshots and bookmarks) ($((SECONDS - t0)) s)" sy7 sy7b sy7c

        # 8. --jobs 4 over four datasets
        t0=$SECONDS
        zfs create -o mountpoint="$W/src/j" srcpool/j
        for j in 1 2 3 4; do
            zfs create srcpool/j/d$j && head -c 1M /dev/urandom >"$W/src/j/d$j/f"
        done
        zfs snapshot -r srcpool/j@x1
        sync_run sy8 -r --jobs 4 srcpool/j "$SRV"
        expect_rc "sync -r --jobs 4" "$SY_RC" 0
        for j in "" /d1 /d2 /d3 /d4; do same_snaps "srcpool/j$j" "dstpool/sync/j$j"; done
        # the four children ran at once: their sessions overlap
        ov=$(grep -a '"event":"sync"' "$W/sy8.log" | grep -c '"result":"updated"')
        [[ $ov == 5 ]] || err "$ov datasets updated (want 5)"
        verdict sync-jobs "srcpool/j and four children with --jobs 4, guids equal ($((SECONDS - t0)) s)" sy8

        # 9. a cut mid-sync: the rerun resumes from the server's token
        t0=$SECONDS
        zfs create -o mountpoint="$W/src/big" srcpool/big && head -c 24M /dev/urandom >"$W/src/big/f" &&
            zfs snapshot srcpool/big@b1
        zk_start sy9 "$ZKA" sync --json "${TLS_A[@]}" --mode splice --rate 2M srcpool/big "$SRV"
        # 24 MiB at 2 MiB/s: cut after about a third
        nap 5
        pkill -9 -f "zktls sync .*srcpool/big" ; zk_wait sy9
        for ((i = 0; i < 50; i++)); do
            tok=$(zfs get -H -o value receive_resume_token dstpool/sync/big 2>/dev/null)
            [[ -n $tok && $tok != - ]] && break
            nap 0.2
        done
        [[ -n $tok && $tok != - ]] || err "no resume token on dstpool/sync/big after the cut"
        # (-r: the partial receive is seen in the tree's listing, and
        # the dataset listed again for its token)
        sync_run sy9b -r --mode splice srcpool/big "$SRV"
        expect_rc "sync after a cut" "$SY_RC" 0
        expect_log sy9b 'resuming an interrupted transfer of srcpool/big@b1'
        rb=$(sjf sy9b bytes)
        [[ -n $rb && $rb -lt 25165824 ]] || err "the resumed stream is ${rb:-?} bytes, not less than the 24 MiB of a full one"
        same_snaps srcpool/big dstpool/sync/big
        verdict sync-resume "killed mid-stream, the rerun resumed ($(sjf sy9b bytes) bytes) ($((SECONDS - t0)) s)" sy9 sy9b

        # 10. --rate 2M: judged mid-stream from TCP's own count of the
        # bytes the server acknowledged (start-up and commit left out);
        # pacing counts the TCP/IP headers too (1448 of 1500 bytes are
        # payload), so about 1.93 MiB/s of stream is expected
        t0=$SECONDS
        head -c 24M /dev/urandom >"$W/src/big/g"; zfs snapshot srcpool/big@b2
        zk_start sy10 "$ZKA" sync --json "${TLS_A[@]}" --mode splice --rate 2M srcpool/big "$SRV"
        acked() {   # the largest bytes_acked of zka's connections to the server
            ip netns exec "$ZKA" ss -tinH dst "$SRV" 2>/dev/null |
                grep -o 'bytes_acked:[0-9]*' | cut -d: -f2 | sort -n | tail -1
        }
        b1='' b2='' m1='' m2=''
        for ((i = 0; i < 200; i++)); do
            b1=$(acked)
            [[ -n $b1 && $b1 -gt 2097152 ]] && { m1=$(now); break; }
            nap 0.1
        done
        nap 5
        b2=$(acked) m2=$(now)
        zk_wait sy10; SY_RC=$?
        expect_rc "sync --rate 2M" "$SY_RC" 0
        same_snaps srcpool/big dstpool/sync/big
        rate=nan
        [[ -n $m1 && -n $b2 && $b2 -gt $b1 ]] &&
            rate=$(awk -v b=$((b2 - b1)) -v ms=$((m2 - m1)) 'BEGIN { printf "%.3f", b / (ms / 1000) / 1048576 }')
        # the property is the ceiling; the floor only catches pacing gone
        # wrong by far: an emulated guest on a busy host (the other VM
        # flavour and the host tests beside it) sometimes cannot keep 2
        # MiB/s up itself (1.69 measured once while the host also built
        # and ran tests)
        awk -v r="$rate" 'BEGIN { exit !(r != "nan" && r >= 1.4 && r <= 2.2) }' ||
            err "--rate 2M: $((b2 - b1)) bytes acknowledged in $((m2 - m1)) ms = $rate MiB/s"
        verdict sync-rate "--rate 2M: $rate MiB/s mid-stream (TCP bytes acknowledged over $((m2 - m1)) ms); whole session $(sjf sy10 bytes) bytes in $(sjf sy10 seconds) s ($((SECONDS - t0)) s)" sy10

        # 11. pulls: full then incremental, a diverged local target refused,
        # then rolled back when asked
        t0=$SECONDS
        sync_run sy11 "$SRV:srcpool/sy" dstpool/pulled/sy
        expect_rc "pull" "$SY_RC" 0
        same_snaps srcpool/sy dstpool/pulled/sy
        zfs snapshot dstpool/pulled/sy@mine
        zfs snapshot dstpool/pulled/sy@mine2
        head -c 64K /dev/urandom >"$W/src/sy/a8"; zfs snapshot srcpool/sy@a8
        sync_run sy11b "$SRV:srcpool/sy" dstpool/pulled/sy
        expect_rc "pull into a diverged target" "$SY_RC" 2
        expect_log sy11b 'dstpool/pulled/sy has diverged from srcpool/sy: it has dstpool/pulled/sy@mine2.*--rollback'
        sync_run sy11c --rollback "$SRV:srcpool/sy" dstpool/pulled/sy
        expect_rc "pull --rollback" "$SY_RC" 0
        # the log names every snapshot the rollback destroyed
        expect_log sy11c 'rolling back to dstpool/pulled/sy@[^ ]* \(destroys @mine, @mine2\)'
        [[ -z $(guid dstpool/pulled/sy@mine) && -z $(guid dstpool/pulled/sy@mine2) ]] || err "the rollback kept @mine or @mine2"
        same_snaps srcpool/sy dstpool/pulled/sy
        sync_run sy11d -r "$SRV:srcpool/sy" dstpool/pulled/sy
        expect_rc "pull -r" "$SY_RC" 0
        same_snaps srcpool/sy/c1 dstpool/pulled/sy/c1
        same_snaps srcpool/sy/c2 dstpool/pulled/sy/c2
        # the server keeps alpha's base as a bookmark: pruned there, the
        # next pull starts at the bookmark
        bm=$(zk_bookmarks srcpool/sy | tr ' ' '\n' | grep '^zktls:5:alpha:' | tr '\n' ' ')
        [[ $bm == "zktls:5:alpha:a8 " ]] || err "the server's bookmarks for alpha: '$bm' (want zktls:5:alpha:a8)"
        zfs snapshot srcpool/sy@a9 && zfs destroy srcpool/sy@a8
        sync_run sy11e "$SRV:srcpool/sy" dstpool/pulled/sy
        expect_rc "pull from the server's bookmark" "$SY_RC" 0
        same_snaps srcpool/sy dstpool/pulled/sy a8
        bm=$(zk_bookmarks srcpool/sy | tr ' ' '\n' | grep '^zktls:5:alpha:' | tr '\n' ' ')
        [[ $bm == "zktls:5:alpha:a9 " ]] || err "the server's bookmarks for alpha after: '$bm' (want zktls:5:alpha:a9)"
        verdict sync-pull "full+incremental pull, diverged refused then --rollback, -r tree, the server's base pruned (-i from its bookmark for alpha), guids equal ($((SECONDS - t0)) s)" sy11 sy11b sy11c sy11d sy11e
    fi
    zk_stop ssrv
    zfs destroy -r dstpool/sync 2>/dev/null; zfs destroy -r dstpool/pulled 2>/dev/null
    zfs destroy -r srcpool/sy 2>/dev/null; zfs destroy -r srcpool/j 2>/dev/null; zfs destroy -r srcpool/big 2>/dev/null
fi
