#!/usr/bin/env bash
#
# Description:
#	Bad command lines and unusable configuration are refused up front
#	with exit 2 and one exact error line, before any connection is made
#	or any listener opened, and "pipe recv" writes nothing to stdout.
#
# Strategy:
#	For each case run zktls (bounded to a few seconds, stdin from
#	/dev/null) and check: exit 2, exactly one "zktls: error: MESSAGE"
#	line with the expected MESSAGE, no "listening on" line, empty
#	stdout.  Cases: missing --cert/--key, unreadable/missing/non-key/
#	mismatched key, missing certificate and CA files, both or neither of
#	--connect/--listen, bad --mode, malformed --peer-pin, --peer-name
#	without --ca, neither --peer-name nor --peer-pin, invalid dataset and
#	snapshot names for send/recv, option injection into zfs arguments,
#	--target outside "zktls send", bad addresses and ports (including
#	out-of-range port numbers), bad --timeout, -v with -q, unknown and
#	missing commands, and "zktls pin" misuse.
#
. "$(dirname "$0")/lib.sh"

A=$PKI/alpha.pem AK=$PKI/alpha.key CA=$PKI/ca.pem
L=(--listen 127.0.0.1:0)
ID=(--cert "$A" --key "$AK" --ca "$CA" --peer-name beta)
n=0

# u MESSAGE ARG...: zktls ARG... must fail with exit 2 and MESSAGE.
u() {
	local msg=$1 rc
	shift
	n=$((n + 1))
	bounded 3 "$ZK" "$@" </dev/null >"$T/u$n.out" 2>"$T/u$n.err"
	rc=$?
	if [ "$rc" -ne 2 ]; then
		fail "zktls $*: expected exit 2, got $rc" "$T/u$n.err"
	else
		assert_error_line "$msg" "$T/u$n.err"
	fi
	assert_no_grep "listening on" "$T/u$n.err"
	assert_empty "$T/u$n.out"
}
# u_re REGEX ARG...: the same with an error line matching REGEX.
u_re() {
	local re=$1 rc
	shift
	n=$((n + 1))
	bounded 3 "$ZK" "$@" </dev/null >"$T/u$n.out" 2>"$T/u$n.err"
	rc=$?
	expect_fail_re "zktls $*" 2 "$rc" "$T/u$n.err" "$re"
	assert_no_grep "listening on" "$T/u$n.err"
	assert_empty "$T/u$n.out"
}

# --- certificate and key
u "--cert and --key are required" pipe recv "${L[@]}" --key "$AK" --ca "$CA" --peer-name beta
u "--cert and --key are required" pipe recv "${L[@]}" --cert "$A" --ca "$CA" --peer-name beta
u "cannot read private key $T/nokey: No such file or directory" \
	pipe recv "${L[@]}" --cert "$A" --key "$T/nokey" --ca "$CA" --peer-name beta
if [ "$(id -u)" -ne 0 ]; then
	cp "$AK" "$T/unreadable.key"
	chmod 000 "$T/unreadable.key"
	u "cannot read private key $T/unreadable.key: Permission denied" \
		pipe recv "${L[@]}" --cert "$A" --key "$T/unreadable.key" --ca "$CA" --peer-name beta
fi
u_re "cannot load private key(: .*)?" \
	pipe recv "${L[@]}" --cert "$A" --key "$A" --ca "$CA" --peer-name beta
u "private key $PKI/beta.key does not match certificate $A" \
	pipe recv "${L[@]}" --cert "$A" --key "$PKI/beta.key" --ca "$CA" --peer-name beta
u "cannot read certificate $T/nocert: No such file or directory" \
	pipe recv "${L[@]}" --cert "$T/nocert" --key "$AK" --ca "$CA" --peer-name beta
u "cannot read CA file $T/noca: No such file or directory" \
	pipe recv "${L[@]}" --cert "$A" --key "$AK" --ca "$T/noca" --peer-name beta

# --- connection options
u "give exactly one of --connect and --listen" \
	pipe recv "${L[@]}" --connect 127.0.0.1:1 "${ID[@]}"
u "give exactly one of --connect and --listen" pipe recv "${ID[@]}"
u "give exactly one of --connect and --listen" pipe send "${ID[@]}"
u "bad port in '127.0.0.1:http'" pipe recv --listen 127.0.0.1:http "${ID[@]}"
u "bad address '127.0.0.1' (want HOST:PORT)" pipe recv --listen 127.0.0.1 "${ID[@]}"
u "bad address '127.0.0.1:'" pipe recv --connect 127.0.0.1: "${ID[@]}"
u "bad address 'fe80::1:80' (write IPv6 as [ADDR]:PORT)" \
	pipe recv --connect fe80::1:80 "${ID[@]}"
