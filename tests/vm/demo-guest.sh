#!/bin/bash
# demo-guest.sh - replicate a dataset between two "hosts" over kernel TLS,
# for a human to watch (run by tests/vm/demo.sh, in the test VM or on a
# host that has kernel TLS and ZFS; needs root).
#
# Description: two network namespaces, alpha (zka, 10.77.0.1) and beta
# (zkb, 10.77.0.2), each with a file-backed pool (alpha: tank, beta:
# backup).  alpha's dataset tank/home gets some text and a few MiB of
# random files and a snapshot @monday, which zktls sends in full to beta
# over mutually-authenticated TLS 1.3 with the bulk data in kernel TLS; then
# files change, @tuesday is taken and sent incrementally.  Each step shows
# the command, both session lines (plane, bytes, MiB/s), the kernel's TLS
# counters (/proc/net/tls_stat) before and after, and finally both sides'
# snapshots with their GUIDs.
#
# Strategy: plain commands a user would type, each bounded by timeout(1);
# the receiver listens on beta, the sender connects from alpha.  Exit 0 if
# both transfers succeeded and the snapshot GUIDs match on both sides.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export ZKTLS_WORK=${ZKTLS_WORK:-/tmp/zktls-demo}
# shellcheck source=tests/vm/suite-lib.sh
. "$HERE/suite-lib.sh"

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
[[ ${TERM:-dumb} == dumb || ! -t 1 ]] && bold() { printf '\n== %s\n' "$*"; }
say() { printf '%s\n' "$*"; }
cmd() { printf '  %s$ %s\n' "$1" "$2"; }

# shellcheck disable=SC2317
cleanup() {
    sl_cleanup
    rm -rf "$W"
}
trap cleanup EXIT
for p in tank backup; do
    zpool list "$p" >/dev/null 2>&1 && { say "demo: a pool named $p exists already; not touching it"; exit 2; }
done
ip netns list 2>/dev/null | grep -qw -e zka -e zkb && { say "demo: network namespaces zka/zkb exist already"; exit 2; }

bold "Setting up: two hosts (network namespaces), two pools, certificates"
sl_setup || { say "demo: setup failed"; exit 1; }
say "  alpha = netns zka, 10.77.0.1 (sends)     beta = netns zkb, 10.77.0.2 (receives)"
say "  $(uname -sr); $(zfs version 2>/dev/null | head -n1); $($ZK version)"
if ! zk_pool tank 512M || ! zk_pool backup 512M; then say "demo: cannot create the pools"; exit 1; fi
say "  pools: tank (alpha), backup (beta), each a 512 MiB file in /tmp"
say "  certificates (tests/host/mkcerts.sh): a private CA; alpha and beta, each checked by name"

zfs create -o mountpoint="$W/home" tank/home
d=$W/home
mkdir -p "$d/docs" "$d/photos"
cp "$SL_REPO/README.md" "$d/docs/"
cp "$SL_REPO/man/zktls.8" "$d/docs/" 2>/dev/null
cp "$SL_REPO"/src/*.c "$d/docs/" 2>/dev/null
for i in 1 2 3; do head -c 2M /dev/urandom >"$d/photos/img$i.raw"; done
seq 1 100000 >"$d/docs/numbers.txt"
zfs snapshot tank/home@monday
say "  tank/home: $(find "$d" -type f | wc -l) files, $(du -sh "$d" | cut -f1); snapshot tank/home@monday"

TLS_SHOW_A="--cert alpha.pem --key alpha.key --ca ca.pem --peer-name beta"
TLS_SHOW_B="--cert beta.pem --key beta.key --ca ca.pem --peer-name alpha"

# counters NS: TlsTxSw/TlsRxSw/TlsCurr* of a namespace, one line.
counters() {
    local s
    s=$(ns_stat "$1")
    read -r tx rx ctx crx de <<<"$s"
    printf 'TlsTxSw=%s TlsRxSw=%s TlsCurrTxSw=%s TlsCurrRxSw=%s TlsDecryptError=%s' "$tx" "$rx" "$ctx" "$crx" "$de"
}

# transfer TAG "SEND-ARGS" "RECV-ARGS": receiver on beta, sender on alpha.
transfer() {
    local tag=$1 port rs rr
    local -a sargs rargs
    read -ra sargs <<<"$2"
    read -ra rargs <<<"$3"
    say "  tls_stat before: alpha $(counters zka)"
    say "                   beta  $(counters zkb)"
    cmd beta "zktls recv --listen 10.77.0.2:4433 $TLS_SHOW_B $3"
    zk_start "$tag.r" "$ZKB" recv --listen "$ZKB_IP:4433" "${TLS_B[@]}" "${rargs[@]}"
    port=$(wait_listen "$tag.r" 60) || { say "  the receiver did not start:"; cat "$W/$tag.r.log"; return 1; }
    cmd alpha "zktls send --connect 10.77.0.2:4433 $TLS_SHOW_A $2"
    zk_start "$tag.s" "$ZKA" send --connect "$ZKB_IP:$port" "${TLS_A[@]}" "${sargs[@]}"
    zk_wait "$tag.s"; rs=$?
    zk_wait "$tag.r"; rr=$?
    say "  alpha says: $(grep -v '^zktls: listening' "$W/$tag.s.log" | tail -n 3)"
    say "  beta says:  $(grep -v '^zktls: listening' "$W/$tag.r.log" | tail -n 3)"
    say "  exit status: alpha $rs, beta $rr"
    say "  tls_stat after:  alpha $(counters zka)"
    say "                   beta  $(counters zkb)"
    say "  (TlsTxSw/TlsRxSw count sockets the kernel encrypted/decrypted for; zktls's"
    say "   start-up probe of the kernel adds 3 of each per process, the session 1)"
    [[ $rs == 0 && $rr == 0 ]]
}

ok=1
bold "1. Full send of tank/home@monday from alpha to beta (backup/home)"
transfer full "tank/home@monday" "backup/home" || ok=0

bold "Changing files on alpha, snapshot tank/home@tuesday"
echo "appended on tuesday" >>"$d/docs/README.md"
head -c 1M /dev/urandom >"$d/photos/img4.raw"
rm -f "$d/photos/img1.raw"
zfs snapshot tank/home@tuesday
say "  + docs/README.md changed, + photos/img4.raw (1 MiB), - photos/img1.raw"

bold "2. Incremental send @monday -> @tuesday"
transfer incr "-i @monday tank/home@tuesday" "backup/home" || ok=0

bold "Snapshots on both sides"
say "  alpha:"
zfs list -t snapshot -o name,guid,used,referenced -r tank/home | sed 's/^/    /'
say "  beta:"
zfs list -t snapshot -o name,guid,used,referenced -r backup/home 2>/dev/null | sed 's/^/    /'
for s in monday tuesday; do
    a=$(guid "tank/home@$s") b=$(guid "backup/home@$s")
    if [[ -n $a && $a == "$b" ]]; then
        say "  @$s: GUIDs match ($a)"
    else
        say "  @$s: GUIDs DIFFER (alpha ${a:-none}, beta ${b:-none})"
        ok=0
    fi
done

if [[ $ok == 1 ]]; then
    bold "Done: both snapshots replicated over kernel TLS"
    exit 0
fi
bold "Something failed (see above)"
exit 1
