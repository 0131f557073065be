#!/usr/bin/env bash
#
# Description:
#	A peer whose certificate does not chain to --ca is refused during the
#	handshake, whichever side listens, and not one byte of the stream
#	reaches the receiver's consumer.
#
# Strategy:
#	1. Push to a receiver whose certificate (CN beta) is signed by the
#	   untrusted "otherca": the sender says "server certificate is not
#	   signed by a trusted CA (--ca)" (exit 3); the receiver reports the
#	   sender's unknown_ca alert as a refused connection and keeps
#	   waiting; the receiver's output is empty.
#	2. The same with a self-signed certificate (CN beta).
#	3. Pull from a sender whose certificate is signed by otherca: the
#	   receiver (client) refuses it before any data; its output is empty.
#	4. The sender trusts only otherca (--ca otherca.pem) while the
#	   receiver's certificate is signed by ca: refused the same way.
#
. "$(dirname "$0")/lib.sh"

# A listener that refused a peer keeps waiting: the test stops it.
LISTENER_GRACE=1

mkdata "$T/in" 1M
untrusted="server certificate is not signed by a trusted CA (--ca)"
alert="client rejected the handshake: TLS alert unknown_ca"

# 1. push, receiver's certificate from otherca
run_push wrongca --cert "$PKI/beta-wrongca.pem" --key "$PKI/beta-wrongca.key" \
	--ca "$PKI/ca.pem" --peer-name alpha "${COMMON[@]}" -- "${TLS_A[@]}"
expect_fail "push: sender" 3 "$SEND_RC" "$T/wrongca.send.err" "$untrusted"
expect_refused "push: receiver" "$RECV_RC" "$T/wrongca.recv.err" "$alert"
assert_empty "$T/wrongca.out"

# 2. push, receiver's certificate self-signed
run_push self --cert "$PKI/self.pem" --key "$PKI/self.key" \
	--ca "$PKI/ca.pem" --peer-name alpha "${COMMON[@]}" -- "${TLS_A[@]}"
expect_fail "self-signed: sender" 3 "$SEND_RC" "$T/self.send.err" "$untrusted"
expect_refused "self-signed: receiver" "$RECV_RC" "$T/self.recv.err" "$alert"
assert_empty "$T/self.out"

# 3. pull, sender's certificate from otherca: nothing may reach stdout
run_pull pull --cert "$PKI/beta-wrongca.pem" --key "$PKI/beta-wrongca.key" \
	--ca "$PKI/ca.pem" --peer-name alpha "${COMMON[@]}" -- \
	--cert "$PKI/alpha.pem" --key "$PKI/alpha.key" --ca "$PKI/ca.pem" \
	--peer-name beta "${COMMON[@]}"
expect_fail "pull: receiver" 3 "$RECV_RC" "$T/pull.recv.err" "$untrusted"
expect_refused "pull: sender" "$SEND_RC" "$T/pull.send.err" "$alert"
assert_empty "$T/pull.out"

# 4. push, the sender trusts the wrong CA
run_push otherca "${TLS_B[@]}" -- --cert "$PKI/alpha.pem" \
	--key "$PKI/alpha.key" --ca "$PKI/otherca.pem" --peer-name beta \
	"${COMMON[@]}"
expect_fail "wrong --ca: sender" 3 "$SEND_RC" "$T/otherca.send.err" "$untrusted"
expect_refused "wrong --ca: receiver" "$RECV_RC" "$T/otherca.recv.err" "$alert"
assert_empty "$T/otherca.out"

finish "untrusted server certificates refused, no payload delivered"
