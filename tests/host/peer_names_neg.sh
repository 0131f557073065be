#!/usr/bin/env bash
#
# Description:
#	--peer-name is matched strictly: against the certificate's subject
#	alternative names when it has any (DNS names for a host name, IP
#	addresses for an address), the subject CN only when it has none, and
#	wildcard names only with --peer-name-wildcards.  The session line
#	names what matched.
#
# Strategy:
#	The listening receiver presents a certificate (all signed by the
#	trusted CA); the connecting sender checks it with --peer-name:
#	1. DNS:*.example.com, --peer-name alpha.example.com: refused, the
#	   error names the option that would allow it; no byte delivered.
#	2. The same with --peer-name-wildcards: accepted, "to DNS:*.example.com".
#	   Still refused with wildcards: example.com, a.b.example.com.
#	3. CN=alpha with only IP:127.0.0.2: --peer-name alpha refused (the CN
#	   is not consulted when SANs exist); --peer-name 127.0.0.2 accepted,
#	   "to IP:127.0.0.2".
#	4. CN=alpha without any SAN: --peer-name alpha accepted, "to CN=alpha".
#	5. The usual certificate: "to DNS:beta"; the receiver logs
#	   "from DNS:alpha".
#	6. --peer-name '*.example.com' itself is a usage error.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/in" 256K
LISTENER_GRACE=1
srv() { # CERT: receiver options presenting PKI/CERT
	echo --cert "$PKI/$1.pem" --key "$PKI/$1.key" --ca "$PKI/ca.pem" \
		--peer-name alpha "${COMMON[@]}"
}
A_NO_NAME=(--cert "$PKI/alpha.pem" --key "$PKI/alpha.key" --ca "$PKI/ca.pem"
	"${COMMON[@]}")
ok_to() { # TAG WHO: sender exit 0, bytes delivered, session line names WHO
	assert_rc 0 "$SEND_RC" "$1: sender" "$T/$1.send.err"
	assert_file_eq "$T/in" "$T/$1.out"
	grep -qE "^zktls: sent stream to $(printf '%s' "$2" | sed 's/[.*[]/\\&/g') \(127\.0\.0\.1:[0-9]+\): " \
		"$T/$1.send.err" || fail "$1: session line does not name $2" "$T/$1.send.err"
}
refused() { # TAG NAME [EXTRA]
	expect_fail "$1: sender" 3 "$SEND_RC" "$T/$1.send.err" \
		"server certificate does not match --peer-name $2${3:-}"
	assert_empty "$T/$1.out"
}
hint=" (its wildcard name matches only with --peer-name-wildcards)"

# 1-2. wildcards
read -r -a W <<<"$(srv wild)"
run_push wild "${W[@]}" -- "${A_NO_NAME[@]}" --peer-name alpha.example.com
refused wild alpha.example.com "$hint"
run_push wildok "${W[@]}" -- "${A_NO_NAME[@]}" --peer-name alpha.example.com \
	--peer-name-wildcards
ok_to wildok 'DNS:*.example.com'
run_push wildbare "${W[@]}" -- "${A_NO_NAME[@]}" --peer-name example.com \
	--peer-name-wildcards
refused wildbare example.com
run_push wilddeep "${W[@]}" -- "${A_NO_NAME[@]}" --peer-name a.b.example.com \
	--peer-name-wildcards
refused wilddeep a.b.example.com

# 3. CN=alpha with only an IP SAN
read -r -a I <<<"$(srv ipcn)"
run_push ipcn "${I[@]}" -- "${A_NO_NAME[@]}" --peer-name alpha
refused ipcn alpha
run_push ipok "${I[@]}" -- "${A_NO_NAME[@]}" --peer-name 127.0.0.2
ok_to ipok IP:127.0.0.2

# 4. no SAN at all: the CN decides
read -r -a N <<<"$(srv nosan)"
run_push nosan "${N[@]}" -- "${A_NO_NAME[@]}" --peer-name alpha
ok_to nosan CN=alpha

# 5. the usual certificates, both session lines
run_push usual "${TLS_B[@]}" -- "${TLS_A[@]}"
ok_to usual DNS:beta
assert_rc 0 "$RECV_RC" "usual: receiver" "$T/usual.recv.err"
assert_grep "zktls: received stream from DNS:alpha (127.0.0.1:" "$T/usual.recv.err"

# 6. a wildcard as --peer-name
bounded 10 "$ZK" pipe send --connect 127.0.0.1:9 "${A_NO_NAME[@]}" \
	--peer-name '*.example.com' </dev/null 2>"$T/star.err"
expect_fail "--peer-name *.example.com" 2 $? "$T/star.err" \
	"bad --peer-name '*.example.com' (want a host name or an IP address; wildcards are matched with --peer-name-wildcards, never written here)"

finish "SAN before CN, no wildcards unless asked, the match is logged"
