#!/usr/bin/env bash
#
# Description:
#	zktls sync's front end and its plan, against zktls serve with the
#	stand-in zfs on both sides: usage errors exit 2 with their reason;
#	the defaults file is read, and refused when others may write it; a
#	dry run prints the plan (base by GUID, one -I stream) and runs no
#	session; a diverged or unrelated target is refused, naming what
#	diverged; a push the server did not commit fails the run instead of
#	being sent again.
#
# Strategy:
#	Client alpha (push backup/alpha).  Our pool/exp has @a (101), @b
#	(102), @c (103); the server's backup/alpha/exp has what each case
#	says (ZKTLS_FAKE_GUIDS of its fake zfs).
#	1. Usage: both sides remote, both local, --rollback on a push,
#	   --rate on a pull, --protect maybe, --jobs 0, a third operand (also
#	   an option after "--"), two operands either of which could be the
#	   server, --jobs without its value: exit 2, the reason.
#	2. Defaults file: group-writable: exit 2 "must belong to you or root
#	   and be writable by nobody else"; mode 600 holding the TLS options:
#	   used (the dry run of 3 needs them).  A bad value, an unknown
#	   option: exit 2, "FILE: line N: ..." (the line of the first bad
#	   one).  HOST without :PORT connects to port 4433.
#	3. (Options after the operands, POSIXLY_CORRECT set.)
#	   Server has @a: the plan is "-I @a pool/exp@c (2 snapshots ...)";
#	   no session line, no zfs send on our side, exit 0.
#	4. Server has @a and @x (999, newer): exit 2, "backup/alpha/exp has
#	   diverged from pool/exp: it has backup/alpha/exp@x, newer than their
#	   common snapshot pool/exp@a"; nothing sent.
#	5. Server has @y (998) only: exit 2, "has snapshots but none in
#	   common"; nothing sent.
#	7. The server's resume token continues other/x@a: exit 4, "its
#	   resume token continues other/x@a, not a snapshot of pool/exp",
#	   no zfs send -t, nothing received.
#	6. Server has @a and does not hold @c after receiving the push of
#	   @a..@c (its stand-in stores nothing): the server's own check
#	   fails the session, sync exits 4 with its words, zfs send ran once.
#
. "$(dirname "$0")/lib.sh"

read -r -a A <<<"$(as_client alpha)"
SY=("$ZK" sync --no-progress)
MINE="pool/exp@a=101 pool/exp@b=102 pool/exp@c=103"

# 1. usage
u=0
usage() {   # usage WANT-TEXT ARGS...
	local want=$1
	shift
	u=$((u + 1))
	bounded 10 "${SY[@]}" "$@" >"$T/u$u.out" 2>"$T/u$u.err"
	expect_fail "sync $*" 2 $? "$T/u$u.err" "$want"
}
usage "both SOURCE and DESTINATION are remote" h:1:pool/a h:2:pool/b
usage "one of SOURCE and DESTINATION must be HOST[:PORT][:DATASET]" pool/a pool/b
usage "--rollback is for pulls (a server is rolled back by its operator)" --rollback pool/a h:1
usage "--rate paces pushes (the server's policy paces pulls)" --rate 1M h:1:pool/a pool/b
usage "bad --protect 'maybe' (bookmark, hold or none)" --protect maybe pool/a h:1
usage "bad --jobs '0' (1 to 64)" --jobs 0 pool/a h:1
usage "a pull names the server's dataset: HOST[:PORT]:DATASET" h:1 pool/b
usage "unexpected argument '-r'" -- pool/a h:1 -r
usage "unexpected argument 'pool/c'" pool/a h:1 pool/c
usage "either of 'h:pool/a' and 'pool' could be the server: give its port (HOST:PORT)" h:pool/a pool
usage "--jobs needs a value" pool/a h:1 --jobs
bounded 10 "${SY[@]}" --help >"$T/help.out" 2>&1
assert_exit 0 "sync --help" "$T/help.out"
assert_grep "usage: zktls sync" "$T/help.out"

