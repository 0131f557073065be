#!/usr/bin/env bash
#
# Description:
#	Text that comes from the peer (its zfs's error words in RESULT, the
#	names in its certificate) reaches the operator's terminal and logs
#	only as printable text: no escape sequences (C0 ESC, C1 CSI), no
#	bytes that are not UTF-8, no invisible right-to-left overrides.  JSON
#	output stays valid.
#
# Strategy:
#	1. The receiver's (stand-in) zfs fails with a message holding ESC
#	   sequences, a UTF-8 encoded C1 CSI, a raw 0x9B byte and U+202E.  The
#	   sender exits 5 and prints that message with each of them escaped
#	   (\u{009B}, \x9B, \u{202E}); every byte it printed is printable UTF-8.
#	2. The same with --json on both sides: every stderr line is a JSON
#	   object, the file is valid UTF-8 and holds no raw control.
#	3. A peer pinned by key (no CA) whose certificate's CN holds a C1 CSI
#	   and an ESC: the listener's session line names it escaped.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/stream" 64K
evil='cannot receive: \033[2J\302\23331m boom \233 \342\200\256gnp.exe'

# check_printable FILE: valid UTF-8 without controls (bar newline), C1,
# or direction overrides.
check_printable() {
	python3 - "$1" >"$1.check" 2>&1 <<'PY' || fail "$1 holds unsafe text: $(cat "$1.check")" "$1"
import sys, unicodedata
raw = open(sys.argv[1], "rb").read()
try:
    text = raw.decode("utf-8")
except UnicodeDecodeError as e:
    sys.exit(f"not UTF-8: {e}")
for i, ch in enumerate(text):
    o = ord(ch)
    if ch == "\n":
        continue
    if o < 0x20 or 0x7f <= o < 0xa0 or ch in "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029\ufeff":
        sys.exit(f"unsafe character U+{o:04X} at {i}")
PY
}

# 1. RESULT text
ZS_ARGS=(send pool/fs@a "${TLS_A[@]}")
ZR_ARGS=(recv backup "${TLS_B[@]}")
ZR_ENV=(ZKTLS_FAKE_RECV_FAIL=1 "ZKTLS_FAKE_RECV_ERR=$evil")
zfs_push text
assert_rc 5 "$SEND_RC" "sender, receiver's zfs failed" "$T/text.send.err"
assert_rc 5 "$RECV_RC" "receiver, its zfs failed" "$T/text.recv.err"
check_printable "$T/text.send.err"
check_printable "$T/text.recv.err"
assert_grep 'boom \x9B \u{202E}gnp.exe' "$T/text.send.err"
assert_grep '\u{009B}31m boom' "$T/text.send.err"

# 2. the same with --json
ZS_ARGS=(send pool/fs@a --json "${TLS_A[@]}")
ZR_ARGS=(recv backup --json "${TLS_B[@]}")
zfs_push json
assert_rc 5 "$SEND_RC" "json sender" "$T/json.send.err"
check_printable "$T/json.send.err"
check_printable "$T/json.recv.err"
python3 - "$T/json.send.err" "$T/json.recv.err" >"$T/json.check" 2>&1 <<'PY' || fail "JSON output invalid: $(cat "$T/json.check")"
import json, sys
for f in sys.argv[1:]:
    for n, line in enumerate(open(f, encoding="utf-8"), 1):
        if line.startswith("zktls: listening on "):
            continue
        obj = json.loads(line)
        assert isinstance(obj, dict), f"{f}:{n} not an object"
PY
grep -q 'boom \\\\x9B' "$T/json.send.err" || fail "json: raw byte not shown as \\\\x9B" "$T/json.send.err"

# 3. a certificate name with controls, peer pinned by key
(cd "$T" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout evil.key -out evil.pem -days 30 -utf8 \
	-subj "/CN=$(printf 'ev\302\233il\033[0m')" 2>/dev/null) || die "cannot make the evil certificate"
pin=$("$ZK" pin "$T/evil.pem") || die "zktls pin failed"
start_listener port "$T/pin.recv.err" "$ZK" pipe recv --cert "$PKI/beta.pem" \
	--key "$PKI/beta.key" --peer-pin "$pin" "${COMMON[@]}" >"$T/pin.out" </dev/null
bounded 20 "$ZK" pipe send --connect "127.0.0.1:$port" --cert "$T/evil.pem" \
	--key "$T/evil.key" --ca "$PKI/ca.pem" --peer-name beta "${COMMON[@]}" \
	<"$T/stream" >/dev/null 2>"$T/pin.send.err"
assert_exit 0 "sender with the evil certificate" "$T/pin.send.err"
reap_listener "$LPID" rc
assert_rc 0 "$rc" "pinned receiver" "$T/pin.recv.err"
check_printable "$T/pin.recv.err"
assert_grep 'ev\u{009B}il' "$T/pin.recv.err"

finish "peer text escaped in human and JSON output"
