#!/usr/bin/env bash
#
# Description:
#	Public-key pinning authenticates a peer: with --peer-pin alone (no
#	--ca, as with an SSH host key) and with pin + CA + name together, a
#	stream arrives intact in both directions of connection.
#
# Strategy:
#	1. "zktls pin CERT" prints sha256:<64 hex> for alpha and beta; the two
#	   differ, and the pin equals the SHA-256 of the certificate's
#	   SubjectPublicKeyInfo as computed by openssl.
#	2. Push with each side pinning the other (no --ca): exit 0, cmp ok,
#	   the session lines name the peers.
#	3. Pull with pin + --ca + --peer-name on both sides: exit 0, cmp ok.
#	4. Pin only, the receiver presenting a self-signed certificate (CN
#	   beta): the pin alone decides, so it is accepted.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/in" 4M

# 1. the pins
pin_alpha=$("$ZK" pin "$PKI/alpha.pem")
assert_exit 0 "zktls pin alpha.pem"
pin_beta=$("$ZK" pin "$PKI/beta.pem")
assert_exit 0 "zktls pin beta.pem"
pin_self=$("$ZK" pin "$PKI/self.pem")
[[ $pin_alpha =~ ^sha256:[0-9a-f]{64}$ ]] || fail "bad pin format: '$pin_alpha'"
[ "$pin_alpha" != "$pin_beta" ] || fail "alpha and beta have the same pin"
want=sha256:$(openssl x509 -in "$PKI/beta.pem" -noout -pubkey |
	openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
assert_eq "$want" "$pin_beta" "pin of beta.pem"

# 2. push, pins only
run_push pin --cert "$PKI/beta.pem" --key "$PKI/beta.key" \
	--peer-pin "$pin_alpha" "${COMMON[@]}" -- \
	--cert "$PKI/alpha.pem" --key "$PKI/alpha.key" \
	--peer-pin "$pin_beta" "${COMMON[@]}"
assert_rc 0 "$SEND_RC" "pin only: sender" "$T/pin.send.err"
assert_rc 0 "$RECV_RC" "pin only: receiver" "$T/pin.recv.err"
assert_file_eq "$T/in" "$T/pin.out"
assert_grep "zktls: sent stream to CN=beta (pinned key) (" "$T/pin.send.err"
assert_grep "zktls: received stream from CN=alpha (pinned key) (" "$T/pin.recv.err"

# 3. pull, pin + CA + name on both sides
run_pull all "${TLS_A[@]}" --peer-pin "$pin_beta" -- \
	"${TLS_B[@]}" --peer-pin "$pin_alpha"
assert_rc 0 "$SEND_RC" "pin+ca+name: sender" "$T/all.send.err"
assert_rc 0 "$RECV_RC" "pin+ca+name: receiver" "$T/all.recv.err"
assert_file_eq "$T/in" "$T/all.out"

# 4. pin only accepts a self-signed key it was told about
run_push self --cert "$PKI/self.pem" --key "$PKI/self.key" \
	--peer-pin "$pin_alpha" "${COMMON[@]}" -- \
	--cert "$PKI/alpha.pem" --key "$PKI/alpha.key" \
	--peer-pin "$pin_self" "${COMMON[@]}"
assert_rc 0 "$SEND_RC" "self-signed pinned: sender" "$T/self.send.err"
assert_rc 0 "$RECV_RC" "self-signed pinned: receiver" "$T/self.recv.err"
assert_file_eq "$T/in" "$T/self.out"

finish "pin only, pin+CA+name, pinned self-signed: all delivered"
