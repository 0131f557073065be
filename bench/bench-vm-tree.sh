#!/bin/bash
# bench-vm-tree.sh - zktls sync -r of a tree with nothing to send, inside
# the test VM (guest side; `make bench-vm` runs it after bench-vm.sh).
#   bench/bench-vm-tree.sh [N ...]      (default: 100 300)
#
# Description: for each N, a tree srcpool/tN of N datasets (the root and
# N-1 children, each with one snapshot) that the server in zkb already
# holds (zfs send -R | zfs recv, so the GUIDs are the same), then
# `zktls sync -r srcpool/tN SERVER` from zka twice: the first run puts
# the base bookmarks on the source, the second, timed, is the steady state
# of a periodic sync with nothing new.  Printed per N: the sync's wall
# time; the time of each `zfs list` the run cannot do without (the tree
# here, its zktls:sync here, the tree on the server), timed alone after
# the run, the longest of them (they run at the same time) and what is
# left; the connections the server counted (zktls_sessions_total from its
# metrics file).  TCG distorts absolute times; compare N with N.
# shellcheck disable=SC2016
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export ZKTLS_WORK=${ZKTLS_WORK:-/tmp/zkbench-tree}
# shellcheck source=tests/vm/suite-lib.sh
. "$HERE/../tests/vm/suite-lib.sh"
SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(100 300)
ZK_TO=1800
trap 'sl_cleanup' EXIT

sl_setup || { echo "bench-tree: setup failed"; exit 2; }
zk_pool srcpool 1G || exit 2
zk_pool dstpool 1G || exit 2
zfs create -o mountpoint=none dstpool/tree || exit 2
cat >"$W/srv.conf" <<CONF
listen $ZKB_IP:0
cert $CERTS/beta.pem
key $CERTS/beta.key
ca $CERTS/ca.pem
user nobody
metrics $W/metrics.prom
client alpha {
	name alpha
	push dstpool/tree
	max-sessions 8
}
CONF

ms_of() { local t0; t0=$(now); "$@" >/dev/null 2>&1; echo $(($(now) - t0)); }
ROWS=()
for n in "${SIZES[@]}"; do
    src=srcpool/t$n
    echo "bench-tree: making $src with $((n - 1)) children"
    zfs create -o mountpoint=none "$src" || exit 2
    for ((i = 1; i < n; i++)); do zfs create "$src/d$i" || exit 2; done
    zfs snapshot -r "$src@s1" || exit 2
    zfs send -R "$src@s1" | zfs recv -u "dstpool/tree/t$n" || exit 2
    rm -f "$W/metrics.prom"
    ZK_TO=3000 zk_start srv$n "$ZKB" serve --config "$W/srv.conf" --json
    port=$(wait_listen srv$n 60) || { show srv$n; exit 2; }
    zk_start w$n "$ZKA" sync "${TLS_A[@]}" --no-progress -r "$src" "$ZKB_IP:$port"
    zk_wait w$n || { echo "bench-tree: the first sync of $src failed"; tail -5 "$W/w$n.log"; }
    # the server's connections before the timed run (its metrics file is
    # rewritten as each connection ends)
    nap 1
    c0=$(awk '/^zktls_sessions_total/ { s += $2 } END { print s + 0 }' "$W/metrics.prom" 2>/dev/null)
    t0=$(now)
    zk_start s$n "$ZKA" sync "${TLS_A[@]}" --no-progress -v -r "$src" "$ZKB_IP:$port"
    zk_wait s$n; rc=$?
    ms=$(($(now) - t0))
    zk_stop srv$n
    c1=$(awk '/^zktls_sessions_total/ { s += $2 } END { print s + 0 }' "$W/metrics.prom" 2>/dev/null)
    here=$(ms_of zfs list -H -p -o name,guid,createtxg,receive_resume_token -t filesystem,volume,snapshot,bookmark -r "$src")
    there=$(ms_of zfs list -H -p -o name,guid,createtxg,receive_resume_token -t filesystem,volume,snapshot,bookmark -r "dstpool/tree/t$n")
    props=$(ms_of zfs list -H -p -o name,zktls:sync -t filesystem,volume -r "$src")
    summary=$(grep -a "sync: $n datasets" "$W/s$n.log" | tail -n1 | sed 's/^zktls: //')
    listed=$(grep -a "both trees listed at once" "$W/s$n.log" | sed 's/^.*sync: //')
    echo "bench-tree: N=$n rc=$rc ${ms} ms; $summary; $listed"
    ROWS+=("$n|$rc|$ms|$here|$props|$there|$((c1 - c0))")
done

echo
echo "bench-vm tree: zktls sync -r with nothing to send, TCG guest ($(nproc) vCPUs), Linux $(uname -r)"
printf '%8s %4s %8s %12s %12s %13s %10s %7s %11s\n' datasets exit sync_s zfs_list_here zfs_sync_here zfs_list_there longest_s rest_s connections
for row in "${ROWS[@]}"; do
    IFS='|' read -r n rc ms here props there conns <<<"$row"
    awk -v n="$n" -v rc="$rc" -v ms="$ms" -v h="$here" -v p="$props" -v t="$there" -v c="$conns" 'BEGIN {
        z = h > p ? h : p; z = z > t ? z : t
        printf "%8d %4d %8.2f %12.2f %12.2f %13.2f %10.2f %7.2f %11s\n", n, rc, ms / 1000, h / 1000, p / 1000, t / 1000, z / 1000, (ms - z) / 1000, c }'
done
echo "(the zfs lists a push of the tree needs, each timed alone after the run: its tree here, its zktls:sync here, its"
echo " tree on the server; they run at the same time (ours in the background while the server lists its), so a run"
echo " takes at least the longest; rest_s = sync_s - longest_s: connection, TLS, planning, the lists' contention for"
echo " the CPUs; connections: what the server counted during the timed run, from its metrics; a current tree needs 1)"
