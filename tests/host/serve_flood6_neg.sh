#!/usr/bin/env bash
#
# Description:
#	A flood spread over many IPv6 addresses of one /64 (one host may
#	hold them all) is held as if it came from one address: serve counts
#	an IPv6 peer in with its /64, closes the flood's newcomers unforked,
#	and serves a real client throughout.
#
# Strategy:
#	In a network namespace of its own (unshare -n; the test re-runs
#	itself there): lo up, 2001:db8:0:1::1/64 on it, and the whole /64
#	local (an AnyIP route), so that the flooder may bind any address of
#	it (IPV6_FREEBIND); 2001:db8:0:2::1/64 beside it.  serve listens on
#	127.0.0.1, [2001:db8:0:1::1]:7070 and [2001:db8:0:2::1]:7071.  A
#	Python flooder opens 300 silent
#	connections a second for 6 s, each from another address of the /64,
#	and keeps them open.  Meanwhile alpha, from 127.0.0.1, runs "zktls
#	list" 8 times, 0.6 s apart: every one must succeed.  serve logs
#	that it closed connections of 2001:db8:0:1::/64 unforked (counted
#	by address, each connection was an address's only one, and none was
#	ever closed so), at most one line a second of each kind.  The real
#	client's 127.0.0.1 is the namespace's only IPv4 address, its
#	loopback: zktls connects to it all the same (getaddrinfo's
#	AI_ADDRCONFIG alone refused it).  A last list goes over IPv6, from
#	another /64 (2001:db8:0:2::1: flood connections still queued when the
#	flood ends are its own /64's, not this one's).
#
if [ "${ZKTLS_TEST_NETNS:-}" != 1 ]; then
	# as state_dir_neg without root: said, not failed, where the
	# environment cannot (a container without CAP_SYS_ADMIN)
	if ! why=$(unshare -n true 2>&1); then
		echo "PASS $(basename "${0%.sh}"): skipped: no network namespace here (unshare -n: $why)"
		exit 0
	fi
	exec unshare -n env ZKTLS_TEST_NETNS=1 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

if ! { ip link set lo up &&
	ip -6 addr add 2001:db8:0:1::1/64 dev lo nodad &&
	ip -6 addr add 2001:db8:0:2::1/64 dev lo nodad &&
	ip -6 route add local 2001:db8:0:1::/64 dev lo; }; then
	die "cannot set up lo in the test's network namespace"
fi

serve_conf "$T/zktls.conf" "listen [2001:db8:0:1::1]:7070" \
	"listen [2001:db8:0:2::1]:7071" \
	"client alpha {" "name alpha" "pull pool/exp" "}"
start_serve "$T/serve.err" "$T/zktls.conf" "ZKTLS_FAKE_SNAPS=pool/exp@a"
read -r -a A <<<"$(as_client alpha)"

flood fl 2001:db8:0:1::/64 2001:db8:0:1::1 7070 300 6
sleep 1
ok=0
for i in $(seq 1 8); do
	# bounded, not timed (see serve_flood_neg.sh)
	bounded 30 "$ZK" list --connect "127.0.0.1:$SPORT" "${A[@]}" pool/exp \
		>"$T/l$i.out" 2>"$T/l$i.err"
	rc=$?
	[ "$rc" -eq 0 ] && ok=$((ok + 1))
	[ "$rc" -eq 0 ] || echo "list $i: exit $rc" >>"$T/l$i.err"
	sleep 0.6
done
reap "$fl" _
note "$(cat "$T/flood.out"); real client: $ok of 8"
[ "$ok" -eq 8 ] || fail "the real client was served $ok times of 8 during the flood" \
	"$T/l1.err" "$T/flood.out"
assert_grep "connections not authenticated yet are from 2001:db8:0:1::/64 (this one counted), none waiting 2 s yet" "$T/serve.err"
grep -qE "^zktls: warning: refused \[2001:db8:0:1:[0-9a-f:]+\]: [0-9]+ of the 129 connections" "$T/serve.err" ||
	fail "no refusal names the flood's address" "$T/serve.err"
n=$(grep -cE "refused \[2001:db8:0:1:[0-9a-f:]+\]: (dropped|[0-9]* of)|refused [0-9]+ more connections" "$T/serve.err")
[ "$n" -lt 25 ] || fail "$n lines of flood refusals in 6 s (one a second of each kind at most)" "$T/serve.err"
bounded 10 "$ZK" list --connect "[2001:db8:0:2::1]:7071" "${A[@]}" pool/exp \
	>"$T/after.out" 2>"$T/after.err"
assert_exit 0 "a list over IPv6 after the flood" "$T/after.err"

finish "an IPv6 flood from one /64 held as one address, a real client served"
