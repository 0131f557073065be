#!/usr/bin/env bash
# ktls_selftest.sh - src/ktls_linux.c against a real kernel TLS.
#
#   tests/vm/ktls_selftest.sh [RUNS [PART...]]          host: build, run in the VM
#   tests/vm/ktls_selftest.sh --guest [RUNS [PART...]]  guest: load tls.ko, run it
#
# The guest has no compiler, so the binary is built here (make), statically
# and without OpenSSL (the test brings its own stand-ins for pump.c's
# helpers), and reached through the repository share.  RUNS: runs per stress method
# (default 50); PARTs: only those (see tests/vm/ktls_selftest.c, e.g.
# slow-consumer, rekey).  ZKTLS_VM_FLAVOUR picks the VM's kernel.
# Exit status: the test's (0 = every check passed).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=build/vm/ktls_selftest

if [ "${1:-}" = --guest ]; then
	shift
	modprobe tls 2>/dev/null || true
	exec "$bin" "$@"
fi

make -s "$bin"
exec tests/vm/run.sh -- tests/vm/ktls_selftest.sh --guest "$@"
