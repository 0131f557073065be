#!/usr/bin/env bash
#
# Description:
#	zktls cert: a CA and host certificates made by zktls itself are
#	taken by pipe send/recv, serve and list, and sync; cert show prints
#	their names, dates and the same pin as zktls pin; a certificate of
#	another CA is refused; serve (at start and on SIGHUP), sync and the
#	one-shot commands warn from 30 days before their certificate or CA
#	expires, and say so as an error once it has.
#
# Strategy:
#	1. cert init ca: ca.key mode 0600, ca.pem a CA (show: "CA: yes",
#	   self-signed, 3650 days).  cert issue alpha and beta (--san
#	   127.0.0.1) into hosts/: keys 0600, certificates 0644; show:
#	   names "DNS:alpha, IP:127.0.0.1", the pin equal to zktls pin's,
#	   825 days left, notAfter equal to openssl's; --json the same;
#	   openssl verify takes them for TLS server and client.
#	2. A 1 MiB pipe push and pull between alpha and beta with them,
#	   byte for byte, both peers named by --peer-name.
#	3. serve with beta's files, list as alpha: exit 0, the entries.
#	4. A beta from another CA (cert init ca2): alpha's send refuses it,
#	   exit 3, "server certificate is not signed by a trusted CA".
#	5. A CA of 20 days and a "soon" certificate of 10: serve's log warns
#	   of both at start and again after SIGHUP; sync -n and pipe send
#	   with it warn on stderr (a listener's first line is still
#	   "listening on").  An expired certificate (the test PKI's "old"):
#	   pipe send warns "expired" (its one error line is the
#	   connection's), serve logs it as an error.
#
. "$(dirname "$0")/lib.sh"

C=$T/c
mkdir -p "$C"
mode() { stat -c %a "$1"; }

