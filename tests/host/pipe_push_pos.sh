#!/usr/bin/env bash
#
# Description:
#	Push a stream: the receiver listens, the sender connects.  64 MiB of
#	random bytes arrive byte-identical over mutually-authenticated TLS 1.3
#	on the user data plane, both ends exit 0, and each logs one session
#	line naming the authenticated peer, the byte count and "plane user".
#
# Strategy:
#	1. Make the test PKI and a 64 MiB random file.
#	2. Start "zktls pipe recv" (beta) listening on 127.0.0.1:0, stdout to
#	   a file.
#	3. Run "zktls pipe send" (alpha) connecting to it, stdin from the file.
#	4. Both exit 0; cmp input and output; each stderr has its session line
#	   (sent to DNS:beta / received from DNS:alpha, 64.0 MiB, plane user,
#	   the cipher and how it keeps the key limit, ok)
#	   and no error line.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/in" 64M
start_listener port "$T/recv.err" "$ZK" pipe recv "${TLS_B[@]}" >"$T/out" </dev/null
bounded 60 "$ZK" pipe send --connect "127.0.0.1:$port" "${TLS_A[@]}" \
	<"$T/in" 2>"$T/send.err"
assert_exit 0 "pipe send" "$T/send.err"
reap "$LPID" rrc
assert_rc 0 "$rrc" "pipe recv" "$T/recv.err"

assert_file_eq "$T/in" "$T/out"
assert_line "zktls: listening on 127.0.0.1:$port" "$T/recv.err"
re_tail='\(127\.0\.0\.1:[0-9]+\): 64\.0 MiB in [0-9.]+ s, [0-9.]+ MiB/s, plane user, TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256), (KeyUpdate at the key limit|no key limit \(ChaCha20: [a-z ]+\)), ok$'
grep -qE "^zktls: sent stream to DNS:beta $re_tail" "$T/send.err" ||
	fail "sender's session line is missing or wrong" "$T/send.err"
grep -qE "^zktls: received stream from DNS:alpha $re_tail" "$T/recv.err" ||
	fail "receiver's session line is missing or wrong" "$T/recv.err"
assert_no_grep "error" "$T/send.err"
assert_no_grep "error" "$T/recv.err"
finish "64 MiB pushed, identical"
