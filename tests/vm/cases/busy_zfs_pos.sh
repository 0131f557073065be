# shellcheck shell=bash disable=SC2034
# busy_zfs_pos.sh - a receiver whose zfs is stopped waits for it
# (sourced by tests/vm/suite.sh)
#
# Description:
#	A direct receiver (8 KiB receive buffer, --timeout 8) whose zfs
#	receive is stopped (SIGSTOP) for 12 s as it starts: the
#	records it has not read wait in kernel TLS, the window closes,
#	nothing moves.  zfs is behind, not the peer: the receiver must wait
#	for it, and the session end whole (both exit 0, guid equal).  The
#	sender has --timeout 40 (it sees its peer take nothing for 12 s;
#	with its own idle timeout under that it would give up, by design).
#
# Strategy:
#	The receiver's zfs is a wrapper that, for "receive", writes its pid
#	and stops itself (SIGSTOP) before it becomes zfs (exec: the same
#	pid); a watcher sees it stopped and lets it go on (SIGCONT) 12 s
#	later.  (Stopping zfs receive once it is in its receive ioctl would
#	test zfs, not zktls: a stop signal makes the ioctl's socket wait
#	return ERESTARTSYS, the kernel restarts the ioctl after SIGCONT, and
#	zfs aborts with "Bad file descriptor", as seen once under load.)
#	Runs in a background worker (it mostly waits).
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
    local real wrap=$W/stopzfs-$name
    real=$(command -v zfs)
    rm -f "$W/$name.zpid"
    printf '%s\n' '#!/bin/bash' 'if [[ $1 == receive ]]; then' \
        "    echo \$\$ >'$W/$name.zpid'" '    kill -STOP $$' 'fi' \
        "exec '$real' \"\$@\"" >"$wrap"
    chmod 755 "$wrap"
    R_ENV="ZKTLS_ZFS=$wrap"
    (
        # the receiver's zfs, as it starts: stopped for 12 s
        for ((i = 0; i < 600; i++)); do
            [[ -s $W/$name.zpid ]] && read -r zpid <"$W/$name.zpid" &&
                [[ $(awk '{ print $3 }' "/proc/$zpid/stat" 2>/dev/null) == T ]] && break
            zpid=''
            nap 0.1
        done
        [[ -n $zpid ]] || exit 1
        nap 12
        kill -CONT "$zpid" || exit 2
        exit 0
    ) &
    local stopper=$!
    xfer "$name" splice direct
    wait "$stopper"; local st=$?
    el=$((SECONDS - t0))
    rmem_restore
    [[ $st == 0 ]] || err "the receiver's zfs receive was not seen stopped ($st: 1) or could not be continued (2)"
    expect_rc sender "$S_RC" 0
    expect_rc receiver "$R_RC" 0
    [[ $el -ge 12 ]] || err "took ${el} s; zfs was stopped for 12 s"
    same_guid srcpool/data@s1 "$d@s1"
    verdict "$name" "splice->direct, 8 KiB receive buffer, receiver --timeout 8, its zfs stopped for 12 s: waited, guid equal (${el} s)" "$name"
    zfs destroy -r "$d" 2>/dev/null
}
want busy-zfs-direct && busy_case busy-zfs-direct
