#!/usr/bin/env bash
#
# Description:
#	LIST and HAVE (protocol version 2) through "zktls list": a client
#	asks serve what it holds of a dataset the policy lets it see
#	(snapshots and bookmarks with GUIDs, oldest first, the resume
#	token), and which of some GUIDs it has; everything else is refused.
#
# Strategy:
#	Stand-in zfs on the server knowing backup/alpha/home@a (101), #b
#	(102), @c (103) and a resume token; client alpha (push backup/alpha,
#	pull pool/exp).
#	1. list backup/alpha/home: the three entries in order, as
#	   "NAME<tab>GUID<tab>CREATETXG", and the token; the same as JSON.
#	2. --have 101 --have 999: "101 yes", "999 no".
#	3. list backup/beta (not alpha's): exit 3, "peer refused the request
#	   (denied): backup/beta is not client alpha's"; the server's zfs
#	   never ran for it.  The server logs it as one refused query
#	   ("refused LIST from alpha (DNS:alpha): ..."), not as a failed
#	   stream, and counts it result="denied" in its metrics; the same
#	   for list --have (its LIST is refused first).
#	4. A listing of 3000 entries (more than one LISTING frame): all 3000
#	   arrive, in order.
#	5. A one-shot listener asked to list: "only zktls serve answers LIST".
#
. "$(dirname "$0")/lib.sh"

serve_conf "$T/zktls.conf" "client alpha {" "name alpha" "push backup/alpha" \
	"pull pool/exp" "}"
start_serve "$T/serve.err" "$T/zktls.conf" \
	"ZKTLS_FAKE_GUIDS=backup/alpha/home@a=101 backup/alpha/home#b=102 backup/alpha/home@c=103" \
	ZKTLS_FAKE_TOKEN=1-abc-def-0123
read -r -a A <<<"$(as_client alpha)"

# 1. list
bounded 20 "$ZK" list --connect "127.0.0.1:$SPORT" "${A[@]}" backup/alpha/home \
	>"$T/l1.out" 2>"$T/l1.err"
assert_exit 0 "list" "$T/l1.err"
printf 'backup/alpha/home@a\t101\t101\nbackup/alpha/home#b\t102\t102\nbackup/alpha/home@c\t103\t103\nreceive_resume_token\t1-abc-def-0123\n' >"$T/l1.want"
assert_file_eq "$T/l1.want" "$T/l1.out"
bounded 20 "$ZK" list --json --connect "127.0.0.1:$SPORT" "${A[@]}" \
	backup/alpha/home >"$T/l1j.out" 2>"$T/l1j.err"
assert_exit 0 "list --json" "$T/l1j.err"
assert_line '{"name":"backup/alpha/home#b","kind":"bookmark","guid":"102","createtxg":102}' "$T/l1j.out"

# 2. have
bounded 20 "$ZK" list --connect "127.0.0.1:$SPORT" "${A[@]}" --have 101 \
	--have 999 backup/alpha/home >"$T/h.out" 2>"$T/h.err"
assert_exit 0 "list --have" "$T/h.err"
assert_line $'101\tyes' "$T/h.out"
assert_line $'999\tno' "$T/h.out"

# 3. not alpha's
: >"$T/srv.zfs.log"
bounded 20 "$ZK" list --connect "127.0.0.1:$SPORT" "${A[@]}" backup/beta \
	>"$T/d.out" 2>"$T/d.err"
expect_fail "list of another client's dataset" 3 $? "$T/d.err" \
	"peer refused the request (denied): backup/beta is not client alpha's"
assert_empty "$T/d.out"
grep -q 'backup/beta' "$T/srv.zfs.log" && fail "zfs ran for backup/beta"
bounded 20 "$ZK" list --connect "127.0.0.1:$SPORT" "${A[@]}" --have 101 \
	backup/beta >"$T/dh.out" 2>"$T/dh.err"
expect_fail "have of another client's dataset" 3 $? "$T/dh.err" \
	"peer refused the request (denied): backup/beta is not client alpha's"
wait_for_line "$T/metrics.prom" 'result="denied"} 2' 10 ||
	fail "the denied queries are not counted" "$T/metrics.prom"
n=$(grep -cxF 'zktls: warning: refused LIST from alpha (DNS:alpha): backup/beta is not client alpha'"'"'s' "$T/serve.err")
assert_eq 2 "$n" "refused LIST lines"
assert_no_grep "FAILED" "$T/serve.err"
assert_no_grep "truncated" "$T/serve.err"
assert_no_grep "error" "$T/serve.err"
assert_no_grep 'result="failed"' "$T/metrics.prom"
assert_grep 'zktls_sessions_total{client="alpha",plane="user",result="denied"} 2' "$T/metrics.prom"
# the allowed queries are queries, not sessions that moved a stream
assert_grep 'zktls_sessions_total{client="alpha",plane="user",result="query"} ' "$T/metrics.prom"
assert_no_grep 'result="ok"' "$T/metrics.prom"

# 4. a long listing
kill -TERM "$SERVE_PID"
reap "$SPID" rc
for i in $(seq 1 3000); do
	printf 'pool/exp@zfs-auto-snap_frequent-2026-12-01-%05d\t%d\t%d\n' "$i" "$((1000 + i))" "$i"
done >"$T/listing"
start_serve "$T/serve2.err" "$T/zktls.conf" ZKTLS_FAKE_LISTING="$T/listing"
bounded 30 "$ZK" list --connect "127.0.0.1:$SPORT" "${A[@]}" pool/exp \
	>"$T/long.out" 2>"$T/long.err"
assert_exit 0 "list of 3000" "$T/long.err"
assert_file_eq "$T/listing" "$T/long.out"

# 5. a one-shot listener
start_listener port "$T/os.err" "$ZK" pipe recv "${TLS_B[@]}" >/dev/null </dev/null
bounded 20 "$ZK" list --connect "127.0.0.1:$port" "${TLS_A[@]}" pool/exp \
	>"$T/os.out" 2>"$T/os.cli.err"
expect_fail "list against a one-shot listener" 4 $? "$T/os.cli.err" \
	"peer refused the request (error): only zktls serve answers LIST"
LISTENER_GRACE=1 reap_listener "$LPID" rc

finish "LIST (text, JSON, 3000 entries over several frames), HAVE, denials"
