#!/usr/bin/env bash
#
# Description:
#	zktls sync -r learns both trees at once: one zfs list here and one
#	LIST of the server's whole tree (PROTO_LIST_ALL), so a dataset with
#	nothing to send opens no connection and runs no zfs of its own; a
#	dataset with something to send is listed again just before it.  A
#	server tree too big for one answer is listed dataset by dataset.
#
# Strategy:
#	Client alpha (push backup/alpha, pull backup).  Our tree pool/t has
#	d1 .. d30, each with @a; the server's stand-in holds the same
#	snapshots (same guids) below backup/alpha/t.
#	1. push -r -v: "both trees listed at once: 31 datasets ...", "31 up
#	   to date"; the server ran one zfs list (the tree's) and its root's
#	   resume token, nothing else (a pull's also lists zktls:sync); we ran one zfs list of the tree, the zktls:sync listing and
#	   no other zfs; the server's log shows one connection.
#	2. pool/t/d7 has a newer @b: that one is sent (-i @a), after a
#	   listing of its own on both sides; the other 30 are not listed
#	   again; summary "1 updated, 30 up to date".
#	3. pull -r -v of the server's backup/alpha/t into pool/t (which has
#	   the same): 31 up to date, one server zfs list, one connection.
#	4. The server's tree has more snapshots than one answer holds
#	   (16400): -v says it lists dataset by dataset, and the run still
#	   ends "31 up to date", with a per-dataset listing on the server.
#
. "$(dirname "$0")/lib.sh"

read -r -a A <<<"$(as_client alpha)"
# (--protect none: the stand-in zfs lists no base marks to keep)
SY=("$ZK" sync --no-progress --protect none "${A[@]}")
N=30
TREE="" THERE="" MINE="pool/t@a=100" HIS="backup/alpha/t@a=100"
for ((i = 1; i <= N; i++)); do
	TREE="$TREE pool/t/d$i"
	THERE="$THERE backup/alpha/t/d$i"
	MINE="$MINE pool/t/d$i@a=$((200 + i))"
	HIS="$HIS backup/alpha/t/d$i@a=$((200 + i))"
done
head -c 20000 /dev/urandom >"$T/stream"
US=$'\037'

