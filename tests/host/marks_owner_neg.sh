#!/usr/bin/env bash
#
# Description:
#	zktls's own bookmarks (the base of a client's next pull on serve, the
#	base of sync's next push) are told apart by an exact parse of their
#	name, never by a prefix: client web never destroys or lists client
#	web_2's marks, and sync to one server never destroys the marks it
#	keeps for another whose tag starts the same.  Marks of the previous
#	format (zktls_WHO_SNAP) are destroyed by their owner only when the
#	name proves whose they are, and listed only to it.
#
# Strategy:
#	Stand-in zfs (bookmark and destroy only log).  serve: clients web
#	and web_2 pull pool/exp (@a 101, @b 102); pool/exp holds web_2's
#	old-format mark #zktls_web_2_a and web's #zktls_web_a (both of @a),
#	and #zktls_web_daily_1 (of a pruned @daily_1: web's or a client
#	web_daily's, not provable).
#	1. web pulls pool/exp@b: ok; the server bookmarks @b as
#	   #zktls:3:web:b, destroys #zktls_web_a (its own: @a has its guid),
#	   never #zktls_web_2_a nor #zktls_web_daily_1.
#	2. web LISTs pool/exp: its own marks (#zktls_web_daily_1 too: no
#	   configured client but web can claim it), not web_2's ("web_2"
#	   nowhere); web_2 sees its own, none of web's.
#	3. sync pushes our pool/exp (@a..@c) to serve as alpha; we hold the
#	   old-format marks of this server (#zktls_127.0.0.1_PORT_a) and of
#	   another whose tag starts the same (#zktls_127.0.0.1_PORT_9_a):
#	   after the push, @c is bookmarked #zktls:N:127.0.0.1:PORT:c, our
#	   old mark destroyed, the other server's kept.
#
. "$(dirname "$0")/lib.sh"

US=$'\037'
mkdata "$T/stream" 64K
client_pki web webtwo
serve_conf "$T/zktls.conf" \
	"client web {" "name web" "pull pool/exp" "}" \
	"client web_2 {" "name webtwo" "pull pool/exp" "}" \
	"client alpha {" "name alpha" "push backup/alpha" "}"
start_serve "$T/serve.err" "$T/zktls.conf" ZKTLS_FAKE_GUID=103 \
	ZKTLS_FAKE_STREAM="$T/stream" "ZKTLS_FAKE_SNAPS=pool/exp@a pool/exp@b" \
	"ZKTLS_FAKE_GUIDS=pool/exp@a=101 pool/exp@b=102 pool/exp#zktls_web_2_a=101 pool/exp#zktls_web_a=101 backup/alpha/exp@a=101 pool/exp#zktls_web_daily_1=100" \
	ZKTLS_FAKE_RECV_ADDS=backup/alpha/exp@c=103
read -r -a W <<<"$(as_client web)"
read -r -a A <<<"$(as_client alpha)"
: >"$T/srv.zfs.log"

# 1. web pulls
bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_OUT="$T/pull.out" \
	ZKTLS_FAKE_GUID=102 "$ZK" recv --connect "127.0.0.1:$SPORT" \
	--source pool/exp@b "${W[@]}" backup/p </dev/null >/dev/null \
	2>"$T/pull.err"
assert_rc 0 $? "web pulls pool/exp@b" "$T/pull.err"
assert_file_eq "$T/stream" "$T/pull.out"
# the session ends before its marks are moved: wait for the last one
for ((i = 0; i < 100; i++)); do
	grep -q "^destroy" "$T/srv.zfs.log" && break
	sleep 0.05
done
sleep 0.3
assert_line "bookmark${US}pool/exp@b${US}pool/exp#zktls:3:web:b" "$T/srv.zfs.log"
assert_line "destroy${US}pool/exp#zktls_web_a" "$T/srv.zfs.log"
assert_no_grep "zktls_web_2_a" "$T/srv.zfs.log"
assert_no_grep "zktls_web_daily_1" "$T/srv.zfs.log"
assert_no_grep "refused" "$T/serve.err"

# 2. web's LIST shows its own marks only
bounded 20 "$ZK" list --connect "127.0.0.1:$SPORT" "${W[@]}" pool/exp \
	>"$T/list.out" 2>"$T/list.err"
assert_rc 0 $? "web lists pool/exp" "$T/list.err"
assert_line "pool/exp#zktls_web_a	101	104" "$T/list.out"
assert_line "pool/exp@b	102	102" "$T/list.out"
assert_line "pool/exp#zktls_web_daily_1	100	106" "$T/list.out"
assert_no_grep "web_2" "$T/list.out"
read -r -a W2 <<<"$(as_client webtwo)"
bounded 20 "$ZK" list --connect "127.0.0.1:$SPORT" "${W2[@]}" pool/exp \
	>"$T/list2.out" 2>"$T/list2.err"
assert_rc 0 $? "web_2 lists pool/exp" "$T/list2.err"
assert_line "pool/exp#zktls_web_2_a	101	103" "$T/list2.out"
assert_no_grep "zktls_web_a" "$T/list2.out"
assert_no_grep "zktls_web_daily" "$T/list2.out"

# 3. sync's push marks
: >"$T/sync.zfs.log"
OLD=zktls_127.0.0.1_$SPORT
bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_STREAM="$T/stream" \
	ZKTLS_FAKE_LOG="$T/sync.zfs.log" \
	"ZKTLS_FAKE_SNAPS=pool/exp@a pool/exp@b pool/exp@c" \
	"ZKTLS_FAKE_GUIDS=pool/exp@a=101 pool/exp@b=102 pool/exp@c=103 pool/exp#${OLD}_9_a=101 pool/exp#${OLD}_a=101" \
	"$ZK" sync --no-progress "${A[@]}" pool/exp "127.0.0.1:$SPORT" \
	</dev/null >"$T/sync.out" 2>"$T/sync.err"
assert_rc 0 $? "sync pushes pool/exp" "$T/sync.err"
n=$((${#SPORT} + 10))
assert_line "bookmark${US}pool/exp@c${US}pool/exp#zktls:$n:127.0.0.1:$SPORT:c" "$T/sync.zfs.log"
assert_line "destroy${US}pool/exp#${OLD}_a" "$T/sync.zfs.log"
assert_no_grep "${OLD}_9_a" "$T/sync.zfs.log"

finish "marks parsed exactly: web keeps off web_2's, sync off another server's; old-format marks removed only by their provable owner"
