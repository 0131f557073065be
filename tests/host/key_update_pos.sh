#!/usr/bin/env bash
#
# Description:
#	On the user plane no key protects more than --key-limit records: the
#	sending side sends a TLS 1.3 KeyUpdate and moves to the next traffic
#	secret, the receiving side follows, and a peer's request for an
#	update is answered before our next record.  The KeyUpdates are
#	standard: OpenSSL's s_server and s_client follow ours and we follow
#	theirs.  Counts are in the session line and the JSON.
#
#	With ZKTLS_TEST_MODE=rw or splice (the VM suite, on a kernel that can
#	change keys) zktls runs on that kernel plane.
#
# Strategy:
#	1. zktls -> zktls, push and pull, 8 MiB (512 records): the sender
#	   with --key-limit 16, the receiver with --key-limit 1 (its REPLY,
#	   RESULT and close_notify each under a fresh key).  Output equal,
#	   exit 0; the sender sent >= 31 KeyUpdates and the receiver
#	   received exactly as many; the receiver sent 2, the sender
#	   received 2; the human session line says so.
#	2. zktls pipe send --key-limit 20 -> openssl s_server: what s_server
#	   decrypted after the REQUEST equals the data (OpenSSL followed
#	   every KeyUpdate).  KeyUpdates go only to a peer whose REPLY says
#	   it follows them (caps); to one that does not: none, one warning,
#	   the data whole.
#	3. openssl s_client -> zktls pipe recv: s_client's "k" (update, not
#	   requested) and "K" (update requested) commands between three
#	   parts of the stream: zktls's output equals the three parts and it
#	   received 2 KeyUpdates.
#	4. openssl s_server's "K" while zktls pipe send waits for more input:
#	   zktls follows it (received 1) and answers before its next record;
#	   s_server decrypts the whole stream.  (Text data: s_server prints
#	   its own notes, "Read BLOCK", "KEYUPDATE", ALPN, among it.)
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/in" 8M
# JSON field N of the session event in FILE.
jget() { sed -n 's/.*"event":"session".*"'"$2"'":\([0-9]*\).*/\1/p' "$1" | tail -n 1; }

# 1. zktls <-> zktls
for how in push pull; do
	if [ $how = push ]; then
		start_listener port "$T/$how.recv.err" "$ZK" pipe recv "${TLS_B[@]}" \
			--key-limit 1 --json >"$T/$how.out" </dev/null
		bounded 60 "$ZK" pipe send --connect "127.0.0.1:$port" "${TLS_A[@]}" \
			--key-limit 16 --json <"$T/in" 2>"$T/$how.send.err"
		src=$?
		reap "$LPID" rrc
	else
		start_listener port "$T/$how.send.err" "$ZK" pipe send "${TLS_A[@]}" \
			--key-limit 16 --json <"$T/in"
		bounded 60 "$ZK" pipe recv --connect "127.0.0.1:$port" "${TLS_B[@]}" \
			--key-limit 1 --json >"$T/$how.out" </dev/null 2>"$T/$how.recv.err"
		rrc=$?
		reap "$LPID" src
	fi
	assert_rc 0 "$src" "$how: sender" "$T/$how.send.err"
	assert_rc 0 "$rrc" "$how: receiver" "$T/$how.recv.err"
	assert_file_eq "$T/in" "$T/$how.out"
	ss=$(jget "$T/$how.send.err" key_updates_sent)
	sr=$(jget "$T/$how.send.err" key_updates_received)
	rs=$(jget "$T/$how.recv.err" key_updates_sent)
	rr=$(jget "$T/$how.recv.err" key_updates_received)
	[ "${ss:-0}" -ge 31 ] || fail "$how: sender sent ${ss:-no} KeyUpdates (want >= 31 for 512 records at 16)" "$T/$how.send.err"
	[ "${rr:-x}" = "${ss:-y}" ] || fail "$how: receiver received ${rr:-no} KeyUpdates, sender sent ${ss:-no}" "$T/$how.recv.err"
	[ "${rs:-x}" = 2 ] || fail "$how: receiver sent ${rs:-no} KeyUpdates (want 2 at --key-limit 1)" "$T/$how.recv.err"
	[ "${sr:-x}" = 2 ] || fail "$how: sender received ${sr:-no} KeyUpdates (want 2)" "$T/$how.send.err"
