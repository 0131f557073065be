#!/usr/bin/env bash
#
# Description:
#	The listening side refuses a client whose certificate does not chain
#	to its --ca (signed by another CA, or self-signed), whether the
#	listener is the receiver or the sender; the client learns it from
#	the listener's alert; no payload reaches the receiver's consumer.
#
# Strategy:
#	1. Push: the receiver listens (alpha's certificate, expects beta);
#	   the sender connects with "beta-wrongca" (CN beta, signed by
#	   otherca).  Receiver: "client certificate is not signed by a trusted
#	   CA (--ca)", logged as a refused connection; it keeps waiting for
#	   an authenticated peer.  Sender: exit 3, error naming the
#	   unknown_ca alert.  Receiver's output empty.
#	2. Pull: the sender listens, the receiver connects with beta-wrongca:
#	   the sender refuses it and sends nothing; the receiver's output is
#	   empty.
#	3. Pull with the self-signed "self" (CN beta): the same.
#
. "$(dirname "$0")/lib.sh"

# A listener that refused a peer keeps waiting: the test stops it.
LISTENER_GRACE=1

mkdata "$T/in" 1M
untrusted="client certificate is not signed by a trusted CA (--ca)"
ALPHA=(--cert "$PKI/alpha.pem" --key "$PKI/alpha.key" --ca "$PKI/ca.pem"
	--peer-name beta "${COMMON[@]}")
WRONG=(--cert "$PKI/beta-wrongca.pem" --key "$PKI/beta-wrongca.key"
	--ca "$PKI/ca.pem" --peer-name alpha "${COMMON[@]}")
SELF=(--cert "$PKI/self.pem" --key "$PKI/self.key" --ca "$PKI/ca.pem"
	--peer-name alpha "${COMMON[@]}")

# alert_fail LABEL RC ERRFILE: the client exits 3 naming the alert.
alert_fail() {
	assert_rc 3 "$2" "$1" "$3"
	grep -qE '^zktls: error: .*TLS alert:? unknown_ca$' "$3" ||
		fail "$1: does not report the server's unknown_ca alert" "$3"
}

# 1. push: the receiver refuses the sender
run_push push "${ALPHA[@]}" -- "${WRONG[@]}"
expect_refused "push: receiver" "$RECV_RC" "$T/push.recv.err" "$untrusted"
alert_fail "push: sender" "$SEND_RC" "$T/push.send.err"
assert_empty "$T/push.out"

# 2. pull: the sender refuses the receiver
run_pull pull "${ALPHA[@]}" -- "${WRONG[@]}"
expect_refused "pull: sender" "$SEND_RC" "$T/pull.send.err" "$untrusted"
alert_fail "pull: receiver" "$RECV_RC" "$T/pull.recv.err"
assert_empty "$T/pull.out"

# 3. pull with a self-signed client certificate
run_pull self "${ALPHA[@]}" -- "${SELF[@]}"
expect_refused "self-signed: sender" "$SEND_RC" "$T/self.send.err" "$untrusted"
alert_fail "self-signed: receiver" "$RECV_RC" "$T/self.recv.err"
assert_empty "$T/self.out"

finish "untrusted client certificates refused, no payload delivered"
