#!/usr/bin/env bash
#
# Description:
#	An expired certificate, though signed by the trusted CA and carrying
#	the expected name, is refused on either side, and no payload reaches
#	the receiver's consumer.
#
# Strategy:
#	1. Push to a receiver presenting the expired "old" certificate: the
#	   sender says "server certificate has expired" (exit 3), the
#	   receiver logs the certificate_expired alert as a refused
#	   connection and keeps waiting, the
#	   receiver's output is empty.
#	2. Pull by a receiver presenting "old" to the listening sender: the
#	   sender says "client certificate has expired" (exit 3) and sends
#	   nothing, logging the refusal and waiting on; the receiver exits 3
#	   reporting the alert; output empty.
#
. "$(dirname "$0")/lib.sh"

# A listener that refused a peer keeps waiting: the test stops it.
LISTENER_GRACE=1

mkdata "$T/in" 1M
OLD=(--cert "$PKI/old.pem" --key "$PKI/old.key" --ca "$PKI/ca.pem"
	"${COMMON[@]}")
A=(--cert "$PKI/alpha.pem" --key "$PKI/alpha.key" --ca "$PKI/ca.pem"
	"${COMMON[@]}")

# sanity: the fixture really is expired
openssl x509 -in "$PKI/old.pem" -noout -checkend 0 >/dev/null &&
	die "fixture old.pem is not expired"

# 1. the server (receiver) is expired
run_push srv "${OLD[@]}" --peer-name alpha -- "${A[@]}" --peer-name old
expect_fail "expired server: sender" 3 "$SEND_RC" "$T/srv.send.err" \
	"server certificate has expired"
expect_refused "expired server: receiver" "$RECV_RC" "$T/srv.recv.err" \
	"client rejected the handshake: TLS alert certificate_expired"
assert_empty "$T/srv.out"

# 2. the client (receiver, pulling) is expired
run_pull cli "${A[@]}" --peer-name old -- "${OLD[@]}" --peer-name alpha
expect_refused "expired client: sender" "$SEND_RC" "$T/cli.send.err" \
	"client certificate has expired"
assert_rc 3 "$RECV_RC" "expired client: receiver" "$T/cli.recv.err"
grep -qE '^zktls: error: .*TLS alert:? certificate_expired$' "$T/cli.recv.err" ||
	fail "expired client: receiver does not report the certificate_expired alert" \
		"$T/cli.recv.err"
assert_empty "$T/cli.out"

finish "expired certificates refused on both sides, no payload delivered"
