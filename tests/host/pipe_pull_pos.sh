#!/usr/bin/env bash
#
# Description:
#	Pull a stream: the sender listens, the receiver connects.  64 MiB of
#	random bytes arrive byte-identical, both ends exit 0, and each logs
#	one session line naming the authenticated peer, the byte count and
#	"plane user".
#
# Strategy:
#	1. Make the test PKI and a 64 MiB random file.
#	2. Start "zktls pipe send" (alpha) listening on 127.0.0.1:0, stdin
#	   from the file.
#	3. Run "zktls pipe recv" (beta) connecting to it, stdout to a file.
#	4. Both exit 0; cmp input and output; each stderr has its session line
#	   (sent to DNS:beta / received from DNS:alpha, 64.0 MiB, plane user,
#	   the cipher and how it keeps the key limit, ok)
#	   and no error line.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/in" 64M
start_listener port "$T/send.err" "$ZK" pipe send "${TLS_A[@]}" <"$T/in"
bounded 60 "$ZK" pipe recv --connect "127.0.0.1:$port" "${TLS_B[@]}" \
	>"$T/out" 2>"$T/recv.err"
assert_exit 0 "pipe recv" "$T/recv.err"
reap "$LPID" src
assert_rc 0 "$src" "pipe send" "$T/send.err"

assert_file_eq "$T/in" "$T/out"
assert_line "zktls: listening on 127.0.0.1:$port" "$T/send.err"
re_tail='\(127\.0\.0\.1:[0-9]+\): 64\.0 MiB in [0-9.]+ s, [0-9.]+ MiB/s, plane user, TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256), (KeyUpdate at the key limit|no key limit \(ChaCha20: [a-z ]+\)), ok$'
grep -qE "^zktls: sent stream to DNS:beta $re_tail" "$T/send.err" ||
	fail "sender's session line is missing or wrong" "$T/send.err"
grep -qE "^zktls: received stream from DNS:alpha $re_tail" "$T/recv.err" ||
	fail "receiver's session line is missing or wrong" "$T/recv.err"
assert_no_grep "error" "$T/send.err"
assert_no_grep "error" "$T/recv.err"
finish "64 MiB pulled, identical"
