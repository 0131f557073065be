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
#	   random data, then its close_notify at end of input: zktls exits 0
#	   and its output equals the data (OpenSSL sealed, zktls opened).
#	3. openssl s_server answers a zktls pipe send with REPLY: what
#	   s_server prints after the 1560-byte REQUEST equals the data
#	   (zktls sealed, OpenSSL opened).  s_server cannot send RESULT, so
#	   the sender must fail, and say the session ended early.
#	4. s_server also sends session tickets after the handshake: zktls
#	   drops them (it never resumes) instead of failing.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/in" 2M
python3 - "$T" <<'PY'
import struct, sys
t = sys.argv[1]
names = b"\0" * 256 + b"\0" * 256 + b"\0" * 1024
req = struct.pack(">B3xI", 1, 0) + names + struct.pack(">I", 0)
rep = struct.pack(">B3x", 0) + names + struct.pack(">I", 0)  # message, dataset, token
for name, typ, body in (("req", 1, req), ("rep", 2, rep)):
    open(f"{t}/{name}.bin", "wb").write(
        b"ZKT1" + bytes([1, typ, 0, 0]) + struct.pack(">I", len(body)) + body)
PY
[ "$(fsize "$T/req.bin")" = 1560 ] || die "REQUEST frame is not 1560 bytes"

# 2. s_client -> zktls
start_listener port "$T/recv.err" "$ZK" pipe recv "${TLS_B[@]}" >"$T/out" </dev/null
cat "$T/req.bin" "$T/in" | bounded 30 openssl s_client \
	-connect "127.0.0.1:$port" -tls1_3 -alpn zktls/1 \
	-cert "$PKI/alpha.pem" -key "$PKI/alpha.key" -CAfile "$PKI/ca.pem" \
	-verify_return_error -quiet -no_ign_eof -nocommands >"$T/sc.out" 2>"$T/sc.err"
assert_exit 0 "openssl s_client" "$T/sc.err"
reap_listener "$LPID" rrc
assert_rc 0 "$rrc" "zktls pipe recv from s_client" "$T/recv.err"
assert_file_eq "$T/in" "$T/out"
assert_grep "received stream from DNS:alpha" "$T/recv.err"
[ "$(head -c 4 "$T/sc.out")" = ZKT1 ] ||
	fail "s_client did not get zktls's REPLY" "$T/sc.out"

# 3. zktls -> s_server
sport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bg SPID 30 openssl s_server \
	-accept "127.0.0.1:$sport" -naccept 1 -tls1_3 -alpn zktls/1 \
	-cert "$PKI/beta.pem" -key "$PKI/beta.key" -CAfile "$PKI/ca.pem" \
	-Verify 1 -verify_return_error -quiet >"$T/ss.out" 2>"$T/ss.err" \
	< <(cat "$T/rep.bin"; sleep $((3 * SCALE)))
for ((i = 0; i < 100; i++)); do
	ss -Hltn "sport = :$sport" | grep -q . && break
	sleep 0.05
done
bounded 30 "$ZK" pipe send --connect "127.0.0.1:$sport" "${TLS_A[@]}" \
	<"$T/in" 2>"$T/send.err"
assert_exit 4 "zktls pipe send to s_server (no RESULT possible)" "$T/send.err"
reap "$SPID" src
head -c 1560 "$T/ss.out" | cmp -s - "$T/req.bin" ||
	fail "s_server did not receive zktls's REQUEST intact" "$T/ss.err"
tail -c +1561 "$T/ss.out" >"$T/ss.data"
assert_file_eq "$T/in" "$T/ss.data"
assert_no_grep "KeyUpdate" "$T/send.err"
assert_error_line "peer closed the session in the middle of a message" "$T/send.err"
finish "s_client -> zktls and zktls -> s_server records verified"