u "bad port in '127.0.0.1:99999'" pipe recv --listen 127.0.0.1:99999 "${ID[@]}"
u "bad port in '127.0.0.1:65536'" pipe send --connect 127.0.0.1:65536 "${ID[@]}"

# --- other options
u "unknown --mode 'fast' (auto, user, rw, splice, direct)" \
	pipe recv "${L[@]}" "${ID[@]}" --mode fast
u "bad --timeout '0'" pipe recv "${L[@]}" "${ID[@]}" --timeout 0
u "bad --timeout '5s'" pipe recv "${L[@]}" "${ID[@]}" --timeout 5s
u "-v and -q exclude each other" pipe recv "${L[@]}" "${ID[@]}" -v -q
u "unexpected argument 'extra'" pipe recv "${L[@]}" "${ID[@]}" extra
u "unknown option '--bogus'" pipe recv "${L[@]}" "${ID[@]}" --bogus
u "unknown command 'frob'" frob
u "zktls pipe needs send or recv" pipe frob
u "missing command"

# --- peer identity
for pin in sha256:abcd md5:0011 "sha256:zz$(printf '0%.0s' {1..62})" \
	"sha256:$(printf '0%.0s' {1..65})"; do
	u "bad --peer-pin '$pin' (want sha256: and 64 hex digits)" \
		pipe recv "${L[@]}" --cert "$A" --key "$AK" --peer-pin "$pin"
done
u "--peer-name needs --ca (a name means nothing without a CA that vouches for it)" \
	pipe recv "${L[@]}" --cert "$A" --key "$AK" --peer-name beta
u "give --peer-name and/or --peer-pin: zktls never accepts an unidentified peer" \
	pipe recv "${L[@]}" --cert "$A" --key "$AK" --ca "$CA"

# --- dataset names (ZKTLS_ZFS points at false: zfs must never be needed)
export ZKTLS_ZFS=/bin/false
for s in -x pool//fs@a pool/fs pool/fs@a@b pool/fs@ @a /pool/fs@a \
	'pool/fs@a;rm -rf' 'pool/fs@a b\n' pool/./fs@a; do
	case $s in
	-*) u "invalid snapshot name '$s' (want POOL/FS@SNAP)" send "${L[@]}" "${ID[@]}" -- "$s" ;;
	*) u "invalid snapshot name '$s' (want POOL/FS@SNAP)" send "${L[@]}" "${ID[@]}" "$s" ;;
	esac
done
u "zktls send needs one POOL/FS@SNAP" send "${L[@]}" "${ID[@]}"
u "zktls send needs one POOL/FS@SNAP" send "${L[@]}" "${ID[@]}" pool/fs@a pool/fs@b
u "bad zfs option argument '-x'" send "${L[@]}" "${ID[@]}" -i -x pool/fs@b
u "bad zfs option argument '--exec'" send "${L[@]}" "${ID[@]}" -I --exec pool/fs@b
u "invalid --target dataset '-x'" send "${L[@]}" "${ID[@]}" --target -x pool/fs@b
u "invalid --target dataset 'backup/fs@a'" send "${L[@]}" "${ID[@]}" --target backup/fs@a pool/fs@b
u "--target is for zktls send" pipe send "${L[@]}" "${ID[@]}" --target backup/fs
u "--target is for zktls send" recv "${L[@]}" "${ID[@]}" --target backup/fs backup
for d in -x pool//fs pool/fs@a pool/fs/ pool/../fs '' 'pool/f*s'; do
	case $d in
	-*) u "invalid dataset name '$d'" recv "${L[@]}" "${ID[@]}" -- "$d" ;;
	*) u "invalid dataset name '$d'" recv "${L[@]}" "${ID[@]}" "$d" ;;
	esac
done
u "zktls recv needs one POOL/FS" recv "${L[@]}" "${ID[@]}"
u "bad zfs option argument '-x'" recv "${L[@]}" "${ID[@]}" -o -x backup
u "unknown option -z for zktls recv" recv "${L[@]}" "${ID[@]}" -z backup
# the mount and share properties need room among the -x: never left out
X=()
for i in $(seq 1 12); do X+=(-x "org.example:p$i"); done
u "too many -x: with the 5 mount and share properties zktls excludes, at most 16 (--sender-mount-props takes those)" \
	recv "${L[@]}" "${ID[@]}" "${X[@]}" backup
u "-o wants PROPERTY=VALUE, not 'readonly'" recv "${L[@]}" "${ID[@]}" -o readonly backup
u "give one of -i and -I, once" send --connect 127.0.0.1:9 "${ID[@]}" -i @a -I @b pool/fs@c

# --- zktls pin
u "zktls pin needs one CERT.pem" pin
u "cannot read $T/nocert: No such file or directory" pin "$T/nocert"
u_re "not a PEM certificate(: .*)?" pin "$AK"

finish "$n bad command lines refused with exit 2"
