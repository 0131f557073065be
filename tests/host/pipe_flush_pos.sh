#!/usr/bin/env bash
#
# Description:
#	What the producer gave before it paused reaches the consumer during
#	the pause: the user plane's pipelines (a batch being sealed while
#	the one before is written, on both sides) never hold a batch back
#	while they wait, the sender for its producer, the receiver for the
#	peer.
#
# Strategy:
#	The sender's stdin gives 1,000,000 bytes of a 4 MiB file (a part
#	batch ending in a part record), is silent for 6 s, then gives the
#	rest; it touches a file as it falls silent and another as it
#	resumes.
#	1. push (the receiver listens) and 2. pull (the sender listens):
#	   within the silence the receiver's output holds exactly the
#	   1,000,000 bytes; both exit 0, the output equals the input, no
#	   error line.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/in" 4M
first=1000000
# The producer: the first bytes, a mark, 6 s of silence, a mark, the rest.
cat >"$T/producer" <<EOF
#!/usr/bin/env bash
{
	dd bs=$first count=1 iflag=fullblock status=none
	touch "\$1.paused"
	sleep 6
	touch "\$1.resumed"
	cat
} <"$T/in"
EOF
chmod +x "$T/producer"

# seen HOW: the output's size once it holds $first bytes or the producer
# resumed, whichever comes first.
seen() {
	local out=$T/$1.out mark=$T/$1
	for _ in $(seq 300); do
		[ -e "$mark.resumed" ] && break
		[ -e "$mark.paused" ] && [ "$(fsize "$out")" -ge "$first" ] && break
		sleep 0.05
	done
	if [ -e "$mark.resumed" ]; then
		echo "resumed at $(fsize "$out")"
	else
		fsize "$out"
	fi
}

for how in push pull; do
	: >"$T/$how.out"
	if [ $how = push ]; then
		start_listener port "$T/$how.recv.err" "$ZK" pipe recv \
			"${TLS_B[@]}" >"$T/$how.out" </dev/null
		"$T/producer" "$T/$how" | timeout -k 3 $((60 * SCALE)) \
			"$ZK" pipe send --connect "127.0.0.1:$port" \
			"${TLS_A[@]}" 2>"$T/$how.send.err" &
		SPID=$!
		got=$(seen $how)
		wait "$SPID"
		src=$?
		reap "$LPID" rrc
	else
		start_listener port "$T/$how.send.err" bash -c \
			'"$1" "$2" | "${@:3}"' _ "$T/producer" "$T/$how" \
			"$ZK" pipe send "${TLS_A[@]}" </dev/null
		timeout -k 3 $((60 * SCALE)) "$ZK" pipe recv \
			--connect "127.0.0.1:$port" "${TLS_B[@]}" \
			>"$T/$how.out" </dev/null 2>"$T/$how.recv.err" &
		RPID=$!
		got=$(seen $how)
		wait "$RPID"
		rrc=$?
		reap "$LPID" src
	fi
	assert_eq "$first" "$got" "$how: bytes at the consumer during the silence"
	assert_rc 0 "$src" "$how: sender" "$T/$how.send.err"
	assert_rc 0 "$rrc" "$how: receiver" "$T/$how.recv.err"
	assert_file_eq "$T/in" "$T/$how.out"
	assert_no_grep "error" "$T/$how.send.err"
	assert_no_grep "error" "$T/$how.recv.err"
done

finish "what came before a 6 s pause reached the consumer during it: push and pull"
