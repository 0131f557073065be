#!/bin/bash
# Runs a command inside the zktls test VM (qemu TCG, kernel with KTLS + OpenZFS):
#   tests/vm/run.sh [--flavour NAME] [--mem MiB] [--smp N] -- COMMAND [ARG...]
# Builds the VM first (tests/vm/build.sh; seconds when cached). --flavour (or
# ZKTLS_VM_FLAVOUR) picks the VM: bookworm-6.12 (default: kernel 6.12, OpenZFS
# 2.3) or trixie-7.2 (kernel 7.2, OpenZFS 2.4); see build.sh. The repository
# is shared read-write with the guest at /mnt/host (9p), and COMMAND runs
# there with bash as root. The guest console is streamed to stdout. Exit
# status: COMMAND's; 125 if the VM did not boot, its setup failed or it timed
# out (ZKTLS_VM_TIMEOUT seconds, default 3000); 77 with "SKIP: ..." if this
# host cannot run the VM at all. ZKTLS_VM_APPEND: extra kernel parameters.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
MEM=3072
SMP=2
TIMEOUT=${ZKTLS_VM_TIMEOUT:-3000}
FLAVOUR=${ZKTLS_VM_FLAVOUR:-bookworm-6.12}

usage() { sed -n '2,3s/^# *//p' "$0" >&2; exit 2; }
fail() { printf '\n*** zktls VM: %s ***\n' "$*" >&2; exit 125; }
while [[ $# -gt 0 ]]; do
    case $1 in
        --flavour) FLAVOUR=$2; shift 2 ;;
        --mem) MEM=$2; shift 2 ;;
        --smp) SMP=$2; shift 2 ;;
        --) shift; break ;;
        *) usage ;;
    esac
done
[[ $# -gt 0 ]] || usage

status=0
out=$("$HERE/build.sh" --flavour "$FLAVOUR") || status=$?
if [[ $status -ne 0 ]]; then
    [[ $status -eq 77 ]] && { echo "$out"; exit 77; }   # the SKIP line
    fail "building the VM failed (tests/vm/build.sh --flavour $FLAVOUR exit $status)"
fi
ART=$(tail -n1 <<<"$out")
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: qemu-system-x86_64 is not installed"; exit 77; }
qemu-system-x86_64 -accel help 2>/dev/null | grep -x tcg >/dev/null ||
    { echo "SKIP: qemu-system-x86_64 has no TCG accelerator"; exit 77; }

b64() { printf '%s' "$1" | base64 -w0; }
# loglevel=5: kernel warnings (WARN splats included) show on the console.
append="console=ttyS0,115200 quiet loglevel=5 panic=-1 ${ZKTLS_VM_APPEND:-}"
append+=" zktls.cmd=$(b64 "$(printf '%q ' "$@")") zktls.cwd=$(b64 /mnt/host)"
# x86 kernels keep at most 2047 bytes of command line.
[[ ${#append} -lt 2000 ]] || fail "command too long for the kernel command line; put it in a script"

LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
start=$SECONDS
# A guest kernel that panics before it reaches init (no "zktls-init: up"
# line) never ran anything of ours: under TCG, early boot now and then
# trips over its own code patching ("Oops: int3").  Boot again, twice at
# most; a panic after init started is never retried.
for boot in 1 2 3; do
    set +e
    timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
        -accel tcg,thread=multi -cpu max -machine q35 -smp "$SMP" -m "$MEM" \
        -nic none -no-reboot -display none -vga none -monitor none \
        -device virtio-rng-pci -serial stdio \
        -kernel "$ART/vmlinuz" -initrd "$ART/initrd.img" -append "$append" \
        -virtfs "local,path=$REPO,mount_tag=host0,security_model=none" \
        </dev/null | sed -u 's/\r$//' | tee "$LOG"
    qemu_status=${PIPESTATUS[0]}
    set -e
    grep -aq 'zktls-init: up at' "$LOG" && break
    grep -aq 'Kernel panic' "$LOG" || break
    [[ $boot -lt 3 ]] && printf '\n*** zktls VM: the guest kernel panicked before init (boot %d); booting again ***\n' "$boot" >&2
done

marker=$(grep -ao 'ZKTLS-VM-EXIT [0-9]*' "$LOG" | tail -n1 || true)
if [[ -z $marker ]]; then
    if [[ $qemu_status -eq 124 || $qemu_status -eq 137 ]]; then
        fail "timed out after ${TIMEOUT}s (ZKTLS_VM_TIMEOUT) without the exit marker"
    fi
    fail "no ZKTLS-VM-EXIT marker: the VM failed to boot or its setup failed (qemu exit $qemu_status, $((SECONDS - start))s)"
fi
echo "zktls VM: '$*' exited ${marker#ZKTLS-VM-EXIT } after $((SECONDS - start))s" >&2
exit "${marker#ZKTLS-VM-EXIT }"
