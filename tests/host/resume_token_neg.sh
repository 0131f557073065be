#!/usr/bin/env bash
#
# Description:
#	A resume token comes from the receiver and is not authenticated (zfs
#	only checksums it).  The sender uses one only when zfs's own reading
#	of it ("zfs send -nv -t") matches what it was asked to send exactly:
#	the snapshot by name and by guid, the incremental base, and raw (-w)
#	exactly when -w was asked.  Its own -w/-c/-L/-e always go along with
#	-t.  Anything else is refused by name, before a byte is sent.
#
# Strategy:
#	The stand-in zfs on the sender describes the token as each case
#	needs (pool/fs@a has guid 101 = 0x65, pool/fs@b 102 = 0x66); the
#	receiver (stand-in zfs with -s) reports the token.  For each refusal:
#	sender exit 4 with the exact reason, no "zfs send" other than the dry
#	runs, no byte reached the receiver's zfs, and the receiver (exit 4)
#	says the sender gave up before sending anything.
#	1. -w asked, token not raw (a forged token that would send the
#	   dataset decrypted): refused.
#	2. no -w, token raw: refused.
#	3. -w -c asked, token raw and matching: "zfs send -w -c -t TOKEN".
#	4. right name, wrong guid: refused.   5. another snapshot: refused.
#	6. -i @a, token from pool/fs@a: resumed with "send -t TOKEN"; token
#	   from an unknown base: refused.
#	7. full send asked, token incremental from pool/fs@a: refused, with
#	   the command that would finish it.
#	8. -R asked with a token: refused (zfs cannot resume -R).
#	9. Pull: the listening sender (-w) refuses the receiver's non-raw
#	   token in its REPLY; the receiver exits 4 with that reason.
#	10. zfs's description holds a nested list or a key twice (what a
#	   forged token does to make us read another guid than zfs uses):
#	   refused as forged.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/stream" 1M
TOK=1-c0ffee-d0-7890
ZR_ARGS=(recv -s backup "${TLS_B[@]}")
ZR_ENV=(ZKTLS_FAKE_TOKEN=$TOK)

# tok_env INFO [TONAME]: the sender's stand-in describes the token so.
tok_env() {
	ZS_ENV=(ZKTLS_FAKE_TOKEN=$TOK "ZKTLS_FAKE_TOKEN_TONAME=${2:-pool/fs@b}"
		"ZKTLS_FAKE_TOKEN_INFO=$1" ZKTLS_FAKE_TOKEN_RC=22)
}
# refused TAG REASON DRY-RUN-ARGV-LINE...: the sender refused before sending.
refused() {
	local tag=$1 why=$2
	shift 2
	expect_fail "$tag: sender" 4 "$SEND_RC" "$T/$tag.send.err" \
		"resume token refused: $why"
	assert_calls "$T/$tag.send.log" send "$@" "$(argv_line send -nv -t $TOK)"
	[ -s "$T/$tag.zout" ] && fail "$tag: the receiver's zfs got data"
	assert_not_ok "$T/$tag.send.err"
	assert_rc 4 "$RECV_RC" "$tag: receiver" "$T/$tag.recv.err"
	assert_grep "the sender ended the session before sending anything" "$T/$tag.recv.err"
}

# 1. -w, token not raw
ZS_ARGS=(send -w pool/fs@b "${TLS_A[@]}")
tok_env "toguid = 0x66"
zfs_push w_noraw
refused w_noraw "it continues a non-raw send of pool/fs@b, but -w was asked" \
	"$(argv_line send -nP -w pool/fs@b)"

# 2. no -w, token raw
ZS_ARGS=(send pool/fs@b "${TLS_A[@]}")
tok_env "toguid = 0x66;compressok = 1;rawok = 1"
zfs_push raw_now
refused raw_now "it continues a raw (-w) send of pool/fs@b, but no -w was asked" \
	"$(argv_line send -nP pool/fs@b)"

# 3. -w -c, token raw and matching
ZS_ARGS=(send -w -c pool/fs@b "${TLS_A[@]}")
tok_env "toguid = 0x66;compressok = 1;rawok = 1"
zfs_push w_ok
assert_rc 0 "$SEND_RC" "raw resume: sender" "$T/w_ok.send.err"
assert_rc 0 "$RECV_RC" "raw resume: receiver" "$T/w_ok.recv.err"
assert_calls "$T/w_ok.send.log" send "$(argv_line send -nP -w -c pool/fs@b)" \
	"$(argv_line send -nv -t $TOK)" "$(argv_line send -nP -w -c -t $TOK)" \
	"$(argv_line send -w -c -t $TOK)"
