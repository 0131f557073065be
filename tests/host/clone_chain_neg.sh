#!/usr/bin/env bash
#
# Description:
#	A pull sends the blocks a clone shares with its origin, and with
#	them those of its origin's origin: serve refuses to send a dataset
#	(or, with -R, any dataset below it) whose chain of origins leaves
#	what the client may read, however deep, and says so without naming
#	the snapshot it leads to (no GUID-to-name oracle).  A chain longer
#	than the bound is refused as such; a chain inside the client's area
#	is sent.
#
# Strategy:
#	Stand-in zfs; client alpha pulls backup/alpha, client beta owns
#	backup/beta/secret@y.  Origins: backup/alpha/a is a clone of
#	backup/alpha/b@x, a clone of backup/beta/secret@y;
#	backup/alpha/r/kid of backup/alpha/b@x; backup/alpha/l and
#	backup/alpha/m of each other (a cycle: the bound);
#	backup/alpha/ok of backup/alpha/base@x (no origin).
#	1. alpha pulls backup/alpha/a@s: exit 4, "backup/alpha/a is a clone
#	   whose origin lies outside what client alpha may read", nothing
#	   about backup/beta/secret; no zfs send ran on the server.
#	2. alpha pulls backup/alpha/r@s with -R: refused the same way for
#	   backup/alpha/r/kid.
#	3. alpha pulls backup/alpha/l@s: "backup/alpha/l is a clone more than
#	   32 origins deep: refused".
#	4. alpha pulls backup/alpha/ok@s: sent.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/stream" 64K
serve_conf "$T/zktls.conf" \
	"client alpha {" "name alpha" "pull backup/alpha" "}" \
	"client beta {" "name beta" "pull backup/beta" "}"
start_serve "$T/serve.err" "$T/zktls.conf" ZKTLS_FAKE_STREAM="$T/stream" \
	"ZKTLS_FAKE_SNAPS=backup/alpha/a@s backup/alpha/r@s backup/alpha/l@s backup/alpha/ok@s" \
	"ZKTLS_FAKE_GUIDS=backup/alpha/a@s=11 backup/alpha/r@s=12 backup/alpha/l@s=13 backup/alpha/ok@s=14" \
	"ZKTLS_FAKE_ORIGINS=backup/alpha/a=backup/alpha/b@x backup/alpha/b=backup/beta/secret@y backup/alpha/r/kid=backup/alpha/b@x backup/alpha/l=backup/alpha/m@x backup/alpha/m=backup/alpha/l@x backup/alpha/ok=backup/alpha/base@x"
read -r -a A <<<"$(as_client alpha)"
pull() { # TAG SNAP [RECV-ARGS...]: a pull; rc in RC
	local tag=$1 snap=$2
	shift 2
	bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_OUT="$T/$tag.out" \
		ZKTLS_FAKE_GUID=14 "$ZK" recv --connect "127.0.0.1:$SPORT" \
		--source "$snap" "${A[@]}" "$@" backup/p </dev/null >/dev/null \
		2>"$T/$tag.err"
	RC=$?
}
nothing_sent() { # LABEL: no zfs send (but dry runs) on the server since
	grep -a '^send'$'\037' "$T/srv.zfs.log" 2>/dev/null |
		grep -av $'\037-n' | grep -q . &&
		fail "$1: zfs send ran on the server"
	: >"$T/srv.zfs.log"
}
: >"$T/srv.zfs.log"

# 1. two hops out
pull c1 backup/alpha/a@s
expect_fail "a clone of a clone of beta's" 4 "$RC" "$T/c1.err" \
	"peer refused the request (error): backup/alpha/a is a clone whose origin lies outside what client alpha may read"
assert_no_grep "secret" "$T/c1.err"
assert_empty "$T/c1.out"
nothing_sent "a clone of a clone of beta's"

# 2. -R: a dataset below
pull c2 backup/alpha/r@s --source-flags R
expect_fail "-R over a clone of a clone of beta's" 4 "$RC" "$T/c2.err" \
	"peer refused the request (error): backup/alpha/r/kid is a clone whose origin lies outside what client alpha may read"
nothing_sent "-R over a clone of a clone of beta's"

# 3. the bound
pull c3 backup/alpha/l@s
expect_fail "a cycle of origins" 4 "$RC" "$T/c3.err" \
	"peer refused the request (error): backup/alpha/l is a clone more than 32 origins deep: refused"
nothing_sent "a cycle of origins"

# 4. a chain inside alpha's area
pull c4 backup/alpha/ok@s
assert_rc 0 "$RC" "a clone of alpha's own" "$T/c4.err"
assert_file_eq "$T/stream" "$T/c4.out"
grep -aq '^send'$'\037''backup/alpha/ok@s$' "$T/srv.zfs.log" ||
	fail "no zfs send logged for backup/alpha/ok@s" "$T/srv.zfs.log"

finish "clone chains followed to their end (2 hops, -R, a bound of 32), refused without naming what they lead to"
