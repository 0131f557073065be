#!/usr/bin/env bash
#
# Description:
#	A standard TLS 1.3 client (openssl s_client) that presents no
#	certificate is refused by a zktls listener, and never sees a byte of
#	the stream.
#
# Strategy:
#	1. openssl s_client -tls1_3 -alpn zktls/1 without -cert against a
#	   listening "pipe recv": zktls says "client did not present a
#	   certificate", exit 3; its output is empty; s_client reports the
#	   certificate_required alert (116).
#	2. The same against a listening "pipe send" whose stream is marked
#	   text: the same refusal, and the marker never appears in what
#	   s_client printed.
#
. "$(dirname "$0")/lib.sh"

for ((i = 0; i < 2000; i++)); do echo "SECRET-PAYLOAD-$i"; done >"$T/in"
nocert="client did not present a certificate"

s_client() { # PORT OUTFILE
	bounded 10 openssl s_client -connect "127.0.0.1:$1" -tls1_3 \
		-alpn zktls/1 -CAfile "$PKI/ca.pem" -ign_eof </dev/null >"$2" 2>&1
}

# 1. against a receiver
start_listener port "$T/r.err" "$ZK" pipe recv "${TLS_B[@]}" >"$T/r.out" </dev/null
s_client "$port" "$T/sc1.out"
stop_refused "receiver" "$T/r.err" "$nocert"
assert_empty "$T/r.out"
grep -qiE 'alert certificate required|alert number 116' "$T/sc1.out" ||
	fail "s_client did not report the certificate_required alert" "$T/sc1.out"

# 2. against a sender: nothing of the stream leaks
start_listener port "$T/s.err" "$ZK" pipe send "${TLS_A[@]}" <"$T/in"
s_client "$port" "$T/sc2.out"
stop_refused "sender" "$T/s.err" "$nocert"
assert_no_grep "SECRET-PAYLOAD" "$T/sc2.out"
assert_no_grep "zktls: sent stream" "$T/s.err"
grep -qiE 'alert certificate required|alert number 116' "$T/sc2.out" ||
	fail "s_client did not report the certificate_required alert" "$T/sc2.out"

finish "certificate-less clients refused, nothing leaked"
