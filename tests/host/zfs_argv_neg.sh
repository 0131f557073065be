#!/usr/bin/env bash
#
# Description:
#	zfs-mode failures are refused or reported precisely, on both ends:
#	a --target outside the receiver's dataset is denied before any zfs
#	runs with the stream; a missing snapshot stops the sender before it
#	connects or listens; a failing "zfs receive" and a GUID mismatch are
#	reported by the sender with the receiver's words.
#
# Strategy:
#	ZKTLS_ZFS points both sides at tests/host/fakezfs.
#	1. --target other/fs against "recv backup": the sender exits 3 with
#	   "peer refused the request (denied): dataset other/fs is not
#	   authorised (this receiver accepts backup and below)", the receiver
#	   exits 3 with "refused DNS:alpha: ..."; no "zfs receive" ran and the
#	   sender ran no real "zfs send".
#	2. --target backupx/fs (a sibling sharing the prefix): denied alike.
#	3. A snapshot that does not exist, connecting: the sender exits 5
#	   with zfs's message and never connects (the listener saw nobody).
#	4. The same, listening: exit 5 and no "listening on" line.
#	5. ZKTLS_ZFS names a missing file: a configuration error, exit 2,
#	   "ZKTLS_ZFS PATH: No such file or directory".
#	6. The receiver's "zfs receive" fails: the receiver exits 5 with "zfs
#	   receive failed (exit 1): cannot receive new filesystem stream:
#	   destination has snapshots", the sender exits 5 with the same text
#	   after "receiver: ".
#	7. The received snapshot's GUID differs from the sent one: the sender
#	   exits 4 with "received snapshot guid 222 differs from the sent 111".
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/stream" 2M
denied="dataset other/fs is not authorised (this receiver accepts backup and below)"
ZR_ARGS=(recv @LISTEN@ "${TLS_B[@]}" -s -F -u backup)

# 1. target outside the receiver's dataset
ZS_ARGS=(send "${TLS_A[@]}" @CONNECT@ --target other/fs -i @a pool/fs@b)
zfs_push deny
expect_fail "deny: sender" 3 "$SEND_RC" "$T/deny.send.err" \
	"peer refused the request (denied): $denied"
expect_fail "deny: receiver" 3 "$RECV_RC" "$T/deny.recv.err" \
	"refused DNS:alpha: $denied"
assert_calls "$T/deny.recv.log" receive
assert_calls "$T/deny.send.log" send "$(argv_line send -nP -i @a pool/fs@b)"
[ -e "$T/deny.zout" ] && fail "deny: zfs receive ran"

# 2. a sibling with the same prefix
ZS_ARGS=(send "${TLS_A[@]}" @CONNECT@ --target backupx/fs pool/fs@b)
zfs_push sibling
expect_fail "sibling: sender" 3 "$SEND_RC" "$T/sibling.send.err" \
	"peer refused the request (denied): dataset backupx/fs is not authorised (this receiver accepts backup and below)"
assert_rc 3 "$RECV_RC" "sibling: receiver" "$T/sibling.recv.err"
assert_calls "$T/sibling.recv.log" receive

# 3. missing snapshot, connecting: never connects
ZS_ARGS=(send "${TLS_A[@]}" @CONNECT@ pool/fs@c)
LISTENER_GRACE=1 zfs_push nosnap
expect_fail "missing snapshot: sender" 5 "$SEND_RC" "$T/nosnap.send.err" \
	"zfs send failed (exit 1): cannot open 'pool/fs@c': dataset does not exist"
assert_no_grep "refused" "$T/nosnap.recv.err"  # no connection at all
assert_no_grep "received" "$T/nosnap.recv.err"
assert_calls "$T/nosnap.send.log" send "$(argv_line send -nP pool/fs@c)" \
	"$(argv_line send -nP pool/fs@c)"

# 4. missing snapshot, listening: never listens
bounded 10 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_SNAPS="pool/fs@a" \
	ZKTLS_FAKE_STREAM="$T/stream" "$ZK" send --listen 127.0.0.1:0 \
	"${TLS_A[@]}" pool/fs@c </dev/null >/dev/null 2>"$T/nosnap2.err"
rc=$?
expect_fail "missing snapshot, listening: sender" 5 "$rc" "$T/nosnap2.err" \
	"zfs send failed (exit 1): cannot open 'pool/fs@c': dataset does not exist"
assert_no_grep "listening on" "$T/nosnap2.err"

# 5. no zfs at all
bounded 10 env ZKTLS_ZFS="$T/no/zfs" "$ZK" send --listen 127.0.0.1:0 \
	"${TLS_A[@]}" pool/fs@b </dev/null >/dev/null 2>"$T/nozfs.err"
rc=$?
expect_fail "no zfs: sender" 2 "$rc" "$T/nozfs.err" \
	"ZKTLS_ZFS $T/no/zfs: No such file or directory"

# 6. zfs receive fails
recvfail="zfs receive failed (exit 1): cannot receive new filesystem stream: destination has snapshots"
ZS_ARGS=(send "${TLS_A[@]}" @CONNECT@ pool/fs@b)
ZR_ENV=(ZKTLS_FAKE_RECV_FAIL=1)
zfs_push recvfail
expect_fail "zfs receive fails: sender" 5 "$SEND_RC" "$T/recvfail.send.err" \
	"receiver: $recvfail"
expect_fail "zfs receive fails: receiver" 5 "$RECV_RC" "$T/recvfail.recv.err" \
	"$recvfail"
assert_not_ok "$T/recvfail.send.err"

# 7. the received snapshot is not the one sent
ZS_ENV=(ZKTLS_FAKE_GUIDS=pool/fs@b=111) ZR_ENV=(ZKTLS_FAKE_GUID=222)
zfs_push guid
expect_fail "GUID mismatch: sender" 4 "$SEND_RC" "$T/guid.send.err" \
	"received snapshot guid 222 differs from the sent 111"
assert_not_ok "$T/guid.send.err"

finish "denied targets, missing snapshots, zfs failures reported on both ends"
