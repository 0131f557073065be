#!/usr/bin/env bash
#
# Description:
#	zktls sync -r leaves out what --exclude names and (pushes) the
#	datasets whose zktls:sync property is off, with everything below
#	them; each left out is reported in the dry run and with -v, and
#	nothing runs for it.  -v names the defaults file read (or none).
#
# Strategy:
#	Client alpha (push backup/alpha, pull backup).  Our tree pool/exp
#	has a, a/tmp, a/tmp/x, b (zktls:sync=off), b/c, d, each with @a
#	(the stand-in zfs: ZKTLS_FAKE_TREE, ZKTLS_FAKE_SYNCPROPS).
#	1. push -r -n --exclude '*/tmp': plans for pool/exp, a, d (full
#	   streams: the server has nothing); "excluded" lines for a/tmp
#	   (--exclude '*/tmp'), a/tmp/x (below pool/exp/a/tmp), b
#	   (zktls:sync=off), b/c (below pool/exp/b); summary "3 datasets: 3
#	   planned"; no zfs send, no estimate of an excluded dataset.
#	2. The same with -v and no -n, with zktls:sync=on on d and two
#	   patterns (--exclude pool/exp/d as well): the excluded lines; the
#	   sessions ran for pool/exp and a only (the server's stand-in
#	   received those), none for the others.
#	3. pull -r -n of the server's backup/src tree (x, x/y, z) with
#	   --exclude 'backup/src/x': a plan for backup/src and z only.  The
#	   same without the pattern but zktls:sync=off on the server's x
#	   (and on backup/src itself, named: it still counts): the same plan,
#	   x "excluded: zktls:sync is off on the server".
#	4. -v names the defaults file, and says when there is none.
#	5. --exclude '': exit 2.
#
. "$(dirname "$0")/lib.sh"

read -r -a A <<<"$(as_client alpha)"
SY=("$ZK" sync --no-progress)
TREE="pool/exp/a pool/exp/a/tmp pool/exp/a/tmp/x pool/exp/b pool/exp/b/c pool/exp/d"
MINE="pool/exp@a=101"
i=0
for d in $TREE; do
	i=$((i + 1))
	MINE="$MINE $d@a=$((200 + i))"
