#!/usr/bin/env bash
#
# Description:
#	zktls list prints what a server says; a hostile server's resume
#	token is peer text like any other: it reaches the terminal only as
#	printable text (no escape sequences, no bidi overrides), and --json
#	output stays one valid object per line with the keys zktls gives it.
#
# Strategy:
#	tlspeer plays a server that answers LIST with no entries and the
#	token 1-a","admin":true,"x":" followed by U+202E, a UTF-8 C1 CSI
#	and a raw 0x9B byte (C0 controls the protocol itself refuses).
#	1. zktls list: exit 0; the token line is printed with U+202E, the
#	   CSI and 0x9B escaped (\u{202E}, \u{009B}, \x9B); the output is
#	   printable UTF-8.
#	2. zktls list --json: every line is a JSON object; the token's has
#	   one key, receive_resume_token; the output is printable UTF-8.
#
. "$(dirname "$0")/lib.sh"

evil=$'1-a","admin":true,"x":"\342\200\256\302\23331m\233'
check_printable() {
	python3 - "$1" >"$1.check" 2>&1 <<'PY' || fail "$1 holds unsafe text: $(cat "$1.check")" "$1"
import sys
raw = open(sys.argv[1], "rb").read()
try:
    text = raw.decode("utf-8")
except UnicodeDecodeError as e:
    sys.exit(f"not UTF-8: {e}")
for i, ch in enumerate(text):
    o = ord(ch)
    if ch in "\n\t":
        continue
    if o < 0x20 or 0x7f <= o < 0xa0 or ch in "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029\ufeff":
        sys.exit(f"unsafe character U+{o:04X} at {i}")
PY
}
hostile() { # TAG [LIST-ARGS...]: zktls list against the hostile server
	local tag=$1 port
	shift
	start_listener port "$T/$tag.peer.err" "$TLSPEER" --role list \
		--token "$evil" --cert "$PKI/beta.pem" --key "$PKI/beta.key" \
		--ca "$PKI/ca.pem" --peer-name alpha </dev/null >/dev/null
	bounded 20 "$ZK" list --connect "127.0.0.1:$port" "${TLS_A[@]}" "$@" \
		backup/alpha >"$T/$tag.out" 2>"$T/$tag.err"
	RC=$?
	reap_listener "$LPID" PRC
}

# 1. text
hostile text
assert_rc 0 "$RC" "zktls list" "$T/text.err"
check_printable "$T/text.out"
assert_line $'receive_resume_token\t1-a","admin":true,"x":"\\u{202E}\\u{009B}31m\\x9B' "$T/text.out"

# 2. JSON
hostile json --json
assert_rc 0 "$RC" "zktls list --json" "$T/json.err"
check_printable "$T/json.out"
python3 - "$T/json.out" >"$T/json.check" 2>&1 <<'PY' || fail "JSON output: $(cat "$T/json.check")" "$T/json.out"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert len(lines) == 1, f"{len(lines)} lines"
obj = json.loads(lines[0])
assert list(obj) == ["receive_resume_token"], f"keys {list(obj)}"
assert obj["receive_resume_token"].startswith('1-a","admin":true'), obj
PY

finish "a hostile resume token: escaped for the terminal, one key in JSON"
