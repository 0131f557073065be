#!/usr/bin/env bash
#
# Description:
#	zktls keeps its private key and, briefly, TLS secrets in memory: a
#	core dump or a debugger must not hand them out.  The process is
#	non-dumpable for its whole life and its core-size limit is 0.
#
# Strategy:
#	A listening zktls runs as an unprivileged user (nobody), so that the
#	kernel's usual rules apply to it.  While it waits:
#	1. /proc/PID/limits says "Max core file size 0 0";
#	2. /proc/PID/environ belongs to root although the process is nobody's
#	   (the kernel's sign of a non-dumpable process);
#	3. another process of the same user cannot PTRACE_ATTACH to it (EPERM).
#	Then a real sender connects and the transfer succeeds (hardening
#	breaks nothing).
#
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "this test needs root (it runs zktls as nobody)"
command -v setpriv >/dev/null || die "setpriv (util-linux) is missing"
mkdata "$T/in" 1M
chmod 755 "$T" "$PKI"
chmod 644 "$PKI"/*
asnobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)

start_listener port "$T/recv.err" bash -c 'echo $$ >"$0"; exec "${@}"' \
	"$T/pid" "${asnobody[@]}" "$ZK" pipe recv "${TLS_B[@]}" >"$T/out" </dev/null
pid=$(cat "$T/pid")
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
assert_eq 65534 "$uid" "zktls's uid"
grep -qE '^Max core file size +0 +0 ' "/proc/$pid/limits" ||
	fail "core dumps not disabled: $(grep 'core file' "/proc/$pid/limits")"
owner=$(stat -c %u "/proc/$pid/environ")
assert_eq 0 "$owner" "owner of /proc/PID/environ of a non-dumpable process"
"${asnobody[@]}" /usr/bin/python3 - "$pid" >"$T/ptrace.out" 2>&1 <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH, PTRACE_DETACH = 16, 17
r = libc.ptrace(PTRACE_ATTACH, int(sys.argv[1]), None, None)
if r == 0:
    os.waitpid(int(sys.argv[1]), os.WUNTRACED)
    libc.ptrace(PTRACE_DETACH, int(sys.argv[1]), None, None)
    print("attached")
else:
    print("errno", ctypes.get_errno())
PY
assert_line "errno 1" "$T/ptrace.out"

bounded 20 "$ZK" pipe send --connect "127.0.0.1:$port" "${TLS_A[@]}" \
	<"$T/in" >/dev/null 2>"$T/send.err"
assert_exit 0 "sender" "$T/send.err"
reap_listener "$LPID" rrc
assert_rc 0 "$rrc" "receiver (as nobody)" "$T/recv.err"
assert_file_eq "$T/in" "$T/out"
finish "non-dumpable, no core, no ptrace attach; transfer ok"
