#!/usr/bin/env bash
#
# Description:
#	Two receivers, or two senders, that reach each other after a valid
#	mutual handshake both fail with a message telling the operator what
#	to run instead, and nothing is written to either receiver's stdout.
#
# Strategy:
#	1. "pipe recv" listening, "pipe recv" connecting: the listener says
#	   "peer wants to receive too (run zktls send or pipe send on one
#	   side)", the client "peer refused the request (error): both sides
#	   want to receive"; both exit 4; both outputs empty.
#	2. "pipe send" listening, "pipe send" connecting: "peer wants to send
#	   too (run zktls recv or pipe recv on one side)" and "peer refused
#	   the request (error): both sides want to send"; both exit 4.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/in" 1M

# 1. two receivers
start_listener port "$T/rr.l.err" "$ZK" pipe recv "${TLS_B[@]}" >"$T/rr.l.out" </dev/null
bounded 20 "$ZK" pipe recv --connect "127.0.0.1:$port" "${TLS_A[@]}" \
	</dev/null >"$T/rr.c.out" 2>"$T/rr.c.err"
crc=$?
reap_listener "$LPID" lrc
expect_fail "two receivers: listener" 4 "$lrc" "$T/rr.l.err" \
	"peer wants to receive too (run zktls send or pipe send on one side)"
expect_fail "two receivers: client" 4 "$crc" "$T/rr.c.err" \
	"peer refused the request (error): both sides want to receive"
assert_empty "$T/rr.l.out"
assert_empty "$T/rr.c.out"

# 2. two senders
start_listener port "$T/ss.l.err" "$ZK" pipe send "${TLS_B[@]}" <"$T/in" >/dev/null
bounded 20 "$ZK" pipe send --connect "127.0.0.1:$port" "${TLS_A[@]}" \
	<"$T/in" >/dev/null 2>"$T/ss.c.err"
crc=$?
reap_listener "$LPID" lrc
expect_fail "two senders: listener" 4 "$lrc" "$T/ss.l.err" \
	"peer wants to send too (run zktls recv or pipe recv on one side)"
expect_fail "two senders: client" 4 "$crc" "$T/ss.c.err" \
	"peer refused the request (error): both sides want to send"

finish "same-role peers refused with guidance"
