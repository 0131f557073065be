#!/usr/bin/env bash
#
# Description:
#	A path that goes silent in the middle of a TLS record (the peer
#	neither sends nor closes) is detected after --timeout: the receiver
#	says "timed out after 2 s waiting for the peer" (exit 4) and the
#	sender fails too; neither hangs.
#
# Strategy:
#	relay.py forwards 4,000,000 bytes of a 32 MiB stream and then stops
#	forwarding that direction, keeping both connections open.  Both
#	ends run with --timeout 2.
#	1. push (stall client->server): the receiver exits 4 with the
#	   message above within 2..6 s; the sender exits 4; its output is a
#	   strict prefix of the input; nobody claims success.
#	2. pull (stall server->client): the same on the connecting receiver.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/in" 32M
idle="timed out after 2 s waiting for the peer"
RELAY_ZK_OPTS="--timeout 2"
ms() { echo $(($(date +%s%N) / 1000000)); }

for how in push pull; do
	[ $how = push ] && dir=c2s || dir=s2c
	t0=$(ms)
	relay_$how $how --dir "$dir" --stall-after 4000000
	dt=$(($(ms) - t0))
	[ "$dt" -le $((8000 * SCALE)) ] || fail "$how: took $dt ms with --timeout 2"
	assert_grep "stalled after 4000000 bytes" "$T/$how.relay.err"
	expect_fail "$how: receiver" 4 "$RECV_RC" "$T/$how.recv.err" "$idle"
	expect_fail_re "$how: sender" 4 "$SEND_RC" "$T/$how.send.err" '.+'
	assert_prefix "$T/$how.out" "$T/in"
	assert_not_ok "$T/$how.recv.err"
	assert_not_ok "$T/$how.send.err"
done

finish "a stalled path times out on both ends"
