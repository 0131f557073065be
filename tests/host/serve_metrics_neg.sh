#!/usr/bin/env bash
#
# Description:
#	serve writes its metrics file as root into a directory that another
#	user (node_exporter's) may own: it never follows a link planted
#	there, survives a stale temporary file, and leaves the file readable
#	(0644) whatever the umask (the shipped unit has UMask=0077).  A
#	directory that others may write is refused unless it is sticky and
#	root's.
#
# Strategy:
#	1. Under umask 077, metrics in $T/m/, where METRICS.tmp is a symlink
#	   to a victim file: serve starts, writes the metrics; the victim is
#	   untouched, the symlink is gone, METRICS is a plain file of mode
#	   0644 with the metrics in it.
#	2. --check-config: a metrics directory that does not exist, and one
#	   that is world-writable (0777), are errors naming the directory;
#	   a sticky root-owned one (1777) is fine.
#
. "$(dirname "$0")/lib.sh"

# 1. a planted symlink, a strict umask
mkdir -m 0755 "$T/m"
echo precious >"$T/victim"
chmod 0600 "$T/victim"
ln -s "$T/victim" "$T/m/metrics.prom.tmp"
serve_conf "$T/zktls.conf" "client alpha {" "name alpha" "push backup/alpha" "}"
sed -i "s|^metrics .*|metrics $T/m/metrics.prom|" "$T/zktls.conf"
umask 077
start_serve "$T/serve.err" "$T/zktls.conf"
umask 022
for ((i = 0; i < 50; i++)); do
	[ -f "$T/m/metrics.prom" ] && break
	sleep 0.1
done
assert_eq precious "$(cat "$T/victim")" "the symlink's target"
[ -L "$T/m/metrics.prom.tmp" ] && fail "the planted symlink is still there"
[ -L "$T/m/metrics.prom" ] && fail "the metrics file is a symlink"
assert_eq 644 "$(stat -c %a "$T/m/metrics.prom" 2>/dev/null)" "the metrics file's mode"
assert_grep "zktls_sessions_active 0" "$T/m/metrics.prom"
kill -TERM "$SERVE_PID"
reap "$SPID" rc
assert_rc 0 "$rc" "serve after SIGTERM" "$T/serve.err"
assert_no_grep "cannot write metrics" "$T/serve.err"

# 2. the directory
check() { # TAG DIR: --check-config with metrics in DIR; rc in RC
	sed "s|^metrics .*|metrics $2/zktls.prom|" "$T/zktls.conf" >"$T/$1.conf"
	"$ZK" serve --config "$T/$1.conf" --check-config >"$T/$1.err" 2>&1
	RC=$?
}
line=$(grep -n '^metrics' "$T/zktls.conf" | cut -d: -f1)
check missing "$T/none"
expect_fail "metrics in a missing directory" 2 "$RC" "$T/missing.err" \
	"$T/missing.conf: line $line: metrics directory $T/none: No such file or directory"
mkdir "$T/open" && chmod 0777 "$T/open"
check open "$T/open"
expect_fail "metrics in a world-writable directory" 2 "$RC" "$T/open.err" \
	"$T/open.conf: line $line: metrics directory $T/open is writable by others (and not a sticky directory of root's)"
mkdir "$T/sticky" && chmod 1777 "$T/sticky"
check sticky "$T/sticky"
assert_rc 0 "$RC" "metrics in a sticky root-owned directory" "$T/sticky.err"

finish "no link followed, stale tmp replaced, mode 0644 under umask 077, unsafe directories refused"