assert_file_eq "$T/stream" "$T/w_ok.zout"

# 4. right name, wrong guid
ZS_ARGS=(send pool/fs@b "${TLS_A[@]}")
tok_env "toguid = 0x999"
zfs_push guid
refused guid "it names pool/fs@b with guid 2457, but pool/fs@b here has guid 102" \
	"$(argv_line send -nP pool/fs@b)"

# 5. another snapshot
tok_env "toguid = 0x66" pool/other@x
zfs_push other
refused other "it continues pool/other@x, not pool/fs@b" \
	"$(argv_line send -nP pool/fs@b)"

# 6. incremental from the asked base; then from an unknown base
ZS_ARGS=(send -i @a pool/fs@b "${TLS_A[@]}")
tok_env "fromguid = 0x65;toguid = 0x66"
zfs_push incr
assert_rc 0 "$SEND_RC" "incremental resume: sender" "$T/incr.send.err"
assert_calls "$T/incr.send.log" send "$(argv_line send -nP -i @a pool/fs@b)" \
	"$(argv_line send -nv -t $TOK)" "$(argv_line send -nP -t $TOK)" \
	"$(argv_line send -t $TOK)"
tok_env "fromguid = 0x99;toguid = 0x66"
zfs_push incr_bad
refused incr_bad "it continues an incremental send from guid 153, not pool/fs@a (zktls send -i guid 153 pool/fs@b finishes it)" \
	"$(argv_line send -nP -i @a pool/fs@b)"

# 7. full send asked, token incremental
ZS_ARGS=(send pool/fs@b "${TLS_A[@]}")
tok_env "fromguid = 0x65;toguid = 0x66"
zfs_push full_vs_incr
refused full_vs_incr "it continues an incremental send from pool/fs@a (zktls send -i pool/fs@a pool/fs@b finishes it)" \
	"$(argv_line send -nP pool/fs@b)"

# 8. -R
ZS_ARGS=(send -R pool/fs@b "${TLS_A[@]}")
tok_env "toguid = 0x66"
zfs_push rec
expect_fail "-R: sender" 4 "$SEND_RC" "$T/rec.send.err" \
	"the receiver holds a partial receive that zfs cannot resume with -R, -p, -b or -I (zfs send -t continues one snapshot): finish it with a plain zktls send of the snapshot it names, or abort it on the receiver (zfs receive -A)"
assert_calls "$T/rec.send.log" send "$(argv_line send -nP -R pool/fs@b)"
[ -s "$T/rec.zout" ] && fail "-R: the receiver's zfs got data"

# 9. pull: the listening sender refuses in its REPLY
ZS_ARGS=(send -w pool/fs@b @LISTEN@ "${TLS_A[@]}")
ZR_ARGS=(recv -s backup @CONNECT@ "${TLS_B[@]}")
tok_env "toguid = 0x66"
zfs_pull pull
expect_fail "pull: sender" 4 "$SEND_RC" "$T/pull.send.err" \
	"resume token refused: it continues a non-raw send of pool/fs@b, but -w was asked"
expect_fail "pull: receiver" 4 "$RECV_RC" "$T/pull.recv.err" \
	"peer refused the request (error): resume token refused: it continues a non-raw send of pool/fs@b, but -w was asked"
assert_calls "$T/pull.recv.log" receive

# 10. forged so that our reading differs from zfs's: a nested list with
#     the right guid after the wrong top-level one, or a key twice (a
#     string value with a newline in it prints as two lines)
ZS_ARGS=(send pool/fs@b "${TLS_A[@]}")
ZR_ARGS=(recv -s backup "${TLS_B[@]}")
tok_env "toguid = 0x3e7;"$'\t'"toguid = 0x66"
zfs_push nested
refused nested "zfs describes it ambiguously (a key twice, or a nested list): a forged token" \
	"$(argv_line send -nP pool/fs@b)"
tok_env "toguid = 0x3e7;toguid = 0x66"
zfs_push twice
refused twice "zfs describes it ambiguously (a key twice, or a nested list): a forged token" \
	"$(argv_line send -nP pool/fs@b)"

finish "forged or mismatched resume tokens refused; own flags kept with -t"