# 1. init, issue, show
bounded 20 "$ZK" cert init "$C/ca" >"$T/init.out" 2>"$T/init.err"
assert_exit 0 "cert init" "$T/init.err"
assert_eq 600 "$(mode "$C/ca/ca.key")" "ca.key mode"
assert_eq 644 "$(mode "$C/ca/ca.pem")" "ca.pem mode"
"$ZK" cert show "$C/ca/ca.pem" >"$T/showca.out" 2>&1
assert_exit 0 "cert show ca.pem" "$T/showca.out"
assert_line "CA:         yes" "$T/showca.out"
assert_line "issuer:     CN=zktls-ca (self-signed)" "$T/showca.out"
grep -qE "^days left:  36(49|50)$" "$T/showca.out" || fail "CA days left" "$T/showca.out"
for h in alpha beta; do
	bounded 20 "$ZK" cert issue "$h" --ca-dir "$C/ca" --out "$C/hosts" \
		--san 127.0.0.1 >"$T/issue.$h.out" 2>"$T/issue.$h.err"
	assert_exit 0 "cert issue $h" "$T/issue.$h.err"
	assert_eq 600 "$(mode "$C/hosts/$h.key")" "$h.key mode"
	assert_eq 644 "$(mode "$C/hosts/$h.pem")" "$h.pem mode"
	pin=$("$ZK" pin "$C/hosts/$h.pem")
	assert_line "pin:         $pin" "$T/issue.$h.out"
	assert_line "certificate: $C/hosts/$h.pem (--cert on $h)" "$T/issue.$h.out"
	"$ZK" cert show "$C/hosts/$h.pem" >"$T/show.$h.out" 2>&1
	assert_exit 0 "cert show $h" "$T/show.$h.out"
	assert_line "subject:    CN=$h" "$T/show.$h.out"
	assert_line "names:      DNS:$h, IP:127.0.0.1" "$T/show.$h.out"
	assert_line "issuer:     CN=zktls-ca" "$T/show.$h.out"
	assert_line "pin:        $pin" "$T/show.$h.out"
	# 825 days, or 824 when a second has passed since the issue
	grep -qE "^days left:  82[45]$" "$T/show.$h.out" || fail "days left" "$T/show.$h.out"
	assert_line "CA:         no" "$T/show.$h.out"
	end=$(date -u -d "$(openssl x509 -in "$C/hosts/$h.pem" -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)
	assert_line "not after:  $end" "$T/show.$h.out"
	"$ZK" cert show --json "$C/hosts/$h.pem" >"$T/showj.$h.out" 2>&1
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
want = {"subject": "CN=" + sys.argv[2], "names": ["DNS:" + sys.argv[2], "IP:127.0.0.1"],
        "pin": sys.argv[3], "ca": False, "not_after": sys.argv[4]}
bad = {k: j.get(k) for k in want if j.get(k) != want[k]}
if j.get("days_left") not in (824, 825):
    bad["days_left"] = j.get("days_left")
sys.exit("differs: %r" % bad if bad else 0)' "$T/showj.$h.out" "$h" "$pin" "$end" ||
		fail "cert show --json $h" "$T/showj.$h.out"
	for p in sslserver sslclient; do
		openssl verify -CAfile "$C/ca/ca.pem" -purpose $p "$C/hosts/$h.pem" \
			>"$T/verify.out" 2>&1 || fail "openssl verify -purpose $p $h" "$T/verify.out"
	done
done
openssl x509 -in "$C/hosts/alpha.pem" -noout -text >"$T/alpha.txt"
assert_grep "CA:FALSE" "$T/alpha.txt"
assert_grep "TLS Web Server Authentication, TLS Web Client Authentication" "$T/alpha.txt"
assert_grep "ecdsa-with-SHA256" "$T/alpha.txt"

TA=(--cert "$C/hosts/alpha.pem" --key "$C/hosts/alpha.key" --ca "$C/ca/ca.pem"
	--peer-name beta "${COMMON[@]}")
TB=(--cert "$C/hosts/beta.pem" --key "$C/hosts/beta.key" --ca "$C/ca/ca.pem"
	--peer-name alpha "${COMMON[@]}")

# 2. pipe push and pull
mkdata "$T/in" 1M
run_push push "${TB[@]}" -- "${TA[@]}"
assert_rc 0 "$SEND_RC" "push: sender" "$T/push.send.err"
assert_rc 0 "$RECV_RC" "push: receiver" "$T/push.recv.err"
assert_file_eq "$T/in" "$T/push.out" "push: the bytes"
assert_grep "sent stream to DNS:beta" "$T/push.send.err"
run_pull pull "${TB[@]}" -- "${TA[@]}"
assert_rc 0 "$RECV_RC" "pull: receiver" "$T/pull.recv.err"
assert_file_eq "$T/in" "$T/pull.out" "pull: the bytes"
assert_grep "received stream from DNS:beta" "$T/pull.recv.err"

# my_serve CONF CERT KEY CA: a serve config for client alpha
my_serve() {
	{
		echo "listen 127.0.0.1:0"
		echo "cert $2"
		echo "key $3"
		echo "ca $4"
		echo "timeout $((10 * SCALE))"
		echo "user nobody"
		[ "$(id -u)" = 0 ] || echo "privsep no"
		printf '%s\n' "client alpha {" "name alpha" "push backup/alpha" "}"
	} >"$1"
}

# 3. serve + list
my_serve "$T/s.conf" "$C/hosts/beta.pem" "$C/hosts/beta.key" "$C/ca/ca.pem"
start_serve "$T/s.err" "$T/s.conf" "ZKTLS_FAKE_GUIDS=backup/alpha/home@a=101 backup/alpha/home@b=102"
bounded 20 "$ZK" list --connect "127.0.0.1:$SPORT" "${TA[@]}" backup/alpha/home \
	>"$T/list.out" 2>"$T/list.err"
assert_exit 0 "list against serve" "$T/list.err"
assert_grep "@a" "$T/list.out"
assert_grep "@b" "$T/list.out"
assert_no_grep "expires" "$T/s.err"
kill -TERM "$SERVE_PID"
reap "$SPID" _

# 4. another CA's beta
bounded 20 "$ZK" cert init "$C/ca2" >/dev/null 2>"$T/init2.err"
assert_exit 0 "cert init ca2" "$T/init2.err"
bounded 20 "$ZK" cert issue beta --ca-dir "$C/ca2" --out "$C/other" --san 127.0.0.1 \
	>/dev/null 2>"$T/issue2.err"
assert_exit 0 "cert issue beta (ca2)" "$T/issue2.err"
LISTENER_GRACE=1
run_push wrongca --cert "$C/other/beta.pem" --key "$C/other/beta.key" \
	--ca "$C/ca/ca.pem" --peer-name alpha "${COMMON[@]}" -- "${TA[@]}"
expect_fail "another CA's beta: sender" 3 "$SEND_RC" "$T/wrongca.send.err" \
	"server certificate is not signed by a trusted CA (--ca)"
assert_empty "$T/wrongca.out"
LISTENER_GRACE=0

# 5. the 30-day warnings
bounded 20 "$ZK" cert init "$C/short" --days 20 --name short-ca >/dev/null 2>"$T/init3.err"
assert_exit 0 "cert init --days 20" "$T/init3.err"
for h in soon alpha; do
	bounded 20 "$ZK" cert issue $h --ca-dir "$C/short" --out "$C/soon" --san 127.0.0.1 \
		--days 10 >/dev/null 2>"$T/issue3.$h.err"
	assert_exit 0 "cert issue $h --days 10" "$T/issue3.$h.err"
done
cert_re="certificate $C/soon/soon.pem expires in (9|10) days, on [0-9-]+ [0-9:]+ UTC: renew it \(zktls cert issue, see zktls\(8\)\)"
ca_re="CA $C/short/ca.pem expires in (19|20) days"
my_serve "$T/w.conf" "$C/soon/soon.pem" "$C/soon/soon.key" "$C/short/ca.pem"
start_serve "$T/w.err" "$T/w.conf"
wait_for_line "$T/w.err" "^zktls: warning: $cert_re\$" 10 || fail "serve: no certificate warning at start" "$T/w.err"
wait_for_line "$T/w.err" "^zktls: warning: $ca_re" 10 || fail "serve: no CA warning at start" "$T/w.err"
kill -HUP "$SERVE_PID"
wait_for_line "$T/w.err" "reloaded" 10 || fail "serve did not reload" "$T/w.err"
sleep 0.2
assert_eq 2 "$(grep -cE "^zktls: warning: $cert_re\$" "$T/w.err")" "certificate warnings after SIGHUP"
assert_eq 2 "$(grep -cE "^zktls: warning: $ca_re" "$T/w.err")" "CA warnings after SIGHUP"
SA=(--cert "$C/soon/alpha.pem" --key "$C/soon/alpha.key" --ca "$C/short/ca.pem"
	--peer-name soon "${COMMON[@]}")
bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_GUIDS="pool/exp@a=101" \
	"$ZK" sync -n "${SA[@]}" pool/exp "127.0.0.1:$SPORT" >"$T/sync.out" 2>"$T/sync.err"
assert_rc 0 $? "sync -n with a certificate of 10 days" "$T/sync.err"
grep -qE "^zktls: warning: our certificate $C/soon/alpha.pem expires in (9|10) days" "$T/sync.err" ||
	fail "sync: no warning" "$T/sync.err"
assert_grep "sync pool/exp -> backup/alpha/exp: full pool/exp@a" "$T/sync.err"
kill -TERM "$SERVE_PID"
reap "$SPID" _
bounded 20 "$ZK" pipe send --connect 127.0.0.1:1 "${SA[@]}" </dev/null \
	>/dev/null 2>"$T/ps.err"
grep -qE "^zktls: warning: our certificate $C/soon/alpha.pem expires in (9|10) days" "$T/ps.err" ||
	fail "pipe send: no warning" "$T/ps.err"
bounded 20 "$ZK" pipe send --connect 127.0.0.1:1 --cert "$PKI/old.pem" \
	--key "$PKI/old.key" --ca "$PKI/ca.pem" --peer-name beta "${COMMON[@]}" \
	</dev/null >/dev/null 2>"$T/old.err"
grep -qE "^zktls: warning: our certificate $PKI/old.pem expired on [0-9-]+ [0-9:]+ UTC: handshakes with it fail" "$T/old.err" ||
	fail "pipe send with an expired certificate: no warning" "$T/old.err"
assert_eq 1 "$(grep -c "^zktls: error: " "$T/old.err")" "error lines of pipe send with an expired certificate"
# a listener's first line stays "listening on"; serve says "expired" as an error
bg LPID 20 "$ZK" pipe recv --listen 127.0.0.1:0 "${SA[@]}" </dev/null >/dev/null 2>"$T/lis.err"
wait_for_line "$T/lis.err" "listening on" 10 || fail "pipe recv --listen did not listen" "$T/lis.err"
assert_eq "zktls: listening on" "$(head -n 1 "$T/lis.err" | cut -d' ' -f1-3)" "a listener's first line"
kill -TERM "$LPID" 2>/dev/null
reap "$LPID" _
my_serve "$T/x.conf" "$PKI/old.pem" "$PKI/old.key" "$PKI/ca.pem"
start_serve "$T/x.err" "$T/x.conf"
wait_for_line "$T/x.err" "^zktls: error: certificate $PKI/old.pem expired on [0-9-]+ [0-9:]+ UTC: handshakes with it fail" 10 ||
	fail "serve with an expired certificate: no error line" "$T/x.err"
kill -TERM "$SERVE_PID"
reap "$SPID" _

finish "cert init/issue/show: files taken by pipe push/pull, serve + list, sync; another CA refused; 30-day and expired warnings in serve (start, SIGHUP), sync, pipe"
