#!/usr/bin/env bash
#
# Description:
#	The end-to-end check is the guid of what the receiver committed: the
#	receiver always reports it (also with recv -d / -e, where zfs puts
#	the snapshot below the target under the sender's name), and the
#	sender requires it.  A receiver whose zfs committed while the session
#	then failed says so: what it committed, and how the session ended.
#
# Strategy:
#	Stand-in zfs on both sides; the receiver's knows guids per name.
#	1. recv -d backup, pool/x/y@s sent: it lands at backup/x/y@s; its
#	   guid (equal) is reported: both exit 0.
#	2. The same with a different guid at backup/x/y@s: the sender exits
#	   4, "received snapshot guid 999 differs from the sent 201".
#	3. recv -e backup: backup/y@s (equal guid): both exit 0; a guid only
#	   at backup/x/y@s (the -d place) would not do: exit 4.
#	4. The receiver's zfs succeeds but the named snapshot is not there:
#	   the receiver exits 4 ("zfs receive succeeded, but backup@s does
#	   not exist ..."), the sender exits 4 with the receiver's words.
#	5. A sender (tlspeer) that sends the whole stream and then ends the
#	   connection without close_notify: the receiver's zfs committed, and
#	   the receiver says both: exit 4, "connection closed by peer without
#	   close_notify (truncated stream); zfs receive had already committed
#	   backup@s (guid 201): check it before relying on it".
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/stream" 512K
FAKE_SNAPS="pool/x/y@s"
ZS_ARGS=(send pool/x/y@s "${TLS_A[@]}")
SENV=(ZKTLS_FAKE_GUIDS=pool/x/y@s=201)

# 1. -d, equal guid at the -d place
ZS_ENV=("${SENV[@]}")
ZR_ARGS=(recv -d backup "${TLS_B[@]}")
ZR_ENV=(ZKTLS_FAKE_GUID= ZKTLS_FAKE_GUIDS=backup/x/y@s=201)
zfs_push d_ok
assert_rc 0 "$SEND_RC" "-d: sender" "$T/d_ok.send.err"
assert_rc 0 "$RECV_RC" "-d: receiver" "$T/d_ok.recv.err"

# 2. -d, another guid there
ZR_ENV=(ZKTLS_FAKE_GUID= ZKTLS_FAKE_GUIDS=backup/x/y@s=999)
zfs_push d_bad
expect_fail "-d mismatch: sender" 4 "$SEND_RC" "$T/d_bad.send.err" \
	"received snapshot guid 999 differs from the sent 201"
assert_not_ok "$T/d_bad.send.err"

# 3. -e
ZR_ARGS=(recv -e backup "${TLS_B[@]}")
ZR_ENV=(ZKTLS_FAKE_GUID= ZKTLS_FAKE_GUIDS=backup/y@s=201)
zfs_push e_ok
assert_rc 0 "$SEND_RC" "-e: sender" "$T/e_ok.send.err"
assert_rc 0 "$RECV_RC" "-e: receiver" "$T/e_ok.recv.err"
ZR_ENV=(ZKTLS_FAKE_GUID= ZKTLS_FAKE_GUIDS=backup/x/y@s=201)
zfs_push e_wrong
missing="zfs receive succeeded, but backup/y@s does not exist: the stream did not hold the snapshot the sender named"
expect_fail "-e, snapshot elsewhere: receiver" 4 "$RECV_RC" "$T/e_wrong.recv.err" "$missing"
expect_fail "-e, snapshot elsewhere: sender" 4 "$SEND_RC" "$T/e_wrong.send.err" "receiver: $missing"

# 4. nothing at the target at all
ZR_ARGS=(recv backup "${TLS_B[@]}")
ZR_ENV=(ZKTLS_FAKE_GUID=)
zfs_push none
missing="zfs receive succeeded, but backup@s does not exist: the stream did not hold the snapshot the sender named"
expect_fail "no snapshot: receiver" 4 "$RECV_RC" "$T/none.recv.err" "$missing"
expect_fail "no snapshot: sender" 4 "$SEND_RC" "$T/none.send.err" "receiver: $missing"
assert_not_ok "$T/none.send.err"

# 5. committed, then the sender ends without close_notify
[ -x "$TLSPEER" ] || die "no tlspeer at $TLSPEER (make units)"
start_listener port "$T/cut.recv.err" env ZKTLS_ZFS="$FAKEZFS" \
	ZKTLS_FAKE_OUT="$T/cut.zout" ZKTLS_FAKE_GUIDS=backup@s=201 \
	"$ZK" recv backup "${TLS_B[@]}" </dev/null >/dev/null
bounded 20 "$TLSPEER" --connect "127.0.0.1:$port" --role send \
	--snapshot pool/x/y@s --cert "$PKI/alpha.pem" --key "$PKI/alpha.key" \
	--ca "$PKI/ca.pem" --peer-name beta --no-close-notify \
	<"$T/stream" >"$T/cut.peer.out" 2>"$T/cut.peer.err"
reap_listener "$LPID" rc
expect_fail "committed, no close_notify: receiver" 4 "$rc" "$T/cut.recv.err" \
	"connection closed by peer without close_notify (truncated stream); zfs receive had already committed backup@s (guid 201): check it before relying on it"
assert_file_eq "$T/stream" "$T/cut.zout"
assert_not_ok "$T/cut.recv.err"

finish "committed guid reported and required (-d, -e); committed-then-cut told"
