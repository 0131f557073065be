#!/usr/bin/env bash
#
# Description:
#	A session takes AES-GCM whenever one key is enough, ChaCha20 only
#	when a stream may exceed an AES-GCM key that cannot change
#	(src/cipher.c).  Which suites each side offers, and the two ways a
#	sender that needs more sends a client away to connect again, seen
#	from outside with stock OpenSSL tools and hand-written peers.
#
# Strategy:
#	1. openssl s_server -trace records the ClientHello's cipher_suites:
#	   a receiving client (pipe recv) offers AES-GCM only (the sender
#	   checks); a pipe sender (its size unknown, the user plane can
#	   change keys) offers AES-256-GCM first and ChaCha20 too; a zfs
#	   sender whose snapshot fits half a key offers AES-GCM only.
#	2. A listening pipe sender (size unknown, the user plane can change
#	   keys) takes AES-GCM; a hand-written client whose REQUEST says it
#	   cannot change keys gets REPLY status 5 ("may exceed one AES-GCM
#	   key: connect again offering ChaCha20-Poly1305"), and the
#	   listener listens on: a zktls pipe recv then gets the stream whole
#	   under AES-GCM with KeyUpdate, and the listener logs no error.
#	   (The handshake's own refusal, insufficient_security, needs a
#	   sender that cannot change keys: the VM's keyupdate-pull cases.)
#	3. serve, asked by a client that cannot change keys (REQUEST caps
#	   0) for a snapshot whose estimate is 300 GiB under AES-GCM:
#	   REPLY status 5 ("may exceed one AES-GCM key: connect again
#	   offering ChaCha20-Poly1305"); the same client with the KeyUpdate
#	   cap: ok.  zktls recv --source (which can) gets the stream.  Its
#	   metrics count the session sent away result="retry", not denied.
#	4. A client sent away by REPLY status 5 (a hand-written server)
#	   connects once more, offering ChaCha20 too (-v says so), and takes
#	   that server's second answer.
#	5. Sent away a second time, the client fails with the server's words
#	   (exit 4) and connects no third time.
#
. "$(dirname "$0")/lib.sh"

echo "payload" >"$T/in"

# offers NAME CMD...: run CMD (a zktls client; @PORT@ becomes the port)
# against openssl s_server -trace; $T/NAME.suites: the ClientHello's
# cipher suites, one per line.
offers() {
	local name=$1 spid sport a cmd=()
	shift
	bg spid 20 bash -c 'sleep 8 | exec "$@"' _ openssl s_server -trace \
		-tls1_3 -Verify 1 -CAfile "$PKI/ca.pem" -cert "$PKI/beta.pem" \
		-key "$PKI/beta.key" -alpn zktls/1 -accept 127.0.0.1:0 \
		-naccept 1 >"$T/$name.ss" 2>&1
	wait_for_line "$T/$name.ss" '^ACCEPT 127\.0\.0\.1:[0-9]+$' 10 "$spid" ||
		die "s_server did not start" "$T/$name.ss"
	sport=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/$name.ss")
	for a in "$@"; do cmd+=("${a//@PORT@/$sport}"); done
	bounded 20 "${cmd[@]}" <"$T/in" >/dev/null 2>"$T/$name.err"
	# s_server has seen the ClientHello: its stdin's sleep need not end
	kill -TERM -- "-$spid" 2>/dev/null
	reap "$spid" _
	sed -n '/cipher_suites (len=/,/compression_methods/p' "$T/$name.ss" |
		grep -ao 'TLS_[A-Z0-9_]*' | grep -v SCSV >"$T/$name.suites"
}

# 1. what clients offer
offers recv "$ZK" pipe recv --connect 127.0.0.1:@PORT@ "${TLS_A[@]}" --timeout 2
printf 'TLS_AES_256_GCM_SHA384\nTLS_AES_128_GCM_SHA256\n' >"$T/aes.want"
assert_file_eq "$T/aes.want" "$T/recv.suites"
offers psend "$ZK" pipe send --connect 127.0.0.1:@PORT@ "${TLS_A[@]}" --timeout 2
printf 'TLS_AES_256_GCM_SHA384\nTLS_CHACHA20_POLY1305_SHA256\nTLS_AES_128_GCM_SHA256\n' >"$T/any.want"
assert_file_eq "$T/any.want" "$T/psend.suites"
head -c 100000 /dev/urandom >"$T/stream"
offers zsend env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_STREAM="$T/stream" \
	ZKTLS_FAKE_SNAPS=pool/fs@s ZKTLS_FAKE_GUID=7 \
	"$ZK" send --connect 127.0.0.1:@PORT@ "${TLS_A[@]}" --timeout 2 pool/fs@s