done
# The human session line carries the counts.
start_listener port "$T/h.recv.err" "$ZK" pipe recv "${TLS_B[@]}" >"$T/h.out" </dev/null
bounded 60 "$ZK" pipe send --connect "127.0.0.1:$port" "${TLS_A[@]}" \
	--key-limit 100 <"$T/in" 2>"$T/h.send.err"
assert_exit 0 "human: sender" "$T/h.send.err"
reap "$LPID" rrc
assert_rc 0 "$rrc" "human: receiver" "$T/h.recv.err"
assert_grep ", KeyUpdates 5 sent 0 received, ok" "$T/h.send.err"
assert_grep ", KeyUpdates 0 sent 5 received, ok" "$T/h.recv.err"

# Protocol frames for the OpenSSL peers (layout: src/proto.h).
python3 - "$T" <<'PY'
import struct, sys
t = sys.argv[1]
names = b"\0" * 256 + b"\0" * 256 + b"\0" * 1024
req = struct.pack(">B3xI", 1, 0) + names + struct.pack(">I", 0)
rep = struct.pack(">B3x", 0) + names + struct.pack(">I", 0)
# rep-ku: a REPLY whose caps byte says the server follows KeyUpdate.
rep_ku = bytes([0, 1]) + rep[2:]
for name, typ, body in (("req", 1, req), ("rep", 2, rep), ("rep-ku", 2, rep_ku)):
    open(f"{t}/{name}.bin", "wb").write(
        b"ZKT1" + bytes([1, typ, 0, 0]) + struct.pack(">I", len(body)) + body)
PY
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	for ((i = 0; i < 100; i++)); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.05
	done
	fail "nothing listens on port $1"
}
wait_size() {   # wait_size FILE BYTES
	for ((i = 0; i < 400 * SCALE; i++)); do
		[ "$(fsize "$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	fail "$1 did not reach $2 bytes"
}

# 2. zktls (KeyUpdate every 20 records) -> s_server, whose REPLY says it
#    follows KeyUpdate; then the same with a REPLY that does not say so:
#    no KeyUpdate, one warning, the data whole.
for reply in rep-ku rep; do
	SPORT=$(free_port)
	bg SPID 60 openssl s_server -accept "127.0.0.1:$SPORT" -naccept 1 -tls1_3 \
		-alpn zktls/1 -num_tickets 0 -cert "$PKI/beta.pem" -key "$PKI/beta.key" \
		-CAfile "$PKI/ca.pem" -Verify 1 -verify_return_error -quiet \
		>"$T/ss.out" 2>"$T/ss.err" < <(cat "$T/$reply.bin"; sleep $((4 * SCALE)))
	wait_port "$SPORT"
	bounded 30 "$ZK" pipe send --connect "127.0.0.1:$SPORT" "${TLS_A[@]}" \
		--key-limit 20 <"$T/in" 2>"$T/ss.send.err"
	assert_exit 4 "zktls pipe send to s_server (no RESULT possible)" "$T/ss.send.err"
	reap "$SPID" src
	tail -c +1561 "$T/ss.out" >"$T/ss.data"
	assert_file_eq "$T/in" "$T/ss.data"
	if [ $reply = rep-ku ]; then
		# 513 records (REQUEST and 512 full ones), 20 per key: 25
		# KeyUpdates; a kernel plane may cut a record short (a
		# producer's short read), never one key past 20.
		ku=$(sed -n 's/.*KeyUpdates \([0-9]*\) sent 0 received.*/\1/p' "$T/ss.send.err")
		case ${ZKTLS_TEST_MODE:-user} in
		user) [ "${ku:-0}" = 25 ] ;;
		*) [ "${ku:-0}" -ge 25 ] ;;
		esac || fail "${ku:-no} KeyUpdates (want 25, or >= 25 on a kernel plane)" "$T/ss.send.err"
	else
		assert_no_grep "KeyUpdates" "$T/ss.send.err"
		[ "$(grep -c "warning: the peer cannot follow TLS KeyUpdate" "$T/ss.send.err")" = 1 ] ||
			fail "no single warning about the key limit" "$T/ss.send.err"
	fi
done

# Text data for 3 and 4: s_client and s_server take a read that begins
# with a letter as a command, and s_server's notes are letters.
seq 1 100000 >"$T/p1"
seq 100001 200000 >"$T/p2"
seq 200001 300000 >"$T/p3"
cat "$T/p1" "$T/p2" "$T/p3" >"$T/text"
p1=$(fsize "$T/p1") p2=$(fsize "$T/p2")

