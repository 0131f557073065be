#!/usr/bin/env bash
#
# Description:
#	With --json every line zktls writes to stderr is one JSON object,
#	from the first line on (the "listening on" notice too, still
#	carrying the words "listening on ADDR:PORT"), and each session ends with one {"event":"session", ...} object carrying the
#	byte count, data plane, result and exit code; this holds for
#	successes, transfer failures, handshake failures, and peers whose
#	certificate names contain JSON metacharacters.
#
# Strategy:
#	1. Push 1 MiB with --json on both ends: every line parses; one
#	   session event per side with role, peer CN, bytes 1048576, plane
#	   "user", a TLS 1.3 cipher, result "ok", exit 0.
#	2. The receiver's consumer stops early: the session events say
#	   result "failed" with the exit code each process really returned,
#	   and the error is a {"level":"error"} object.
#	3. A handshake failure (--peer-name gamma): all lines parse; the
#	   error object carries the exact message.
#	4. A pinned self-signed peer whose CN is  ev"il\x  : all lines still
#	   parse and the receiver's event names peer  CN=ev"il\x .
#	5. send --listen (a pull) with --progress: the first line is
#	   {"event":"listening","address":"127.0.0.1:PORT","message":
#	   "listening on 127.0.0.1:PORT"}, progress lines are
#	   {"event":"progress"} objects, every line parses.
#	6. serve --json, then sync --json and list --json against it: every
#	   line of all three parses; serve's first line is the listening
#	   event.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/in" 1M

# check_json ERRFILE ROLE PEER BYTES RESULT EXIT: validate one side.
# BYTES may be "-" (not checked).
check_json() {
	python3 - "$@" <<'PY' || fail "JSON log of $2 ($1) is wrong" "$1"
import json, sys
path, role, peer, nbytes, result, code = sys.argv[1:7]
objs, bad = [], []
for line in open(path, encoding="utf-8", errors="replace"):
    line = line.rstrip("\n")
    try:
        o = json.loads(line)
        assert isinstance(o, dict)
        objs.append(o)
    except Exception as e:
        bad.append(line)
if bad:
    sys.exit("not JSON: %r" % bad)
ev = [o for o in objs if o.get("event") == "session"]
if len(ev) != 1:
    sys.exit("expected one session event, got %d" % len(ev))
e = ev[0]
want = {"role": role, "peer": peer, "plane": "user", "result": result,
        "exit": int(code)}
for k, v in want.items():
    if e.get(k) != v:
        sys.exit("%s: want %r, got %r" % (k, v, e.get(k)))
if nbytes != "-" and e.get("bytes") != int(nbytes):
    sys.exit("bytes: want %s, got %r" % (nbytes, e.get("bytes")))
if not isinstance(e.get("bytes"), int) or not isinstance(e.get("seconds"), (int, float)):
    sys.exit("bytes/seconds are not numbers: %r" % e)
if e.get("cipher") not in ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                           "TLS_CHACHA20_POLY1305_SHA256"):
    sys.exit("cipher: %r" % e.get("cipher"))
# both sides on the user plane (AES-GCM): KeyUpdate keeps the key limit
ks = "chacha20" if "CHACHA20" in e.get("cipher") else "key_update"
if e.get("key_strategy") != ks:
    sys.exit("key_strategy: want %r, got %r" % (ks, e.get("key_strategy")))
errs = [o for o in objs if o.get("level") == "error"]
if result == "ok" and errs:
    sys.exit("error objects in a successful session: %r" % errs)
if result != "ok" and len(errs) != 1:
    sys.exit("expected one error object, got %r" % errs)
PY
}

# errors_json ERRFILE MESSAGE: all lines JSON, one error object, exact text.
errors_json() {
	python3 - "$@" <<'PY' || fail "JSON error log $1 is wrong" "$1"
import json, sys
path, msg = sys.argv[1:3]
objs = [json.loads(l) for l in open(path)]
errs = [o for o in objs if o.get("level") == "error"]
if [o.get("message") for o in errs] != [msg]:
    sys.exit("error objects: %r, want one with %r" % (errs, msg))
PY
}

# listening_json ERRFILE: the first line is the listening event, its
# message what the VM suite's wait_listen pattern looks for.
listening_json() {
	python3 - "$1" <<'PY' || fail "no JSON listening event first in $1" "$1"
import json, re, sys
first = open(sys.argv[1]).readline()
o = json.loads(first)
a = o.get("address", "")
if o.get("event") != "listening" or not re.fullmatch(r"127\.0\.0\.1:\d+", a):
    sys.exit("first line: %r" % first)
if o.get("message") != "listening on " + a:
    sys.exit("message: %r" % o.get("message"))
if not re.search(r"listening on [^ ]*:([0-9]+)", first):
    sys.exit("wait_listen's pattern does not match %r" % first)
PY
}

# all_json FILE...: every line of every FILE is a JSON object.
all_json() {
	local f
	for f in "$@"; do
		python3 -c 'import json,sys
for l in open(sys.argv[1]):
    assert isinstance(json.loads(l), dict), l' "$f" ||
			fail "not all JSON: $f" "$f"
	done
}

