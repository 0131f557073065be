#!/usr/bin/env bash
#
# Description:
#	One flipped bit on the wire, anywhere, is detected: in the stream the
#	receiver stops with "TLS record authentication failed (corrupted or
#	tampered stream)" (exit 4) and the sender fails too; in the
#	receiver's RESULT the sender refuses to report success; in the
#	handshake both ends fail authentication and nothing is delivered.
#
# Strategy:
#	Run the stream through relay.py, which XORs one byte with 0x01:
#	1. push 32 MiB, flip client->server byte 4,000,000: the receiver
#	   exits 4 with the message above, its output is a strict prefix of
#	   the input, no "ok"; the sender exits 4.
#	2. pull 32 MiB, flip server->client byte 4,000,000: the same on the
#	   connecting receiver.
#	3. push 1 MiB, flip inside the RESULT record (the first 565-byte TLS
#	   record server->client): the sender exits 4 with the message above
#	   and logs no success (the stream itself arrived whole).
#	4. push, flip client->server byte 100 (the ClientHello): both ends
#	   exit 3, one error line each, output empty, and they do not both
#	   claim the other one rejected the handshake.
#
. "$(dirname "$0")/lib.sh"

# A listener that refused a peer keeps waiting: the test stops it.
LISTENER_GRACE=1

mkdata "$T/in" 32M
tampered="TLS record authentication failed (corrupted or tampered stream)"
RELAY_ZK_OPTS="--timeout 5"

# 1. push, stream bit flip
relay_push push --dir c2s --flip-at 4000000
assert_grep "flipped a bit of byte 4000000" "$T/push.relay.err"
expect_fail "push: receiver" 4 "$RECV_RC" "$T/push.recv.err" "$tampered"
expect_fail_re "push: sender" 4 "$SEND_RC" "$T/push.send.err" '.+'
assert_prefix "$T/push.out" "$T/in"
assert_not_ok "$T/push.recv.err"
assert_not_ok "$T/push.send.err"

# 2. pull, stream bit flip
relay_pull pull --dir s2c --flip-at 4000000
expect_fail "pull: receiver" 4 "$RECV_RC" "$T/pull.recv.err" "$tampered"
expect_fail_re "pull: sender" 4 "$SEND_RC" "$T/pull.send.err" '.+'
assert_prefix "$T/pull.out" "$T/in"
assert_not_ok "$T/pull.recv.err"

# 3. the RESULT is tampered with
mkdata "$T/in" 1M
relay_push result --dir s2c --flip-record 565
assert_grep "record of length 565" "$T/result.relay.err"
expect_fail "RESULT: sender" 4 "$SEND_RC" "$T/result.send.err" "$tampered"
assert_not_ok "$T/result.send.err"
assert_file_eq "$T/in" "$T/result.out"

# 4. the handshake is tampered with
relay_push hs --dir c2s --flip-at 100
expect_fail_re "handshake: sender" 3 "$SEND_RC" "$T/hs.send.err" '.+'
# The listening receiver logs the failed handshake and keeps waiting.
case $RECV_RC in 124 | 143) ;; *) fail "handshake: the listener ended (exit $RECV_RC)" "$T/hs.recv.err" ;; esac
grep -qE '^zktls: warning: refused [^ ]+: .+' "$T/hs.recv.err" ||
	fail "handshake: the listener did not log the refused connection" "$T/hs.recv.err"
assert_empty "$T/hs.out"
if grep -q 'rejected the handshake' "$T/hs.send.err" &&
	grep -q 'rejected the handshake' "$T/hs.recv.err"; then
	fail "both ends claim the other rejected the handshake (one of them detected the damage itself)" \
		"$T/hs.send.err" "$T/hs.recv.err"
fi

finish "bit flips detected in stream, RESULT and handshake"
