#!/usr/bin/env bash
#
# Description:
#	"zktls serve" denies by default: what the policy does not allow is
#	refused with a clear answer and nothing runs; limits say "busy";
#	SIGHUP changes the policy and the certificate for new sessions while
#	running ones of unchanged clients finish; scans and silent clients
#	hold nobody up; a broken configuration names its line; SIGTERM lets
#	sessions finish.
#
# Strategy:
#	Stand-in zfs; clients alpha (push backup/alpha, pull pool/exp,
#	max-sessions 1) and beta2 (push only).
#	1. A table of denials, each "peer refused the request (denied|...):
#	   REASON" on the client (exit 3, or 4 for errors), no zfs send or
#	   receive on the server: beta2 pulls; alpha pulls outside pool/exp;
#	   alpha pulls pool/exp/cl, a clone of other/x@a (a pushed clone
#	   stream finds its origin by guid anywhere in the pool: a clone
#	   must not lend a client what it may not read);
#	   alpha pushes --target backup/beta2/x; a peer that asks for
#	   "backup/alpha/../beta2" (tlspeer: zktls itself refuses to);
#	   a CA-signed certificate no rule names ("not authorised"; the
#	   server logs "no client rule matches its certificate"); an untrusted
#	   certificate (refused in the handshake).
#	2. alpha (max-sessions 1) starts a slow push; a second one is "busy:
#	   client alpha runs 1 sessions, its limit"; the first still ends ok.
#	3. 140 silent clients from one address and a plain-text one; a real
#	   push from that address goes through at once (the oldest silent
#	   ones are dropped for newcomers).  A LIST held open by alpha takes
#	   its one session slot: its push meanwhile is busy.
#	4. SIGHUP with alpha's push removed while a slow push of beta2 runs
#	   (its rule unchanged): that one ends ok; alpha's next push is
#	   refused "client alpha may not push" (serve_revoke_neg: a changed
#	   client's running sessions are stopped).
#	5. SIGHUP with a renewed server certificate (new key): a client that
#	   pins the new key fails before, succeeds after.
#	6. A broken configuration: --check-config exits 2 naming the line;
#	   SIGHUP with it keeps the running configuration (logged).
#	7. SIGTERM while a slow session runs: new connections are refused, the
#	   session ends ok, serve exits 0.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/stream" 128K
client_pki beta2 nobody
cat >"$T/alpha.block" <<'B'
client alpha {
	name alpha
	push backup/alpha
	pull pool/exp
	max-sessions 1
}
client beta2 {
	name beta2
	push backup/beta2
}
B
mapfile -t blocks <"$T/alpha.block"
serve_conf "$T/zktls.conf" "grace 20" "${blocks[@]}"
start_serve "$T/serve.err" "$T/zktls.conf" ZKTLS_FAKE_GUID=102 \
	"ZKTLS_FAKE_SNAPS=pool/exp@a other/x@a pool/exp/cl@s" \
	"ZKTLS_FAKE_GUIDS=pool/exp@a=101 pool/exp/cl@s=103" \
	"ZKTLS_FAKE_ORIGINS=pool/exp/cl=other/x@a"
read -r -a A <<<"$(as_client alpha)"
read -r -a B2 <<<"$(as_client beta2)"
SENV=(env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_STREAM="$T/stream"
	"ZKTLS_FAKE_SNAPS=pool/home@a pool/home@b backup/alpha/..@a"
	"ZKTLS_FAKE_GUIDS=pool/home@b=102")
push() { # TAG [SEND-ARGS...]: a push to serve; rc in RC
	local tag=$1
	shift
	bounded 30 "${SENV[@]}" "${PUSH_ENV[@]}" "$ZK" send \
		--connect "127.0.0.1:$SPORT" "$@" </dev/null >/dev/null \
		2>"$T/$tag.err"
	RC=$?
}
PUSH_ENV=()
pull() { # TAG SNAP [RECV-ARGS...]: a pull; rc in RC
	local tag=$1 snap=$2
	shift 2
	bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_OUT="$T/$tag.out" \
		"$ZK" recv --connect "127.0.0.1:$SPORT" --source "$snap" "$@" \
		backup/p </dev/null >/dev/null 2>"$T/$tag.err"
	RC=$?
}
nothing_ran() { # LABEL: no zfs send or receive on the server since
	grep -aE '^(send|receive)'$'\037' "$T/srv.zfs.log" 2>/dev/null |
		grep -av $'\037-n' | grep -q . &&
		fail "$1: zfs ran on the server: $(tr '\037' ' ' <"$T/srv.zfs.log")"
	: >"$T/srv.zfs.log"
}
: >"$T/srv.zfs.log"

# 1. denials
pull d1 pool/exp@a "${B2[@]}"
expect_fail "beta2 pulls" 3 "$RC" "$T/d1.err" \
	"peer refused the request (denied): client beta2 may not pull"
nothing_ran "beta2 pulls"
pull d2 other/x@a "${A[@]}"
expect_fail "alpha pulls outside" 3 "$RC" "$T/d2.err" \
	"peer refused the request (denied): other/x@a is not authorised for client alpha"