assert_file_eq "$T/aes.want" "$T/zsend.suites"

# 2. a listening sender of unknown size takes AES-GCM from a client that
# offers it, then learns from the REQUEST that the client cannot change
# keys: status 5, and it listens on for the client's second connection
head -c $((4 << 20)) /dev/urandom >"$T/big"
start_listener port "$T/l2.err" "$ZK" pipe send "${TLS_B[@]}" -v <"$T/big"
bounded 20 python3 - "$port" "$PKI" >"$T/p2.out" 2>&1 <<'PY'
import sys
sys.path.insert(0, "tests/host")
import zkpeer
t = zkpeer.connect(int(sys.argv[1]), sys.argv[2], "alpha")
t.sendall(zkpeer.pull_frame("", ""))   # caps 0: cannot change keys
typ, body = zkpeer.read_frame(t)
print("cipher", t.cipher()[0], "status", body[0], "message",
      body[4:260].split(b"\0")[0].decode())
PY
assert_exit 0 "a client that cannot change keys" "$T/p2.out"
assert_line 'cipher TLS_AES_256_GCM_SHA384 status 5 message this stream may exceed one AES-GCM key: connect again offering ChaCha20-Poly1305' "$T/p2.out"
wait_for_line "$T/l2.err" 'sent DNS:alpha away: stream may exceed one AES-GCM key' 5 ||
	fail "the listener did not say why it sent the client away" "$T/l2.err"
alive "$LPID" || fail "the listener ended after sending a client away" "$T/l2.err"
bounded 30 "$ZK" pipe recv --connect "127.0.0.1:$port" "${TLS_A[@]}" \
	>"$T/got2" 2>"$T/r2.err"
assert_exit 0 "pipe recv after that" "$T/r2.err"
assert_file_eq "$T/big" "$T/got2"
assert_grep 'TLS_AES_256_GCM_SHA384, KeyUpdate at the key limit, ok' "$T/r2.err"
reap_listener "$LPID" rc
assert_rc 0 "$rc" "listening pipe send" "$T/l2.err"
assert_no_grep 'error' "$T/l2.err"

# 3. serve checks a pull's size after the REQUEST
serve_conf "$T/zktls.conf" "client alpha {" "name alpha" "pull pool" "}"
start_serve "$T/serve.err" "$T/zktls.conf" ZKTLS_FAKE_SNAPS=pool/big@s \
	ZKTLS_FAKE_GUIDS=pool/big@s=7 ZKTLS_FAKE_SIZE=322122547200 ZKTLS_FAKE_STREAM="$T/stream"
bounded 20 python3 - "$SPORT" "$PKI" >"$T/p3.out" 2>&1 <<'PY'
import struct, sys
sys.path.insert(0, "tests/host")
import zkpeer
port, pki = int(sys.argv[1]), sys.argv[2]
for caps in (0, 1):
    t = zkpeer.connect(port, pki, "alpha")
    f = bytearray(zkpeer.pull_frame("pool/big@s"))
    f[12 + 1] = caps
    t.sendall(bytes(f))
    typ, body = zkpeer.read_frame(t)
    print("caps", caps, "cipher", t.cipher()[0], "status", body[0],
          "message", body[4:260].split(b"\0")[0].decode())
    t.close()
PY
assert_exit 0 "hand-written pulls" "$T/p3.out"
assert_line 'caps 0 cipher TLS_AES_256_GCM_SHA384 status 5 message this stream may exceed one AES-GCM key: connect again offering ChaCha20-Poly1305' "$T/p3.out"
assert_line 'caps 1 cipher TLS_AES_256_GCM_SHA384 status 0 message ' "$T/p3.out"
assert_grep 'sent alpha (DNS:alpha) away: pool/big@s may exceed one AES-GCM key, and not both sides can change keys' "$T/serve.err"
read -r -a A <<<"$(as_client alpha)"
bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_OUT="$T/got3" \
	ZKTLS_FAKE_GUIDS=pool/big@s=7 ZKTLS_FAKE_GUID=7 "$ZK" recv --connect "127.0.0.1:$SPORT" "${A[@]}" \
	--source pool/big@s pool/mine 2>"$T/r3.err"
