#!/usr/bin/env bash
#
# Description:
#	serve's retention with a stand-in zfs: a client's keep grid applied
#	to what it pushed, by --prune-dry-run (prints, destroys nothing),
#	with a clock behind the snapshots (ZKTLS_NOW: nothing goes),
#	--prune-now, by serve itself after the client's push and on its
#	timer (prune-interval); a client without keep loses nothing.
#
# Strategy:
#	fakezfs lists (ZKTLS_FAKE_RETAIN) alpha's backup/alpha@s1..s5, one a
#	day in UTC (s3 and s4 the same day, s2 held), and c1's backup/c1@x1..
#	x3.  A listing with a line zfs could not print destroys nothing.
#	With alpha's push dataset backup and c1's backup/c1 nested in it,
#	alpha's grid never reaches backup/c1.
#	alpha has "keep daily=2": s5 and s4 (one a day), s2 (held) stay,
#	s1 and s3 go.  Checked by the exact "would destroy" lines, the exact
#	zfs destroy calls in fakezfs's log (none for dry runs, none of
#	backup/c1) and serve's one log line per snapshot destroyed.
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/stream" 64K
client_pki c1
day=86400 t0=1767225600 # 2026-01-01 00:00 UTC
{
	printf 'backup/alpha@s1\t11\t%s\t0\n' $((t0 + 3600))
	printf 'backup/alpha@s2\t12\t%s\t1\n' $((t0 + day + 3600))
	printf 'backup/alpha@s3\t13\t%s\t0\n' $((t0 + 2 * day + 3600))
	printf 'backup/alpha@s4\t14\t%s\t0\n' $((t0 + 2 * day + 7200))
	printf 'backup/alpha@s5\t15\t%s\t0\n' $((t0 + 3 * day + 3600))
	printf 'backup/c1@x1\t21\t%s\t0\n' $((t0 + 3600))
	printf 'backup/c1@x2\t22\t%s\t0\n' $((t0 + day))
	printf 'backup/c1@x3\t23\t%s\t0\n' $((t0 + 2 * day))
} >"$T/retain"
serve_conf "$T/zktls.conf" "prune-interval 0" \
	"client alpha {" "name alpha" "push backup/alpha" "keep daily=2" "}" \
	"client c1 {" "name c1" "push backup/c1" "}"
FENV=(env TZ=UTC ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_RETAIN="$T/retain")

# 1. the dry run: what would go, on stdout; no destroy ran
bounded 30 "${FENV[@]}" ZKTLS_FAKE_LOG="$T/dry.zfs.log" "$ZK" serve \
	--config "$T/zktls.conf" --prune-dry-run >"$T/dry.out" 2>"$T/dry.err"
assert_exit 0 "--prune-dry-run" "$T/dry.err"
assert_eq "would destroy backup/alpha@s1 (outside keep grid daily=2)
would destroy backup/alpha@s3 (outside keep grid daily=2)" "$(cat "$T/dry.out")" "the dry run's lines"
assert_eq 0 "$(fake_calls "$T/dry.zfs.log" destroy | wc -l)" "destroys in a dry run"
assert_grep "$(argv_line list -H -p -o name,guid,creation,userrefs -t snapshot -s createtxg -d 1 backup/alpha)" "$T/dry.zfs.log"

# 2. with -v the dry run says why each stays
bounded 30 "${FENV[@]}" "$ZK" serve --config "$T/zktls.conf" \
	--prune-dry-run -v >"$T/dryv.out" 2>"$T/dryv.err"
assert_exit 0 "--prune-dry-run -v" "$T/dryv.err"
assert_line "keep backup/alpha@s2 (held)" "$T/dryv.out"
assert_line "keep backup/alpha@s4 (daily 2026-01-03)" "$T/dryv.out"
assert_line "keep backup/alpha@s5 (newest)" "$T/dryv.out"
assert_no_grep "backup/c1@" "$T/dryv.out"

# 3. a clock behind s3: s3..s5 in its future, nothing goes
bounded 30 "${FENV[@]}" ZKTLS_NOW=$((t0 + 2 * day)) ZKTLS_FAKE_LOG="$T/past.zfs.log" \
	"$ZK" serve --config "$T/zktls.conf" --prune-now >"$T/past.out" 2>"$T/past.err"
assert_exit 0 "--prune-now, now before s3" "$T/past.err"
assert_eq 0 "$(fake_calls "$T/past.zfs.log" destroy | wc -l)" "destroys with now before s3"

# 4. --prune-now: exactly s1 and s3, one log line each
bounded 30 "${FENV[@]}" ZKTLS_FAKE_LOG="$T/now.zfs.log" "$ZK" serve \
	--config "$T/zktls.conf" --prune-now >"$T/now.out" 2>"$T/now.err"
assert_exit 0 "--prune-now" "$T/now.err"
assert_eq "$(argv_line destroy backup/alpha@s1)
$(argv_line destroy backup/alpha@s3)" "$(fake_calls "$T/now.zfs.log" destroy)" "--prune-now's destroys"
assert_line "zktls: client alpha: destroyed backup/alpha@s1 (outside keep grid daily=2)" "$T/now.err"
assert_line "zktls: client alpha: destroyed backup/alpha@s3 (outside keep grid daily=2)" "$T/now.err"

