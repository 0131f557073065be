#!/usr/bin/env bash
#
# Description:
#	Stream sizes at both ends of the scale cross intact: 1 GiB piped
#	through (never stored on disk), an empty stream and a 1-byte stream.
#
# Strategy:
#	1. Generate 1 GiB of pseudo-random bytes (AES-CTR keystream) into
#	   "zktls pipe send", hashing it on the way (tee to a FIFO read by
#	   openssl dgst); the listening "zktls pipe recv --json" pipes into
#	   another SHA-256.  Both exit 0, the hashes match, the receiver's
#	   JSON session event says bytes 1073741824, plane user, result ok,
#	   and the sender's session line says 1.0 GiB.
#	2. An empty stream: both exit 0, the output exists and is empty,
#	   both session lines say "0 B".
#	3. A 1-byte stream: both exit 0, cmp ok, "1 B".
#
. "$(dirname "$0")/lib.sh"

# 1. 1 GiB, hashed on both sides
mkfifo "$T/fifo"
bg hpid 180 bash -c 'exec openssl dgst -sha256 -r <"$1" >"$2"' _ \
	"$T/fifo" "$T/in.sha"
LISTENER_LIFE=180 start_listener port "$T/big.recv.err" bash -c \
	'out=$1; shift; "$@" | openssl dgst -sha256 -r >"$out"; exit "${PIPESTATUS[0]}"' \
	_ "$T/out.sha" "$ZK" pipe recv "${TLS_B[@]}" --json </dev/null
gen_stream 1G big | tee "$T/fifo" |
	bounded 180 "$ZK" pipe send --connect "127.0.0.1:$port" "${TLS_A[@]}" \
		2>"$T/big.send.err"
st=("${PIPESTATUS[@]}")
assert_rc 0 "${st[0]}" "generator"
assert_rc 0 "${st[1]}" "tee"
assert_rc 0 "${st[2]}" "1 GiB: sender" "$T/big.send.err"
reap "$LPID" rc
assert_rc 0 "$rc" "1 GiB: receiver" "$T/big.recv.err"
reap "$hpid" rc
assert_rc 0 "$rc" "input hash"
want=$(cut -d' ' -f1 "$T/in.sha")
got=$(cut -d' ' -f1 "$T/out.sha")
[[ $want =~ ^[0-9a-f]{64}$ ]] || fail "no input hash: '$want'"
assert_eq "$want" "$got" "SHA-256 of 1 GiB received"
grep '"event":"session"' "$T/big.recv.err" >"$T/big.json"
python3 - "$T/big.json" <<'PY' || fail "receiver's JSON session event is wrong" "$T/big.json"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert len(ev) == 1, ev
e = ev[0]
assert e["bytes"] == 1 << 30, e
assert e["plane"] == "user" and e["result"] == "ok" and e["exit"] == 0, e
assert e["role"] == "receiver" and e["peer"] == "DNS:alpha", e
PY
grep -qE '^zktls: sent stream to DNS:beta \(127\.0\.0\.1:[0-9]+\): 1\.0 GiB in [0-9.]+ s, [0-9.]+ MiB/s, plane user, .*, ok$' \
	"$T/big.send.err" || fail "sender's session line is wrong" "$T/big.send.err"
rate=$(sed -n 's/.*1\.0 GiB in \([0-9.]*\) s, \([0-9.]*\) MiB\/s.*/\2/p' "$T/big.send.err")

# 2. empty stream
: >"$T/empty.in"
run_push empty "${TLS_B[@]}" -- "${TLS_A[@]}"
assert_rc 0 "$SEND_RC" "empty: sender" "$T/empty.send.err"
assert_rc 0 "$RECV_RC" "empty: receiver" "$T/empty.recv.err"
[ -f "$T/empty.out" ] || fail "empty: no output file"
assert_empty "$T/empty.out"
grep -qE '^zktls: sent stream to DNS:beta \(.*\): 0 B in .*, ok$' "$T/empty.send.err" ||
	fail "empty: sender's session line" "$T/empty.send.err"
grep -qE '^zktls: received stream from DNS:alpha \(.*\): 0 B in .*, ok$' "$T/empty.recv.err" ||
	fail "empty: receiver's session line" "$T/empty.recv.err"

# 3. one byte
printf 'x' >"$T/one.in"
run_pull one "${TLS_A[@]}" -- "${TLS_B[@]}"
assert_rc 0 "$SEND_RC" "1 byte: sender" "$T/one.send.err"
assert_rc 0 "$RECV_RC" "1 byte: receiver" "$T/one.recv.err"
assert_file_eq "$T/one.in" "$T/one.out"
grep -qE '^zktls: received stream from DNS:alpha \(.*\): 1 B in .*, ok$' "$T/one.recv.err" ||
	fail "1 byte: receiver's session line" "$T/one.recv.err"

finish "1 GiB (sender at ${rate:-?} MiB/s), 0 B and 1 B streams intact"
