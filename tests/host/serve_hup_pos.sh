#!/usr/bin/env bash
#
# Description:
#	SIGHUP is the master's: "pkill -HUP zktls" (every zktls process,
#	sessions included) reloads the configuration and ends no transfer.
#	The master's record of a session names its dataset whole, spaces
#	included.
#
# Strategy:
#	1. A push whose zfs send waits 3 s; meanwhile SIGHUP to every
#	   process of serve (the master, each session's monitor and network
#	   process).  The push ends ok, the stream landed, serve logged the
#	   reload and runs on.
#	2. A push of "pool/my home@b" (a ZFS name may hold spaces): the
#	   metrics' last-success line names backup/alpha/my home.
#	3. alpha removed from the configuration, SIGHUP: serve forgets its
#	   history (both datasets) and its counters, logged, gone from the
#	   state file and from every line of the metrics.
#	4. The same at a start: the state file of before, alpha's entries
#	   in it, and a configuration without alpha.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/stream" 64K
serve_conf "$T/zktls.conf" "client alpha {" "name alpha" "push backup/alpha" "}"
start_serve "$T/serve.err" "$T/zktls.conf" ZKTLS_FAKE_GUID=102
read -r -a A <<<"$(as_client alpha)"

# 1. SIGHUP to all
slow_push
push=$!
tree() { # PID: it and its descendants
	local c
	echo "$1"
	for c in $(pgrep -P "$1"); do tree "$c"; done
}
for ((i = 0; i < 60; i++)); do
	[ "$(tree "$SERVE_PID" | wc -l)" -ge 3 ] && break
	sleep 0.05
done
sleep 0.5
n=0
for p in $(tree "$SERVE_PID"); do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = zktls ] || continue
	kill -HUP "$p" 2>/dev/null && n=$((n + 1))
done
[ "$n" -ge 3 ] || fail "SIGHUP reached $n zktls processes, not the master and a session's two"
wait "$push"
assert_rc 0 $? "the push during SIGHUP" "$T/send.err"
assert_file_eq "$T/stream" "$T/srv.out/backup_alpha"
wait_for_line "$T/serve.err" "reloaded $T/zktls.conf: 1 clients" 5 ||
	fail "serve did not reload" "$T/serve.err"
alive "$SPID" || fail "serve is gone" "$T/serve.err"

# 2. a name with a space
bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_STREAM="$T/stream" \
	ZKTLS_FAKE_SNAPS=pool/my+home@b ZKTLS_FAKE_GUID=102 "$ZK" send "pool/my home@b" \
	--connect "127.0.0.1:$SPORT" "${A[@]}" </dev/null >/dev/null \
	2>"$T/space.err"
assert_rc 0 $? "a push of pool/my home@b" "$T/space.err"
sleep 0.5
assert_grep 'zktls_last_success_timestamp_seconds{client="alpha",dataset="backup/alpha/my home"} ' "$T/metrics.prom"

# 3. a client removed: its history forgotten at the reload
cp "$T/state/state" "$T/state.before"
grep -q '^E	alpha	' "$T/state.before" || fail "no entry of alpha in the state" "$T/state.before"
serve_conf "$T/zktls.conf" "client gamma {" "name gamma" "push backup/gamma" "}"
kill -HUP "$SERVE_PID"
wait_for_line "$T/serve.err" "forgot the history of client alpha \(2 datasets\): it is no longer in $T/zktls.conf" 5 ||
	fail "serve did not forget alpha at the reload" "$T/serve.err"
# (logged before the state file and the metrics are written again)
gone() { # FILE REGEX: FILE lacks REGEX within 5 s
	local i
	for ((i = 0; i < 50 * SCALE; i++)); do
		grep -q -- "$2" "$1" || return 0
		sleep 0.1
	done
	return 1
}
gone "$T/state/state" '^E	alpha	' || fail "alpha still in the state file" "$T/state/state"
gone "$T/metrics.prom" 'client="alpha"' || fail "alpha still in the metrics" "$T/metrics.prom"

# 4. the same at a start
kill -TERM "$SERVE_PID"
reap "$SPID" rc
assert_rc 0 "$rc" "serve after SIGTERM" "$T/serve.err"
cp "$T/state.before" "$T/state/state"
start_serve "$T/serve2.err" "$T/zktls.conf"
wait_for_line "$T/serve2.err" "forgot the history of client alpha \(2 datasets\)" 5 ||
	fail "serve did not forget alpha at its start" "$T/serve2.err"
gone "$T/state/state" '^E	alpha	' || fail "alpha still in the state file after a start" "$T/state/state"

finish "SIGHUP to every zktls process ends no transfer; a dataset with a space in the metrics; a removed client's history forgotten at a reload and at a start"
