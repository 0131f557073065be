#!/usr/bin/env bash
#
# Description:
#	zktls listens on and connects to IPv6 addresses written [ADDR]:PORT;
#	the identity check is by certificate name, not by address.
#
# Strategy:
#	1. Skip (pass, saying so) when this host has no IPv6 loopback.
#	2. "pipe recv --listen [::1]:0" prints "listening on [::1]:PORT";
#	   "pipe send --connect [::1]:PORT" pushes 4 MiB: both exit 0, cmp
#	   ok, the session lines show the [::1] addresses.
#
. "$(dirname "$0")/lib.sh"

if ! python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	finish "skipped: no IPv6 loopback on this host"
fi
mkdata "$T/in" 4M
LISTEN_ADDR='[::1]' LISTEN_SHOWN='[::1]' start_listener port "$T/recv.err" \
	"$ZK" pipe recv "${TLS_B[@]}" >"$T/out" </dev/null
bounded 30 "$ZK" pipe send --connect "[::1]:$port" "${TLS_A[@]}" \
	<"$T/in" 2>"$T/send.err"
assert_exit 0 "pipe send over IPv6" "$T/send.err"
reap_listener "$LPID" rrc
assert_rc 0 "$rrc" "pipe recv over IPv6" "$T/recv.err"
assert_file_eq "$T/in" "$T/out"
assert_line "zktls: listening on [::1]:$port" "$T/recv.err"
assert_grep "zktls: sent stream to DNS:beta ([::1]:$port): 4.0 MiB in " "$T/send.err"
grep -qE '^zktls: received stream from DNS:alpha \(\[::1\]:[0-9]+\): 4\.0 MiB in .*, ok$' \
	"$T/recv.err" || fail "receiver's session line" "$T/recv.err"
finish "4 MiB over [::1]"