# run TAG SERVER-ENV... -- CLIENT-ENV... -- ARGS...
run() {
	local tag=$1 senv=() cenv=()
	shift
	while [ "$1" != -- ]; do senv+=("$1"); shift; done
	shift
	while [ "$1" != -- ]; do cenv+=("$1"); shift; done
	shift
	serve_conf "$T/$tag.conf" "client alpha {" "name alpha" \
		"push backup/alpha" "pull backup" "}"
	: >"$T/srv.zfs.log"
	rm -f "$T/metrics.prom"
	start_serve "$T/$tag.srv.err" "$T/$tag.conf" ZKTLS_FAKE_TREE="$THERE" \
		"${senv[@]}"
	set -- "${@/#SRV/127.0.0.1:$SPORT}"
	rm -rf "$T/srv.out"/*
	: >"$T/$tag.zfs.log"
	bounded 120 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_TREE="$TREE" \
		ZKTLS_FAKE_STREAM="$T/stream" ZKTLS_FAKE_LOG="$T/$tag.zfs.log" \
		"${cenv[@]}" "${SY[@]}" "$@" >"$T/$tag.out" 2>"$T/$tag.err"
	RC=$?
	kill -TERM "$SERVE_PID"
	reap "$SPID" _
	cp "$T/srv.zfs.log" "$T/$tag.srv.zfs.log"
	CONNS=$(conns)
}
# what zfs ran, one line each: the subcommand and the last argument
ran() { awk -F"$US" '{ print $1, $NF }' "$1" | sort; }
# connections to the server (its metrics, written as it stops; the counts
# are the serve process's own)
conns() { awk '/^zktls_sessions_total\{client="alpha"/ { n += $2 } END { print n + 0 }' "$T/metrics.prom"; }

# 1. a push with nothing to send
run cur "ZKTLS_FAKE_GUIDS=$HIS" -- "ZKTLS_FAKE_GUIDS=$MINE" -- \
	-r -v pool/t SRV
assert_rc 0 "$RC" "push of a current tree" "$T/cur.err"
assert_grep "sync: both trees listed at once: 31 datasets with 31 snapshots and bookmarks here, 31 with 31 there" "$T/cur.err"
assert_grep "sync: 31 datasets: 31 up to date" "$T/cur.err"
# (serve's check at start that backup/alpha exists, the tree, its root's
# resume token; the tree's zktls:sync only for a pull)
SRV_RAN="get backup/alpha
get backup/alpha/t
list backup/alpha/t"
assert_eq "$SRV_RAN" "$(ran "$T/cur.srv.zfs.log")" "what zfs ran on the server"
assert_eq "list pool/t
list pool/t" "$(ran "$T/cur.zfs.log")" "what zfs ran here (the tree, the zktls:sync listing)"
grep -q "receive_resume_token${US}-t${US}filesystem,volume,snapshot,bookmark${US}-r${US}pool/t\$" "$T/cur.zfs.log" ||
	fail "no listing of the whole tree here" "$T/cur.zfs.log"
assert_eq 1 "$CONNS" "connections to the server"

# 2. one dataset with a newer snapshot
run one "ZKTLS_FAKE_GUIDS=$HIS" "ZKTLS_FAKE_RECV_ADDS=backup/alpha/t/d7@b=777" -- \
	"ZKTLS_FAKE_GUIDS=$MINE pool/t/d7@b=777" "ZKTLS_FAKE_SNAPS=pool/t/d7@b pool/t/d7@a" -- \
	-r -v pool/t SRV
assert_rc 0 "$RC" "push of one newer snapshot" "$T/one.err"
assert_grep "sync: 31 datasets: 1 updated, 30 up to date; 1 snapshot" "$T/one.err"
sent=$(grep "^send$US" "$T/one.zfs.log" | grep -v "${US}-nP$US" | awk -F"$US" '{ print $(NF-2), $(NF-1), $NF }')
assert_eq "-I @a pool/t/d7@b" "$sent" "what zfs send sent"
# listed again before the send (and after it, to see it committed): only d7
assert_eq "" "$(grep -v "${US}-r$US" "$T/one.zfs.log" | grep "^list$US" | grep -v "pool/t/d7\$")" \
	"per-dataset listings here of others than d7"
assert_eq "" "$(grep "^list$US" "$T/one.srv.zfs.log" | grep -v "${US}-r$US" | grep -v "backup/alpha/t/d7\$")" \
	"per-dataset listings on the server of others than d7"

# 3. a pull with nothing to receive
run pull "ZKTLS_FAKE_GUIDS=$HIS" -- \
	"ZKTLS_FAKE_GUIDS=$(echo "$HIS" | sed 's|backup/alpha/t|pool/t|g')" -- \
	-r -v SRV:backup/alpha/t pool/t
assert_rc 0 "$RC" "pull of a current tree" "$T/pull.err"
assert_grep "sync: both trees listed at once: 31 datasets with 31 snapshots and bookmarks here, 31 with 31 there" "$T/pull.err"
assert_grep "sync: 31 datasets: 31 up to date" "$T/pull.err"
assert_eq "$SRV_RAN
list backup/alpha/t" "$(ran "$T/pull.srv.zfs.log")" "what zfs ran on the server"
assert_eq 1 "$CONNS" "connections to the server"
assert_eq "list pool/t" "$(ran "$T/pull.zfs.log")" "what zfs ran here"

# 4. a server tree too big for one answer
{
	printf 'backup/alpha/t\t1\t1\t-\n'
	for d in $THERE; do printf '%s\t1\t1\t-\n' "$d"; done
	for ((i = 1; i <= 16400; i++)); do
		printf 'backup/alpha/t@x%d\t%d\t%d\t-\n' "$i" $((900000 + i)) "$i"
	done
} >"$T/big"
run big "ZKTLS_FAKE_GUIDS=$HIS" "ZKTLS_FAKE_ALL=$T/big" -- "ZKTLS_FAKE_GUIDS=$MINE" -- \
	-r -v pool/t SRV
assert_rc 0 "$RC" "push with a big server tree" "$T/big.err"
assert_grep "sync: no listing of the whole tree from the server (peer refused the request (error): backup/alpha/t: more snapshots and bookmarks than a tree's listing holds): asking dataset by dataset" "$T/big.err"
assert_grep "sync: 31 datasets: 31 up to date" "$T/big.err"
assert_eq 31 "$(grep "^list$US" "$T/big.srv.zfs.log" | grep -vc "${US}-r$US")" \
	"per-dataset listings on the server"

grep -q "alpha.*: no listing of the whole tree: backup/alpha/t: more snapshots and bookmarks than a tree.s listing holds" "$T/big.srv.err" || fail "serve did not say why it listed no tree" "$T/big.srv.err"
assert_eq 32 "$CONNS" "connections (the tree, then one per dataset)"

finish "sync -r lists both trees at once: no connection or zfs run for a dataset with nothing to do, a changed one listed again before its send, pulls too, a too-big tree listed dataset by dataset"
