#!/usr/bin/env bash
#
# Description:
#	A peer whose certificate is signed by the trusted CA but names someone
#	else than --peer-name is refused during the handshake, on either
#	side, and no payload reaches the receiver's consumer.
#
# Strategy:
#	1. Push with the sender expecting --peer-name gamma: it says "server
#	   certificate does not match --peer-name gamma" (exit 3); the
#	   receiver logs the bad_certificate alert as a refused connection
#	   and keeps waiting; output empty.
#	2. The same with an IP name the certificate lacks (127.0.0.2).
#	3. Control: --peer-name 127.0.0.1 (in the SAN) is accepted.
#	4. The receiver (listening) expects gamma: it says "client
#	   certificate does not match --peer-name gamma" (a refused
#	   connection; it keeps waiting); the sender
#	   is rejected by the receiver's alert (exit 3); output empty.
#	5. Pull, the receiver (client) expects gamma: refused, output empty.
#
. "$(dirname "$0")/lib.sh"

# A listener that refused a peer keeps waiting: the test stops it.
LISTENER_GRACE=1

mkdata "$T/in" 1M
A_NO_NAME=(--cert "$PKI/alpha.pem" --key "$PKI/alpha.key" --ca "$PKI/ca.pem"
	"${COMMON[@]}")
B_NO_NAME=(--cert "$PKI/beta.pem" --key "$PKI/beta.key" --ca "$PKI/ca.pem"
	"${COMMON[@]}")

# 1. the sender wants gamma
run_push gamma "${TLS_B[@]}" -- "${A_NO_NAME[@]}" --peer-name gamma
expect_fail "gamma: sender" 3 "$SEND_RC" "$T/gamma.send.err" \
	"server certificate does not match --peer-name gamma"
expect_refused "gamma: receiver" "$RECV_RC" "$T/gamma.recv.err" \
	"client rejected the handshake: TLS alert bad_certificate"
assert_empty "$T/gamma.out"

# 2. an IP the certificate does not hold
run_push ip "${TLS_B[@]}" -- "${A_NO_NAME[@]}" --peer-name 127.0.0.2
expect_fail "127.0.0.2: sender" 3 "$SEND_RC" "$T/ip.send.err" \
	"server certificate does not match --peer-name 127.0.0.2"
expect_refused "127.0.0.2: receiver" "$RECV_RC" "$T/ip.recv.err" \
	"client rejected the handshake: TLS alert bad_certificate"
assert_empty "$T/ip.out"

# 3. control: the IP in the SAN matches
run_push ipok "${TLS_B[@]}" -- "${A_NO_NAME[@]}" --peer-name 127.0.0.1
assert_rc 0 "$SEND_RC" "127.0.0.1: sender" "$T/ipok.send.err"
assert_rc 0 "$RECV_RC" "127.0.0.1: receiver" "$T/ipok.recv.err"
assert_file_eq "$T/in" "$T/ipok.out"

# 4. the listening receiver wants gamma
run_push srv "${B_NO_NAME[@]}" --peer-name gamma -- "${TLS_A[@]}"
expect_refused "server checks: receiver" "$RECV_RC" "$T/srv.recv.err" \
	"client certificate does not match --peer-name gamma"
# The sender learns it from the receiver's alert after its own handshake
# completed (TLS 1.3): still an authentication failure, exit 3.
assert_rc 3 "$SEND_RC" "server checks: sender" "$T/srv.send.err"
grep -qE '^zktls: error: .*TLS alert:? bad_certificate$' "$T/srv.send.err" ||
	fail "server checks: sender does not report the bad_certificate alert" \
		"$T/srv.send.err"
assert_empty "$T/srv.out"

# 5. pull: the connecting receiver wants gamma
run_pull pull "${TLS_A[@]}" -- "${B_NO_NAME[@]}" --peer-name gamma
expect_fail "pull: receiver" 3 "$RECV_RC" "$T/pull.recv.err" \
	"server certificate does not match --peer-name gamma"
expect_refused "pull: sender" "$SEND_RC" "$T/pull.send.err" \
	"client rejected the handshake: TLS alert bad_certificate"
assert_empty "$T/pull.out"

finish "name mismatches refused on both sides, no payload delivered"
