#!/usr/bin/env bash
#
# Description:
#	SIGHUP reaches live connections: a connection of a client whose
#	rule changed (or that is gone) is stopped at the reload, whatever
#	it was doing (queries, a transfer), so nothing it asks afterwards
#	is judged by the old rule; a client whose rule did not change
#	finishes its session untouched.
#
# Strategy:
#	Stand-in zfs; clients alpha (push backup/alpha, pull pool/exp,
#	max-sessions 2) and beta2 (push backup/beta2).
#	1. alpha holds a connection open after a LIST of pool/exp (a Python
#	   client, zkpeer.py); alpha and beta2 each start a slow push.
#	2. SIGHUP with alpha's "pull pool/exp" removed.
#	3. alpha's held connection then asks to pull pool/exp@a: the server
#	   has closed it (no REPLY ok), and never ran zfs send; alpha's slow
#	   push fails; beta2's ends ok; serve logs "stopping a connection
#	   of client alpha: its rule changed".
#	4. A new pull of alpha is refused "client alpha may not pull".
#	5. SIGHUP with alpha's block removed while it holds a connection:
#	   stopped, "it is no longer configured".
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/stream" 128K
client_pki beta2
serve_conf "$T/zktls.conf" "grace 20" "client alpha {" "name alpha" \
	"push backup/alpha" "pull pool/exp" "max-sessions 2" "}" \
	"client beta2 {" "name beta2" "push backup/beta2" "}"
start_serve "$T/serve.err" "$T/zktls.conf" ZKTLS_FAKE_GUID=102 \
	"ZKTLS_FAKE_SNAPS=pool/exp@a" "ZKTLS_FAKE_GUIDS=pool/exp@a=101"
read -r -a A <<<"$(as_client alpha)"
read -r -a B2 <<<"$(as_client beta2)"
SENV=(env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_STREAM="$T/stream"
	"ZKTLS_FAKE_SNAPS=pool/home@b" "ZKTLS_FAKE_GUIDS=pool/home@b=102")
: >"$T/srv.zfs.log"

held() { # TAG: alpha holds a connection after a LIST, then pulls
	bg "$1" 40 python3 - "$SPORT" "$PKI" "$HOST_DIR" "$T/go.$1" <<'PY' \
		>"$T/$1.out" 2>&1
import os, sys, time
port, pki = int(sys.argv[1]), sys.argv[2]
sys.path.insert(0, sys.argv[3])
from zkpeer import *
t = connect(port, pki, "alpha")
t.sendall(list_frame("pool/exp"))
print("listed", answer(t)[0], flush=True)
while not os.path.exists(sys.argv[4]):
    time.sleep(0.1)
try:
    t.sendall(pull_frame("pool/exp@a"))
    print("request", *answer(t), flush=True)
except OSError as e:
    print("request closed", e, flush=True)
PY
	wait_for_line "$T/$1.out" '^listed ok' 10 ||
		fail "$1: the LIST was not answered" "$T/$1.out"
}

# 1. a held connection and two slow pushes
held q1
bounded 30 "${SENV[@]}" ZKTLS_FAKE_SEND_DELAY=3 "$ZK" send pool/home@b \
	--connect "127.0.0.1:$SPORT" "${A[@]}" </dev/null >/dev/null \
	2>"$T/slowa.err" &
slowa=$!
bounded 30 "${SENV[@]}" ZKTLS_FAKE_SEND_DELAY=3 "$ZK" send pool/home@b \
	--connect "127.0.0.1:$SPORT" "${B2[@]}" </dev/null >/dev/null \
	2>"$T/slowb.err" &
slowb=$!
sleep 1.5

# 2. alpha may no longer pull
grep -v 'pull pool/exp' "$T/zktls.conf" >"$T/zktls.conf.new"
mv "$T/zktls.conf.new" "$T/zktls.conf"
kill -HUP "$SERVE_PID"
wait_for_line "$T/serve.err" '^zktls: reloaded ' 5 || fail "no reload line" "$T/serve.err"
sleep 0.5

# 3. what alpha does on its old connections
touch "$T/go.q1"
reap "$q1" _
note "$(cat "$T/q1.out")"
assert_no_grep 'request ok' "$T/q1.out"
assert_grep 'request closed' "$T/q1.out"
grep -a "^send"$'\037' "$T/srv.zfs.log" | grep -av $'\037-n' | grep -q . &&
	fail "zfs send ran for a client that may no longer pull" "$T/srv.zfs.log"
wait "$slowa"
rc=$?
[ "$rc" -ne 0 ] || fail "alpha's push went on after its rule changed" "$T/slowa.err"
wait "$slowb"
assert_rc 0 $? "beta2's push across the reload (its rule did not change)" "$T/slowb.err"
assert_grep "stopping a connection of client alpha: its rule changed" "$T/serve.err"

# 4. a new pull of alpha
bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_OUT="$T/new.out" "$ZK" recv \
	--connect "127.0.0.1:$SPORT" --source pool/exp@a "${A[@]}" backup/p \
	</dev/null >/dev/null 2>"$T/new.err"
expect_fail "alpha pulls after the reload" 3 $? "$T/new.err" \
	"peer refused the request (denied): client alpha may not pull"

# 5. alpha removed while it holds a connection
sed -i 's/^max-sessions 2$/max-sessions 2\npull pool\/exp/' "$T/zktls.conf"
kill -HUP "$SERVE_PID"
sleep 0.5
held q2
awk '/^client alpha/ {skip = 1} !skip {print} /^}/ {skip = 0}' \
	"$T/zktls.conf" >"$T/zktls.conf.new"
mv "$T/zktls.conf.new" "$T/zktls.conf"
kill -HUP "$SERVE_PID"
wait_for_line "$T/serve.err" 'reloaded .*: 1 clients' 5 || fail "no reload line" "$T/serve.err"
touch "$T/go.q2"
reap "$q2" _
assert_grep 'request closed' "$T/q2.out"
assert_grep "stopping a connection of client alpha: it is no longer configured" "$T/serve.err"
grep -a "^send"$'\037' "$T/srv.zfs.log" | grep -av $'\037-n' | grep -q . &&
	fail "zfs send ran for a client that is gone" "$T/srv.zfs.log"

finish "SIGHUP stops the connections of a changed or removed client; others finish"