# 2. the defaults file
printf '# alpha talks to beta\n' >"$T/sync.conf"
for ((i = 0; i < ${#A[@]}; i++)); do
	if [[ ${A[i + 1]:-} == --* || -z ${A[i + 1]:-} ]]; then
		printf '%s\n' "${A[i]#--}"
	else
		printf '%s %s\n' "${A[i]#--}" "${A[i + 1]}"
		i=$((i + 1))
	fi
done >>"$T/sync.conf"
chmod 620 "$T/sync.conf"
bounded 10 "${SY[@]}" --defaults "$T/sync.conf" -n pool/exp 127.0.0.1:1 \
	>"$T/d.out" 2>"$T/d.err"
expect_fail "a group-writable defaults file" 2 $? "$T/d.err" \
	"$T/sync.conf must belong to you or root and be writable by nobody else"
chmod 600 "$T/sync.conf"
# a bad line: the error names the file and the line
cp "$T/sync.conf" "$T/bad.conf"
printf 'jobs 0\n' >>"$T/bad.conf"
badline=$(wc -l <"$T/bad.conf")
bounded 10 "${SY[@]}" --defaults "$T/bad.conf" -n pool/exp 127.0.0.1:1 \
	>"$T/bd.out" 2>"$T/bd.err"
expect_fail "a bad value in the defaults file" 2 $? "$T/bd.err" \
	"$T/bad.conf: line $badline: bad --jobs '0' (1 to 64)"
printf 'rollback yes\n' >>"$T/bad.conf"
bounded 10 "${SY[@]}" --defaults "$T/bad.conf" -n pool/exp 127.0.0.1:1 \
	>"$T/bd2.out" 2>"$T/bd2.err"
expect_fail "two bad lines in the defaults file: the first" 2 $? "$T/bd2.err" \
	"$T/bad.conf: line $badline: bad --jobs '0' (1 to 64)"
sed -i '$d' "$T/bad.conf"
sed -i '$d' "$T/bad.conf"
printf 'bogus\n' >>"$T/bad.conf"
bounded 10 "${SY[@]}" --defaults "$T/bad.conf" -n pool/exp 127.0.0.1:1 \
	>"$T/bd3.out" 2>"$T/bd3.err"
expect_fail "an unknown option in the defaults file" 2 $? "$T/bd3.err" \
	"$T/bad.conf: line $badline: unknown option '--bogus' for zktls sync"
# HOST without a port: 4433 (refused here: nothing listens on it)
if ! (exec 3<>/dev/tcp/127.0.0.1/4433) 2>/dev/null; then
	bounded 20 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_GUIDS="$MINE" \
		"${SY[@]}" --defaults "$T/sync.conf" -n pool/exp 127.0.0.1 \
		>"$T/np.out" 2>"$T/np.err"
	assert_rc 4 $? "HOST without a port" "$T/np.err"
	assert_grep "127.0.0.1:4433" "$T/np.err"
else
	note "something listens on 127.0.0.1:4433: the default port is not checked"
fi

# sync_case TAG SERVER-GUIDS ARGS...: serve with the server's snapshots,
# then zktls sync ARGS with ours; RC its exit status
sync_case() {
	local tag=$1 theirs=$2
	shift 2
	serve_conf "$T/$tag.conf" "client alpha {" "name alpha" "push backup/alpha" "}"
	start_serve "$T/$tag.srv.err" "$T/$tag.conf" "ZKTLS_FAKE_GUIDS=$theirs" "${SERVER_ENV[@]}"
	set -- "${@/#SRV/127.0.0.1:$SPORT}"
	rm -rf "$T/srv.out"/*
	: >"$T/$tag.zfs.log"
	bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_GUIDS="$MINE" "${CLIENT_ENV[@]}" \
		ZKTLS_FAKE_SNAPS="pool/exp@a pool/exp@b pool/exp@c" \
		ZKTLS_FAKE_STREAM="$T/stream" ZKTLS_FAKE_LOG="$T/$tag.zfs.log" \
		"${SY[@]}" --defaults "$T/sync.conf" "$@" >"$T/$tag.out" 2>"$T/$tag.err"
	RC=$?
	kill -TERM "$SERVE_PID"
	reap "$SPID" _
}
head -c 100000 /dev/urandom >"$T/stream"
CLIENT_ENV=() SERVER_ENV=()

# 3. the plan; the options after the operands, as zfs users type them,
#    also where POSIXLY_CORRECT would stop getopt at the first operand
CLIENT_ENV=(POSIXLY_CORRECT=1)
sync_case plan "backup/alpha/exp@a=101" pool/exp SRV -n
CLIENT_ENV=()
assert_rc 0 "$RC" "dry run" "$T/plan.err"
assert_grep "sync pool/exp -> backup/alpha/exp: -I @a pool/exp@c (2 snapshots, about " "$T/plan.err"
assert_grep "sync: 1 dataset: 1 planned" "$T/plan.err"
assert_no_grep "sent \|received " "$T/plan.err"
grep -q "^send$(printf '\037')-I" "$T/plan.zfs.log" && fail "the dry run ran zfs send" "$T/plan.zfs.log"
[ -z "$(ls -A "$T/srv.out")" ] || fail "the dry run received something: $(ls "$T/srv.out")"

# 4. diverged
sync_case div "backup/alpha/exp@a=101 backup/alpha/exp@x=999" pool/exp SRV
assert_rc 2 "$RC" "diverged target" "$T/div.err"
assert_grep "backup/alpha/exp has diverged from pool/exp: it has backup/alpha/exp@x, newer than their common snapshot pool/exp@a" "$T/div.err"
[ -z "$(ls -A "$T/srv.out")" ] || fail "a diverged target received something"

# 5. unrelated
sync_case unrel "backup/alpha/exp@y=998" pool/exp SRV
assert_rc 2 "$RC" "unrelated target" "$T/unrel.err"
assert_grep "backup/alpha/exp has snapshots but none in common with pool/exp: refusing to replace it" "$T/unrel.err"

# 6. a server that does not list what it received
sync_case nolist "backup/alpha/exp@a=101" pool/exp SRV
assert_rc 4 "$RC" "a server that does not list what it got" "$T/nolist.err"
assert_grep "sync pool/exp: receiver: zfs receive succeeded, but backup/alpha/exp@c does not exist" "$T/nolist.err"
n=$(grep -c "^send$(printf '\037')-I" "$T/nolist.zfs.log")
assert_eq 1 "$n" "zfs send -I runs"

# 7. the server's resume token continues a snapshot of another dataset:
#    refused by name before anything is sent
SERVER_ENV=(ZKTLS_FAKE_TOKEN=1-abc-def-0123)
CLIENT_ENV=(ZKTLS_FAKE_TOKEN=1-abc-def-0123 ZKTLS_FAKE_TOKEN_TONAME=other/x@a
	"ZKTLS_FAKE_TOKEN_INFO=toguid = 0x7b")
sync_case tok "backup/alpha/exp@a=101" pool/exp SRV
assert_rc 4 "$RC" "a token for another dataset" "$T/tok.err"
assert_grep "backup/alpha/exp: its resume token continues other/x@a, not a snapshot of pool/exp" "$T/tok.err"
grep -q "^send$(printf '\037')-t" "$T/tok.zfs.log" && fail "zfs send -t ran" "$T/tok.zfs.log"
[ -z "$(ls -A "$T/srv.out")" ] || fail "something was received after a refused token"
CLIENT_ENV=() SERVER_ENV=()

# 8. a server whose LISTING names an invalid dataset (a hostile peer,
#    written here in Python): a protocol violation, exit 4, nothing run
cat >"$T/badlisting.py" <<'EOF'
import socket, ssl, struct, sys
pki = sys.argv[1]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(f"{pki}/beta.pem", f"{pki}/beta.key")
ctx.load_verify_locations(f"{pki}/ca.pem")
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.num_tickets = 0   # zktls refuses session tickets
ctx.set_alpn_protocols(["zktls/1"])
ls = socket.create_server(("127.0.0.1", 0))
print(ls.getsockname()[1], flush=True)
c, _ = ls.accept()
t = ctx.wrap_socket(c, server_side=True)
def read(n):
    b = b""
    while len(b) < n:
        b += t.recv(n - len(b))
    return b
hdr = read(12)
read(struct.unpack(">I", hdr[8:12])[0])
# LISTING: status 0, more 0, 2 reserved, message[256], token[1024],
# dataset[256], n, entries.  "dataset": "pool//etc" (not a dataset
# name), no entries; "foreign": a snapshot of another dataset ("/x@s")
# in the listing of one
if sys.argv[2] == "dataset":
    body = (bytes(4) + bytes(256) + bytes(1024) + b"pool//etc".ljust(256, b"\0")
            + struct.pack(">I", 0))
else:
    body = (bytes(4) + bytes(256) + bytes(1024)
            + b"backup/alpha/exp".ljust(256, b"\0") + struct.pack(">I", 1)
            + struct.pack(">QQBB", 103, 5, 1, 4) + b"/x@c")
t.sendall(b"ZKT1" + bytes([2, 5, 0, 0]) + struct.pack(">I", len(body)) + body)
try:
    t.recv(100)
except OSError:
    pass
EOF
# bad_listing MODE WHAT MESSAGE: sync against the hostile server in MODE:
# exit 4, MESSAGE, no zfs send or bookmark run
bad_listing() {
	start_peer bport "$T/$1.peer.err" python3 "$T/badlisting.py" "$PKI" "$1"
	: >"$T/$1.zfs.log"
	bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_GUIDS="$MINE" \
		ZKTLS_FAKE_LOG="$T/$1.zfs.log" "${SY[@]}" --defaults "$T/sync.conf" \
		pool/exp "127.0.0.1:$bport" >"$T/$1.out" 2>"$T/$1.err"
	assert_rc 4 $? "$2" "$T/$1.err"
	assert_grep "$3" "$T/$1.err"
	grep -q "^send\|^bookmark" "$T/$1.zfs.log" && fail "zfs send or bookmark ran" "$T/$1.zfs.log"
}
bad_listing dataset "a LISTING of an invalid dataset name" \
	"protocol violation by peer: LISTING of an invalid dataset name"

# 9. a server whose one-dataset LISTING holds a snapshot of another
#    dataset below it ("/x@c", which a whole tree's listing may name): a
#    protocol violation, exit 4, nothing run (taken for @c of pool/exp it
#    would make pool/exp look up to date)
bad_listing foreign "a LISTING naming another dataset's snapshot" \
	"protocol violation by peer: LISTING of pool/exp: an entry that is not the dataset's own snapshot or bookmark"

# 10. a dataset with more snapshots and bookmarks than a listing holds
#     (4097): an error naming it, never a plan from the oldest 4096 (a
#     cut listing lacks the newest: "up to date" forever)
for ((i = 1; i <= 4097; i++)); do printf 'pool/exp@s%d\t%d\t%d\n' "$i" $((5000 + i)) "$i"; done >"$T/big.listing"
bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_LISTING="$T/big.listing" \
	"${SY[@]}" --defaults "$T/sync.conf" pool/exp 127.0.0.1:1 >"$T/big.out" 2>"$T/big.err"
rc=$?
[ "$rc" != 0 ] || fail "a listing over 4096 entries synced" "$T/big.err"
assert_grep "pool/exp has more than 4096 snapshots and bookmarks" "$T/big.err"

finish "usage errors, defaults file, dry-run plan, diverged and unrelated targets refused, no resend loop, hostile listings refused, a listing too long for one answer refused"
