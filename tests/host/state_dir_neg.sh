#!/usr/bin/env bash
#
# Description:
#	serve's state directory and control socket are root's (serve's) and
#	nobody else's to write: the network processes' user must not be
#	able to plant a state, or a link where the socket goes (root would
#	then chown and chmod the link's target).  And zktls status shows a
#	socket's answer only as printable text.
#
# Strategy:
#	1. state-dir owned by nobody (mode 0755): --check-config exits 2,
#	   "state-dir DIR belongs to uid 65534, not to serve's (0)" (the
#	   check this test was written to show: before, any owner passed).
#	2. state-dir 0775: exit 2, "is writable by others".
#	3. control in a directory others may write (0777): no socket there,
#	   and the warning "zktls status cannot reach this serve: ... its
#	   directory DIR may be written by others than serve" (serve runs
#	   on: status is not its work).
#	4. serve with a good state-dir and control-group: the socket is
#	   0660 root:GROUP from its creation (no chmod after); a second
#	   serve on the same socket leaves it be.  40 control
#	   connections that never ask: at most 32 copies of the master
#	   answer at once; status answers again once they are gone.
#	5. zktls status against a socket (not serve's) that answers an
#	   OSC escape: exit 4, "holds control characters", nothing of the
#	   answer on stdout.
#
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "PASS state_dir_neg: skipped: needs root (chown)"; exit 0; }
conf() { # conf FILE STATE-DIR [LINE...]
	local f=$1 d=$2
	shift 2
	serve_conf "$f" "client alpha {" "name alpha" "push backup/alpha" "}" "$@"
	sed -i "s|^state-dir .*|state-dir $d|" "$f"
}

# 1. another owner
mkdir -m 0755 "$T/sd1" && chown nobody "$T/sd1"
conf "$T/c1.conf" "$T/sd1"
bounded 10 "$ZK" serve --config "$T/c1.conf" --check-config >"$T/c1.out" 2>&1
expect_fail "state-dir of nobody's" 2 $? "$T/c1.out" \
	"$T/c1.conf: line 7: state-dir $T/sd1 belongs to uid $(id -u nobody), not to serve's (0)"

# 2. group-writable
mkdir -m 0775 "$T/sd2"
chmod 0775 "$T/sd2"
conf "$T/c2.conf" "$T/sd2"
bounded 10 "$ZK" serve --config "$T/c2.conf" --check-config >"$T/c2.out" 2>&1
expect_fail "state-dir writable by the group" 2 $? "$T/c2.out" \
	"$T/c2.conf: line 7: state-dir $T/sd2 is writable by others"

# 3. the control socket's directory
mkdir -m 0755 "$T/sd3" && mkdir "$T/open" && chmod 0777 "$T/open"
conf "$T/c3.conf" "$T/sd3" "control $T/open/ctl"
start_serve "$T/c3.err" "$T/c3.conf"
wait_for_line "$T/c3.err" "warning: zktls status cannot reach this serve: control $T/open/ctl: its directory $T/open may be written by others than serve" 5 ||
	fail "serve made no word of its control socket's directory" "$T/c3.err"
[ -e "$T/open/ctl" ] && fail "a socket was made in $T/open"
kill -TERM "$SERVE_PID"
reap "$SPID" _

# 4. the socket's mode from its creation
grp=$(id -gn nobody)
conf "$T/c4.conf" "$T/sd3" "control-group $grp"
start_serve "$T/serve.err" "$T/c4.conf"
# (the socket comes just after "listening on": the state is loaded first)
for _ in $(seq 100); do [ -S "$T/sd3/control" ] && break; sleep 0.05; done
assert_eq "socket 660 root:$grp" "$(stat -c '%F %a %U:%G' "$T/sd3/control" | sed 's/^socket/socket/')" \
	"the control socket"
bounded 10 "$ZK" status --control "$T/sd3/control" >"$T/st.out" 2>"$T/st.err"
assert_exit 0 "zktls status" "$T/st.err"
# a second serve on the same control socket leaves the first one's be
bg s2 10 env ZKTLS_ZFS="$FAKEZFS" "$ZK" serve --config "$T/c4.conf" </dev/null >"$T/s2.out" 2>&1
wait_for_line "$T/s2.out" "control $T/sd3/control: another serve answers there" 5 ||
	fail "a second serve did not leave the first one's control socket be" "$T/s2.out"
kill -TERM -- "-$s2" 2>/dev/null
reap "$s2" _
bounded 10 "$ZK" status --control "$T/sd3/control" >"$T/st1.out" 2>"$T/st1.err"
assert_exit 0 "zktls status of the first serve" "$T/st1.err"
# 40 control connections that never ask: at most 32 answering copies of
# the (root) master at once, then status answers again
bg sc 20 python3 -c '
import socket, sys, time
socks = []
for _ in range(40):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); socks.append(s)
print("connected", flush=True); time.sleep(3)' "$T/sd3/control" >"$T/sc.out" 2>&1
wait_for_line "$T/sc.out" '^connected' 10 || fail "the silent control clients did not connect" "$T/sc.out"
sleep 1
copies=$(ps -o pid= --ppid "$SERVE_PID" | wc -l)
[ "$copies" -le 32 ] || fail "$copies copies of serve answer control connections at once (want <= 32)"
reap "$sc" _
for _ in $(seq 50); do
	bounded 10 "$ZK" status --control "$T/sd3/control" >"$T/st2.out" 2>"$T/st2.err" && break
	sleep 0.2
done
assert_exit 0 "zktls status after the silent clients" "$T/st2.err"

# 5. a socket that is not serve's
bg fp 10 python3 -c '
import os, socket, sys
p = sys.argv[1]
s = socket.socket(socket.AF_UNIX)
s.bind(p); s.listen(1); print("ready", flush=True)
c, _ = s.accept(); c.recv(64)
c.sendall(b"clients\n\x1b]0;owned\x07evil\n"); c.close()' "$T/fake" >"$T/fake.out" 2>&1
wait_for_line "$T/fake.out" '^ready' 5 || die "the fake socket did not start" "$T/fake.out"
bounded 10 "$ZK" status --control "$T/fake" >"$T/f.out" 2>"$T/f.err"
expect_fail "status from a socket that sends escapes" 4 $? "$T/f.err" \
	"serve at $T/fake: the answer holds control characters (byte 8)"
assert_empty "$T/f.out"

finish "a state-dir of another owner or writable by others, a control socket in a directory others may write refused; the socket 0660 from birth; at most 32 answering copies; escapes from a socket refused by zktls status"
