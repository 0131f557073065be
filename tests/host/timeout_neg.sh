#!/usr/bin/env bash
#
# Description:
#	A peer that accepts the TCP connection but never speaks cannot hold
#	zktls: the handshake gives up after --timeout seconds with a message
#	that says so, on the connecting and on the listening side.
#
# Strategy:
#	1. A plain TCP listener that accepts and stays silent; "zktls pipe
#	   send --connect --timeout 2": "TLS handshake timed out after 2 s",
#	   exit 3, within 2..5 s.
#	2. A plain TCP client that connects to a listening "zktls pipe recv
#	   --timeout 2" and stays silent: the listener logs the same message
#	   as a refused connection within 2..5 s and keeps waiting; nothing
#	   written to stdout.  (That a silent client does not hold up a real
#	   one: listener_neg.sh.)
#
. "$(dirname "$0")/lib.sh"

echo payload >"$T/in"
ms() { echo $(($(date +%s%N) / 1000000)); }
# within LABEL T0 LO HI: the time since T0 (ms) is between LO and HI s.
within() {
	local d=$(($(ms) - $2))
	if [ "$d" -lt $(($3 * 1000)) ] || [ "$d" -gt $(($4 * 1000 * SCALE)) ]; then
		fail "$1 took $d ms, expected $3..$4 s"
	fi
}

# 1. silent server
start_peer pport "$T/p1" python3 "$TCPPEER" listen --hold 30
t0=$(ms)
bounded 20 "$ZK" pipe send --connect "127.0.0.1:$pport" "${TLS_A[@]}" \
	--timeout 2 <"$T/in" >/dev/null 2>"$T/c1.err"
rc=$?
within "silent server" "$t0" 2 5
expect_fail "silent server: sender" 3 "$rc" "$T/c1.err" \
	"TLS handshake timed out after 2 s"

# 2. silent client
start_listener port "$T/l2.err" "$ZK" pipe recv "${TLS_B[@]}" --timeout 2 \
	>"$T/l2.out" </dev/null
t0=$(ms)
bg cpid 20 python3 "$TCPPEER" connect "$port" --hold 30 2>"$T/p2.err"
wait_for_line "$T/l2.err" '^zktls: warning: refused ' 10 "$LPID" ||
	fail "listener did not give up on a silent client within 10 s"
within "silent client" "$t0" 2 5
stop_refused "silent client: receiver" "$T/l2.err" \
	"TLS handshake timed out after 2 s"
assert_empty "$T/l2.out"

finish "silent peers time out after --timeout"
