#!/bin/bash
# demo.sh - `make demo`: replicate a ZFS dataset over kernel TLS with zktls
# and show the proof (host side).
#
# Description: if this host itself has kernel TLS (/proc/net/tls_stat, or
# `modprobe tls` works) and a working ZFS (`zfs version` with the module
# loaded) and we are root, runs tests/vm/demo-guest.sh right here;
# otherwise builds the test VM (tests/vm/build.sh, cached after the first
# time) and runs demo-guest.sh inside it with tests/vm/run.sh.
# ZKTLS_DEMO_VM=1 forces the VM.  Exit status: demo-guest.sh's (77: no
# way to run it on this host).
#
# Strategy: the same guest script in both places, so what the demo shows
# is what the VM suite tests; the zktls binary is the repository's
# ./zktls (make all builds it first).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
cd "$REPO" || exit 1
[[ -x ./zktls ]] || { echo "demo: no ./zktls; run make first"; exit 1; }

host_can() {
    [[ $EUID -eq 0 ]] || return 1
    [[ -r /proc/net/tls_stat ]] || modprobe tls 2>/dev/null || return 1
    [[ -r /proc/net/tls_stat ]] || return 1
    command -v zfs >/dev/null && command -v zpool >/dev/null || return 1
    [[ -e /dev/zfs ]] || modprobe zfs 2>/dev/null || return 1
    zfs version >/dev/null 2>&1 || return 1
    command -v ip >/dev/null || return 1
}

if [[ ${ZKTLS_DEMO_VM:-0} != 1 ]] && host_can; then
    echo "demo: this host has kernel TLS and ZFS; running the demo here"
    exec bash tests/vm/demo-guest.sh
fi
echo "demo: this host lacks kernel TLS or ZFS (or root); running the demo in the test VM"
echo "demo: building the VM if needed (first time: a few minutes; cached in ${ZKTLS_VM_CACHE:-~/.cache/zktls-vm})"
# The guest console carries kernel and init chatter; keep the demo's own lines.
tests/vm/run.sh -- tests/vm/demo-guest.sh 2>&1 |
    grep -av -e '^\[ *[0-9.]*\] ' -e '^zktls-init: ' -e '^ZKTLS-VM-EXIT '
exit "${PIPESTATUS[0]}"
