# shellcheck shell=bash disable=SC2034
# sync_exclude_pos.sh - zktls sync -r leaves out --exclude and
# zktls:sync=off datasets (sourced by tests/vm/suite.sh)
#
# Description:
#	sync-exclude: a push of srcpool/ex -r with --exclude '*/tmp', where
#	  srcpool/ex/off has zktls:sync=off (its child inherits it) and
#	  srcpool/ex/on has zktls:sync=on: exit 0; the server has exactly
#	  ex, ex/keep and ex/on, their snapshot guids equal ours; the JSON
#	  log reports the four left out ("result":"excluded": tmp, tmp/deep,
#	  off, off/child); none of them got a bookmark.
#	sync-exclude-pull: a pull of the server's srcpool/ex -r with
#	  --exclude srcpool/ex/keep: exactly ex, ex/on, ex/tmp, ex/tmp/deep
#	  arrive; ex/off (zktls:sync=off on the server) and ex/off/child are
#	  reported excluded (the server's listing of the tree marks them).
#
# Strategy:
#	srcpool/ex (six datasets, 64 KiB each, @e1) is made here, served by
#	one zktls serve in zkb (push dstpool/exr, pull srcpool/ex); everything
#	is destroyed at the end.
#
# Cases: sync-exclude sync-exclude-pull
# Tags: kernels=all zfs chain
# Limit: 120
# Order: 71

# ex_tree ROOT: the filesystems below ROOT, relative, sorted, one line
ex_tree() {
    zfs list -H -o name -t filesystem -r "$1" 2>/dev/null | sed "s|^$1||" | sort | tr '\n' ' '
}
if want_any sync-exclude; then
    t0=$SECONDS
    zfs create -o mountpoint="$W/src/ex" srcpool/ex || err "cannot make srcpool/ex"
    for d in keep tmp tmp/deep off off/child on; do
        zfs create "srcpool/ex/$d" || err "cannot make srcpool/ex/$d"
    done
    zfs set zktls:sync=off srcpool/ex/off
    zfs set zktls:sync=on srcpool/ex/on
    for d in . keep tmp tmp/deep off off/child on; do
        head -c 64K /dev/urandom >"$W/src/ex/$d/f"
    done
    zfs snapshot -r srcpool/ex@e1
    zfs create dstpool/exr
    cat >"$W/ex-srv.conf" <<CONF
listen $ZKB_IP:0
cert $CERTS/beta.pem
key $CERTS/beta.key
ca $CERTS/ca.pem
user nobody
client alpha {
	name alpha
	push dstpool/exr
	pull srcpool/ex
}
CONF
    ZK_TO=600 zk_start exsrv "$ZKB" serve --config "$W/ex-srv.conf" --json
    if ! port=$(wait_listen exsrv 60); then
        err "serve did not listen"
        verdict sync-exclude "" exsrv
        err "serve did not listen"
        verdict sync-exclude-pull "" exsrv
    else
        SRV=$ZKB_IP:$port
        zk_start ex1 "$ZKA" sync --json "${TLS_A[@]}" --timeout 60 -r \
            --exclude '*/tmp' srcpool/ex "$SRV"
        zk_wait ex1; rc=$?
        expect_rc "sync -r --exclude" "$rc" 0
        got=$(ex_tree dstpool/exr/ex)
        [[ $got == " /keep /on " ]] || err "the server has [$got] (want [ /keep /on ])"
        for d in "" /keep /on; do
            a=$(zfs get -H -p -o value guid "srcpool/ex$d@e1")
            b=$(zfs get -H -p -o value guid "dstpool/exr/ex$d@e1" 2>/dev/null)
            [[ -n $a && $a == "$b" ]] || err "guid srcpool/ex$d@e1=$a dstpool/exr/ex$d@e1=${b:-none}"
        done
        ex=$(grep -a '"result":"excluded"' "$W/ex1.log" | sed -n 's/.*"source":"\([^"]*\)".*"detail":"\([^"]*\)".*/\1 (\2)/p' | sort | tr '\n' ';')
        want="srcpool/ex/off (excluded: zktls:sync=off);srcpool/ex/off/child (excluded: below srcpool/ex/off);srcpool/ex/tmp (excluded: --exclude '*/tmp');srcpool/ex/tmp/deep (excluded: below srcpool/ex/tmp);"
        [[ $ex == "$want" ]] || err "excluded: [$ex] (want [$want])"
        bm=$(zfs list -H -o name -t bookmark -r srcpool/ex | grep -E '^srcpool/ex/(tmp|off)' | tr '\n' ' ')
        [[ -z $bm ]] || err "an excluded dataset got a bookmark: $bm"
        verdict sync-exclude "push -r: synced [$got], 4 excluded (--exclude, zktls:sync=off, below them) ($((SECONDS - t0)) s)" ex1 exsrv

        t0=$SECONDS
        zk_start ex2 "$ZKA" sync --json "${TLS_A[@]}" --timeout 60 -r \
            --exclude srcpool/ex/keep "$SRV:srcpool/ex" dstpool/expull
        zk_wait ex2; rc=$?
        expect_rc "pull -r --exclude" "$rc" 0
        got=$(ex_tree dstpool/expull)
        want=" /on /tmp /tmp/deep "
        [[ $got == "$want" ]] || err "pulled [$got] (want [$want])"
        a=$(zfs get -H -p -o value guid srcpool/ex/tmp/deep@e1)
        b=$(zfs get -H -p -o value guid dstpool/expull/tmp/deep@e1 2>/dev/null)
        [[ -n $a && $a == "$b" ]] || err "guid srcpool/ex/tmp/deep@e1=$a dstpool/expull/tmp/deep@e1=${b:-none}"
        grep -aq '"source":"srcpool/ex/keep".*"result":"excluded"' "$W/ex2.log" || err "the pull did not report srcpool/ex/keep excluded"
        ex=$(grep -a '"result":"excluded"' "$W/ex2.log" | sed -n 's/.*"source":"\([^"]*\)".*"detail":"\([^"]*\)".*/\1 (\2)/p' | sort | tr '\n' ';')
        want="srcpool/ex/keep (excluded: --exclude 'srcpool/ex/keep');srcpool/ex/off (excluded: zktls:sync is off on the server);srcpool/ex/off/child (excluded: below srcpool/ex/off);"
        [[ $ex == "$want" ]] || err "pull excluded: [$ex] (want [$want])"
        verdict sync-exclude-pull "pull -r --exclude srcpool/ex/keep: pulled [$got], the server's zktls:sync=off left out ($((SECONDS - t0)) s)" ex2 exsrv
    fi
    zk_stop exsrv
    zfs destroy -r dstpool/exr 2>/dev/null
    zfs destroy -r dstpool/expull 2>/dev/null
    zfs destroy -r srcpool/ex 2>/dev/null
fi
