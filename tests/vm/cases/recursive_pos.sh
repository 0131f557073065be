# shellcheck shell=bash disable=SC2034
# recursive_pos.sh - a recursive (-R) stream of a tree
# (sourced by tests/vm/suite.sh)
#
# Description:
#	splice->splice send -R srcpool/tree@r2 (a parent and two children,
#	each with @r1 and @r2) into dstpool/tree: both exit 0, the six
#	snapshots arrive with names and guids equal.
#
# Strategy:
#	srcpool/tree is made here (random and text files, two snapshots);
#	the received tree is destroyed at the end.
#
# Cases: recursive-R
# Tags: kernels=all zfs
# Limit: 240
# Order: 21

if want recursive-R; then
    t0=$SECONDS
    if ! zfs create -o mountpoint="$W/src/tree" srcpool/tree || ! zfs create srcpool/tree/a ||
        ! zfs create srcpool/tree/b; then err "cannot create srcpool/tree"; fi
    for x in . a b; do
        head -c 1M /dev/urandom >"$W/src/tree/$x/f1"
        seq 1 20000 >"$W/src/tree/$x/t1"
    done
    zfs snapshot -r srcpool/tree@r1
    for x in . a b; do head -c 256K /dev/urandom >"$W/src/tree/$x/f2"; done
    zfs snapshot -r srcpool/tree@r2
    xfer_reset
    SEND_ARGS=(-R srcpool/tree@r2) RECV_ARGS=(-u dstpool/tree)
    xfer rec splice splice
    expect_rc sender "$S_RC" 0; expect_rc receiver "$R_RC" 0
    src=$(zfs list -H -p -o name,guid -t snapshot -r srcpool/tree | sed 's#^srcpool/tree##' | sort)
    dst=$(zfs list -H -p -o name,guid -t snapshot -r dstpool/tree 2>/dev/null | sed 's#^dstpool/tree##' | sort)
    nsnap=$(wc -l <<<"$src")
    [[ $nsnap == 6 ]] || err "source has $nsnap snapshots (want 6)"
    [[ $src == "$dst" ]] || err "snapshot names/guids differ: source [$(tr '\n\t' ', ' <<<"$src")] received [$(tr '\n\t' ', ' <<<"$dst")]"
    verdict recursive-R "splice->splice -R of parent + 2 children x @r1,@r2: 6 snapshot guids equal ($((SECONDS - t0)) s)" rec
    zfs destroy -r dstpool/tree 2>/dev/null
fi
