#!/usr/bin/env bash
#
# Description:
#	With --json every line zktls writes to stderr (but the "listening
#	on" line scripts read the port from) is one JSON object, and each
#	session ends with one {"event":"session", ...} object carrying the
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
    if line.startswith("zktls: listening on "):
        continue
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
objs = [json.loads(l) for l in open(path)
        if not l.startswith("zktls: listening on ")]
errs = [o for o in objs if o.get("level") == "error"]
if [o.get("message") for o in errs] != [msg]:
    sys.exit("error objects: %r, want one with %r" % (errs, msg))
PY
}

# 1. success
run_push ok "${TLS_B[@]}" --json -- "${TLS_A[@]}" --json
assert_rc 0 "$SEND_RC" "success: sender" "$T/ok.send.err"
assert_rc 0 "$RECV_RC" "success: receiver" "$T/ok.recv.err"
assert_file_eq "$T/in" "$T/ok.out"
assert_line "zktls: listening on 127.0.0.1:$(sed -n 's/^zktls: listening on 127\.0\.0\.1://p' "$T/ok.recv.err")" "$T/ok.recv.err"
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
python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin if not l.startswith("zktls: listening on ")]' \
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

finish "JSON logs valid for success, failures and odd peer names"