# 3. s_client (k, then K) -> zktls
start_listener port "$T/sc.recv.err" "$ZK" pipe recv "${TLS_B[@]}" --json \
	>"$T/sc.out" </dev/null
lpid=$LPID
mkfifo "$T/sc.in"
exec 7<>"$T/sc.in"
bg SCPID 60 openssl s_client \
	-connect "127.0.0.1:$port" -tls1_3 -alpn zktls/1 \
	-cert "$PKI/alpha.pem" -key "$PKI/alpha.key" -CAfile "$PKI/ca.pem" \
	-verify_return_error -quiet -no_ign_eof \
	<"$T/sc.in" >"$T/sc.stdout" 2>"$T/sc.err" 7>&-
cat "$T/req.bin" >&7
wait_size "$T/sc.stdout" 1556   # zktls's REPLY
cat "$T/p1" >&7
wait_size "$T/sc.out" "$p1"     # each command alone in one read
printf 'k\n' >&7
sleep 0.3
cat "$T/p2" >&7
wait_size "$T/sc.out" $((p1 + p2))
printf 'K\n' >&7
sleep 0.3
cat "$T/p3" >&7
sleep 0.5
exec 7>&-
reap "$SCPID" scrc
assert_rc 0 "$scrc" "openssl s_client" "$T/sc.err"
reap_listener "$lpid" rrc
assert_rc 0 "$rrc" "zktls pipe recv from s_client" "$T/sc.recv.err"
assert_file_eq "$T/text" "$T/sc.out"
[ "$(grep -c KEYUPDATE "$T/sc.err")" = 2 ] || fail "s_client did not send two KeyUpdates" "$T/sc.err"
[ "$(jget "$T/sc.recv.err" key_updates_received)" = 2 ] ||
	fail "zktls did not count 2 KeyUpdates from s_client" "$T/sc.recv.err"

# 4. s_server's K -> zktls pipe send, while zktls waits for more input
SPORT=$(free_port)
bg SPID 60 openssl s_server -accept "127.0.0.1:$SPORT" -naccept 1 -tls1_3 \
	-alpn zktls/1 -num_tickets 0 -cert "$PKI/beta.pem" -key "$PKI/beta.key" \
	-CAfile "$PKI/ca.pem" -Verify 1 -verify_return_error \
	>"$T/sk.out" 2>"$T/sk.err" < <(
	cat "$T/rep.bin"
	for ((i = 0; i < 400 * SCALE; i++)); do
		# (all of p1 but one record: on splice zktls leaves the last
		# record open until more data comes)
		[ "$(fsize "$T/sk.out")" -ge $((1560 + p1 - 16384)) ] && break
		sleep 0.05
	done
	printf 'K\n'
	sleep $((5 * SCALE)))
wait_port "$SPORT"
{ cat "$T/p1"; sleep $((2 * SCALE)); cat "$T/p2" "$T/p3"; } |
	bounded 60 "$ZK" pipe send --connect "127.0.0.1:$SPORT" "${TLS_A[@]}" \
		--json 2>"$T/sk.send.err"
assert_exit 4 "zktls pipe send to s_server (no RESULT possible)" "$T/sk.send.err"
reap "$SPID" src
python3 - "$T/sk.out" "$T/sk.data" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
for note in (b"Read BLOCK\n", b"Write BLOCK\n", b"KEYUPDATE\n",
             b"SSL_do_handshake -> 1\n",
             b"ALPN protocols advertised by the client: zktls/1\n",
             b"ALPN protocols selected: zktls/1\n"):
    d = d.replace(note, b"")
i = d.find(b"ZKT1\x01\x01")  # zktls's REQUEST: 1560 bytes
open(sys.argv[2], "wb").write(d[i + 1560:] if i >= 0 else b"")
PY
head -c "$(fsize "$T/text")" "$T/sk.data" >"$T/sk.text"
assert_file_eq "$T/text" "$T/sk.text"
[ "$(jget "$T/sk.send.err" key_updates_received)" = 1 ] ||
	fail "zktls did not follow s_server's KeyUpdate" "$T/sk.send.err"
[ "$(jget "$T/sk.send.err" key_updates_sent)" = 1 ] ||
	fail "zktls did not answer s_server's request with one KeyUpdate" "$T/sk.send.err"

finish "KeyUpdate at the record limit and on request, with zktls, s_server and s_client"
