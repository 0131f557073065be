# shellcheck shell=bash
# Helpers for guest-side test scripts (source it inside the VM started by
# tests/vm/run.sh). Two "hosts" are network namespaces zka (10.77.0.1) and
# zkb (10.77.0.2) joined by a veth pair; each gets a file-backed zpool in
# /tmp. ZFS itself is global: the hosts differ only by network namespace.
# /proc/net/tls_stat is per network namespace: read it in the namespace of
# the sockets you want to count (tls_stat COUNTER NS).

ZKA=zka ZKB=zkb
ZKA_IP=10.77.0.1 ZKB_IP=10.77.0.2
ZK_POOL_SIZE=${ZK_POOL_SIZE:-1G}
ZK_POOLS=()

# zk_hosts_up: create namespaces zka and zkb, veth zka0 <-> zkb0, lo up in each.
zk_hosts_up() {
    ip netns add "$ZKA"
    ip netns add "$ZKB"
    ip link add zka0 netns "$ZKA" type veth peer name zkb0 netns "$ZKB"
    ip -n "$ZKA" addr add "$ZKA_IP/24" dev zka0
    ip -n "$ZKB" addr add "$ZKB_IP/24" dev zkb0
    local ns
    for ns in "$ZKA" "$ZKB"; do
        ip -n "$ns" link set lo up
        ip -n "$ns" link set "${ns}0" up
    done
}

# zk_hosts_down: remove both namespaces (and with them the veth pair), and
# every pair zk_pair_up made.
zk_hosts_down() {
    local n
    for n in "${ZK_PAIRS[@]}"; do
        ip netns del "zka$n" 2>/dev/null || true
        ip netns del "zkb$n" 2>/dev/null || true
    done
    ZK_PAIRS=()
    ip netns del "$ZKA" 2>/dev/null || true
    ip netns del "$ZKB" 2>/dev/null || true
}
# zk_pair_up N: another pair of hosts, zkaN (10.77.N.1) and zkbN
# (10.77.N.2), veth zkaN0 <-> zkbN0, for a case that runs beside others
# and changes what a host's network does (its receive buffer, its link).
# zk_pair_use N: point ZKA/ZKB/ZKA_IP/ZKB_IP at it.
ZK_PAIRS=()
zk_pair_up() {
    local n=$1 ns
    ip netns add "zka$n" && ip netns add "zkb$n" || return 1
    ZK_PAIRS+=("$n")
    ip link add "zka${n}0" netns "zka$n" type veth peer name "zkb${n}0" netns "zkb$n" || return 1
    ip -n "zka$n" addr add "10.77.$n.1/24" dev "zka${n}0"
    ip -n "zkb$n" addr add "10.77.$n.2/24" dev "zkb${n}0"
    for ns in "zka$n" "zkb$n"; do
        ip -n "$ns" link set lo up
        ip -n "$ns" link set "${ns}0" up
    done
}
zk_pair_use() {
    ZKA=zka$1 ZKB=zkb$1 ZKA_IP=10.77.$1.1 ZKB_IP=10.77.$1.2
}

# zka CMD... / zkb CMD...: run a command on host A / host B.
zka() { ip netns exec "$ZKA" "$@"; }
zkb() { ip netns exec "$ZKB" "$@"; }

# zk_pool NAME [SIZE]: create pool NAME on a sparse file /tmp/zk-NAME.img
# (default size $ZK_POOL_SIZE, 1G), no compression, no mountpoint.
zk_pool() {
    local name=$1 file=/tmp/zk-$1.img
    truncate -s "${2:-$ZK_POOL_SIZE}" "$file"
    zpool create -f -o ashift=12 -O compression=off -m none "$name" "$file"
    ZK_POOLS+=("$name")
}

# zk_pool_destroy NAME: destroy the pool and delete its file.
zk_pool_destroy() {
    zpool destroy -f "$1" 2>/dev/null || true
    rm -f "/tmp/zk-$1.img"
}

# tls_stat COUNTER [NS]: print a /proc/net/tls_stat counter (e.g. TlsTxSw),
# of network namespace NS if given; fails if the counter does not exist.
tls_stat() {
    local stat
    if [[ $# -ge 2 ]]; then stat=$(ip netns exec "$2" cat /proc/net/tls_stat); else stat=$(cat /proc/net/tls_stat); fi
    awk -v k="$1" '$1 == k { print $2; found = 1 } END { exit !found }' <<<"$stat"
}

# zk_teardown: destroy the pools made by zk_pool and remove the hosts
# (use: trap zk_teardown EXIT).
zk_teardown() {
    local p
    for p in "${ZK_POOLS[@]}"; do zk_pool_destroy "$p"; done
    ZK_POOLS=()
    zk_hosts_down
}
