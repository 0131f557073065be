#!/usr/bin/env bash
#
# Description:
#	After the handshake zktls seals and opens TLS 1.3 records itself
#	(user plane) instead of calling SSL_read/SSL_write.  Prove those
#	records are standard: OpenSSL's own s_client and s_server exchange a
#	whole zktls session with zktls, stream included.
#
# Strategy:
#	1. Build a REQUEST frame (push, no names) and a REPLY frame (ok) with
#	   python3 from the layout in src/proto.h.
#	2. zktls pipe recv listens; openssl s_client sends REQUEST + 2 MiB of
#	   random data, then (once zktls's REPLY has arrived) its close_notify
#	   at end of input: zktls exits 0 and its output equals the data
#	   (OpenSSL sealed, zktls opened).
#	3. openssl s_server answers a zktls pipe send with REPLY: what
#	   s_server prints after the 1560-byte REQUEST equals the data
#	   (zktls sealed, OpenSSL opened).  s_server cannot send RESULT, so
#	   the sender must fail, and say the session ended early.
#	4. s_server by default sends two session tickets after the
#	   handshake: zktls refuses them (as on every plane) with exit 4 and
#	   sends no stream byte.  (Step 3 asks s_server for none.)
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/in" 2M
python3 - "$T" <<'PY'
import struct, sys
t = sys.argv[1]
names = b"\0" * 256 + b"\0" * 256 + b"\0" * 1024
req = struct.pack(">B3xI", 1, 0) + names + struct.pack(">I", 0)
rep = struct.pack(">B3x", 0) + names + struct.pack(">I", 0)  # message, dataset, token
# req-zk: the REQUEST zktls sends on the user plane (caps: it follows
# KeyUpdate).
req_zk = bytes([1, 1]) + req[2:]
for name, typ, body in (("req", 1, req), ("rep", 2, rep), ("req-zk", 1, req_zk)):
    open(f"{t}/{name}.bin", "wb").write(
        b"ZKT1" + bytes([1, typ, 0, 0]) + struct.pack(">I", len(body)) + body)
PY
[ "$(fsize "$T/req.bin")" = 1560 ] || die "REQUEST frame is not 1560 bytes"

# 2. s_client -> zktls.  s_client sends its close_notify when its input
#    ends, and stops reading then: the input (a FIFO) stays open until
#    zktls's REPLY (1556 bytes) has arrived.
start_listener port "$T/recv.err" "$ZK" pipe recv "${TLS_B[@]}" >"$T/out" </dev/null
lpid=$LPID
mkfifo "$T/sc.in"
exec 7<>"$T/sc.in"    # our end: opening it never blocks, closing it is EOF
bg SCPID 30 openssl s_client \
	-connect "127.0.0.1:$port" -tls1_3 -alpn zktls/1 \
	-cert "$PKI/alpha.pem" -key "$PKI/alpha.key" -CAfile "$PKI/ca.pem" \
	-verify_return_error -quiet -no_ign_eof -nocommands \
	<"$T/sc.in" >"$T/sc.out" 2>"$T/sc.err" 7>&-
cat "$T/req.bin" "$T/in" >&7
for ((i = 0; i < 200 * SCALE; i++)); do
	[ "$(fsize "$T/sc.out")" -ge 1556 ] && break
	sleep 0.05
done
exec 7>&-
reap "$SCPID" scrc
assert_rc 0 "$scrc" "openssl s_client" "$T/sc.err"
reap_listener "$lpid" rrc
assert_rc 0 "$rrc" "zktls pipe recv from s_client" "$T/recv.err"
assert_file_eq "$T/in" "$T/out"
assert_grep "received stream from DNS:alpha" "$T/recv.err"
[ "$(head -c 4 "$T/sc.out")" = ZKT1 ] ||
	fail "s_client did not get zktls's REPLY" "$T/sc.out"

# s_server NAME TICKETS: a one-shot s_server (sending TICKETS session
# tickets after the handshake) that answers with REPLY; its port in SPORT,
# its pid in SPID.
s_server() {
	SPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	bg SPID 30 openssl s_server \
		-accept "127.0.0.1:$SPORT" -naccept 1 -tls1_3 -alpn zktls/1 \
		-num_tickets "$2" \
		-cert "$PKI/beta.pem" -key "$PKI/beta.key" -CAfile "$PKI/ca.pem" \
		-Verify 1 -verify_return_error -quiet >"$T/$1.out" 2>"$T/$1.err" \
		< <(cat "$T/rep.bin"; sleep $((3 * SCALE)))
	for ((i = 0; i < 100; i++)); do
		ss -Hltn "sport = :$SPORT" | grep -q . && break
		sleep 0.05
	done
}

# 3. zktls -> s_server
s_server ss 0
bounded 30 "$ZK" pipe send --connect "127.0.0.1:$SPORT" "${TLS_A[@]}" \
	<"$T/in" 2>"$T/send.err"
assert_exit 4 "zktls pipe send to s_server (no RESULT possible)" "$T/send.err"
reap "$SPID" src
head -c 1560 "$T/ss.out" | cmp -s - "$T/req-zk.bin" ||
	fail "s_server did not receive zktls's REQUEST intact" "$T/ss.err"
tail -c +1561 "$T/ss.out" >"$T/ss.data"
assert_file_eq "$T/in" "$T/ss.data"
assert_error_line "peer closed the session in the middle of a message" "$T/send.err"

# 4. s_server's default: two session tickets after the handshake.  zktls
#    never resumes and refuses tickets on every plane: nothing is sent.
s_server tk 2
bounded 30 "$ZK" pipe send --connect "127.0.0.1:$SPORT" "${TLS_A[@]}" \
	<"$T/in" 2>"$T/tk.send.err"
rc=$?
reap "$SPID" src
expect_fail "tickets from s_server" 4 "$rc" "$T/tk.send.err" \
	"protocol violation by peer: a TLS session ticket after the handshake (zktls peers never send them)"
[ "$(fsize "$T/tk.out")" -le 1560 ] ||
	fail "zktls sent stream bytes to a server that sent tickets" "$T/tk.out"

finish "s_client -> zktls and zktls -> s_server records verified"
