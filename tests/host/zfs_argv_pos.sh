#!/usr/bin/env bash
#
# Description:
#	"zktls send" and "zktls recv" run zfs from exact argument vectors:
#	the sender's zfs flags reach "zfs send -nP" and "zfs send" (in one
#	order: -w -c -L -e -p -R, then -i/-I), the receiver's flags and the
#	--target reach "zfs receive" (-s -F -d -e -u, then -o and -x), the
#	stream arrives intact, push and pull alike, and a resume token from
#	the receiver is honoured only when zfs says it continues the
#	snapshot being sent.
#
# Strategy:
#	ZKTLS_ZFS points both sides at tests/host/fakezfs, which logs its
#	argv (0x1f-separated) and plays zfs with a 2 MiB stream file.
#	1. The documented command order (zfs flags, dataset, then connection
#	   and TLS options; see zktls --help), one side at a time: "send -R
#	   -w -c -i @a pool/fs@b --connect ... --target backup/fs ..." and
#	   "recv -s -F -u -o compression=lz4 backup --listen ...": exit 0,
#	   the bytes arrive.
#	2. The same transfer with the options first: the sender ran exactly
#	   "send -nP -w -c -R -i @a pool/fs@b" then "send -w -c -R -i @a
#	   pool/fs@b", the receiver exactly "receive -s -F -u -o
#	   compression=lz4 backup/fs"; the bytes arrived; both exit 0; equal
#	   snapshot GUIDs on both sides pass; the session lines name the
#	   snapshot, target and peer.
#	3. Pull: the sender listens ("send -L -e -p -I @a pool/fs@b"), the
#	   receiver connects ("recv -d -x mountpoint backup"): the argv of
#	   each, the bytes, exit 0.
#	4. Resume: the receiver's dataset has a receive_resume_token that zfs
#	   says continues pool/fs@b: the sender checks it ("send -nv -t T"),
#	   sizes it ("send -nP -t T"), sends "send -t T", says it resumes.
#	(Tokens that do not match the request: resume_token_neg.sh.)
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/stream" 2M

# 1. the documented order: dataset before the connection options; each
#    side on its own, facing a peer given its options first.
ZS_ARGS=(send -R -w -c -i @a pool/fs@b @CONNECT@ --target backup/fs "${TLS_A[@]}")
ZR_ARGS=(recv @LISTEN@ "${TLS_B[@]}" -s -F -u -o compression=lz4 backup)
LISTENER_GRACE=2 zfs_push docsend
if assert_rc 0 "$SEND_RC" "documented order (zktls send ... POOL/FS@SNAP --connect ...): sender" "$T/docsend.send.err"; then
	assert_rc 0 "$RECV_RC" "documented order: its receiver" "$T/docsend.recv.err"
	assert_file_eq "$T/stream" "$T/docsend.zout"
fi
ZS_ARGS=(send "${TLS_A[@]}" @CONNECT@ --target backup/fs -R -w -c -i @a pool/fs@b)
ZR_ARGS=(recv -s -F -u -o compression=lz4 backup @LISTEN@ "${TLS_B[@]}")
if zfs_push docrecv; then
	assert_rc 0 "$RECV_RC" "documented order: receiver" "$T/docrecv.recv.err"
	assert_rc 0 "$SEND_RC" "documented order: its sender" "$T/docrecv.send.err"
	assert_file_eq "$T/stream" "$T/docrecv.zout"
fi

# 2. options first
ZS_ARGS=(send "${TLS_A[@]}" @CONNECT@ --target backup/fs -R -w -c -i @a pool/fs@b)
ZR_ARGS=(recv @LISTEN@ "${TLS_B[@]}" -s -F -u -o compression=lz4 backup)
ZS_ENV=(ZKTLS_FAKE_GUIDS=pool/fs@b=1234567890123) ZR_ENV=(ZKTLS_FAKE_GUID=1234567890123)
zfs_push push
assert_rc 0 "$SEND_RC" "push: sender" "$T/push.send.err"
assert_rc 0 "$RECV_RC" "push: receiver" "$T/push.recv.err"
assert_file_eq "$T/stream" "$T/push.zout"
assert_calls "$T/push.send.log" send \
	"$(argv_line send -nP -w -c -R -i @a pool/fs@b)" \
	"$(argv_line send -w -c -R -i @a pool/fs@b)"
