#!/usr/bin/env bash
#
# Description:
#	serve's privilege separation: the process that talks to the network
#	(handshake, protocol, data plane) is not root, has no capabilities,
#	no_new_privs and a seccomp filter; its parent, the monitor, stays
#	root and is the one that runs zfs.
#
# Strategy:
#	serve (user nobody) and a push whose zfs send waits 3 s, so the
#	session's processes can be looked at: the one whose parent's
#	parent is serve (the network process) has Uid 65534, CapEff 0,
#	NoNewPrivs 1, Seccomp 2 in /proc/PID/status, and none of the
#	master's pipes among its fds; its parent (the
#	monitor) is root.  When the stream flows, the server's zfs receive
#	is the monitor's child, run as root, and the network process has a
#	second thread (the user plane's writer, which its seccomp filter
#	lets start).  The push succeeds.
#
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "this test needs root (serve separates privileges as root only)"
mkdata "$T/stream" 64K
serve_conf "$T/zktls.conf" "client alpha {" "name alpha" "push backup/alpha" "}"
start_serve "$T/serve.err" "$T/zktls.conf" ZKTLS_FAKE_GUID=102
read -r -a A <<<"$(as_client alpha)"
slow_push
push=$!
field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
mon='' net=''
for ((i = 0; i < 60; i++)); do
	for p in $(pgrep -P "$SERVE_PID"); do
		c=$(pgrep -P "$p" | head -n 1)
		[ -n "$c" ] && [ "$(field "$c" Uid)" = 65534 ] && mon=$p net=$c
	done
	[ -n "$net" ] && break
	sleep 0.05
done
[ -n "$net" ] || die "no network-facing process found below serve ($SERVE_PID)" "$T/serve.err"
assert_eq 0 "$(field "$mon" Uid)" "the monitor's uid"
assert_eq 65534 "$(field "$net" Uid)" "the network process's uid"
assert_eq 65534 "$(field "$net" Gid)" "the network process's gid"
assert_eq 0000000000000000 "$(field "$net" CapEff)" "the network process's CapEff"
assert_eq 0000000000000000 "$(field "$net" CapPrm)" "the network process's CapPrm"
assert_eq 1 "$(field "$net" NoNewPrivs)" "the network process's NoNewPrivs"
assert_eq 2 "$(field "$net" Seccomp)" "the network process's Seccomp (filter)"
# it holds none of the master's pipes (its signal pipe: a network process
# taken over could read the master's signals away)
for f in /proc/"$SERVE_PID"/fd/*; do
	l=$(readlink "$f" 2>/dev/null) || continue
	case $l in pipe:*) ;; *) continue ;; esac
	for g in /proc/"$net"/fd/*; do
		[ "$(readlink "$g" 2>/dev/null)" = "$l" ] &&
			fail "the network process holds the master's $l (fd ${g##*/})"
	done
done
echo "serve: monitor $mon (uid 0), network process $net: uid $(field "$net" Uid), CapEff $(field "$net" CapEff), NoNewPrivs $(field "$net" NoNewPrivs), Seccomp $(field "$net" Seccomp)"
# the server's zfs receive: a child of the monitor, as root
zr=''
for ((i = 0; i < 100; i++)); do
	for c in $(pgrep -P "$mon"); do
		[ "$c" != "$net" ] && zr=$c  # the stand-in zfs receive (exec'd cat)
	done
	[ -n "$zr" ] && break
	sleep 0.05
done
[ -n "$zr" ] || fail "no zfs receive below the monitor"
[ -n "$zr" ] && assert_eq 0 "$(field "$zr" Uid)" "zfs receive's uid"
# the user plane's writer thread, started under the filter
th=0
for ((i = 0; i < 100; i++)); do
	th=$(field "$net" Threads)
	[ "${th:-0}" -ge 2 ] && break
	sleep 0.05
done
[ "${th:-0}" -ge 2 ] ||
	fail "the network process has ${th:-0} thread(s) while the stream flows, not the user plane's writer too"
wait "$push"
assert_rc 0 $? "the push" "$T/send.err"
assert_file_eq "$T/stream" "$T/srv.out/backup_alpha"
finish "network process unprivileged (uid 65534, no caps, no_new_privs, seccomp), its writer thread started; zfs run by the root monitor"
