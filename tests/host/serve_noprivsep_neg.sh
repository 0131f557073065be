#!/usr/bin/env bash
#
# Description:
#	serve without privilege separation is asked for, never fallen into:
#	not root and no "privsep no", it refuses to start; with "privsep
#	no" it warns at start, and the same policy checks as the monitor's
#	still decide every zfs command (a pull of a clone of another
#	client's snapshot is refused), while what the policy allows works.
#
# Strategy:
#	Needs root to become nobody (setpriv).  Stand-in zfs; client alpha
#	(push backup/alpha, pull pool/exp); pool/exp/cl is a clone of
#	other/x@a.
#	1. serve as nobody, no privsep line: exit 2, "serve separates
#	   privileges: start it as root, or set 'privsep no' in CONF".
#	2. serve as nobody with "privsep no": the warning "privsep no: zfs
#	   runs as this user (uid 65534), unconfined ..." at start (after
#	   "listening on", the line scripts wait for).
#	3. alpha pulls pool/exp/cl@s: exit 4, "pool/exp/cl is a clone whose
#	   origin lies outside what client alpha may read"; no zfs send.
#	4. alpha pulls pool/exp@a, pushes pool/home@b: both ok.
#
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "this test needs root (to run serve as nobody)"
AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
mkdata "$T/stream" 64K
chmod -R a+rwX "$T"
mkdir -p "$T/srv.out"
chmod 777 "$T/srv.out"
: >"$T/srv.zfs.log"
chmod 666 "$T/srv.zfs.log"
BLOCK=("client alpha {" "name alpha" "push backup/alpha" "pull pool/exp" "}")
# the metrics in a directory nobody may write and others may not ($T is
# open to all for the test's files: serve refuses such a directory)
mkdir -p "$T/m"
chown 65534:65534 "$T/m"
chmod 755 "$T/m"
# own_metrics CONF: point CONF's metrics there, and its state-dir (which
# must be serve's to write)
own_metrics() {
	sed -i -e "s#^metrics .*#metrics $T/m/metrics.prom#" \
		-e "s#^state-dir .*#state-dir $T/m#" "$1"
}

# 1. not root, privilege separation not given up: no start
serve_conf "$T/sep.conf" "${BLOCK[@]}"
own_metrics "$T/sep.conf"
chmod a+r "$T/sep.conf"
bounded 10 env ZKTLS_ZFS="$FAKEZFS" "${AS_NOBODY[@]}" "$ZK" serve \
	--config "$T/sep.conf" \
	</dev/null >/dev/null 2>"$T/sep.err"
expect_fail "serve as nobody" 2 $? "$T/sep.err" \
	"serve separates privileges (a root monitor runs zfs): start it as root, or set 'privsep no' in $T/sep.conf"

# 2. privsep no: a warning at start
serve_conf "$T/nosep.conf" "privsep no" "${BLOCK[@]}"
own_metrics "$T/nosep.conf"
chmod a+r "$T/nosep.conf"
start_serve "$T/serve.err" "$T/nosep.conf" ZKTLS_FAKE_GUID=102 \
	ZKTLS_FAKE_STREAM="$T/stream" \
	"ZKTLS_FAKE_SNAPS=pool/exp@a pool/exp/cl@s" \
	"ZKTLS_FAKE_GUIDS=pool/exp@a=101 pool/exp/cl@s=103" \
	"ZKTLS_FAKE_ORIGINS=pool/exp/cl=other/x@a" "${AS_NOBODY[@]}"
# (after "listening on", which start_serve waits for)
wait_for_line "$T/serve.err" '^zktls: warning: privsep no: zfs runs as this user \(uid 65534\), unconfined, in the process that talks to the network$' 5 ||
	fail "no warning at start" "$T/serve.err"
read -r -a A <<<"$(as_client alpha)"

# 3. the clone check runs
: >"$T/srv.zfs.log"
bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_OUT="$T/cl.out" \
	"$ZK" recv --connect "127.0.0.1:$SPORT" --source pool/exp/cl@s \
	"${A[@]}" backup/p </dev/null >/dev/null 2>"$T/cl.err"
expect_fail "a pull of a clone of other/x@a" 4 $? "$T/cl.err" \
	"peer refused the request (error): pool/exp/cl is a clone whose origin lies outside what client alpha may read"
assert_empty "$T/cl.out"
grep -a '^send'$'\037' "$T/srv.zfs.log" | grep -av $'\037-n' | grep -q . &&
	fail "zfs send ran for the clone"
wait_for_line "$T/serve.err" "refused to run zfs send for alpha" 5 ||
	fail "serve did not log the refusal" "$T/serve.err"

# 4. what the policy allows still works
bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_OUT="$T/pull.out" \
	ZKTLS_FAKE_GUID=101 "$ZK" recv --connect "127.0.0.1:$SPORT" \
	--source pool/exp@a "${A[@]}" backup/p </dev/null >/dev/null \
	2>"$T/pull.err"
assert_rc 0 $? "alpha pulls pool/exp@a" "$T/pull.err"
assert_file_eq "$T/stream" "$T/pull.out"
bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_STREAM="$T/stream" \
	ZKTLS_FAKE_SNAPS=pool/home@b ZKTLS_FAKE_GUIDS=pool/home@b=102 \
	"$ZK" send --connect "127.0.0.1:$SPORT" "${A[@]}" pool/home@b \
	</dev/null >/dev/null 2>"$T/push.err"
assert_rc 0 $? "alpha pushes pool/home@b" "$T/push.err"
assert_file_eq "$T/stream" "$T/srv.out/backup_alpha"

finish "as non-root: no start without 'privsep no'; with it, a warning, and the monitor's checks still decide"
