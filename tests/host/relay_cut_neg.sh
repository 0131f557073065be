#!/usr/bin/env bash
#
# Description:
#	A connection cut in the middle of the stream (FIN or reset, either
#	direction of connection) fails both ends with exit 4 and a message
#	naming the cause; the receiver never claims a truncated stream
#	complete, even when every data byte arrived and only the sender's
#	close_notify was lost.
#
# Strategy:
#	Run 32 MiB through relay.py between sender and receiver:
#	1. push, the relay closes both sides (FIN) after 8,000,000 bytes
#	   client->server: the receiver says "connection closed by peer
#	   without close_notify (truncated stream)", exit 4; the sender exits
#	   4 with a closed/reset/truncated connection message; the receiver's
#	   output is a strict prefix of the input; no "ok" session line.
#	2. push, the relay resets both sides: the receiver says "connection
#	   reset by peer", exit 4; the same other checks.
#	3. pull (the sender listens), the relay closes after 8,000,000 bytes
#	   server->client: as 1, on the connecting receiver.
#	4. push of 1 MiB, the relay drops exactly the sender's close_notify
#	   record (the first 19-byte TLS record client->server) and closes:
#	   all data arrived, yet the receiver exits 4 with the truncation
#	   message, and the sender exits 4 (no RESULT).
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/in" 32M
truncated="connection closed by peer without close_notify (truncated stream)"
# What a sender may truly see when the path is cut under it.
sender_re='connection (closed|reset) by peer( during the stream| without close_notify \(truncated stream\))?'
RELAY_ZK_OPTS="--timeout 5"

# 1. FIN mid-stream, push
relay_push fin --dir c2s --cut-after 8000000 --cut-mode fin
expect_fail "FIN: receiver" 4 "$RECV_RC" "$T/fin.recv.err" "$truncated"
expect_fail_re "FIN: sender" 4 "$SEND_RC" "$T/fin.send.err" "$sender_re"
assert_prefix "$T/fin.out" "$T/in"
assert_not_ok "$T/fin.recv.err"
assert_not_ok "$T/fin.send.err"

# 2. reset mid-stream, push
relay_push rst --dir c2s --cut-after 8000000 --cut-mode rst
expect_fail "RST: receiver" 4 "$RECV_RC" "$T/rst.recv.err" \
	"connection reset by peer"
expect_fail_re "RST: sender" 4 "$SEND_RC" "$T/rst.send.err" "$sender_re"
assert_prefix "$T/rst.out" "$T/in"
assert_not_ok "$T/rst.recv.err"

# 3. FIN mid-stream, pull
relay_pull pull --dir s2c --cut-after 8000000 --cut-mode fin
expect_fail "pull FIN: receiver" 4 "$RECV_RC" "$T/pull.recv.err" "$truncated"
expect_fail_re "pull FIN: sender" 4 "$SEND_RC" "$T/pull.send.err" "$sender_re"
assert_prefix "$T/pull.out" "$T/in"
assert_not_ok "$T/pull.recv.err"

# 4. only the close_notify is lost
mkdata "$T/in" 1M
relay_push cn --dir c2s --cut-before-record 19 --cut-mode fin
assert_grep "record of length 19" "$T/cn.relay.err"
expect_fail "lost close_notify: receiver" 4 "$RECV_RC" "$T/cn.recv.err" "$truncated"
expect_fail_re "lost close_notify: sender" 4 "$SEND_RC" "$T/cn.send.err" "$sender_re"
assert_not_ok "$T/cn.recv.err"
assert_not_ok "$T/cn.send.err"

finish "cut connections fail both ends; truncation never looks complete"
