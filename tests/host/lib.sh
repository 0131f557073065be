# shellcheck shell=bash
# tests/host/lib.sh - helpers sourced by every host integration test.
#
# A test is one bash script, tests/host/NAME_pos.sh or NAME_neg.sh, that
# sources this file, runs zktls on 127.0.0.1 (user data plane: no kernel
# TLS and no ZFS are needed), checks what happened, and ends with `finish`.
# It prints one line on success ("PASS NAME: summary (N s)", stdout); on
# failure it prints what differed (stderr), keeps its temporary directory,
# and exits 1.
#
# Environment:
#   ZKTLS_BIN         zktls binary under test (default: the repo's ./zktls)
#   ZKTLS_WRAP        command prefix for every zktls run (e.g. "valgrind -q
#                     --error-exitcode=99"); time limits grow tenfold
#   ZKTLS_TEST_SCALE  multiply every time limit by this (default 1, or 10
#                     with ZKTLS_WRAP)
#   ZKTLS_TEST_KEEP   1: keep the temporary directory even on success
#   ZKTLS_TEST_PKI    a directory to make the test PKI in once and share
#                     (default: a fresh one per test, ~0.4 s)
#   ZKTLS_TEST_VERBOSE 1: print progress notes to stderr
#   ZKTLS_TEST_MODE   a --mode for every zktls run (the VM suite runs some
#                     of these tests on the kernel planes)
#   TMPDIR            where the per-test directory is made (default /tmp)
#
# Conventions: alpha is the sender, beta the receiver; TLS_A / TLS_B are
# their complete TLS options (mutual CA + name checks).  Every background
# process runs under timeout(1) and is killed when the test exits; every
# foreground zktls runs under `bounded`.  Assertions are soft: they report
# and count, so one run shows every difference; `die` stops at once.

set -u -o pipefail
# Background jobs take their stdin from ours: make sure there is one.
{ true <&0; } 2>/dev/null || exec </dev/null

HOST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HOST_DIR/../.." && pwd)
TEST_NAME=$(basename "${0%.sh}")
FAILS=0
BG_PIDS=()
T0=$(date +%s%N)

