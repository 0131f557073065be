#!/usr/bin/env bash
#
# Description:
#	A listener is open to whoever reaches its port.  Port scans, silent
#	or slow clients, garbage and peers with the wrong certificate are
#	refused one log line each, and none of them ends the listener or
#	holds up a real peer: it keeps accepting until a peer authenticates
#	(or --listen-timeout ends), handshakes running side by side.
#
# Strategy:
#	1. A port scan (connect, close) and a plain-text client hit a
#	   listening receiver; then the real sender: it succeeds, the bytes
#	   arrive, and the listener logged one "refused" line per attempt.
#	2. Three silent clients stay connected (the listener's --timeout is
#	   30 s); the real sender connects while they hang on and completes
#	   in a few seconds, long before their deadline.
#	3. A client with an untrusted certificate, then the real one: the
#	   first is refused by name, the second served.
#	4. Pull: a scan and a silent client at a listening sender, then the
#	   real receiver: it gets the whole stream, the scanner nothing.
#	5. 40 silent clients (more than the 32 handshakes a listener keeps):
#	   the oldest are dropped with a line each, the real sender succeeds.
#	6. --listen-timeout 2 and only a silent client: exit 4, "no peer
#	   authenticated within 2 s (--listen-timeout)", in 2..6 s.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/in" 2M
LT=(--timeout $((30 * SCALE)))
ms() { echo $(($(date +%s%N) / 1000000)); }
send_real() { # TAG PORT: the real sender, bounded 20 s
	bounded 20 "$ZK" pipe send --connect "127.0.0.1:$2" "${TLS_A[@]}" \
		<"$T/in" >/dev/null 2>"$T/$1.send.err"
}
refusals() { grep -c '^zktls: warning: refused ' "$1" 2>/dev/null; }

# 1. scan + plain text, then the real sender
start_listener port "$T/r1.err" "$ZK" pipe recv "${TLS_B[@]}" "${LT[@]}" \
	>"$T/r1.out" </dev/null
bounded 10 python3 "$TCPPEER" connect "$port" --hold 0 2>/dev/null
bounded 10 python3 "$TCPPEER" connect "$port" --send 'GET / HTTP/1.0\r\n\r\n' --hold 0.5 2>/dev/null
wait_for_line "$T/r1.err" 'not speaking TLS' 10 "$LPID" ||
	fail "scan: no refusal logged for the plain-text client" "$T/r1.err"
alive "$LPID" || fail "scan: the listener ended after a port scan" "$T/r1.err"
send_real r1 "$port"
assert_exit 0 "scan: the real sender" "$T/r1.send.err"
reap_listener "$LPID" rc
assert_rc 0 "$rc" "scan: the listener" "$T/r1.err"
assert_file_eq "$T/in" "$T/r1.out"
assert_eq 2 "$(refusals "$T/r1.err")" "scan: refused lines"
assert_grep "refused 127.0.0.1:" "$T/r1.err"
assert_grep "client closed the connection during the TLS handshake" "$T/r1.err"

# 2. silent clients do not hold up the real one
start_listener port "$T/r2.err" "$ZK" pipe recv "${TLS_B[@]}" "${LT[@]}" \
	>"$T/r2.out" </dev/null
silent 3 "$port"
t0=$(ms)
send_real r2 "$port"
assert_exit 0 "silent: the real sender" "$T/r2.send.err"
[ $(($(ms) - t0)) -lt $((10000 * SCALE)) ] ||
	fail "silent: the real sender took $(($(ms) - t0)) ms"
reap_listener "$LPID" rc
assert_rc 0 "$rc" "silent: the listener" "$T/r2.err"
assert_file_eq "$T/in" "$T/r2.out"

# 3. a wrong certificate first
start_listener port "$T/r3.err" "$ZK" pipe recv "${TLS_B[@]}" "${LT[@]}" \
	>"$T/r3.out" </dev/null
bounded 20 "$ZK" pipe send --connect "127.0.0.1:$port" \
	--cert "$PKI/beta-wrongca.pem" --key "$PKI/beta-wrongca.key" \
	--ca "$PKI/ca.pem" --peer-name beta "${COMMON[@]}" <"$T/in" \
	>/dev/null 2>"$T/r3.bad.err"
assert_exit 3 "wrong certificate: its sender" "$T/r3.bad.err"
send_real r3 "$port"
assert_exit 0 "wrong certificate first: the real sender" "$T/r3.send.err"
reap_listener "$LPID" rc
assert_rc 0 "$rc" "wrong certificate first: the listener" "$T/r3.err"
assert_file_eq "$T/in" "$T/r3.out"
grep -qE '^zktls: warning: refused 127\.0\.0\.1:[0-9]+: client certificate is not signed by a trusted CA \(--ca\)$' \
	"$T/r3.err" || fail "wrong certificate: no refusal naming it" "$T/r3.err"

# 4. pull: the listening sender
start_listener port "$T/s4.err" "$ZK" pipe send "${TLS_A[@]}" "${LT[@]}" <"$T/in"
bounded 10 python3 "$TCPPEER" connect "$port" --hold 1 2>"$T/s4.scan.err"
silent 1 "$port"
bounded 20 "$ZK" pipe recv --connect "127.0.0.1:$port" "${TLS_B[@]}" \
	</dev/null >"$T/s4.out" 2>"$T/s4.recv.err"
assert_exit 0 "pull: the real receiver" "$T/s4.recv.err"
reap_listener "$LPID" rc
assert_rc 0 "$rc" "pull: the listening sender" "$T/s4.err"
assert_file_eq "$T/in" "$T/s4.out"
assert_grep "tcppeer: got 0 bytes" "$T/s4.scan.err"

# 5. more silent clients than a listener keeps
start_listener port "$T/r5.err" "$ZK" pipe recv "${TLS_B[@]}" "${LT[@]}" \
	>"$T/r5.out" </dev/null
silent 40 "$port"
wait_for_line "$T/r5.err" '^zktls: warning: dropped ' 20 "$LPID" ||
	fail "flood: no 'dropped' line within 20 s" "$T/r5.err"
send_real r5 "$port"
assert_exit 0 "flood: the real sender" "$T/r5.send.err"
reap_listener "$LPID" rc
assert_rc 0 "$rc" "flood: the listener" "$T/r5.err"
assert_file_eq "$T/in" "$T/r5.out"
grep -qE '^zktls: warning: dropped 127\.0\.0\.1:[0-9]+: more than 32 connections waiting to authenticate$' \
	"$T/r5.err" || fail "flood: no 'dropped' line" "$T/r5.err"

# 6. --listen-timeout
start_listener port "$T/r6.err" "$ZK" pipe recv "${TLS_B[@]}" "${LT[@]}" \
	--listen-timeout 2 >"$T/r6.out" </dev/null
t0=$(ms)
silent 1 "$port"
wait_gone "$LPID" 10 || fail "--listen-timeout 2: still waiting after 10 s"
d=$(($(ms) - t0))
reap "$LPID" rc
expect_fail "--listen-timeout" 4 "$rc" "$T/r6.err" \
	"no peer authenticated within 2 s (--listen-timeout)"
[ "$d" -ge 1500 ] && [ "$d" -le $((6000 * SCALE)) ] ||
	fail "--listen-timeout 2 took $d ms"
assert_empty "$T/r6.out"

finish "scans, silent, garbage and wrong peers neither end nor block a listener"
