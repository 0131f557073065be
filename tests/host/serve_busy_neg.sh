#!/usr/bin/env bash
#
# Description:
#	One client cannot hold serve: a "busy" answer ends the connection,
#	the queries on one connection are bounded in number and in time,
#	and a busy answer logs why, not "no error".  Another client is
#	served meanwhile.
#
# Strategy:
#	Stand-in zfs; clients alpha (max-sessions 1, pull pool/exp) and
#	beta2 (push backup/beta2); timeout 10 s.  A Python client
#	(zkpeer.py) speaks LIST by hand.
#	1. alpha's first connection LISTs (ok: it holds alpha's one slot);
#	   a second LISTs: busy, and the server closes it at once.
#	2. the first connection LISTs again and again: the server closes it
#	   after at most 16 queries.
#	3. a new connection of alpha holds its slot; 12 more LIST: each is
#	   busy and closed; at most max-sessions + a small slack of alpha's
#	   processes remain.
#	4. a new connection of alpha LISTs every 2 s: the server closes it
#	   once the queries have taken longer than the timeout (10 s).
#	5. beta2's push goes through; serve never logged "no error".
#
. "$(dirname "$0")/lib.sh"

mkdata "$T/stream" 64K
client_pki beta2
serve_conf "$T/zktls.conf" "client alpha {" "name alpha" "pull pool/exp" \
	"max-sessions 1" "}" "client beta2 {" "name beta2" "push backup/beta2" "}"
start_serve "$T/serve.err" "$T/zktls.conf" ZKTLS_FAKE_GUID=102 \
	"ZKTLS_FAKE_SNAPS=pool/exp@a"
read -r -a B2 <<<"$(as_client beta2)"

bounded 60 python3 - "$SPORT" "$PKI" "$HOST_DIR" "$SERVE_PID" \
	<<'PY' >"$T/py.out" 2>&1
import os, sys, time
port, pki = int(sys.argv[1]), sys.argv[2]
sys.path.insert(0, sys.argv[3])
from zkpeer import *
serve = sys.argv[4]

def procs():
    # serve's children (one process per connection; two with privsep)
    n = 0
    for p in os.listdir("/proc"):
        try:
            st = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        n += st[1] == serve
    return n

t1 = connect(port, pki, "alpha")
t1.sendall(list_frame("pool/exp"))
print("first", answer(t1)[0], flush=True)
t2 = connect(port, pki, "alpha")
t2.sendall(list_frame("pool/exp"))
st, msg = answer(t2)
print("second", st, msg, flush=True)
print("second closed", closed_within(t2, 3), flush=True)

n = 0
for i in range(40):
    try:
        t1.sendall(list_frame("pool/exp"))
    except OSError:
        break
    if answer(t1)[0] != "ok":
        break
    n += 1
print("queries answered", n, "then", "closed" if closed_within(t1, 3)
      else "open", flush=True)
time.sleep(1)

t4 = connect(port, pki, "alpha")
t4.sendall(list_frame("pool/exp"))
print("holder", answer(t4)[0], flush=True)
more = []
for i in range(12):
    t = connect(port, pki, "alpha")
    t.sendall(list_frame("pool/exp"))
    more.append((t, answer(t)[0]))
print("more busy", sum(s == "busy" for _, s in more), flush=True)
time.sleep(1)
print("processes", procs(), flush=True)
print("more closed", sum(closed_within(t, 0.2) for t, _ in more), flush=True)
t4.close()
time.sleep(1)

t3 = connect(port, pki, "alpha")
t0 = time.monotonic()
state = "open"
while time.monotonic() - t0 < 30:
    try:
        t3.sendall(list_frame("pool/exp"))
    except OSError:
        state = "closed"
        break
    st = answer(t3)[0]
    if st != "ok":
        state = st
        break
    time.sleep(2)
print("slow queries", state, "after", int(time.monotonic() - t0), "s",
      flush=True)
PY
note "$(cat "$T/py.out")"
assert_line "first ok" "$T/py.out"
assert_line "second busy busy: client alpha runs 1 sessions, its limit" "$T/py.out"
assert_line "second closed True" "$T/py.out"
assert_line "holder ok" "$T/py.out"
assert_line "more busy 12" "$T/py.out"
assert_line "more closed 12" "$T/py.out"
procs=$(sed -n 's/^processes //p' "$T/py.out")
# alpha's one session (two processes with privsep) and a slack of 4
[ -n "$procs" ] && [ "$procs" -le 10 ] ||
	fail "serve kept ${procs:-?} processes for alpha's connections" "$T/py.out"
q=$(sed -n 's/^queries answered \([0-9]*\) then closed$/\1/p' "$T/py.out")
[ -n "$q" ] && [ "$q" -le 16 ] ||
	fail "the queries on one connection were not bounded" "$T/py.out"
s=$(sed -n 's/^slow queries closed after \([0-9]*\) s$/\1/p' "$T/py.out")
[ -n "$s" ] && [ "$s" -le 22 ] ||
	fail "slow queries kept the connection open" "$T/py.out"

bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_STREAM="$T/stream" \
	"ZKTLS_FAKE_SNAPS=pool/home@b" "ZKTLS_FAKE_GUIDS=pool/home@b=102" "$ZK" send pool/home@b \
	--connect "127.0.0.1:$SPORT" "${B2[@]}" </dev/null >/dev/null \
	2>"$T/b2.err"
assert_exit 0 "beta2's push" "$T/b2.err"
assert_no_grep "no error" "$T/serve.err"

finish "busy closes, queries bounded in number and time, one client cannot hold serve"
