#!/usr/bin/env bash
#
# Description:
#	A peer that does not speak TLS (a plain TCP client or server, a port
#	scanner, an HTTP client) is refused with a message that says so, and
#	no payload reaches the receiver's consumer.
#
# Strategy:
#	1. A plain TCP client sends "hello\n" and closes: the listening
#	   receiver logs "refused ADDR: client is not speaking TLS 1.3 (wrong
#	   port or not a zktls peer)" and keeps waiting; output empty.
#	2. A plain HTTP request to a listening sender: the same message; the
#	   plain client receives no stream bytes.
#	3. zktls connects to a plain TCP server that sends garbage: "server
#	   is not speaking TLS 1.3 (wrong port or not a zktls peer)", exit 3,
#	   output empty.
#	4. zktls connects to a plain TCP server that reads and closes: "server
#	   closed the connection during the TLS handshake", exit 3.
#	5. zktls connects to a port nobody listens on: "cannot connect to
#	   127.0.0.1:PORT: Connection refused", exit 4.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/in" 1M
notls="is not speaking TLS 1.3 (wrong port or not a zktls peer)"

# 1. plain client -> listening receiver
start_listener port "$T/c1.err" "$ZK" pipe recv "${TLS_B[@]}" >"$T/c1.out" </dev/null
bounded 10 python3 "$TCPPEER" connect "$port" --send 'hello\n' --hold 1 \
	2>"$T/c1.peer.err"
assert_exit 0 "plain client" "$T/c1.peer.err"
stop_refused "plain client: receiver" "$T/c1.err" "client $notls"
assert_empty "$T/c1.out"

# 2. HTTP client -> listening sender: no stream bytes go out
start_listener port "$T/c2.err" "$ZK" pipe send "${TLS_A[@]}" <"$T/in"
bounded 10 python3 "$TCPPEER" connect "$port" \
	--send 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' --hold 2 2>"$T/c2.peer.err"
stop_refused "HTTP client: sender" "$T/c2.err" "client $notls"
assert_grep "tcppeer: got 0 bytes (" "$T/c2.peer.err"

# 3. zktls -> plain server sending garbage
start_peer pport "$T/s3.peer" python3 "$TCPPEER" listen \
	--send 'garbage, not TLS\n' --hold 3
bounded 10 "$ZK" pipe recv --connect "127.0.0.1:$pport" "${TLS_B[@]}" \
	>"$T/s3.out" 2>"$T/s3.err" </dev/null
rc=$?
expect_fail "garbage server: receiver" 3 "$rc" "$T/s3.err" "server $notls"
assert_empty "$T/s3.out"

# 4. zktls -> plain server that reads a little and closes
start_peer pport "$T/s4.peer" python3 "$TCPPEER" listen --hold 0.5
bounded 10 "$ZK" pipe send --connect "127.0.0.1:$pport" "${TLS_A[@]}" \
	<"$T/in" >/dev/null 2>"$T/s4.err"
rc=$?
expect_fail "closing server: sender" 3 "$rc" "$T/s4.err" \
	"server closed the connection during the TLS handshake"

# 5. nobody listening (a port that was just free)
free=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bounded 10 "$ZK" pipe send --connect "127.0.0.1:$free" "${TLS_A[@]}" \
	<"$T/in" >/dev/null 2>"$T/s5.err"
rc=$?
expect_fail "no listener: sender" 4 "$rc" "$T/s5.err" \
	"cannot connect to 127.0.0.1:$free: Connection refused"

finish "plain-TCP peers refused on both sides, no payload delivered"
