#!/usr/bin/env bash
#
# Description:
#	A "zfs send" that dies in the middle of the stream fails the sender
#	with zfs's own words (exit 5) and must never look like a complete
#	stream to the receiver: the receiver exits non-zero and its "zfs
#	receive" got only the bytes produced before the failure.
#	(In pipe mode a failing producer is indistinguishable from EOF on
#	stdin, so this is tested with the fake zfs.)
#
# Strategy:
#	ZKTLS_ZFS points both sides at tests/host/fakezfs; the sender's zfs
#	writes 3,000,000 bytes of an 8 MiB stream and exits 1 with "warning:
#	cannot send 'pool/fs@b': Input/output error".
#	1. push: the sender exits 5 with "zfs send failed (exit 1): warning:
#	   cannot send 'pool/fs@b': Input/output error"; the receiver exits 4
#	   with a reset/truncated-connection message (or the sender's
#	   internal_error alert) and logs no success; the fake "zfs receive"
#	   got a prefix of the first 3,000,000 bytes, never more.
#	2. pull: the same.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/stream" 8M
sendfail="zfs send failed (exit 1): warning: cannot send 'pool/fs@b': Input/output error"
recv_re='connection reset by peer|connection closed by peer without close_notify \(truncated stream\)|peer sent TLS alert: internal_error'
ZS_ENV=(ZKTLS_FAKE_FAIL_AFTER=3000000)

# check TAG: the verdicts of one transfer.
check() {
	expect_fail "$1: sender" 5 "$SEND_RC" "$T/$1.send.err" "$sendfail"
	expect_fail_re "$1: receiver" 4 "$RECV_RC" "$T/$1.recv.err" "$recv_re"
	assert_not_ok "$T/$1.recv.err"
	assert_not_ok "$T/$1.send.err"
	# It may have lost the tail of what was produced, never gained.
	assert_prefix "$T/$1.zout" "$T/stream"
	[ "$(fsize "$T/$1.zout")" -le 3000000 ] ||
		fail "$1: zfs receive got $(fsize "$T/$1.zout") bytes, more than zfs send produced"
}

# 1. push
ZS_ARGS=(send "${TLS_A[@]}" @CONNECT@ pool/fs@b)
ZR_ARGS=(recv @LISTEN@ "${TLS_B[@]}" -s backup)
zfs_push push
check push

# 2. pull
ZS_ARGS=(send "${TLS_A[@]}" @LISTEN@ pool/fs@b)
ZR_ARGS=(recv @CONNECT@ "${TLS_B[@]}" -s backup)
zfs_pull pull
check pull

finish "a failing zfs send fails both ends; the receiver got only the prefix"
