#!/usr/bin/env bash
#
# Description:
#	serve's own start-up failures are configuration errors (exit 2),
#	not transfer failures: a listen address already in use, a key file
#	that cannot be read.  Nothing is listened on.
#
# Strategy:
#	1. A port held by another socket: serve exits 2 with "cannot listen
#	   on 127.0.0.1:P: Address already in use", no "listening on" line.
#	2. The same with --json: exit 2, the error is one JSON object.
#	3. A key file that does not exist: exit 2.
#
. "$(dirname "$0")/lib.sh"

# a socket that holds a port for the whole test
bg HPID 60 python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
time.sleep(60)' >"$T/holder.out"
wait_for_line "$T/holder.out" '^[0-9]' 10 || die "no port holder" "$T/holder.out"
held=$(head -n 1 "$T/holder.out")

serve_conf "$T/busy.conf" "client alpha {" "name alpha" "push backup/alpha" "}"
sed -i "s/^listen .*/listen 127.0.0.1:$held/" "$T/busy.conf"

# 1. the port is taken
bounded 20 env ZKTLS_ZFS="$FAKEZFS" "$ZK" serve --config "$T/busy.conf" \
	</dev/null >/dev/null 2>"$T/busy.err"
expect_fail "serve on a port in use" 2 $? "$T/busy.err" \
	"cannot listen on 127.0.0.1:$held: Address already in use"
assert_no_grep "listening on" "$T/busy.err"

# 2. the same with --json
bounded 20 env ZKTLS_ZFS="$FAKEZFS" "$ZK" serve --config "$T/busy.conf" \
	--json </dev/null >/dev/null 2>"$T/busyj.err"
assert_rc 2 $? "serve --json on a port in use" "$T/busyj.err"
assert_line "{\"level\":\"error\",\"message\":\"cannot listen on 127.0.0.1:$held: Address already in use\"}" "$T/busyj.err"

# 3. a key that cannot be read
serve_conf "$T/nokey.conf" "client alpha {" "name alpha" "push backup/alpha" "}"
sed -i "s|^key .*|key $T/missing.key|" "$T/nokey.conf"
bounded 20 env ZKTLS_ZFS="$FAKEZFS" "$ZK" serve --config "$T/nokey.conf" \
	</dev/null >/dev/null 2>"$T/nokey.err"
assert_rc 2 $? "serve with a missing key" "$T/nokey.err"
assert_grep "missing.key" "$T/nokey.err"
assert_no_grep "listening on" "$T/nokey.err"

finish "serve's start-up failures exit 2, before listening"
