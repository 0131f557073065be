#!/usr/bin/env bash
#
# Description:
#	When stderr is the systemd journal (JOURNAL_STREAM names its device
#	and inode), every text line starts with its priority, "<3>" errors,
#	"<4>" warnings, "<6>" information, "<7>" detail, so that
#	"journalctl -p err" finds the errors; not when stderr is something
#	else (JOURNAL_STREAM inherited, stderr redirected), and never in
#	--json lines.
#
# Strategy:
#	JOURNAL_STREAM is set to "DEV:INO" of the file stderr goes to, as
#	systemd writes it (decimal st_dev and st_ino).
#	1. A connection refused, with -v: "<3>zktls: error: cannot connect
#	   ...", every line starts with "<N>" (N 3, 4, 6 or 7).
#	2. A usage error: "<3>zktls: error: ..." and "<3>Try 'zktls --help'.".
#	3. JOURNAL_STREAM naming another file: no prefix.
#	4. JOURNAL_STREAM unset: no prefix.
#	5. --json with the matching JOURNAL_STREAM: every line is JSON.
#
. "$(dirname "$0")/lib.sh"

# a port nothing listens on
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# jrun FILE STREAM ARGS...: zktls ARGS, stderr to FILE, JOURNAL_STREAM
# STREAM ("self": FILE's own device:inode; "" unset)
jrun() {
	local f=$1 js=$2
	shift 2
	: >"$f"
	[ "$js" = self ] && js=$(stat -L -c '%d:%i' "$f")
	if [ -n "$js" ]; then
		bounded 20 env JOURNAL_STREAM="$js" "$ZK" "$@" </dev/null >/dev/null 2>>"$f"
	else
		bounded 20 env -u JOURNAL_STREAM "$ZK" "$@" </dev/null >/dev/null 2>>"$f"
	fi
}

# 1. an error, and every line prefixed
jrun "$T/j1.err" self pipe recv --connect "127.0.0.1:$port" "${TLS_B[@]}" -v
assert_rc 4 $? "connection refused" "$T/j1.err"
assert_line "<3>zktls: error: cannot connect to 127.0.0.1:$port: Connection refused" "$T/j1.err"
grep -qv '^<[3467]>' "$T/j1.err" && fail "a line without a priority" "$T/j1.err"

# 2. a usage error
jrun "$T/j2.err" self pipe recv --bogus
assert_rc 2 $? "usage error" "$T/j2.err"
assert_grep "<3>zktls: error: " "$T/j2.err"
assert_line "<3>Try 'zktls --help'." "$T/j2.err"

# 3. JOURNAL_STREAM of another file
: >"$T/other"
jrun "$T/j3.err" "$(stat -L -c '%d:%i' "$T/other")" pipe recv \
	--connect "127.0.0.1:$port" "${TLS_B[@]}"
assert_rc 4 $? "another stream" "$T/j3.err"
assert_line "zktls: error: cannot connect to 127.0.0.1:$port: Connection refused" "$T/j3.err"
assert_no_grep "<3>" "$T/j3.err"

# 4. no JOURNAL_STREAM
jrun "$T/j4.err" "" pipe recv --connect "127.0.0.1:$port" "${TLS_B[@]}"
assert_rc 4 $? "no journal" "$T/j4.err"
assert_line "zktls: error: cannot connect to 127.0.0.1:$port: Connection refused" "$T/j4.err"

# 5. --json stays JSON
jrun "$T/j5.err" self pipe recv --connect "127.0.0.1:$port" "${TLS_B[@]}" --json -v
assert_rc 4 $? "json" "$T/j5.err"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/j5.err" ||
	fail "--json under the journal is not JSON" "$T/j5.err"
assert_grep '{"level":"error","message":"cannot connect to 127.0.0.1:' "$T/j5.err"

finish "journal priorities on text lines when stderr is the journal, only then"
