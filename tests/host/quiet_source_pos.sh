#!/usr/bin/env bash
#
# Description:
#	A source that produces nothing for longer than the receiver's
#	--timeout (zfs send enumerating a large tree, a big delete) does not
#	make the receiver give up while the peer is alive: between records
#	liveness is TCP's (keepalive), and the transfer completes.  A path
#	that stalls in the middle of a record still times out
#	(relay_stall_neg.sh).
#
# Strategy:
#	The sender's stdin gives 1 MiB of a 4 MiB file, is silent for 7 s,
#	then gives the rest.  Both ends run with --timeout 2 (after the
#	common options, which set 10).
#	1. push (the receiver listens) and 2. pull (the sender listens): both
#	   exit 0, the output equals the input, no error line, and the
#	   transfer took at least the 7 s of silence (so the receiver really
#	   waited more than three times its timeout).
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/in" 4M
ms() { echo $(($(date +%s%N) / 1000000)); }
# quiet_in: 1 MiB, 7 s of silence, the rest (dd reads no further than asked).
quiet_in() {
	{
		dd bs=64k count=16 iflag=fullblock status=none
		sleep 7
		cat
	} <"$T/in"
}

for how in push pull; do
	t0=$(ms)
	if [ $how = push ]; then
		start_listener port "$T/$how.recv.err" "$ZK" pipe recv \
			"${TLS_B[@]}" --timeout 2 >"$T/$how.out" </dev/null
		quiet_in | bounded 60 "$ZK" pipe send --connect "127.0.0.1:$port" \
			"${TLS_A[@]}" --timeout 2 2>"$T/$how.send.err"
		src=$?
		reap "$LPID" rrc
	else
		start_listener port "$T/$how.send.err" \
			bash -c 'quiet() { { dd bs=64k count=16 iflag=fullblock status=none; sleep 7; cat; } <"$1"; }
				f=$1; shift; quiet "$f" | "$@"' _ "$T/in" \
			"$ZK" pipe send "${TLS_A[@]}" --timeout 2 </dev/null
		bounded 60 "$ZK" pipe recv --connect "127.0.0.1:$port" \
			"${TLS_B[@]}" --timeout 2 >"$T/$how.out" </dev/null 2>"$T/$how.recv.err"
		rrc=$?
		reap "$LPID" src
	fi
	dt=$(($(ms) - t0))
	assert_rc 0 "$src" "$how: sender" "$T/$how.send.err"
	assert_rc 0 "$rrc" "$how: receiver" "$T/$how.recv.err"
	assert_file_eq "$T/in" "$T/$how.out"
	assert_no_grep "error" "$T/$how.send.err"
	assert_no_grep "error" "$T/$how.recv.err"
	[ "$dt" -ge 7000 ] || fail "$how: took only $dt ms; the source was silent for 7 s"
done

finish "7 s of silence with --timeout 2: push and pull complete, identical"
