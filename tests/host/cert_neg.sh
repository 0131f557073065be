#!/usr/bin/env bash
#
# Description:
#	zktls cert refuses what would lose or expose a key, and bad input:
#	an existing CA key or host key is never overwritten (exit 2, the
#	file unchanged); bad host names, --san and --days are usage errors
#	(exit 2) that write nothing; a certificate may not outlive its CA;
#	a missing CA is a system error (exit 1); a CA key that is not the
#	CA certificate's, or a CA directory holding a host certificate, and
#	show of a file that holds no certificate exit 2.  Keys are 0600
#	whatever the umask.
#
# Strategy:
#	cert init twice into one DIR; issue a name twice; the table of bad
#	input; issue --days 400 under a CA of 300 days; issue with an empty
#	--ca-dir; show of a key file; init and issue under umask 000.
#
. "$(dirname "$0")/lib.sh"

C=$T/c
bounded 20 "$ZK" cert init "$C/ca" >/dev/null 2>"$T/init.err"
assert_exit 0 "cert init" "$T/init.err"
sum=$(sha256sum "$C/ca/ca.key" "$C/ca/ca.pem")

# an existing CA
bounded 20 "$ZK" cert init "$C/ca" >"$T/again.out" 2>"$T/again.err"
expect_fail "cert init over a CA" 2 $? "$T/again.err" \
	"$C/ca/ca.key exists: a CA is never overwritten (another DIR, or remove it yourself)"
assert_eq "$sum" "$(sha256sum "$C/ca/ca.key" "$C/ca/ca.pem")" "the CA after a second init"
# a CA certificate without its key: not replaced either
mkdir -p "$C/half"
echo x >"$C/half/ca.pem"
bounded 20 "$ZK" cert init "$C/half" >/dev/null 2>"$T/half.err"
expect_fail "cert init over a ca.pem" 2 $? "$T/half.err" \
	"$C/half/ca.pem exists: a CA is never overwritten"
[ -e "$C/half/ca.key" ] && fail "init left a key beside a ca.pem it refused"

# an existing host key
bounded 20 "$ZK" cert issue alpha --ca-dir "$C/ca" --out "$C/h" >/dev/null 2>"$T/i1.err"
assert_exit 0 "cert issue alpha" "$T/i1.err"
hsum=$(sha256sum "$C/h/alpha.key" "$C/h/alpha.pem")
bounded 20 "$ZK" cert issue alpha --ca-dir "$C/ca" --out "$C/h" >/dev/null 2>"$T/i2.err"
expect_fail "cert issue over a key" 2 $? "$T/i2.err" \
	"$C/h/alpha.key exists: never overwritten (--out DIR for a renewal, then copy)"
assert_eq "$hsum" "$(sha256sum "$C/h/alpha.key" "$C/h/alpha.pem")" "alpha after a second issue"

# bad input: exit 2, nothing written
n=0
bad() {   # bad WANT ARGS...
	local want=$1
	shift
	n=$((n + 1))
	bounded 20 "$ZK" cert "$@" >"$T/b$n.out" 2>"$T/b$n.err"
	expect_fail "cert $*" 2 $? "$T/b$n.err" "$want"
}
for name in bad_name -x a..b .a a. "a b" "*.example.com" 'a;b' -- "$(printf 'x%.0s' {1..64})"; do
	bad "bad host name '$name' (a DNS name or an IP address)" issue --ca-dir "$C/ca" --out "$C/bad" -- "$name"
done
bad "bad --san 'a_b' (a DNS name or an IP address)" issue beta --ca-dir "$C/ca" --out "$C/bad" --san a_b
bad "bad --san '1.2.3.4/8' (a DNS name or an IP address)" issue beta --ca-dir "$C/ca" --out "$C/bad" --san 1.2.3.4/8
for d in 0 -1 abc 10x 36501 99999999999999999999 ""; do
	bad "bad --days '$d' (1 to 36500)" issue beta --ca-dir "$C/ca" --out "$C/bad" --days "$d"
	bad "bad --days '$d' (1 to 36500)" init "$C/bad2" --days "$d"
