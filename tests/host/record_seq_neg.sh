#!/usr/bin/env bash
#
# Description:
#	zktls's own TLS record layer (user plane) against a peer that writes
#	its own records (tests/tools/tlspeer): whatever the record sequence,
#	the output is byte-identical to the data records' content or the
#	session fails; never other bytes with exit 0, never a crash.
#
# Strategy:
#	tlspeer sends a 4 MiB stream to a listening "zktls pipe recv"
#	(user plane), with:
#	1. two empty application-data records after every data record
#	   (legal, RFC 8446 5.1): identical output, exit 0;
#	2. maximum padding (1-byte records padded to 2^14+1) and 100 bytes
#	   of padding on full records: identical, exit 0;
#	3. 1 and 3 NewSessionTickets after every data record: refused (zktls
#	   never resumes, and refuses tickets on every plane), exit 4, the
#	   output a prefix of the input;
#	4. 300,000 empty handshake records before anything (illegal): exit 4
#	   "an empty TLS handshake record", no crash, nothing written;
#	5. 1025 empty data records in a row (more than zktls allows between
#	   data): exit 4;
#	6. the other directions: zktls pulls from a sending tlspeer that
#	   listens (empty records, padding): identical; a zktls sender facing
#	   a tlspeer receiver that sends tickets before its REQUEST... is
#	   refused, as is a tlspeer server sending tickets before REPLY.
#
. "$(dirname "$0")/lib.sh"

[ -x "$TLSPEER" ] || die "no tlspeer at $TLSPEER (make units)"
mkdata "$T/in" 4M
head -c 65536 "$T/in" >"$T/small"
PEER_A=(--cert "$PKI/alpha.pem" --key "$PKI/alpha.key" --ca "$PKI/ca.pem"
	--peer-name beta --timeout $((10 * SCALE)))
PEER_B=(--cert "$PKI/beta.pem" --key "$PKI/beta.key" --ca "$PKI/ca.pem"
	--peer-name alpha --timeout $((10 * SCALE)))

# push TAG INPUT TLSPEER-OPTION...: tlspeer sends INPUT to zktls pipe recv.
push() {
	local tag=$1 in=$2 port
	shift 2
	start_listener port "$T/$tag.recv.err" "$ZK" pipe recv --mode user \
		"${TLS_B[@]}" >"$T/$tag.out" </dev/null
	bounded 60 "$TLSPEER" --connect "127.0.0.1:$port" --role send \
		"${PEER_A[@]}" "$@" <"$in" >"$T/$tag.peer.out" 2>"$T/$tag.peer.err"
	PEER_RC=$?
	reap_listener "$LPID" ZK_RC
}
ok() { # TAG INPUT
	assert_rc 0 "$ZK_RC" "$1: zktls" "$T/$1.recv.err"
	assert_rc 0 "$PEER_RC" "$1: tlspeer" "$T/$1.peer.err"
	assert_file_eq "$2" "$T/$1.out"
}
refused() { # TAG INPUT MESSAGE
	expect_fail "$1: zktls" 4 "$ZK_RC" "$T/$1.recv.err" "$3"
	assert_not_ok "$T/$1.recv.err"
	[ -s "$T/$1.out" ] && assert_prefix "$T/$1.out" "$2"
	[ "$PEER_RC" = 0 ] && fail "$1: tlspeer got RESULT ok" "$T/$1.peer.out"
	return 0
}
ticket="protocol violation by peer: a TLS session ticket after the handshake (zktls peers never send them)"

# 1-2. legal, unusual
push empty "$T/in" --empty 2
ok empty "$T/in"
push maxpad "$T/small" --record-size 1 --pad 16383
ok maxpad "$T/small"
push pad "$T/in" --pad 100 --empty 1 --record-size 16000
ok pad "$T/in"

# 3. tickets between data records
push tk1 "$T/in" --tickets 1
refused tk1 "$T/in" "$ticket"
push tk3 "$T/in" --tickets 3 --record-size 1000
refused tk3 "$T/in" "$ticket"

# 4. a flood of empty handshake records
push ehs "$T/in" --empty-handshake 300000
refused ehs "$T/in" "protocol violation by peer: an empty TLS handshake record"
assert_empty "$T/ehs.out"

# 5. too many empty data records in a row
push flood "$T/small" --empty 1025 --record-size 16384
refused flood "$T/small" "protocol violation by peer: more than 1024 TLS records in a row without data"

# 6. other directions
start_listener port "$T/pull.peer.err" "$TLSPEER" --role send "${PEER_A[@]}" \
	--empty 2 --pad 7 <"$T/in" >"$T/pull.peer.out"
bounded 60 "$ZK" pipe recv --connect "127.0.0.1:$port" --mode user \
	"${TLS_B[@]}" >"$T/pull.out" 2>"$T/pull.recv.err" </dev/null
assert_exit 0 "pull from a padding tlspeer: zktls" "$T/pull.recv.err"
reap_listener "$LPID" prc
assert_rc 0 "$prc" "pull: tlspeer" "$T/pull.peer.err"
assert_file_eq "$T/in" "$T/pull.out"

start_listener port "$T/srv.peer.err" "$TLSPEER" --role recv "${PEER_B[@]}" \
	--tickets-before-reply 2 >"$T/srv.out" </dev/null
bounded 60 "$ZK" pipe send --connect "127.0.0.1:$port" --mode user \
	"${TLS_A[@]}" <"$T/in" >/dev/null 2>"$T/srv.send.err"
rc=$?
reap_listener "$LPID" prc
expect_fail "tickets before REPLY: zktls sender" 4 "$rc" "$T/srv.send.err" "$ticket"
assert_empty "$T/srv.out"

finish "odd record sequences: identical output or a clean refusal"
