#!/usr/bin/env bash
#
# Description:
#	zktls speaks standard TLS 1.3 with mutual X.509 authentication and
#	ALPN "zktls/1": stock OpenSSL tools complete the handshake with it in
#	both roles, and it refuses clients that offer only TLS 1.2 or
#	another application protocol.
#
# Strategy:
#	1. openssl s_server -tls1_3 -Verify 1 -CAfile ca.pem (beta) -alpn
#	   zktls/1; "zktls pipe send" (alpha) connects.  s_server shows a TLS
#	   1.3 ServerHello, ALPN zktls/1 selected, the client certificate
#	   CN=alpha verified, and it received zktls's first message ("ZKT1"
#	   magic).  zktls logs that it authenticated DNS:beta, then fails at
#	   the protocol level (s_server does not speak it): exit 4.
#	2. openssl s_client -tls1_3 with alpha's certificate and -alpn
#	   zktls/1 against a listening "zktls pipe recv" (beta): s_client
#	   shows TLSv1.3, a kernel-offloadable cipher, "Verification: OK",
#	   peer name beta, ALPN zktls/1; zktls logs it authenticated
#	   CN=alpha, then exits 4 (no request came) with nothing written.
#	3. s_client offering only TLS 1.2: refused, "client is not speaking
#	   TLS 1.3 (wrong port or not a zktls peer)", exit 3.
#	4. s_client offering ALPN http/1.1: refused, "client does not speak
#	   the zktls protocol (ALPN zktls/1)", exit 3.
#
. "$(dirname "$0")/lib.sh"

ciphers='TLS_AES_128_GCM_SHA256|TLS_AES_256_GCM_SHA384|TLS_CHACHA20_POLY1305_SHA256'
echo "payload" >"$T/in"

# 1. zktls client -> openssl s_server
bg spid 20 bash -c 'sleep 10 | exec "$@"' _ openssl s_server -msg -tls1_3 \
	-Verify 1 -CAfile "$PKI/ca.pem" -cert "$PKI/beta.pem" \
	-key "$PKI/beta.key" -alpn zktls/1 -accept 127.0.0.1:0 -naccept 1 \
	>"$T/ss.out" 2>"$T/ss.err"
wait_for_line "$T/ss.out" '^ACCEPT 127\.0\.0\.1:[0-9]+$' 10 "$spid" ||
	die "s_server did not start" "$T/ss.out" "$T/ss.err"
sport=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/ss.out")
bounded 20 "$ZK" pipe send --connect "127.0.0.1:$sport" "${TLS_A[@]}" -v \
	--timeout 2 <"$T/in" 2>"$T/zc.err"
assert_exit 4 "zktls against s_server (protocol failure after TLS)" "$T/zc.err"
grep -qE "^zktls: authenticated DNS:beta \(127\.0\.0\.1:$sport\), ($ciphers), plane user$" "$T/zc.err" ||
	fail "zktls did not log the authenticated server" "$T/zc.err"
wait_for_line "$T/ss.out" 'ZKT1' 5 "$spid" ||
	fail "s_server never received zktls's request" "$T/ss.out"
grep -aqE '^>>> TLS 1\.3, Handshake \[length [0-9a-f]+\], ServerHello$' "$T/ss.out" ||
	fail "s_server did not negotiate TLS 1.3" "$T/ss.out"
grep -aqxF 'ALPN protocols selected: zktls/1' "$T/ss.out" ||
	fail "s_server did not select ALPN zktls/1" "$T/ss.out"
grep -aqxF 'subject=CN = alpha' "$T/ss.out" ||
	fail "s_server did not get the client certificate CN=alpha" "$T/ss.out"
grep -aqE "^CIPHER is ($ciphers)\$" "$T/ss.out" ||
	fail "s_server shows no TLS 1.3 cipher" "$T/ss.out"
assert_line "depth=0 CN = alpha" "$T/ss.err"
grep -c '^verify return:1$' "$T/ss.err" | grep -qx 2 ||
	fail "s_server did not verify the client chain (2 x verify return:1)" "$T/ss.err"

# s_client: PORT OUTFILE EXTRA-OPTION...
s_client() {
	local p=$1 out=$2
	shift 2
	bounded 10 openssl s_client -connect "127.0.0.1:$p" \
		-cert "$PKI/alpha.pem" -key "$PKI/alpha.key" -CAfile "$PKI/ca.pem" \
		-verify_hostname beta -verify_return_error "$@" </dev/null >"$out" 2>&1
}

# 2. openssl s_client -> zktls listener
start_listener port "$T/l2.err" "$ZK" pipe recv "${TLS_B[@]}" -v >"$T/l2.out" </dev/null
s_client "$port" "$T/sc2.out" -tls1_3 -alpn zktls/1
assert_exit 0 "s_client" "$T/sc2.out"
reap "$LPID" rc
assert_rc 4 "$rc" "zktls listener (no request after TLS)" "$T/l2.err"
grep -qE "^zktls: authenticated DNS:alpha \(127\.0\.0\.1:[0-9]+\), ($ciphers), plane user$" "$T/l2.err" ||
	fail "zktls did not log the authenticated client" "$T/l2.err"
assert_empty "$T/l2.out"
grep -qE "^New, TLSv1\.3, Cipher is ($ciphers)\$" "$T/sc2.out" ||
	fail "s_client did not negotiate TLS 1.3 with an offloadable cipher" "$T/sc2.out"
assert_line "Verification: OK" "$T/sc2.out"
assert_line "Verified peername: beta" "$T/sc2.out"
assert_line "subject=CN = beta" "$T/sc2.out"
assert_line "ALPN protocol: zktls/1" "$T/sc2.out"

# 3. TLS 1.2 only
start_listener port "$T/l3.err" "$ZK" pipe recv "${TLS_B[@]}" >"$T/l3.out" </dev/null
s_client "$port" "$T/sc3.out" -tls1_2 -alpn zktls/1
assert_exit 1 "s_client -tls1_2" "$T/sc3.out"
stop_refused "TLS 1.2 client: zktls" "$T/l3.err" \
	"client is not speaking TLS 1.3 (wrong port or not a zktls peer)"
grep -qi 'alert protocol version' "$T/sc3.out" ||
	fail "s_client was not told protocol_version" "$T/sc3.out"
assert_empty "$T/l3.out"

# 4. another application protocol
start_listener port "$T/l4.err" "$ZK" pipe recv "${TLS_B[@]}" >"$T/l4.out" </dev/null
s_client "$port" "$T/sc4.out" -tls1_3 -alpn http/1.1
assert_exit 1 "s_client -alpn http/1.1" "$T/sc4.out"
stop_refused "ALPN http/1.1 client: zktls" "$T/l4.err" \
	"client does not speak the zktls protocol (ALPN zktls/1)"
grep -qi 'alert no application protocol' "$T/sc4.out" ||
	fail "s_client was not told no_application_protocol" "$T/sc4.out"
assert_empty "$T/l4.out"

finish "interoperates with openssl s_server/s_client; TLS 1.2 and foreign ALPN refused"