ZK_BIN=${ZKTLS_BIN:-$REPO/zktls}
case $ZK_BIN in /*) ;; *) ZK_BIN=$PWD/$ZK_BIN ;; esac
if [ ! -x "$ZK_BIN" ]; then
	echo "FAIL $TEST_NAME: no zktls binary at $ZK_BIN (run make)" >&2
	exit 1
fi
if [ -n "${ZKTLS_WRAP:-}" ]; then
	SCALE=${ZKTLS_TEST_SCALE:-10}
else
	SCALE=${ZKTLS_TEST_SCALE:-1}
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/zktls-$TEST_NAME.XXXXXX") || exit 1

# ZK: what the tests run.  With ZKTLS_WRAP it is a one-line script that
# runs the binary under the wrapper, so ZK stays one word everywhere.
if [ -n "${ZKTLS_WRAP:-}" ]; then
	ZK=$T/zktls
	printf '#!/bin/sh\nexec %s "%s" "$@"\n' "$ZKTLS_WRAP" "$ZK_BIN" >"$ZK"
	chmod +x "$ZK"
else
	ZK=$ZK_BIN
fi

FAKEZFS=$HOST_DIR/fakezfs
TLSPEER=${ZKTLS_TLSPEER:-$REPO/build/release/tlspeer}
RELAY=$HOST_DIR/relay.py
TCPPEER=$HOST_DIR/tcppeer.py

# ------------------------------------------------------------- reporting

# _show FILE: print a file's head, indented, for a failure report.
_show() {
	if [ -s "$1" ]; then
		echo "    --- $1:"
		head -c 4000 "$1" | head -n 40 | cat -v | sed 's/^/    | /'
	elif [ -e "$1" ]; then
		echo "    --- $1: (empty)"
	else
		echo "    --- $1: (does not exist)"
	fi
}

# fail MESSAGE [FILE...]: count one failed check, show the files.
fail() {
	local f
	FAILS=$((FAILS + 1))
	{
		echo "FAIL $TEST_NAME: $1"
		shift
		for f in "$@"; do _show "$f"; done
	} >&2
}

# die MESSAGE [FILE...]: a failure after which the test cannot go on.
die() {
	fail "$@"
	finish
}

# note TEXT: progress text, shown only with ZKTLS_TEST_VERBOSE=1.
note() {
	[ "${ZKTLS_TEST_VERBOSE:-0}" = 1 ] && echo "  .. $*" >&2
	return 0
}

# _ours PID: is PID still a child of this shell (running, or ended and not
# yet waited for)?  A pid that was waited for is free, and after the pid
# numbers wrap it may be another test's process: never signal it.
_ours() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	set -- $s
	[ "$2" = "$BASHPID" ]
}

_cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do
		_ours "$p" || continue
		# Each background job runs under timeout(1), which leads its
		# own process group: take the whole group down.
		kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null
	done
	for p in "${BG_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	BG_PIDS=()
}
trap _cleanup EXIT
trap 'echo "FAIL $TEST_NAME: interrupted" >&2; exit 1' INT TERM

# finish [SUMMARY]: end the test: PASS line and exit 0, or exit 1.
finish() {
	local f dt
	_cleanup
	# A sanitizer or valgrind report anywhere in what zktls printed is a
	# failure, whatever the exit codes said.
	for f in "$T"/*.err; do
		[ -f "$f" ] || continue
		if grep -qE 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|==[0-9]+== (Invalid|Conditional|Syscall|Mismatched|Source and destination)|definitely lost in' "$f"; then
			fail "sanitizer/valgrind report in $(basename "$f")" "$f"
		fi
	done
	dt=$((($(date +%s%N) - T0) / 10000000))
	dt=$((dt / 100)).$(printf '%02d' $((dt % 100)))
	if [ "$FAILS" -eq 0 ]; then
		echo "PASS $TEST_NAME: ${1:-ok} (${dt} s)"
		[ "${ZKTLS_TEST_KEEP:-0}" = 1 ] || rm -rf "$T"
		trap - EXIT
		exit 0
	fi
	# Keep the evidence, but not bulk data.
	find "$T" -type f -size +8M -delete 2>/dev/null
	echo "FAIL $TEST_NAME: $FAILS check(s) failed (${dt} s); files kept in $T" >&2
	trap - EXIT
	exit 1
}

# ------------------------------------------------------------- assertions

# assert_eq EXPECTED ACTUAL LABEL
assert_eq() {
	[ "$1" = "$2" ] && return 0
	fail "${3:-value}: expected '$1', got '$2'"
	return 1
}

# assert_exit N LABEL [FILE...]: the previous command exited N.
assert_exit() {
	local rc=$? want=$1 label=${2:-exit status}
	shift 2 2>/dev/null || shift $#
	[ "$rc" -eq "$want" ] && return 0
	fail "$label: expected exit $want, got $rc" "$@"
	return 1
}

# assert_rc N ACTUAL LABEL [FILE...]: like assert_exit, with a saved code.
assert_rc() {
	local want=$1 rc=$2 label=$3
	shift 3
	[ "$rc" -eq "$want" ] && return 0
	fail "$label: expected exit $want, got $rc" "$@"
	return 1
}

# assert_file_eq A B: byte-identical files.
assert_file_eq() {
	if [ ! -f "$1" ] || [ ! -f "$2" ]; then
		fail "cmp $1 $2: missing file"
		return 1
	fi
	cmp -s "$1" "$2" && return 0
	fail "$1 and $2 differ: sizes $(stat -c %s "$1") and $(stat -c %s "$2"); $(cmp "$1" "$2" 2>&1 | head -n 1)"
	return 1
}

# assert_grep STRING FILE: FILE contains STRING (fixed string).
assert_grep() {
	grep -qF -- "$1" "$2" 2>/dev/null && return 0
	fail "$2 lacks: $1" "$2"
	return 1
}

# assert_line LINE FILE: FILE has LINE as a whole line, exactly.
assert_line() {
	grep -qxF -- "$1" "$2" 2>/dev/null && return 0
	fail "$2 lacks the line: $1" "$2"
	return 1
}

# assert_no_grep STRING FILE: FILE does not contain STRING.
assert_no_grep() {
	grep -qF -- "$1" "$2" 2>/dev/null || return 0
	fail "$2 should not contain: $1" "$2"
	return 1
}

# assert_empty FILE: FILE does not exist or is empty (no payload landed).
assert_empty() {
	[ -s "$1" ] || return 0
	fail "$1 should be empty but holds $(stat -c %s "$1") bytes" "$1"
	return 1
}

# expect_fail LABEL WANT-EXIT EXIT ERRFILE MESSAGE: a side that failed
# with exit WANT-EXIT and exactly the error line "zktls: error: MESSAGE".
expect_fail() {
	assert_rc "$2" "$3" "$1" "$4"
	assert_error_line "$5" "$4"
}

# expect_fail_re LABEL WANT-EXIT EXIT ERRFILE REGEX: the same, the error
# line matching "^zktls: error: (REGEX)$" (for causes that race).
expect_fail_re() {
	assert_rc "$2" "$3" "$1" "$4"
	local n
	n=$(grep -c '^zktls: error: ' "$4" 2>/dev/null)
	if [ "${n:-0}" -ne 1 ]; then
		fail "$1: expected exactly one error line, got ${n:-0}" "$4"
	elif ! grep -qE "^zktls: error: ($5)\$" "$4"; then
		fail "$1: error line does not match ($5)" "$4"
	fi
}

# expect_refused LABEL EXIT ERRFILE MESSAGE: a listener that refused a
# peer: it logged exactly one line "zktls: warning: refused ADDR: MESSAGE",
# no error, and was still waiting for an authenticated peer when the test
# stopped it (EXIT 124 or 143: killed, not ended by itself).
expect_refused() {
	local n
	case $2 in
	124 | 143) ;;
	*) fail "$1: the listener ended (exit $2) after refusing a peer; it must keep waiting" "$3" ;;
	esac
	n=$(MSG=": $4" awk 'index($0, "zktls: warning: refused ") == 1 &&
		substr($0, length($0) - length(ENVIRON["MSG"]) + 1) == ENVIRON["MSG"]' \
		"$3" 2>/dev/null | wc -l)
	[ "$n" -eq 1 ] || fail "$1: expected one line 'zktls: warning: refused ADDR: $4', got $n" "$3"
	grep -q '^zktls: error: ' "$3" && fail "$1: the listener logged an error" "$3"
	return 0
}

# stop_refused LABEL ERRFILE MESSAGE: the listener $LPID refuses a peer:
# wait (10 s) for its "refused" line, stop it, and judge it as
# expect_refused does.
stop_refused() {
	local sr_rc
	wait_for_line "$2" '^zktls: warning: refused ' 10 "$LPID" ||
		fail "$1: no 'refused' line within 10 s" "$2"
	kill -TERM -- "-$LPID" 2>/dev/null || kill -TERM "$LPID" 2>/dev/null
	reap "$LPID" sr_rc
	expect_refused "$1" "$sr_rc" "$2" "$3"
}

# assert_lines_count N FILE: FILE has exactly N lines.
assert_lines_count() {
	local n
	n=$(wc -l <"$2" 2>/dev/null || echo 0)
	[ "$n" -eq "$1" ] && return 0
	fail "$2: expected $1 line(s), got $n" "$2"
	return 1
}

# assert_error_line LINE FILE: FILE holds exactly one error line, and it
# is "zktls: error: LINE".
assert_error_line() {
	local want="zktls: error: $1" n
	n=$(grep -c '^zktls: error: ' "$2" 2>/dev/null)
	if [ "${n:-0}" -ne 1 ]; then
		fail "$2: expected exactly one error line ($want), got ${n:-0}" "$2"
		return 1
	fi
	assert_line "$want" "$2"
}

# ------------------------------------------------------------- processes

# bounded SECS CMD...: run CMD in the foreground, killed after SECS (times
# the scale); a kill shows as exit 124 or 137.
bounded() {
	local s=$(($1 * SCALE))
	shift
	timeout -k 3 "$s" "$@"
}

# bg VAR SECS CMD...: start CMD in the background (stdin, stdout and
# stderr as the caller redirected this call), killed after SECS; the pid
# (of its timeout(1) wrapper, whose exit code is CMD's) goes to VAR.
bg() {
	local __var=$1 __s=$(($2 * SCALE))
	shift 2
	timeout -k 3 "$__s" "$@" <&0 &
	BG_PIDS+=($!)
	printf -v "$__var" '%s' "$!"
}

# reap PID VAR: wait for a background job (bounded by its own timeout) and
# put its exit code in VAR.
reap() {
	local __rc __p __keep=()
	wait "$1"
	__rc=$?
	# What the job left behind in its process group goes now, while the
	# group number cannot have been reused; the pid leaves the list.
	kill -TERM -- "-$1" 2>/dev/null
	for __p in "${BG_PIDS[@]}"; do
		[ "$__p" = "$1" ] || __keep+=("$__p")
	done
	BG_PIDS=("${__keep[@]}")
	printf -v "$2" '%s' "$__rc"
}

# reap_listener PID VAR: the connecting side is done; give the listener
# $LISTENER_GRACE seconds (default 5, times the scale) to end by itself,
# then kill it (exit 124 or 143), and put its exit code in VAR.
reap_listener() {
	if ! wait_gone "$1" "${LISTENER_GRACE:-5}"; then
		note "listener $1 still running after the peer ended: killed"
		kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null
	fi
	reap "$1" "$2"
}

# alive PID: is the job still running?
alive() {
	kill -0 "$1" 2>/dev/null
}

# wait_gone PID SECS: wait up to SECS for a job to end by itself; returns
# non-zero if it is still running.
wait_gone() {
	local i
	for ((i = 0; i < $2 * SCALE * 20; i++)); do
		alive "$1" || return 0
		sleep 0.05
	done
	return 1
}

# start_listener OUTVAR ERRFILE CMD...: run `CMD... --listen 127.0.0.1:0`
# (or CMD with its argument @LISTEN@ replaced by --listen 127.0.0.1:0;
# LISTEN_ADDR replaces 127.0.0.1, LISTEN_SHOWN how zktls prints it)
# in the background (stdin/stdout as redirected by the caller, stderr to
# ERRFILE), wait up to 10 s for its first stderr line "zktls: listening on
# 127.0.0.1:PORT" (or tlspeer's), and put PORT in OUTVAR.  The job's pid is in LPID.
# Lifetime: $LISTENER_LIFE seconds (default 60), times the scale.  If it
# does not listen, that is a failure: the test ends, or with
# LISTENER_SOFT=1 start_listener returns 1 with the exit in LISTENER_RC.
start_listener() {
	local __var=$1 __err=$2 __line="" __i __port __a __cmd=() __placed=0
	shift 2
	for __a in "$@"; do
		if [ "$__a" = @LISTEN@ ]; then
			__cmd+=(--listen "${LISTEN_ADDR:-127.0.0.1}:0")
			__placed=1
		else
			__cmd+=("$__a")
		fi
	done
	[ $__placed = 1 ] || __cmd+=(--listen "${LISTEN_ADDR:-127.0.0.1}:0")
	bg LPID "${LISTENER_LIFE:-60}" "${__cmd[@]}" 2>"$__err"
	for ((__i = 0; __i < 10 * SCALE * 20; __i++)); do
		__line=$(head -n 1 "$__err" 2>/dev/null)
		__line=${__line#tlspeer: }   # tests/tools/tlspeer says so too
		__line=${__line#zktls: }
		# --json: {"event":"listening",...,"message":"listening on A:P"}
		[[ $__line =~ ^\{\"event\":\"listening\".*\"message\":\"([^\"]*)\" ]] &&
			__line=${BASH_REMATCH[1]}
		case $__line in
		"listening on ${LISTEN_SHOWN:-127.0.0.1}:"*)
			__port=${__line#"listening on ${LISTEN_SHOWN:-127.0.0.1}:"}
			if [[ $__port =~ ^[0-9]+$ ]]; then
				printf -v "$__var" '%s' "$__port"
				return 0
			fi
			;;
		esac
		if ! alive "$LPID"; then
			reap "$LPID" LISTENER_RC
			fail "listener exited ($LISTENER_RC) before listening: ${__cmd[*]}" "$__err"
			[ "${LISTENER_SOFT:-0}" = 1 ] && return 1
			finish
		fi
		sleep 0.05
	done
	LISTENER_RC=124
	fail "listener printed no 'listening on' line within 10 s: ${__cmd[*]}" "$__err"
	[ "${LISTENER_SOFT:-0}" = 1 ] && return 1
	finish
}

# start_peer OUTVAR ERRFILE CMD...: like start_listener for a helper
# (relay.py, tcppeer.py) that prints its port as its first stdout line;
# stdout goes to ERRFILE.out.  The job's pid is in PPID_.
start_peer() {
	local __var=$1 __err=$2 __line="" __i
	shift 2
	bg PPID_ "${LISTENER_LIFE:-60}" "$@" >"$__err.out" 2>"$__err"
	for ((__i = 0; __i < 10 * SCALE * 20; __i++)); do
		__line=$(head -n 1 "$__err.out" 2>/dev/null)
		if [[ $__line =~ ^[0-9]+$ ]]; then
			printf -v "$__var" '%s' "$__line"
			return 0
		fi
		if ! alive "$PPID_"; then
			die "helper exited before printing its port: $*" "$__err" "$__err.out"
		fi
		sleep 0.05
	done
	die "helper printed no port within 10 s: $*" "$__err" "$__err.out"
}

# wait_for_line FILE REGEX SECS [PID]: wait until FILE has a line matching
# REGEX (grep -E); fails after SECS (times the scale) or when PID ends.
wait_for_line() {
	local i
	for ((i = 0; i < $3 * SCALE * 20; i++)); do
		grep -aqE -- "$2" "$1" 2>/dev/null && return 0
		if [ -n "${4:-}" ] && ! alive "$4"; then
			grep -aqE -- "$2" "$1" 2>/dev/null
			return
		fi
		sleep 0.05
	done
	return 1
}

# ------------------------------------------------------------- data, PKI

# mkdata FILE SIZE: SIZE (e.g. 32M, 1, 0) pseudo-random bytes in FILE.
mkdata() {
	gen_stream "$2" "$TEST_NAME$RANDOM" >"$1" || die "cannot make $1"
}

# fsize FILE: its size in bytes (0 if absent).
fsize() {
	stat -c %s "$1" 2>/dev/null || echo 0
}

# PKI: tests/host/mkcerts.sh, once per test (or shared via ZKTLS_TEST_PKI,
# made under a lock).
if [ -n "${ZKTLS_TEST_PKI:-}" ]; then
	PKI=$ZKTLS_TEST_PKI
	mkdir -p "$(dirname "$PKI")"
	(flock 9; bash "$HOST_DIR/mkcerts.sh" "$PKI" >/dev/null) 9>"$PKI.lock" ||
		die "mkcerts.sh failed"
else
	PKI=$T/pki
	bash "$HOST_DIR/mkcerts.sh" "$PKI" >/dev/null || die "mkcerts.sh failed"
fi

# COMMON: options every zktls run in the tests gets (a short timeout, no
# progress lines).  TLS_A / TLS_B: the full TLS options of alpha (sender)
# and beta (receiver), each trusting ca.pem and naming the other.
COMMON=(--timeout $((10 * SCALE)) --no-progress)
[ -n "${ZKTLS_TEST_MODE:-}" ] && COMMON+=(--mode "$ZKTLS_TEST_MODE")
TLS_A=(--cert "$PKI/alpha.pem" --key "$PKI/alpha.key" --ca "$PKI/ca.pem"
	--peer-name beta "${COMMON[@]}")
TLS_B=(--cert "$PKI/beta.pem" --key "$PKI/beta.key" --ca "$PKI/ca.pem"
	--peer-name alpha "${COMMON[@]}")

# ------------------------------------------------------------- fake zfs

# argv_line ARG...: one fakezfs log line (arguments joined by 0x1f).
argv_line() {
	local IFS=$'\037'
	echo "$*"
}

# fake_calls LOG VERB: the logged invocations whose first argument is VERB.
fake_calls() {
	grep -a "^$2"$'\037' "$1" 2>/dev/null
}

# ------------------------------------------------------------- transfers

# gen_stream SIZE [SEED]: write SIZE (e.g. 1G) pseudo-random bytes to
# stdout; the same SEED gives the same bytes.
gen_stream() {
	local n
	n=$(numfmt --from=iec "$1") || return 2
	# openssl dies of SIGPIPE when head is done: head's status counts.
	openssl enc -aes-128-ctr -nosalt -pass "pass:${2:-zktls}" -pbkdf2 \
		-in /dev/zero 2>/dev/null | head -c "$n"
	return "${PIPESTATUS[1]}"
}

# run_push TAG [RECV-OPTION...] -- [SEND-OPTION...]
# run_pull TAG [SEND-OPTION...] -- [RECV-OPTION...]
#	One pipe-mode transfer of $T/TAG.in (or $T/in): push = the receiver
#	listens and the sender connects, pull = the other way round.  The
#	options are added after the subcommand (give the TLS options too).
#	Leaves $T/TAG.out (the receiver's stdout), $T/TAG.send.err,
#	$T/TAG.recv.err, and the exit codes in SEND_RC and RECV_RC (255: not
#	run, as the listener failed to listen).  Each side has $XFER_LIMIT
#	seconds (default 30).
run_push() { _run_pair push "$@"; }
run_pull() { _run_pair pull "$@"; }
_run_pair() {
	local how=$1 tag=$2 lopts=() copts=() in=$T/in port
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		lopts+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	copts=("$@")
	[ -f "$T/$tag.in" ] && in=$T/$tag.in
	[ -f "$in" ] || : >"$in"
	rm -f "$T/$tag.out"
	if [ "$how" = push ]; then
		if ! LISTENER_SOFT=1 LISTENER_LIFE=${XFER_LIMIT:-30} \
			start_listener port "$T/$tag.recv.err" "$ZK" pipe recv \
			"${lopts[@]}" >"$T/$tag.out" </dev/null; then
			RECV_RC=$LISTENER_RC SEND_RC=255
			return 1
		fi
		bounded "${XFER_LIMIT:-30}" "$ZK" pipe send \
			--connect "127.0.0.1:$port" "${copts[@]}" \
			<"$in" >/dev/null 2>"$T/$tag.send.err"
		SEND_RC=$?
		reap_listener "$LPID" RECV_RC
	else
		if ! LISTENER_SOFT=1 LISTENER_LIFE=${XFER_LIMIT:-30} \
			start_listener port "$T/$tag.send.err" "$ZK" pipe send \
			"${lopts[@]}" <"$in" >/dev/null; then
			SEND_RC=$LISTENER_RC RECV_RC=255
			return 1
		fi
		bounded "${XFER_LIMIT:-30}" "$ZK" pipe recv \
			--connect "127.0.0.1:$port" "${copts[@]}" \
			</dev/null >"$T/$tag.out" 2>"$T/$tag.recv.err"
		RECV_RC=$?
		reap_listener "$LPID" SEND_RC
	fi
	note "$how $tag: send $SEND_RC, recv $RECV_RC"
}

# relay_push TAG RELAY-OPTION... / relay_pull TAG RELAY-OPTION...
#	A pipe-mode transfer of $T/in through relay.py: push = the receiver
#	listens, the relay forwards to it, the sender connects to the relay;
#	pull = the sender listens.  Both ends use TLS_A / TLS_B plus
#	$RELAY_ZK_OPTS.  Leaves $T/TAG.{out,send.err,recv.err,relay.err},
#	SEND_RC and RECV_RC.
relay_push() { _relay_pair push "$@"; }
relay_pull() { _relay_pair pull "$@"; }
_relay_pair() {
	local how=$1 tag=$2 port rport extra=()
	shift 2
	read -r -a extra <<<"${RELAY_ZK_OPTS:-}"
	rm -f "$T/$tag.out"
	if [ "$how" = push ]; then
		start_listener port "$T/$tag.recv.err" "$ZK" pipe recv \
			"${TLS_B[@]}" "${extra[@]}" >"$T/$tag.out" </dev/null
	else
		start_listener port "$T/$tag.send.err" "$ZK" pipe send \
			"${TLS_A[@]}" "${extra[@]}" <"$T/in"
	fi
	local lpid=$LPID
	start_peer rport "$T/$tag.relay.err" python3 "$RELAY" \
		--to "127.0.0.1:$port" --lifetime 30 "$@"
	if [ "$how" = push ]; then
		bounded 30 "$ZK" pipe send --connect "127.0.0.1:$rport" \
			"${TLS_A[@]}" "${extra[@]}" <"$T/in" >/dev/null \
			2>"$T/$tag.send.err"
		SEND_RC=$?
		reap_listener "$lpid" RECV_RC
	else
		bounded 30 "$ZK" pipe recv --connect "127.0.0.1:$rport" \
			"${TLS_B[@]}" "${extra[@]}" </dev/null >"$T/$tag.out" \
			2>"$T/$tag.recv.err"
		RECV_RC=$?
		reap_listener "$lpid" SEND_RC
	fi
	note "relay $how $tag: send $SEND_RC, recv $RECV_RC"
}

# assert_prefix PART WHOLE: PART is shorter than WHOLE and a prefix of it.
assert_prefix() {
	local n w
	n=$(fsize "$1")
	w=$(fsize "$2")
	if [ "$n" -ge "$w" ]; then
		fail "$1 should be shorter than $2 ($n >= $w bytes)"
		return 1
	fi
	[ "$n" -eq 0 ] && return 0
	cmp -s -n "$n" "$1" "$2" && return 0
	fail "$1 is not a prefix of $2: $(cmp -n "$n" "$1" "$2" 2>&1 | head -n 1)"
	return 1
}

# assert_not_ok ERRFILE: no session line claims success.
assert_not_ok() {
	grep -qE '^zktls: (sent|received) .*, ok$|"result":"ok"' "$1" || return 0
	fail "$1 claims success" "$1"
	return 1
}

# zfs_push TAG / zfs_pull TAG: one zfs-mode transfer with fakezfs on both
# sides.  The caller sets arrays ZS_ARGS (sender: "send" and its
# arguments) and ZR_ARGS (receiver: "recv" ...), each holding @LISTEN@ or
# @CONNECT@ where the address option goes (appended at the end if
# absent), and optionally ZS_ENV / ZR_ENV (extra VAR=VALUE for each
# side, overriding the defaults).  The sender's fake zfs sends $T/stream,
# knows the snapshots in $FAKE_SNAPS (default "pool/fs@a pool/fs@b") and
# their guids (101, 102); the receiver's reports guid 102 for any name
# and, like zfs, fails on a stream shorter than $T/stream.  Leaves
# $T/TAG.{send,recv}.err, the fake zfs logs $T/TAG.{send,recv}.log, what
# the fake "zfs receive" got in $T/TAG.zout, and SEND_RC / RECV_RC (255:
# not run, as the listener failed to listen).
zfs_push() { _zfs_pair push "$@"; }
zfs_pull() { _zfs_pair pull "$@"; }
_zfs_pair() {
	local how=$1 tag=$2 port
	rm -f "$T/$tag".{zout,send.log,recv.log,send.err,recv.err}
	local senv=(env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_LOG="$T/$tag.send.log"
		ZKTLS_FAKE_STREAM="$T/stream"
		ZKTLS_FAKE_SNAPS="${FAKE_SNAPS:-pool/fs@a pool/fs@b}"
		ZKTLS_FAKE_GUIDS="pool/fs@a=101 pool/fs@b=102"
		"${ZS_ENV[@]}")
	local renv=(env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_LOG="$T/$tag.recv.log"
		ZKTLS_FAKE_OUT="$T/$tag.zout" ZKTLS_FAKE_GUID=102
		ZKTLS_FAKE_RECV_EXPECT="$(fsize "$T/stream")" "${ZR_ENV[@]}")
	if [ "$how" = push ]; then
		if ! LISTENER_SOFT=1 LISTENER_LIFE=30 start_listener port \
			"$T/$tag.recv.err" "${renv[@]}" "$ZK" "${ZR_ARGS[@]}" \
			</dev/null >/dev/null; then
			RECV_RC=$LISTENER_RC SEND_RC=255
			return 1
		fi
		_with_connect "$port" "${ZS_ARGS[@]}"
		bounded 30 "${senv[@]}" "$ZK" "${_ARGS[@]}" </dev/null \
			>/dev/null 2>"$T/$tag.send.err"
		SEND_RC=$?
		reap_listener "$LPID" RECV_RC
	else
		if ! LISTENER_SOFT=1 LISTENER_LIFE=30 start_listener port \
			"$T/$tag.send.err" "${senv[@]}" "$ZK" "${ZS_ARGS[@]}" \
			</dev/null >/dev/null; then
			SEND_RC=$LISTENER_RC RECV_RC=255
			return 1
		fi
		_with_connect "$port" "${ZR_ARGS[@]}"
		bounded 30 "${renv[@]}" "$ZK" "${_ARGS[@]}" </dev/null \
			>/dev/null 2>"$T/$tag.recv.err"
		RECV_RC=$?
		reap_listener "$LPID" SEND_RC
	fi
	note "zfs $how $tag: send $SEND_RC, recv $RECV_RC"
}
ZS_ENV=() ZR_ENV=() ZS_ARGS=() ZR_ARGS=()

# _with_connect PORT ARG...: ARGs with @CONNECT@ (or, if absent, the end)
# made "--connect 127.0.0.1:PORT", into the array _ARGS.
_with_connect() {
	local p=$1 a placed=0
	shift
	_ARGS=()
	for a in "$@"; do
		if [ "$a" = @CONNECT@ ]; then
			_ARGS+=(--connect "127.0.0.1:$p")
			placed=1
		else
			_ARGS+=("$a")
		fi
	done
	[ $placed = 1 ] || _ARGS+=(--connect "127.0.0.1:$p")
}

# assert_calls LOG VERB ARGV-LINE...: the fake zfs invocations in LOG whose
# first argument is VERB are exactly the given lines (argv_line format),
# in order.
assert_calls() {
	local log=$1 verb=$2 want got
	shift 2
	want=$(for l in "$@"; do echo "$l"; done)
	got=$(fake_calls "$log" "$verb")
	[ "$want" = "$got" ] && return 0
	fail "fake zfs '$verb' calls in $(basename "$log") differ:
      want: $(echo "$want" | tr '\037' ' ' | sed '2,$s/^/            /')
      got:  $(echo "$got" | tr '\037' ' ' | sed '2,$s/^/            /')"
	return 1
}

# ------------------------------------------------------------- serve

# serve_conf FILE [LINE...]: a zktls.conf for serve tests: listen on
# 127.0.0.1:0 with beta's certificate and the test CA, metrics in
# $T/metrics.prom, then the given lines (client blocks).
serve_conf() {
	local f=$1
	shift
	mkdir -p -m 0755 "$T/state"
	{
		echo "listen 127.0.0.1:0"
		echo "cert $PKI/beta.pem"
		echo "key $PKI/beta.key"
		echo "ca $PKI/ca.pem"
		echo "timeout $((10 * SCALE))"
		echo "metrics $T/metrics.prom"
		echo "state-dir $T/state"
		echo "user nobody"
		# not root: serve only starts without its monitor when told
		[ "$(id -u)" = 0 ] || echo "privsep no"
		printf '%s\n' "$@"
	} >"$f"
}

# silent N PORT: N silent clients for 30 s (one process), in the
# background; returns once all are connected.
silent() {
	bg _ 40 python3 -c '
import socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[2])))
         for _ in range(int(sys.argv[1]))]
print("connected", len(socks), flush=True)
time.sleep(30)' "$1" "$2" >"$T/silent.$2.out" 2>&1
	wait_for_line "$T/silent.$2.out" '^connected' 10 ||
		fail "silent clients did not connect" "$T/silent.$2.out"
}

# flood VAR FROM HOST PORT RATE SECS: in the background (its pid, of the
# timeout(1) wrapper, in VAR), RATE silent TCP connections a second for
# SECS seconds to HOST:PORT, each kept open until the flood ends (and a
# second more): from the address FROM, or, where FROM is an IPv6 network
# ("2001:db8:0:1::/64", which must be local: an AnyIP route), each from
# a random address of it (IPV6_FREEBIND).  Returns once it has begun;
# $T/flood.out says "opened N in S s (R/s), F failed" at its end.
flood() {
	bg "$1" 40 python3 - "$2" "$3" "$4" "$5" "$6" <<'PY' >"$T/flood.out" 2>&1
import errno, ipaddress, random, socket, sys, time
IPV6_FREEBIND = 78
src, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
rate, secs = int(sys.argv[4]), int(sys.argv[5])
net = ipaddress.ip_network(src) if "/" in src else None
family = socket.AF_INET6 if ":" in host else socket.AF_INET
socks, fails = [], 0
t0 = time.monotonic()
print("flooding", flush=True)
for i in range(rate * secs):
    delay = t0 + i / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    s = socket.socket(family, socket.SOCK_STREAM)
    if net is not None:
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_FREEBIND, 1)
        s.bind((str(net[random.randrange(net.num_addresses)]), 0))
    else:
        s.bind((src, 0))
    s.setblocking(False)
    e = s.connect_ex((host, port))
    if e in (0, errno.EINPROGRESS):
        socks.append(s)
    else:
        s.close()
        fails += 1
took = time.monotonic() - t0
print("opened %d in %.1f s (%.0f/s), %d failed" %
      (len(socks), took, len(socks) / took, fails), flush=True)
time.sleep(1)
for s in socks:
    s.close()
PY
	wait_for_line "$T/flood.out" '^flooding' 10 || die "no flood" "$T/flood.out"
}

# start_serve ERRFILE CONF [VAR=VALUE...]: run "zktls serve --config CONF"
# (and the array SERVE_ARGS, if set) in the background with the stand-in zfs (VAR=VALUE for it), its fake
# receives writing to $T/srv.out/, its log in $T/srv.zfs.log; wait for its
# "listening on" line: the port in SPORT, the pid (of the timeout(1)
# wrapper) in SPID, zktls's own pid in SERVE_PID.
start_serve() {
	local err=$1 conf=$2 i line
	shift 2
	mkdir -p "$T/srv.out"
	rm -f "$T/serve.pid"
	# shellcheck disable=SC2016
	bg SPID "${SERVE_LIFE:-120}" env ZKTLS_ZFS="$FAKEZFS" \
		ZKTLS_FAKE_OUTDIR="$T/srv.out" ZKTLS_FAKE_LOG="$T/srv.zfs.log" \
		"$@" bash -c 'echo $$ >"$0"; exec "${@}"' "$T/serve.pid" \
		"$ZK" serve --config "$conf" ${SERVE_ARGS[@]+"${SERVE_ARGS[@]}"} \
		</dev/null >/dev/null 2>"$err"
	for ((i = 0; i < 10 * SCALE * 20; i++)); do
		line=$(head -n 1 "$err" 2>/dev/null)
		if [[ $line =~ ^zktls:\ listening\ on\ 127\.0\.0\.1:([0-9]+)$ ||
			$line =~ ^\{\"event\":\"listening\".*\"message\":\"listening\ on\ 127\.0\.0\.1:([0-9]+)\"\}$ ]]; then
			SPORT=${BASH_REMATCH[1]}
			SERVE_PID=$(cat "$T/serve.pid")
			return 0
		fi
		alive "$SPID" || die "zktls serve exited before listening" "$err"
		sleep 0.05
	done
	die "zktls serve printed no 'listening on' line" "$err"
}

# client_pki NAME...: a CA-signed certificate with SAN DNS:NAME for each,
# as $PKI/NAME.pem / .key (made once per PKI).
client_pki() {
	local n
	# (under the PKI's lock: tests that share one, ZKTLS_TEST_PKI, run
	# side by side and may want the same names)
	exec 8>"$PKI.lock"
	flock 8
	for n in "$@"; do
		[ -f "$PKI/$n.pem" ] && continue
		(cd "$PKI" &&
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
				-nodes -keyout "$n.key" -out "$n.csr" -subj "/CN=$n" \
				2>/dev/null &&
			printf 'subjectAltName=DNS:%s\nextendedKeyUsage=clientAuth,serverAuth\n' "$n" >"$n.ext" &&
			openssl x509 -req -in "$n.csr" -CA ca.pem -CAkey ca.key \
				-CAcreateserial -out "$n.pem" -days 30 \
				-extfile "$n.ext" 2>/dev/null &&
			rm -f "$n.csr" "$n.ext") || { flock -u 8; die "cannot make a certificate for $n"; }
	done
	flock -u 8
	exec 8>&-
}

# slow_push: in the background ($! its PID), the client whose options
# are in A pushes pool/home@a ($T/stream, guid 102) to serve on $SPORT,
# its zfs send taking 3 s to start; stderr in $T/send.err.
slow_push() {
	bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_STREAM="$T/stream" \
		ZKTLS_FAKE_SNAPS=pool/home@a ZKTLS_FAKE_GUIDS=pool/home@a=102 \
		ZKTLS_FAKE_SEND_DELAY=3 "$ZK" send pool/home@a \
		--connect "127.0.0.1:$SPORT" "${A[@]}" </dev/null >/dev/null \
		2>"$T/send.err" &
}

# as_client NAME: TLS options of a client NAME talking to serve (beta).
as_client() {
	echo --cert "$PKI/$1.pem" --key "$PKI/$1.key" --ca "$PKI/ca.pem" \
		--peer-name beta "${COMMON[@]}"
}