# 5. a listing zfs could not have printed (a creation time that is not a
#    number): nothing destroyed, a warning, exit 5
{
	cat "$T/retain"
	printf 'backup/alpha@s6\t16\tyesterday\t0\n'
} >"$T/retain.bad"
bounded 30 "${FENV[@]}" ZKTLS_FAKE_RETAIN="$T/retain.bad" \
	ZKTLS_FAKE_LOG="$T/bad.zfs.log" "$ZK" serve --config "$T/zktls.conf" \
	--prune-now >"$T/bad.out" 2>"$T/bad.err"
assert_exit 5 "--prune-now of a bad listing" "$T/bad.err"
assert_line "zktls: warning: client alpha: keep daily=2: cannot list the snapshots of backup/alpha" "$T/bad.err"
assert_eq 0 "$(fake_calls "$T/bad.zfs.log" destroy | wc -l)" "destroys with a bad listing"

# 6. nested push datasets: alpha pushes into backup (keep newest=1), c1
#    into backup/c1 (no keep): alpha's grid reaches backup/alpha, never
#    backup/c1
printf 'backup/alpha\t1\t1\nbackup/c1\t2\t2\n' >"$T/tree"
serve_conf "$T/nested.conf" \
	"client alpha {" "name alpha" "push backup" "keep newest=1" "}" \
	"client c1 {" "name c1" "push backup/c1" "}"
bounded 30 "${FENV[@]}" ZKTLS_FAKE_LISTING="$T/tree" "$ZK" serve \
	--config "$T/nested.conf" --prune-dry-run >"$T/nested.out" 2>"$T/nested.err"
assert_exit 0 "--prune-dry-run, nested" "$T/nested.err"
assert_eq "would destroy backup/alpha@s1 (outside keep grid newest=1)
would destroy backup/alpha@s3 (outside keep grid newest=1)
would destroy backup/alpha@s4 (outside keep grid newest=1)" "$(cat "$T/nested.out")" "nested: what would go"

# 7. serve after pushes: c1's push prunes nothing (no keep), alpha's
#    prunes s1 and s3
start_serve "$T/serve.err" "$T/zktls.conf" TZ=UTC ZKTLS_FAKE_RETAIN="$T/retain" \
	ZKTLS_FAKE_GUID=101
for who in c1 alpha; do
	read -r -a A <<<"$(as_client "$who")"
	bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_STREAM="$T/stream" \
		"ZKTLS_FAKE_SNAPS=pool/home@a" "ZKTLS_FAKE_GUIDS=pool/home@a=101" \
		"$ZK" send pool/home@a --connect "127.0.0.1:$SPORT" "${A[@]}" \
		</dev/null >/dev/null 2>"$T/push.$who.err"
	assert_exit 0 "push: $who" "$T/push.$who.err"
	if [ "$who" = c1 ]; then
		sleep 1
		assert_eq 0 "$(fake_calls "$T/srv.zfs.log" destroy | wc -l)" "destroys after c1's push"
	fi
done
for ((i = 0; i < 100; i++)); do
	[ "$(fake_calls "$T/srv.zfs.log" destroy | wc -l)" -ge 2 ] && break
	sleep 0.1
done
assert_eq "$(argv_line destroy backup/alpha@s1)
$(argv_line destroy backup/alpha@s3)" "$(fake_calls "$T/srv.zfs.log" destroy)" "serve's destroys after alpha's push"
assert_grep "zktls: client alpha: destroyed backup/alpha@s3 (outside keep grid daily=2)" "$T/serve.err"
assert_no_grep "backup/c1@" "$T/serve.err"

# 8. the timer: prune-interval 2, no push; serve prunes by itself
kill -TERM "$SERVE_PID"
reap "$SPID" _
serve_conf "$T/timer.conf" "prune-interval 2" \
	"client alpha {" "name alpha" "push backup/alpha" "keep daily=2" "}"
rm -f "$T/srv.zfs.log"
start_serve "$T/timer.err" "$T/timer.conf" TZ=UTC ZKTLS_FAKE_RETAIN="$T/retain"
for ((i = 0; i < 100; i++)); do
	[ "$(fake_calls "$T/srv.zfs.log" destroy | wc -l)" -ge 4 ] && break
	sleep 0.1
done
assert_eq "$(argv_line destroy backup/alpha@s1)
$(argv_line destroy backup/alpha@s3)
$(argv_line destroy backup/alpha@s1)
$(argv_line destroy backup/alpha@s3)" "$(fake_calls "$T/srv.zfs.log" destroy | head -n 4)" \
	"two passes of the timer (the stand-in destroys nothing)"

finish "retain_pos: keep daily=2: dry run listed s1 s3 and destroyed nothing; now before s3: nothing; --prune-now and serve after alpha's push destroyed exactly s1 s3; c1 (no keep) nothing; prune-interval 2 pruned twice unasked"
