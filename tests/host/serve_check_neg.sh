#!/usr/bin/env bash
#
# Description:
#	What the configuration names outside itself is checked wherever it
#	is loaded (--check-config, serve's start, SIGHUP), not found out by
#	every connection failing: the user exists and is not root; no client
#	is shadowed by an earlier one with its name (the first rule that
#	matches wins); the listen addresses can all be bound.  0.0.0.0:P
#	with [::]:P is what an admin means by "both families": both listen.
#
# Strategy:
#	1. --check-config exits 2 with "FILE: line N: ..." for: a user that
#	   does not exist; user root; a second client named like the first;
#	   listen 127.0.0.1:P after 0.0.0.0:P.  serve itself, started with
#	   user root, exits 2 with the same error before listening.
#	2. listen 0.0.0.0:P and [::]:P: --check-config is ok; serve listens
#	   on both, and takes TCP connections on 127.0.0.1:P and [::1]:P.
#	3. SIGHUP with user root: "reload failed, keeping the running
#	   configuration: ..."; serve takes connections on.
#
. "$(dirname "$0")/lib.sh"

serve_conf "$T/base.conf" "client alpha {" "name alpha" "push backup/alpha" "}"
uline=$(grep -n '^user' "$T/base.conf" | cut -d: -f1)
check() { # TAG: --check-config of $T/TAG.conf; rc in RC
	"$ZK" serve --config "$T/$1.conf" --check-config >"$T/$1.err" 2>&1
	RC=$?
}
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("0.0.0.0", 0)); print(s.getsockname()[1])')

# 1. errors
sed 's/^user .*/user zktls-no-such-user/' "$T/base.conf" >"$T/nouser.conf"
check nouser
expect_fail "a user that does not exist" 2 "$RC" "$T/nouser.err" \
	"$T/nouser.conf: line $uline: no user zktls-no-such-user for the network-facing processes (create it, or set user in the configuration)"
sed 's/^user .*/user root/' "$T/base.conf" >"$T/root.conf"
check root
expect_fail "user root" 2 "$RC" "$T/root.err" \
	"$T/root.conf: line $uline: user root is root: the network-facing processes must not be"
bounded 10 "$ZK" serve --config "$T/root.conf" </dev/null >/dev/null 2>"$T/rootserve.err"
expect_fail "serve with user root" 2 $? "$T/rootserve.err" \
	"$T/root.conf: line $uline: user root is root: the network-facing processes must not be"
assert_no_grep "listening on" "$T/rootserve.err"
{ cat "$T/base.conf"; printf 'client alpha2 {\n\tname beta\n\tname alpha\n\tpull pool/x\n}\n'; } >"$T/dup.conf"
bline=$(grep -n '^client alpha2' "$T/dup.conf" | cut -d: -f1)
aline=$(grep -n '^client alpha ' "$T/dup.conf" | cut -d: -f1)
check dup
expect_fail "two clients named alpha" 2 "$RC" "$T/dup.err" \
	"$T/dup.conf: line $bline: client alpha2: name alpha is client alpha's (line $aline), which takes its connections"
sed "1s/.*/listen 0.0.0.0:$port\nlisten 127.0.0.1:$port/" "$T/base.conf" >"$T/clash.conf"
check clash
expect_fail "0.0.0.0:P then 127.0.0.1:P" 2 "$RC" "$T/clash.err" \
	"$T/clash.conf: line 2: listen 127.0.0.1:$port cannot be bound beside listen 0.0.0.0:$port (line 1)"

# 2. both families on one port
sed "1s/.*/listen 0.0.0.0:$port\nlisten [::]:$port/" "$T/base.conf" >"$T/both.conf"
check both
assert_rc 0 "$RC" "--check-config of 0.0.0.0:P and [::]:P" "$T/both.err"
bg SPID 60 env ZKTLS_ZFS="$FAKEZFS" "$ZK" serve --config "$T/both.conf" \
	</dev/null >/dev/null 2>"$T/both.serve.err"
wait_for_line "$T/both.serve.err" "listening on \\[::\\]:$port" 5 "$SPID" ||
	fail "serve does not listen on [::]:$port" "$T/both.serve.err"
assert_grep "listening on 0.0.0.0:$port" "$T/both.serve.err"
for a in 127.0.0.1 ::1; do
	python3 -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 5).close()' \
		"$a" "$port" 2>"$T/conn.err" || fail "no TCP connection to $a port $port" "$T/conn.err"
done

# 3. SIGHUP with user root
cp "$T/both.conf" "$T/good.conf"
sed -i 's/^user .*/user root/' "$T/both.conf"
kill -HUP "$(pgrep -P "$SPID" -x zktls | head -n 1)" 2>/dev/null
uline=$(grep -n '^user' "$T/both.conf" | cut -d: -f1)
wait_for_line "$T/both.serve.err" "reload failed, keeping the running configuration: $T/both.conf: line $uline: user root is root: the network-facing processes must not be" 5 ||
	fail "SIGHUP with user root was not refused" "$T/both.serve.err"
python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5).close()' \
	"$port" 2>"$T/conn.err" || fail "serve stopped after the refused reload" "$T/conn.err"
alive "$SPID" || fail "serve is gone" "$T/both.serve.err"

finish "missing user, root, shadowed client, listen clash refused at check, start and reload; 0.0.0.0:P with [::]:P"