assert_exit 0 "recv --source from serve" "$T/r3.err"
assert_file_eq "$T/stream" "$T/got3"
# sent away is a step of the cipher choice: counted as such, never as
# denied (an operator's alert)
wait_for_line "$T/metrics.prom" 'result="ok"} 1' 10 || true
assert_grep 'zktls_sessions_total{client="alpha",plane="user",result="retry"} 1' "$T/metrics.prom"
grep -q 'result="denied"' "$T/metrics.prom" &&
	fail "a client sent away is counted denied" "$T/metrics.prom"

# 4. sent away by REPLY status 5: once more, offering ChaCha20 too
# fake_server NAME STATUS...: a hand-written server on $fport answering
# each connection's REQUEST with the next STATUS, then closing.
fake_server() {
	local name=$1
	shift
	start_peer fport "$T/$name.err" python3 - "$PKI" "$@" <<'PY'
import socket, ssl, struct, sys
pki, answers = sys.argv[1], [int(a) for a in sys.argv[2:]]
texts = {5: b"connect again offering ChaCha20-Poly1305",
         1: b"the second answer"}
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(f"{pki}/beta.pem", f"{pki}/beta.key")
ctx.load_verify_locations(f"{pki}/ca.pem")
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.set_alpn_protocols(["zktls/1"])
ctx.num_tickets = 0
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(4)
print(ls.getsockname()[1], flush=True)
for status in answers:
    msg = texts[status]
    c, _ = ls.accept()
    t = ctx.wrap_socket(c, server_side=True)
    h = b""
    while len(h) < 12:
        h += t.recv(12 - len(h))
    n = struct.unpack(">I", h[8:12])[0]
    body = b""
    while len(body) < n:
        body += t.recv(n - len(body))
    rep = (bytes([status, 0, 0, 0]) + msg.ljust(256, b"\0") +
           b"\0" * 256 + b"\0" * 1024 + struct.pack(">I", 0))
    t.sendall(b"ZKT1" + bytes([1, 2, 0, 0]) + struct.pack(">I", len(rep)) + rep)
    print("answered", status, "cipher", t.cipher()[0], flush=True)
    try:
        t.unwrap()
    except (OSError, ssl.SSLError):
        pass
    t.close()
PY
}

fake_server fake 5 1
bounded 30 env ZKTLS_ZFS="$FAKEZFS" "$ZK" recv --connect "127.0.0.1:$fport" \
	"${TLS_A[@]}" -v --source pool/x@s pool/mine >/dev/null 2>"$T/r4.err"
expect_fail "recv sent away, then refused" 3 $? "$T/r4.err" \
	"peer refused the request (denied): the second answer"
assert_grep 'connecting again offering AES-GCM first' "$T/r4.err"
wait_for_line "$T/fake.err.out" '^answered 1 ' 5 ||
	fail "the client did not connect a second time" "$T/fake.err.out"

# 5. a server that sends the client away twice: the second time (already
#    offering ChaCha20) is a failure, with the server's words; there is no
#    third connection
fake_server twice 5 5 5
bounded 30 env ZKTLS_ZFS="$FAKEZFS" "$ZK" recv --connect "127.0.0.1:$fport" \
	"${TLS_A[@]}" -v --source pool/x@s pool/mine >/dev/null 2>"$T/r5.err"
expect_fail "recv sent away twice" 4 $? "$T/r5.err" \
	"peer refused the request (needs ChaCha20-Poly1305): connect again offering ChaCha20-Poly1305"
sleep 0.5
[ "$(grep -c '^answered 5 ' "$T/twice.err.out")" -eq 2 ] ||
	fail "not two connections for two answers of status 5" "$T/twice.err.out"

finish "AES-GCM offers by role and size; status 5 from a listening sender and from serve to a client that cannot change keys; the listener's and the client's second connection, and no third"