done
bad "zktls cert needs init, issue or show"
bad "unknown cert command 'make' (init, issue or show)" make x
bad "zktls cert issue needs one operand" issue
bad "zktls cert show needs one operand" show a b
bad "an option that zktls cert show does not take" show --san a "$C/ca/ca.pem"
bad "an option that zktls cert init does not take" init "$C/bad2" --json
bad "--days needs a value" init "$C/bad2" --days
[ -e "$C/bad" ] && fail "a refused issue created $C/bad: $(ls -A "$C/bad")"
[ -e "$C/bad2" ] && fail "a refused init created $C/bad2: $(ls -A "$C/bad2")"

# a certificate may not outlive its CA
bounded 20 "$ZK" cert init "$C/short" --days 300 >/dev/null 2>"$T/s.err"
assert_exit 0 "cert init --days 300" "$T/s.err"
bounded 20 "$ZK" cert issue beta --ca-dir "$C/short" --out "$C/sh" --days 400 >/dev/null 2>"$T/long.err"
expect_fail_re "a certificate longer than its CA" 2 $? "$T/long.err" \
	"--days 400 outlives the CA \((299|300) days left\): at most --days (299|300), or a new CA"
[ -e "$C/sh/beta.key" ] && fail "a refused issue left a key"

# no CA
mkdir -p "$C/empty"
bounded 20 "$ZK" cert issue beta --ca-dir "$C/empty" --out "$C/e" >/dev/null 2>"$T/noca.err"
expect_fail "cert issue without a CA" 1 $? "$T/noca.err" \
	"cannot read $C/empty/ca.pem (zktls cert init DIR makes a CA; --ca-dir DIR names it): No such file or directory"
[ -e "$C/e/beta.key" ] && fail "issue without a CA left a key"

# show of a key
bounded 20 "$ZK" cert show "$C/h/alpha.key" >/dev/null 2>"$T/showkey.err"
assert_rc 2 $? "cert show of a key" "$T/showkey.err"
assert_error_line "$C/h/alpha.key: not a PEM certificate" "$T/showkey.err"

# a CA key that is not the certificate's; a host certificate as the CA
mkdir -p "$C/mix" "$C/host"
cp "$C/ca/ca.pem" "$C/mix/ca.pem"
cp "$C/short/ca.key" "$C/mix/ca.key"
bounded 20 "$ZK" cert issue beta --ca-dir "$C/mix" --out "$C/m" >/dev/null 2>"$T/mix.err"
expect_fail "cert issue with another CA's key" 2 $? "$T/mix.err" \
	"$C/mix/ca.key does not match $C/mix/ca.pem: not the CA's key"
cp "$C/h/alpha.pem" "$C/host/ca.pem"
cp "$C/h/alpha.key" "$C/host/ca.key"
bounded 20 "$ZK" cert issue beta --ca-dir "$C/host" --out "$C/m" >/dev/null 2>"$T/host.err"
expect_fail "cert issue by a host certificate" 2 $? "$T/host.err" \
	"$C/host/ca.pem is not a CA certificate"
[ -e "$C/m" ] && fail "a refused issue created $C/m"

# umask 000: keys still 0600
(umask 000 && "$ZK" cert init "$C/u" >/dev/null && "$ZK" cert issue gamma --ca-dir "$C/u" --out "$C/u" >/dev/null) 2>"$T/u.err"
assert_exit 0 "init and issue under umask 000" "$T/u.err"
assert_eq "600 600 700" "$(stat -c %a "$C/u/ca.key" "$C/u/gamma.key" "$C/u" | tr '\n' ' ' | sed 's/ $//')" "modes under umask 000"

finish "cert: no CA or host key overwritten, bad names/--san/--days refused writing nothing, no certificate past its CA, missing or mismatched CA, show of a key, 0600 keys under umask 000"