assert_calls "$T/push.recv.log" receive \
	"$(argv_line receive -s -F -u -o compression=lz4 -x mountpoint -x canmount -x sharenfs -x sharesmb -x overlay backup/fs)"
assert_calls "$T/push.recv.log" send
assert_calls "$T/push.send.log" receive
grep -qE '^zktls: sent pool/fs@b into backup/fs to DNS:beta \(127\.0\.0\.1:[0-9]+\): 2\.0 MiB in .*, plane user, .*, ok$' \
	"$T/push.send.err" || fail "push: sender's session line" "$T/push.send.err"
grep -qE '^zktls: received pool/fs@b into backup/fs from DNS:alpha \(127\.0\.0\.1:[0-9]+\): 2\.0 MiB in .*, plane user, .*, ok$' \
	"$T/push.recv.err" || fail "push: receiver's session line" "$T/push.recv.err"

# 3. pull
ZS_ENV=() ZR_ENV=()
ZS_ARGS=(send @LISTEN@ "${TLS_A[@]}" -I @a -p -L -e pool/fs@b)
ZR_ARGS=(recv @CONNECT@ "${TLS_B[@]}" -d -x mountpoint backup)
zfs_pull pull
assert_rc 0 "$SEND_RC" "pull: sender" "$T/pull.send.err"
assert_rc 0 "$RECV_RC" "pull: receiver" "$T/pull.recv.err"
assert_file_eq "$T/stream" "$T/pull.zout"
assert_calls "$T/pull.send.log" send \
	"$(argv_line send -nP -L -e -p -I @a pool/fs@b)" \
	"$(argv_line send -L -e -p -I @a pool/fs@b)"
assert_calls "$T/pull.recv.log" receive \
	"$(argv_line receive -d -u -x mountpoint -x canmount -x sharenfs -x sharesmb -x overlay backup)"

# 4. resume with a token that continues pool/fs@b
ZS_ARGS=(send "${TLS_A[@]}" @CONNECT@ pool/fs@b)
ZR_ARGS=(recv @LISTEN@ "${TLS_B[@]}" -s backup)
ZR_ENV=(ZKTLS_FAKE_TOKEN=1-c0ffee-d0-7890)
ZS_ENV=(ZKTLS_FAKE_TOKEN=1-c0ffee-d0-7890 ZKTLS_FAKE_TOKEN_TONAME=pool/fs@b
	"ZKTLS_FAKE_TOKEN_INFO=toguid = 0x66" ZKTLS_FAKE_TOKEN_RC=22)
zfs_push resume
assert_rc 0 "$SEND_RC" "resume: sender" "$T/resume.send.err"
assert_rc 0 "$RECV_RC" "resume: receiver" "$T/resume.recv.err"
assert_file_eq "$T/stream" "$T/resume.zout"
assert_calls "$T/resume.send.log" send \
	"$(argv_line send -nP pool/fs@b)" \
	"$(argv_line send -nv -t 1-c0ffee-d0-7890)" \
	"$(argv_line send -nP -t 1-c0ffee-d0-7890)" \
	"$(argv_line send -t 1-c0ffee-d0-7890)"
assert_line "zktls: resuming an interrupted transfer of pool/fs@b" "$T/resume.send.err"
assert_calls "$T/resume.recv.log" receive "$(argv_line receive -s -u -x mountpoint -x canmount -x sharenfs -x sharesmb -x overlay backup)"

finish "zfs argv exact for push, pull, resume"