# 1. success
run_push ok "${TLS_B[@]}" --json -- "${TLS_A[@]}" --json
assert_rc 0 "$SEND_RC" "success: sender" "$T/ok.send.err"
assert_rc 0 "$RECV_RC" "success: receiver" "$T/ok.recv.err"
assert_file_eq "$T/in" "$T/ok.out"
listening_json "$T/ok.recv.err"
check_json "$T/ok.send.err" sender DNS:beta 1048576 ok 0
check_json "$T/ok.recv.err" receiver DNS:alpha 1048576 ok 0

# 2. a transfer failure: the consumer stops early
start_listener port "$T/fail.recv.err" bash -c \
	'"$@" | head -c 100 >/dev/null; exit "${PIPESTATUS[0]}"' _ \
	"$ZK" pipe recv "${TLS_B[@]}" --json </dev/null
mkdata "$T/big" 8M
bounded 20 "$ZK" pipe send --connect "127.0.0.1:$port" "${TLS_A[@]}" --json \
	<"$T/big" 2>"$T/fail.send.err"
src=$?
reap_listener "$LPID" rrc
assert_rc 5 "$rrc" "consumer stopped: receiver" "$T/fail.recv.err"
[ "$src" = 4 ] || [ "$src" = 5 ] || fail "consumer stopped: sender exit $src" "$T/fail.send.err"
check_json "$T/fail.recv.err" receiver DNS:alpha - failed "$rrc"
check_json "$T/fail.send.err" sender DNS:beta - failed "$src"
errors_json "$T/fail.recv.err" "the consumer stopped reading the stream"
errors_json "$T/fail.send.err" "receiver: the consumer stopped reading the stream"

# 3. a handshake failure
run_push hs "${TLS_B[@]}" --json -- "${TLS_A[@]}" --json --peer-name gamma
assert_rc 3 "$SEND_RC" "handshake failure: sender" "$T/hs.send.err"
errors_json "$T/hs.send.err" "server certificate does not match --peer-name gamma"
python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' \
	<"$T/hs.recv.err" || fail "handshake failure: receiver's log is not JSON" "$T/hs.recv.err"

# 4. JSON metacharacters in the peer's certificate name
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/evil.key" -out "$T/evil.pem" -days 30 \
	-subj '/CN=ev"il\\x' 2>/dev/null || die "cannot make evil.pem"
pin_evil=$("$ZK" pin "$T/evil.pem")
pin_beta=$("$ZK" pin "$PKI/beta.pem")
run_push evil --cert "$PKI/beta.pem" --key "$PKI/beta.key" \
	--peer-pin "$pin_evil" "${COMMON[@]}" --json -- \
	--cert "$T/evil.pem" --key "$T/evil.key" --peer-pin "$pin_beta" \
	"${COMMON[@]}" --json
assert_rc 0 "$SEND_RC" "evil CN: sender" "$T/evil.send.err"
assert_rc 0 "$RECV_RC" "evil CN: receiver" "$T/evil.recv.err"
check_json "$T/evil.recv.err" receiver 'CN=ev"il\x (pinned key)' 1048576 ok 0

# 5. send --listen (a pull), with progress lines
mkdata "$T/in5" 4M
start_listener port "$T/pull.send.err" "$ZK" pipe send "${TLS_A[@]}" --json \
	--progress <"$T/in5"
bounded 20 "$ZK" pipe recv --connect "127.0.0.1:$port" "${TLS_B[@]}" --json \
	--progress >"$T/pull.out" 2>"$T/pull.recv.err"
assert_exit 0 "pull: receiver" "$T/pull.recv.err"
reap_listener "$LPID" src
assert_rc 0 "$src" "pull: sender" "$T/pull.send.err"
assert_file_eq "$T/in5" "$T/pull.out"
listening_json "$T/pull.send.err"
all_json "$T/pull.send.err" "$T/pull.recv.err"
assert_grep '{"event":"progress","what":"","bytes":4194304,' "$T/pull.recv.err"

# 6. serve, sync and list
read -r -a A <<<"$(as_client alpha)"
serve_conf "$T/srv.conf" "client alpha {" "name alpha" "push backup/alpha" "}"
SERVE_ARGS=(--json)
start_serve "$T/srv.err" "$T/srv.conf" \
	"ZKTLS_FAKE_GUIDS=backup/alpha/exp@a=101"
SERVE_ARGS=()
bounded 30 env ZKTLS_ZFS="$FAKEZFS" \
	ZKTLS_FAKE_GUIDS="pool/exp@a=101 pool/exp@b=102" \
	ZKTLS_FAKE_SNAPS="pool/exp@a pool/exp@b" \
	"$ZK" sync --json --no-progress "${A[@]}" -n pool/exp "127.0.0.1:$SPORT" \
	>"$T/sync.out" 2>"$T/sync.err"
assert_exit 0 "sync --json -n" "$T/sync.err"
assert_grep '"event":"sync-summary"' "$T/sync.err"
bounded 20 "$ZK" list --json --connect "127.0.0.1:$SPORT" "${A[@]}" \
	backup/alpha/exp >"$T/list.out" 2>"$T/list.err"
assert_exit 0 "list --json" "$T/list.err"
kill -TERM "$SERVE_PID"
reap "$SPID" _
listening_json "$T/srv.err"
all_json "$T/srv.err" "$T/sync.err" "$T/list.err" "$T/list.out"

finish "JSON logs valid from the first line for success, failures, odd peer names, pulls, serve, sync and list"
