#!/usr/bin/env bash
#
# Description:
#	When the receiver's consumer stops reading early (here: head -c
#	1000), both ends fail promptly instead of hanging or claiming
#	success: the receiver says its consumer stopped, the sender reports
#	the receiver's words.
#
# Strategy:
#	1. Push 32 MiB into "zktls pipe recv | head -c 1000 >/dev/null"
#	   (listening): the receiver exits 5 with "the consumer stopped
#	   reading the stream"; the sender exits 4 or 5 with one error line
#	   starting "receiver: "; both within a few seconds.
#	2. The same pulling (the sender listens, the receiver connects).
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/in" 32M
# The receiver with its consumer; the exit code is zktls's.
HEADED='"$@" | head -c 1000 >/dev/null; exit "${PIPESTATUS[0]}"'
stopped="the consumer stopped reading the stream"

# 1. push
start_listener port "$T/push.recv.err" bash -c "$HEADED" _ \
	"$ZK" pipe recv "${TLS_B[@]}" </dev/null
bounded 20 "$ZK" pipe send --connect "127.0.0.1:$port" "${TLS_A[@]}" \
	<"$T/in" 2>"$T/push.send.err"
src=$?
wait_gone "$LPID" 10 || fail "push: receiver still running 10 s after the sender ended"
reap "$LPID" rrc
expect_fail "push: receiver" 5 "$rrc" "$T/push.recv.err" "$stopped"
[ "$src" = 4 ] || [ "$src" = 5 ] || fail "push: sender exit $src, want 4 or 5" "$T/push.send.err"
assert_error_line "receiver: $stopped" "$T/push.send.err"

# 2. pull
start_listener port "$T/pull.send.err" "$ZK" pipe send "${TLS_A[@]}" <"$T/in"
bounded 20 bash -c "$HEADED" _ "$ZK" pipe recv --connect "127.0.0.1:$port" \
	"${TLS_B[@]}" </dev/null 2>"$T/pull.recv.err"
rrc=$?
wait_gone "$LPID" 10 || fail "pull: sender still running 10 s after the receiver ended"
reap "$LPID" src
expect_fail "pull: receiver" 5 "$rrc" "$T/pull.recv.err" "$stopped"
[ "$src" = 4 ] || [ "$src" = 5 ] || fail "pull: sender exit $src, want 4 or 5" "$T/pull.send.err"
assert_error_line "receiver: $stopped" "$T/pull.send.err"

finish "an early-stopping consumer fails both ends, no hang"
