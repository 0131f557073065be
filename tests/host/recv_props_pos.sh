#!/usr/bin/env bash
#
# Description:
#	What a sender can do to the receiving host through the properties in
#	its stream is limited by default: received datasets are not mounted
#	(-u) and the stream's mountpoint, canmount, sharenfs, sharesmb and
#	overlay are ignored (-x), so they inherit the receiver's own.  The
#	receiver's operator may allow either, and may set any of them
#	itself (zfs refuses a property named twice: zktls then leaves it).
#
# Strategy:
#	Stand-in zfs on both sides, its "zfs receive" argv compared exactly:
#	1. defaults: "receive -u -x mountpoint -x canmount -x sharenfs -x
#	   sharesmb -x overlay backup".
#	2. --mount: no -u.  3. --sender-mount-props: no -x.
#	4. the operator's own "-o mountpoint=/srv/b -x sharenfs -u": each
#	   kept once, the others added.
#	5. --mount and --sender-mount-props on zktls send: usage error.
#	(The real zfs with a hostile mountpoint=/etc/...: VM case props-safe.)
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/stream" 64K
ZS_ARGS=(send pool/fs@b "${TLS_A[@]}")
X=(-x mountpoint -x canmount -x sharenfs -x sharesmb -x overlay)
one() { # TAG WANT-ARGV... -- RECV-ARGS...
	local tag=$1 want=()
	shift
	while [ "$1" != -- ]; do want+=("$1"); shift; done
	shift
	ZR_ARGS=(recv "$@" "${TLS_B[@]}")
	zfs_push "$tag"
	assert_rc 0 "$SEND_RC" "$tag: sender" "$T/$tag.send.err"
	assert_rc 0 "$RECV_RC" "$tag: receiver" "$T/$tag.recv.err"
	assert_calls "$T/$tag.recv.log" receive "$(argv_line receive "${want[@]}")"
}
one defaults -u "${X[@]}" backup -- backup
one mount "${X[@]}" backup -- --mount backup
one props -u backup -- --sender-mount-props backup
one own -u -o mountpoint=/srv/b -x sharenfs -x canmount -x sharesmb -x overlay backup \
	-- -o mountpoint=/srv/b -x sharenfs -u backup

bounded 10 "$ZK" send --mount pool/fs@b --connect 127.0.0.1:9 "${TLS_A[@]}" \
	2>"$T/usage.err"
expect_fail "--mount on send" 2 $? "$T/usage.err" "--mount is for zktls recv"
finish "received datasets unmounted, mount/share properties not taken, unless allowed"