nothing_ran "alpha pulls outside"
# a clone in alpha's area of a snapshot outside it (a pushed clone
# stream finds its origin by guid, anywhere in the pool)
pull d2c pool/exp/cl@s "${A[@]}"
expect_fail "alpha pulls a clone of other/x@a" 4 "$RC" "$T/d2c.err" \
	"peer refused the request (error): pool/exp/cl is a clone whose origin lies outside what client alpha may read"
nothing_ran "alpha pulls a clone of what is not its"
push d3 pool/home@b --target backup/beta2/x "${A[@]}"
expect_fail "alpha pushes into beta2's" 3 "$RC" "$T/d3.err" \
	"peer refused the request (denied): dataset backup/beta2/x is not authorised (client alpha pushes into backup/alpha and below)"
nothing_ran "alpha pushes into beta2's"
push d4 pool/home@b --target backup/alpha/../beta2 "${A[@]}"
assert_rc 2 "$RC" "a target with '..' on the command line" "$T/d4.err"
# a peer that does not check its own names (tlspeer) asks for "..": the
# server refuses it the same way
bounded 20 "$TLSPEER" --connect "127.0.0.1:$SPORT" --role send \
	--snapshot pool/home@b --dataset backup/alpha/../beta2 \
	--cert "$PKI/alpha.pem" --key "$PKI/alpha.key" --ca "$PKI/ca.pem" \
	--peer-name beta <"$T/stream" >"$T/d4b.out" 2>"$T/d4b.err"
assert_rc 3 $? "tlspeer pushing into backup/alpha/../beta2" "$T/d4b.err"
assert_grep "dataset backup/alpha/../beta2 is not authorised (client alpha pushes into backup/alpha and below)" "$T/d4b.err"
nothing_ran "a target with '..' from a peer"
read -r -a N <<<"$(as_client nobody)"
push d5 pool/home@b "${N[@]}"
expect_fail "a certificate no rule names" 3 "$RC" "$T/d5.err" \
	"peer refused the request (denied): not authorised"
wait_for_line "$T/serve.err" 'refused CN=nobody: no client rule matches its certificate' 5 ||
	fail "serve did not log the unknown client" "$T/serve.err"
nothing_ran "unknown client"
push d6 pool/home@b --cert "$PKI/beta-wrongca.pem" --key "$PKI/beta-wrongca.key" \
	--ca "$PKI/ca.pem" --peer-name beta "${COMMON[@]}"
assert_rc 3 "$RC" "an untrusted certificate" "$T/d6.err"
wait_for_line "$T/serve.err" 'refused 127\.0\.0\.1:[0-9]+: client certificate is not signed by a trusted CA' 5 ||
	fail "serve did not log the untrusted certificate" "$T/serve.err"
nothing_ran "untrusted certificate"

# 2. busy
PUSH_ENV=(ZKTLS_FAKE_SEND_DELAY=3)
bounded 30 "${SENV[@]}" "${PUSH_ENV[@]}" "$ZK" send pool/home@b \
	--connect "127.0.0.1:$SPORT" "${A[@]}" </dev/null >/dev/null \
	2>"$T/slow.err" &
slow=$!
sleep 1.5
PUSH_ENV=()
push busy pool/home@b "${A[@]}"
expect_fail "second session of alpha" 4 "$RC" "$T/busy.err" \
	"peer refused the request (busy): busy: client alpha runs 1 sessions, its limit"
wait "$slow"
assert_rc 0 $? "the slow session" "$T/slow.err"

# 3. silent and plain-text clients hold nobody up: 140 from one address
#    (more than the 128 that may wait to authenticate), then, once they
#    have waited longer than a handshake takes, a real push from the same
#    address
silent 140 "$SPORT"
sleep 2.5
bounded 10 python3 "$TCPPEER" connect "$SPORT" --send 'HELLO\r\n' --hold 0.5 2>/dev/null
t0=$(date +%s%N)
push real pool/home@b "${A[@]}"
assert_rc 0 "$RC" "push past silent clients" "$T/real.err"
[ $((($(date +%s%N) - t0) / 1000000)) -lt $((5000 * SCALE)) ] ||
	fail "the push past silent clients took too long"
assert_grep "refused 127.0.0.1: dropped for a newcomer" "$T/serve.err"

# 3b. a query takes a session slot like a transfer: alpha (max-sessions
#     1) holds one open after its LIST; its push meanwhile is busy
bg query 30 python3 - "$SPORT" "$PKI" <<'PY' >"$T/query.out" 2>&1
import socket, ssl, struct, sys, time
port, pki = int(sys.argv[1]), sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(f"{pki}/alpha.pem", f"{pki}/alpha.key")
ctx.load_verify_locations(f"{pki}/ca.pem")
ctx.set_alpn_protocols(["zktls/1"])
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                    server_hostname="beta")
ds = b"pool/exp"
# LIST (version 2, type 4): how (0: the dataset), 3 reserved, the name
t.sendall(b"ZKT1" + bytes([2, 4, 0, 0]) + struct.pack(">I", 260) +
          bytes([0, 0, 0, 0]) + ds.ljust(256, b"\0"))