done
printf '%s\n' "# alpha talks to beta" >"$T/sync.conf"
for ((k = 0; k < ${#A[@]}; k++)); do
	if [[ ${A[k + 1]:-} == --* || -z ${A[k + 1]:-} ]]; then
		printf '%s\n' "${A[k]#--}"
	else
		printf '%s %s\n' "${A[k]#--}" "${A[k + 1]}"
		k=$((k + 1))
	fi
done >>"$T/sync.conf"
chmod 600 "$T/sync.conf"
head -c 50000 /dev/urandom >"$T/stream"

# sync_case TAG SERVER-ENV... -- ARGS...
sync_case() {
	local tag=$1 senv=()
	shift
	while [ "$1" != -- ]; do
		senv+=("$1")
		shift
	done
	shift
	serve_conf "$T/$tag.conf" "client alpha {" "name alpha" \
		"push backup/alpha" "pull backup" "}"
	start_serve "$T/$tag.srv.err" "$T/$tag.conf" "${senv[@]}"
	set -- "${@/#SRV/127.0.0.1:$SPORT}"
	rm -rf "$T/srv.out"/*
	: >"$T/$tag.zfs.log"
	bounded 60 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_GUIDS="$MINE" \
		ZKTLS_FAKE_TREE="$TREE" \
		ZKTLS_FAKE_SYNCPROPS="pool/exp/b=off pool/exp/d=on ${PROPS:-}" \
		ZKTLS_FAKE_SNAPS="$(echo "$MINE" | sed 's/=[0-9]*//g')" \
		ZKTLS_FAKE_STREAM="$T/stream" ZKTLS_FAKE_LOG="$T/$tag.zfs.log" \
		"${SY[@]}" --defaults "$T/sync.conf" "$@" >"$T/$tag.out" 2>"$T/$tag.err"
	RC=$?
	kill -TERM "$SERVE_PID"
	reap "$SPID" _
}
US=$'\037'

# 1. the dry run
sync_case dry ZKTLS_FAKE_GUIDS=none -- -r -n --exclude '*/tmp' pool/exp SRV
assert_rc 0 "$RC" "dry run" "$T/dry.err"
for d in pool/exp pool/exp/a pool/exp/d; do
	assert_grep "sync $d -> backup/alpha/${d#pool/}: full $d@a" "$T/dry.err"
done
assert_grep "sync pool/exp/a/tmp -> 127.0.0.1:$SPORT: excluded: --exclude '*/tmp'" "$T/dry.err"
assert_grep "sync pool/exp/a/tmp/x -> 127.0.0.1:$SPORT: excluded: below pool/exp/a/tmp" "$T/dry.err"
assert_grep "sync pool/exp/b -> 127.0.0.1:$SPORT: excluded: zktls:sync=off" "$T/dry.err"
assert_grep "sync pool/exp/b/c -> 127.0.0.1:$SPORT: excluded: below pool/exp/b" "$T/dry.err"
assert_eq 4 "$(grep -c "excluded: " "$T/dry.err")" "excluded lines"
assert_grep "sync: 3 datasets: 3 planned" "$T/dry.err"
grep -E "^send$US" "$T/dry.zfs.log" | grep -v "${US}-nP$US" && fail "the dry run ran zfs send" "$T/dry.zfs.log"
grep -E "pool/exp/(a/tmp|b)" "$T/dry.zfs.log" | grep -v "^list$US" &&
	fail "zfs ran for an excluded dataset" "$T/dry.zfs.log"

# 2. a real run, -v, two patterns: a session for pool/exp (the server's
#    stand-in then lists backup/alpha/exp@a and exp/a@a, so pool/exp/a is
#    up to date), none for the excluded ones (they would be updated)
sync_case run ZKTLS_FAKE_GUIDS=none \
	"ZKTLS_FAKE_RECV_ADDS=backup/alpha/exp@a=101 backup/alpha/exp/a@a=201" \
	-- -r -v --exclude '*/tmp' --exclude pool/exp/d pool/exp SRV
assert_rc 0 "$RC" "sync with excluded datasets" "$T/run.err"
assert_grep "sync pool/exp/d -> 127.0.0.1:$SPORT: excluded: --exclude 'pool/exp/d'" "$T/run.err"
assert_grep "sync pool/exp/b -> 127.0.0.1:$SPORT: excluded: zktls:sync=off" "$T/run.err"
assert_eq 5 "$(grep -c "excluded: " "$T/run.err")" "excluded lines"
assert_grep "sync: 2 datasets: 1 updated, 1 up to date; 1 snapshot" "$T/run.err"
sent=$(grep "^send$US" "$T/run.zfs.log" | grep -v "${US}-nP$US" | awk -F"$US" '{ print $NF }' | tr '\n' ' ')
assert_eq "pool/exp@a " "$sent" "what zfs send sent"
grep -E "pool/exp/(a/tmp|b|d)" "$T/run.zfs.log" &&
	fail "zfs ran for an excluded dataset" "$T/run.zfs.log"

# 3. a pull: the pattern is on the server's names
TREE_SAVED=$TREE
sync_case pull ZKTLS_FAKE_TREE="backup/src/x backup/src/x/y backup/src/z" \
	"ZKTLS_FAKE_GUIDS=backup/src@a=301 backup/src/x@a=302 backup/src/x/y@a=303 backup/src/z@a=304" \
	-- -r -n --exclude backup/src/x "SRV:backup/src" pool/dst
TREE=$TREE_SAVED
assert_rc 0 "$RC" "pull dry run" "$T/pull.err"
assert_grep "sync backup/src -> pool/dst: full backup/src@a" "$T/pull.err"
assert_grep "sync backup/src/z -> pool/dst/z: full backup/src/z@a" "$T/pull.err"
assert_grep "sync backup/src/x -> pool/dst/x: excluded: --exclude 'backup/src/x'" "$T/pull.err"
assert_grep "sync backup/src/x/y -> pool/dst/x/y: excluded: below backup/src/x" "$T/pull.err"
assert_grep "sync: 2 datasets: 2 planned" "$T/pull.err"
# 3b. the server's zktls:sync=off on x: x and x/y left out; on the
#     dataset named (backup/src) it does not count
TREE_SAVED=$TREE
sync_case pulloff ZKTLS_FAKE_TREE="backup/src/x backup/src/x/y backup/src/z" \
	"ZKTLS_FAKE_GUIDS=backup/src@a=301 backup/src/x@a=302 backup/src/x/y@a=303 backup/src/z@a=304" \
	"ZKTLS_FAKE_SYNCPROPS=backup/src=off backup/src/x=off" \
	-- -r -n "SRV:backup/src" pool/dst
TREE=$TREE_SAVED
assert_rc 0 "$RC" "pull dry run, zktls:sync off on the server" "$T/pulloff.err"
assert_grep "sync backup/src -> pool/dst: full backup/src@a" "$T/pulloff.err"
assert_grep "sync backup/src/z -> pool/dst/z: full backup/src/z@a" "$T/pulloff.err"
assert_grep "sync backup/src/x -> pool/dst/x: excluded: zktls:sync is off on the server" "$T/pulloff.err"
assert_grep "sync backup/src/x/y -> pool/dst/x/y: excluded: below backup/src/x" "$T/pulloff.err"
assert_grep "sync: 2 datasets: 2 planned" "$T/pulloff.err"

# 4. -v names the defaults file, or says there is none
assert_grep "sync: options from the defaults file $T/sync.conf" "$T/run.err"
assert_no_grep "defaults file" "$T/dry.err"
bounded 10 env HOME="$T/nohome" "${SY[@]}" -v "${A[@]}" pool/exp 127.0.0.1:1 \
	>"$T/nodef.out" 2>"$T/nodef.err"
if [ -e /etc/zktls/sync.conf ]; then
	note "/etc/zktls/sync.conf exists: 'no defaults file' not checked"
else
	assert_grep "sync: no defaults file (no --defaults, ~/.config/zktls/sync.conf or /etc/zktls/sync.conf)" "$T/nodef.err"
fi

# 5. an empty pattern is a usage error
bounded 10 "${SY[@]}" --exclude '' pool/exp 127.0.0.1:1 >"$T/e.out" 2>"$T/e.err"
expect_fail "--exclude ''" 2 $? "$T/e.err" \
	"bad --exclude '' (a glob of dataset names; at most 64)"

# 6. a zktls:sync value with a line break, written to pass for another
#    dataset's "off": the listing is refused, nothing is sent
ZKTLS_FAKE_SYNC_EXTRA='pool/exp/d\toff\n' sync_case inject ZKTLS_FAKE_GUIDS=none -- -r pool/exp SRV
assert_rc 5 "$RC" "a forged zktls:sync line" "$T/inject.err"
assert_grep "zfs list printed pool/exp/d twice (a zktls:sync value with a line break below pool/exp?)" "$T/inject.err"
grep -E "^send$US" "$T/inject.zfs.log" && fail "zfs send ran after a forged listing" "$T/inject.zfs.log"

finish "sync --exclude and zktls:sync=off: dry-run and -v reports, only the rest sent, pull patterns on the server's names, the server's zktls:sync on pulls, -v names the defaults file, a forged zktls:sync line refused"
