#!/usr/bin/env bash
#
# Description:
#	--peer-pin pins the peer's public key: a peer presenting another key
#	is refused during the handshake, with or without --ca, on either
#	side, and no payload reaches the receiver's consumer.
#
# Strategy:
#	1. Pin only (no --ca): the sender pins alpha's key but the receiver
#	   is beta: "server public key does not match --peer-pin" (exit 3);
#	   the receiver logs the sender's alert as a refused connection and
#	   keeps waiting; output empty.
#	2. Pin + CA + name: chain and name pass, the pin does not: refused.
#	3. The pin of the CA's key does not vouch for a leaf: refused.
#	4. The listening receiver pins the wrong key for the sender: "client
#	   public key does not match --peer-pin" (a refused connection; it
#	   keeps waiting); the sender exits 3.
#	5. Pull, the connecting receiver pins the wrong key: refused, the
#	   receiver's output is empty.
#
. "$(dirname "$0")/lib.sh"

# A listener that refused a peer keeps waiting: the test stops it.
LISTENER_GRACE=1

mkdata "$T/in" 1M
pin_alpha=$("$ZK" pin "$PKI/alpha.pem") || die "zktls pin alpha.pem failed"
pin_beta=$("$ZK" pin "$PKI/beta.pem") || die "zktls pin beta.pem failed"
pin_ca=$("$ZK" pin "$PKI/ca.pem") || die "zktls pin ca.pem failed"
mismatch="server public key does not match --peer-pin"
alert="client rejected the handshake: TLS alert handshake_failure"
A_KEY=(--cert "$PKI/alpha.pem" --key "$PKI/alpha.key" "${COMMON[@]}")
B_KEY=(--cert "$PKI/beta.pem" --key "$PKI/beta.key" "${COMMON[@]}")

# 1. pin only, wrong key
run_push pin "${B_KEY[@]}" --peer-pin "$pin_alpha" -- \
	"${A_KEY[@]}" --peer-pin "$pin_alpha"
expect_fail "pin only: sender" 3 "$SEND_RC" "$T/pin.send.err" "$mismatch"
expect_refused "pin only: receiver" "$RECV_RC" "$T/pin.recv.err" "$alert"
assert_empty "$T/pin.out"

# 2. pin + CA + name, wrong key
run_push all "${TLS_B[@]}" -- "${TLS_A[@]}" --peer-pin "$pin_alpha"
expect_fail "pin+ca+name: sender" 3 "$SEND_RC" "$T/all.send.err" "$mismatch"
expect_refused "pin+ca+name: receiver" "$RECV_RC" "$T/all.recv.err" "$alert"
assert_empty "$T/all.out"

# 3. the CA's pin is not the leaf's
run_push capin "${TLS_B[@]}" -- "${TLS_A[@]}" --peer-pin "$pin_ca"
expect_fail "CA pin: sender" 3 "$SEND_RC" "$T/capin.send.err" "$mismatch"
expect_refused "CA pin: receiver" "$RECV_RC" "$T/capin.recv.err" "$alert"
assert_empty "$T/capin.out"

# 4. the listening receiver pins the wrong client key
run_push srv "${B_KEY[@]}" --peer-pin "$pin_beta" -- \
	"${A_KEY[@]}" --peer-pin "$pin_beta"
expect_refused "server pin: receiver" "$RECV_RC" "$T/srv.recv.err" \
	"client public key does not match --peer-pin"
# TLS 1.3: the client hears of it from the server's alert after its own
# handshake completed; it is still an authentication failure (exit 3).
assert_rc 3 "$SEND_RC" "server pin: sender" "$T/srv.send.err"
grep -qE '^zktls: error: .*TLS alert:? handshake_failure$' "$T/srv.send.err" ||
	fail "server pin: sender does not report the handshake_failure alert" \
		"$T/srv.send.err"
assert_empty "$T/srv.out"

# 5. pull, the connecting receiver pins the wrong server key
run_pull pull "${A_KEY[@]}" --peer-pin "$pin_beta" -- \
	"${B_KEY[@]}" --peer-pin "$pin_beta"
expect_fail "pull: receiver" 3 "$RECV_RC" "$T/pull.recv.err" "$mismatch"
expect_refused "pull: sender" "$SEND_RC" "$T/pull.send.err" "$alert"
assert_empty "$T/pull.out"

finish "wrong pins refused on both sides, no payload delivered"