print("listed", len(t.recv(65536)), flush=True)
time.sleep(6)
PY
wait_for_line "$T/query.out" '^listed' 10 || fail "the query did not get its LISTING" "$T/query.out"
push qbusy pool/home@b "${A[@]}"
expect_fail "a push while alpha's query is open" 4 "$RC" "$T/qbusy.err" \
	"peer refused the request (busy): busy: client alpha runs 1 sessions, its limit"
reap "$query" _

# 4. SIGHUP: policy
PUSH_ENV=(ZKTLS_FAKE_SEND_DELAY=3)
bounded 30 "${SENV[@]}" "${PUSH_ENV[@]}" "$ZK" send pool/home@b \
	--connect "127.0.0.1:$SPORT" "${B2[@]}" </dev/null >/dev/null \
	2>"$T/old.err" &
old=$!
sleep 1.5
PUSH_ENV=()
grep -v 'push backup/alpha' "$T/zktls.conf" >"$T/zktls.conf.new"
mv "$T/zktls.conf.new" "$T/zktls.conf"
kill -HUP "$SERVE_PID"
wait_for_line "$T/serve.err" '^zktls: reloaded ' 5 || fail "no reload line" "$T/serve.err"
wait "$old"
assert_rc 0 $? "the session that started before SIGHUP" "$T/old.err"
push new pool/home@b "${A[@]}"
expect_fail "alpha after SIGHUP" 3 "$RC" "$T/new.err" \
	"peer refused the request (denied): client alpha may not push"

# 5. SIGHUP: a renewed certificate
(cd "$PKI" && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout beta-new.key -out beta-new.csr -subj /CN=beta 2>/dev/null &&
	printf 'subjectAltName=DNS:beta\nextendedKeyUsage=serverAuth\n' >beta-new.ext &&
	openssl x509 -req -in beta-new.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
		-out beta-new.pem -days 30 -extfile beta-new.ext 2>/dev/null) ||
	die "cannot make the renewed certificate"
newpin=$("$ZK" pin "$PKI/beta-new.pem")
push pinpre pool/home@b --cert "$PKI/beta2.pem" --key "$PKI/beta2.key" \
	--peer-pin "$newpin" "${COMMON[@]}"
expect_fail "new pin before SIGHUP" 3 "$RC" "$T/pinpre.err" \
	"server public key does not match --peer-pin"
sed -i "s|^cert .*|cert $PKI/beta-new.pem|; s|^key .*|key $PKI/beta-new.key|" "$T/zktls.conf"
kill -HUP "$SERVE_PID"
sleep 0.5
push pinpost pool/home@b --cert "$PKI/beta2.pem" --key "$PKI/beta2.key" \
	--peer-pin "$newpin" "${COMMON[@]}"
assert_rc 0 "$RC" "new pin after SIGHUP" "$T/pinpost.err"

# 6. a broken configuration
cp "$T/zktls.conf" "$T/good.conf"
printf 'client bad {\n\tname x\n\tpush -x\n}\n' >>"$T/zktls.conf"
line=$(grep -n 'push -x' "$T/zktls.conf" | cut -d: -f1)
"$ZK" serve --config "$T/zktls.conf" --check-config >"$T/check.out" 2>&1
expect_fail "--check-config of a broken file" 2 $? "$T/check.out" \
	"$T/zktls.conf: line $line: bad dataset '-x'"
kill -HUP "$SERVE_PID"
wait_for_line "$T/serve.err" "reload failed, keeping the running configuration: $T/zktls.conf: line $line: bad dataset '-x'" 5 ||
	fail "a broken reload was not reported" "$T/serve.err"
push still pool/home@b "${B2[@]}"
assert_rc 0 "$RC" "serving on after a broken reload" "$T/still.err"
cp "$T/good.conf" "$T/zktls.conf"

# 7. SIGTERM with a session running
PUSH_ENV=(ZKTLS_FAKE_SEND_DELAY=3)
bounded 30 "${SENV[@]}" "${PUSH_ENV[@]}" "$ZK" send pool/home@b \
	--connect "127.0.0.1:$SPORT" "${B2[@]}" </dev/null >/dev/null \
	2>"$T/term.err" &
term=$!
sleep 1.5
PUSH_ENV=()
kill -TERM "$SERVE_PID"
wait_for_line "$T/serve.err" '^zktls: stopping: 1 sessions running' 5 ||
	fail "serve did not say it is stopping" "$T/serve.err"
push late pool/home@b "${B2[@]}"
expect_fail "a connection after SIGTERM" 4 "$RC" "$T/late.err" \
	"cannot connect to 127.0.0.1:$SPORT: Connection refused"
wait "$term"
assert_rc 0 $? "the session running at SIGTERM" "$T/term.err"
reap "$SPID" rc
assert_rc 0 "$rc" "serve after SIGTERM" "$T/serve.err"
assert_grep "zktls: stopped" "$T/serve.err"

finish "denials, busy, silent clients, SIGHUP (policy, certificate, broken file), SIGTERM"
