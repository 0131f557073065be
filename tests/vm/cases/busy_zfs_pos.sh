# shellcheck shell=bash disable=SC2034
# busy_zfs_pos.sh - a receiver whose zfs is stopped waits for it
# (sourced by tests/vm/suite.sh)
#
# Description:
#	A direct receiver (8 KiB receive buffer, --timeout 8) whose zfs
#	receive is stopped (SIGSTOP) for 12 s as soon as it runs: the
#	records it has not read wait in kernel TLS, the window closes,
#	nothing moves.  zfs is behind, not the peer: the receiver must wait
#	for it, and the session end whole (both exit 0, guid equal).  The
#	sender has --timeout 40 (it sees its peer take nothing for 12 s;
#	with its own idle timeout under that it would give up, by design).
#
# Strategy:
#	A watcher finds the receiver's zfs receive among its children and
#	stops it for 12 s.  Runs in a background worker (it mostly waits).
#
# Cases: busy-zfs-direct
# Tags: kernels=all zfs bg
# Limit: 240
# Order: 51

# busy_case NAME: a direct receiver (8 KiB receive buffer, --timeout 8)
# whose zfs is stopped for 12 s as soon as it runs: the records it has not
# read wait in kernel TLS, the window closes, nothing moves.  zfs is
# behind, not the peer: the receiver must wait for it, and the session
# end whole.  (The sender, --timeout 40, sees its peer take nothing for
# 12 s; with its own idle timeout under that it would give up, by design.)
busy_case() {
    local name=$1 t0=$SECONDS d=dstpool/$1 el zpid='' i rpid
    xfer_reset
    rmem_small
    S_XOPTS=(--timeout 40) R_XOPTS=(--timeout 8) SEND_ARGS=(srcpool/data@s1) RECV_ARGS=("$d")
    (
        # the receiver's zfs, once it runs: stopped for 12 s
        for ((i = 0; i < 600; i++)); do
            [[ -s $W/$name.r.pid ]] && read -r rpid <"$W/$name.r.pid" &&
                zpid=$(pgrep -P "$rpid" -f '^[^ ]*zfs receive ' | head -n1) && [[ -n $zpid ]] && break
            nap 0.1
        done
        [[ -n $zpid ]] || exit 1
        kill -STOP "$zpid" || exit 2
        nap 12
        kill -CONT "$zpid"
        exit 0
    ) &
    local stopper=$!
    xfer "$name" splice direct
    wait "$stopper"; local st=$?
    el=$((SECONDS - t0))
    rmem_restore
    [[ $st == 0 ]] || err "the receiver's zfs receive was not found ($st: 1) or could not be stopped (2)"
    expect_rc sender "$S_RC" 0
    expect_rc receiver "$R_RC" 0
    [[ $el -ge 12 ]] || err "took ${el} s; zfs was stopped for 12 s"
    same_guid srcpool/data@s1 "$d@s1"
    verdict "$name" "splice->direct, 8 KiB receive buffer, receiver --timeout 8, its zfs stopped for 12 s: waited, guid equal (${el} s)" "$name"
    zfs destroy -r "$d" 2>/dev/null
}
want busy-zfs-direct && busy_case busy-zfs-direct
