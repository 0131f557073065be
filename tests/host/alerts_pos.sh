#!/usr/bin/env bash
#
# Description:
#	The shipped Prometheus alert rules (contrib/zktls-alerts.yml) are
#	valid and name only metrics that serve and zktls sync --metrics
#	really write.  zktls sync --metrics: per dataset the last success,
#	kept across a failed run, and the last run's result; 0644 under
#	umask 077; no link followed.
#
# Strategy:
#	1. serve (client alpha, expect 1s): a push that lands, one that
#	   its policy refuses (failed); its metrics file.
#	2. zktls sync --metrics (umask 077, a symlink planted as FILE.tmp):
#	   a run where the server is up to date (exit 0): last success now,
#	   last_run_success 1, mode 0644, the symlink's target untouched.
#	   Then a run that fails (exit 4): last_run_success 0, the last
#	   success the same as before.
#	3. Every zktls_* metric in the rules is a sample in one of the two
#	   files.  The rules parse as YAML with the fields Prometheus wants;
#	   promtool check rules passes (promtool: Debian's package
#	   prometheus, which tests/deps.sh installs).
#
. "$(dirname "$0")/lib.sh"

RULES=$(dirname "$0")/../../contrib/zktls-alerts.yml
[ -f "$RULES" ] || die "no $RULES"
read -r -a A <<<"$(as_client alpha)"
MINE="pool/exp@a=101 pool/exp@b=102 pool/exp@c=103"
head -c 100000 /dev/urandom >"$T/stream"

# 1. serve's metrics
serve_conf "$T/zktls.conf" "client alpha {" "name alpha" "push backup/alpha" \
	"expect 1s" "}"
start_serve "$T/serve.err" "$T/zktls.conf" ZKTLS_FAKE_GUID=101
bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_STREAM="$T/stream" \
	ZKTLS_FAKE_SNAPS=pool/exp@a "ZKTLS_FAKE_GUIDS=$MINE" "$ZK" send pool/exp@a \
	--connect "127.0.0.1:$SPORT" "${A[@]}" </dev/null >/dev/null 2>"$T/p1.err"
assert_rc 0 $? "a push" "$T/p1.err"
bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_STREAM="$T/stream" \
	ZKTLS_FAKE_SNAPS=pool/exp@b "ZKTLS_FAKE_GUIDS=$MINE" "$ZK" send pool/exp@b \
	--target elsewhere/exp --connect "127.0.0.1:$SPORT" "${A[@]}" </dev/null >/dev/null 2>"$T/p2.err"
[ $? != 0 ] || fail "a push meant to fail (outside its push dataset) succeeded" "$T/p2.err"
sleep 2.5 # past expect 1s, in whole seconds
kill -TERM "$SERVE_PID"
reap "$SPID" rc
assert_rc 0 "$rc" "serve after SIGTERM" "$T/serve.err"
cp "$T/metrics.prom" "$T/serve.prom"
assert_grep 'zktls_sessions_total{client="alpha",plane="user",result="failed"} 1' "$T/serve.prom"
assert_grep 'zktls_stale{client="alpha",dataset="backup/alpha/exp"} 1' "$T/serve.prom"

# 2. sync --metrics
sync_run() { # TAG SERVER-GUIDS: a push of pool/exp; RC
	serve_conf "$T/$1.conf" "client alpha {" "name alpha" "push backup/alpha" "}"
	start_serve "$T/$1.srv.err" "$T/$1.conf" "ZKTLS_FAKE_GUIDS=$2"
	(umask 077 && bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_GUIDS="$MINE" \
		ZKTLS_FAKE_SNAPS="pool/exp@a pool/exp@b pool/exp@c" \
		ZKTLS_FAKE_STREAM="$T/stream" "$ZK" sync --no-progress \
		--metrics "$T/m/sync.prom" "${A[@]}" pool/exp "127.0.0.1:$SPORT" \
		>"$T/$1.out" 2>"$T/$1.err")
	RC=$?
	kill -TERM "$SERVE_PID"
	reap "$SPID" _
}
mkdir "$T/m"
echo precious >"$T/victim"
ln -s "$T/victim" "$T/m/sync.prom.tmp"
# (and where it writes now: its own name, FILE.tmp.PID; a link there is
# not followed either: O_EXCL|O_NOFOLLOW after the unlink)
sync_run current "backup/alpha/exp@a=101 backup/alpha/exp@b=102 backup/alpha/exp@c=103"
assert_rc 0 "$RC" "sync, up to date" "$T/current.err"
assert_eq precious "$(cat "$T/victim")" "the planted symlink's target"
assert_eq 644 "$(stat -c %a "$T/m/sync.prom")" "the sync metrics' mode"
t1=$(sed -n 's/^zktls_sync_last_success_timestamp_seconds{dataset="pool\/exp",server="127.0.0.1:[0-9]*"} \([0-9]*\)$/\1/p' "$T/m/sync.prom")
[ -n "$t1" ] || fail "no last success after a good run" "$T/m/sync.prom"
assert_grep 'zktls_sync_last_run_success{dataset="pool/exp",server="127.0.0.1:' "$T/m/sync.prom"
grep -q '^zktls_sync_last_run_success{.*} 1$' "$T/m/sync.prom" || fail "last run not 1" "$T/m/sync.prom"
cp "$T/m/sync.prom" "$T/sync1.prom"
sleep 1.1
sync_run nolist "backup/alpha/exp@a=101"
assert_rc 4 "$RC" "sync that fails" "$T/nolist.err"
grep -q '^zktls_sync_last_run_success{.*} 0$' "$T/m/sync.prom" || fail "last run not 0" "$T/m/sync.prom"
t2=$(sed -n 's/^zktls_sync_last_success_timestamp_seconds{dataset="pool\/exp",server="127.0.0.1:[0-9]*"} \([0-9]*\)$/\1/p' "$T/m/sync.prom")
# (the server's port differs between the runs: a line per server)
grep -q "^zktls_sync_last_success_timestamp_seconds{dataset=\"pool/exp\",server=\"127.0.0.1:[0-9]*\"} $t1\$" "$T/m/sync.prom" ||
	fail "the last success was not kept across a failed run ($t1; now $t2)" "$T/m/sync.prom"

# 3. the rules
names=$(grep -o 'zktls_[a-z_]*' "$RULES" | sort -u)
[ -n "$names" ] || fail "no metric in the rules"
for n in $names; do
	grep -qE "^$n(\{| )" "$T/serve.prom" "$T/m/sync.prom" ||
		fail "the rules use $n, which neither serve nor sync wrote" "$T/serve.prom"
done
python3 - "$RULES" <<'PY' || fail "the rules' structure" "$RULES"
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
n = 0
for g in d["groups"]:
    assert isinstance(g["name"], str)
    for r in g["rules"]:
        assert set(r) <= {"alert", "expr", "for", "labels", "annotations"}, r
        assert r["alert"] and r["expr"], r
        n += 1
assert n >= 6, n
PY
if command -v promtool >/dev/null; then
	promtool check rules "$RULES" >"$T/promtool.out" 2>&1 ||
		fail "promtool check rules" "$T/promtool.out"
	checked="promtool check rules passed"
else
	fail "promtool not installed (tests/deps.sh installs Debian's prometheus for it)"
	checked="promtool missing"
fi

finish "$(echo "$names" | wc -w) metrics of the rules written by serve and sync; sync --metrics keeps the last success across a failure; $checked"
