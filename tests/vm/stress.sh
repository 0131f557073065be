#!/bin/bash
# stress.sh - repeat transfers per receive plane to catch rare stream loss
# (guest side; `make stress-vm` = tests/vm/run.sh -- tests/vm/stress.sh).
#   tests/vm/stress.sh [RUNS [PLANE...]]   (default 50 per plane, all planes)
#
# Description: for each receive plane (user, rw, splice, direct) runs RUNS
# transfers of a ~4 MiB stream from a splice sender in zka to a receiver in
# zkb, and counts failures (either side exits non-zero, or the bytes
# differ).  user, rw and splice receive in pipe mode into a deliberately
# slow consumer (python reading 312 bytes at a time with a short sleep every
# 64 reads: the pipe to the consumer is nearly always full, which is what
# broke a naive KTLS receive splice); direct has no pipe to slow down, so it
# receives a zfs stream with zfs recv reading the socket itself and is
# judged by the received snapshot's guid.  Prints a table "plane mode runs
# failures s/run recv-MiB/s" (the last: the receivers' mean session rate, to
# compare with the consumer's own rate printed first); exit 1 if any run
# failed, 2 on a setup error.
#
# Strategy: the planes take turns (run i of every plane, then run i+1), so
# a time budget (STRESS_BUDGET seconds of transfers, default 1200) cuts all
# planes at about the same count; the table says how many runs each plane
# got.  Every process is bounded by timeout(1).  Under TCG one run takes
# about 5-10 s.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/vm/suite-lib.sh
. "$HERE/suite-lib.sh"
RUNS=${1:-50}
BUDGET=${STRESS_BUDGET:-1200}
ZK_TO=120
trap sl_cleanup EXIT

sl_setup || { echo "stress: setup failed"; exit 2; }
zk_pool srcpool || exit 2
zk_pool dstpool || exit 2
zfs create -o mountpoint="$W/src/st" srcpool/st || exit 2
head -c 4M /dev/urandom >"$W/src/st/blob"
zfs snapshot srcpool/st@x || exit 2
STREAM=$W/stream.bin
head -c 4M /dev/urandom >"$STREAM"
SUM=$(sha256sum <"$STREAM" | cut -c1-64)
SIZE=$(stat -c %s "$STREAM")
GUID=$(guid srcpool/st@x)

# The slow consumer: reads 312 bytes at a time, naps 2 ms every 64 reads,
# writes "bytes sha256" to its output file.
cat >"$W/slow.py" <<'EOF'
import hashlib, sys, time
h, n, i = hashlib.sha256(), 0, 0
f = open(sys.argv[1], "rb", buffering=0)
while True:
    b = f.read(312)
    if not b:
        break
    h.update(b); n += len(b); i += 1
    if i % 64 == 0:
        time.sleep(0.002)
open(sys.argv[2], "w").write("%d %s\n" % (n, h.hexdigest()))
EOF

# How fast is the consumer alone (reading a file)?  It should be slower
# than the transfer, so that the pipe into it is full most of the time.
t=$(now)
python3 "$W/slow.py" "$STREAM" "$W/slow.out"
CONSUMER=$(awk -v b="$SIZE" -v ms=$(($(now) - t)) 'BEGIN { printf "%.1f", b / 1048576 / (ms / 1000) }')
echo "stress: the slow consumer alone reads $CONSUMER MiB/s"

PLANES=(user rw splice direct)
[[ $# -gt 1 ]] && PLANES=("${@:2}")
for p in "${PLANES[@]}"; do
    case $p in user | rw | splice | direct) ;; *) echo "stress: unknown plane '$p'" >&2; exit 2 ;; esac
done
declare -A RUN=() FAIL=() SECS=() MODE=() RATE=()
for p in "${PLANES[@]}"; do RUN[$p]=0 FAIL[$p]=0 SECS[$p]=0; done
MODE=([user]=pipe-slow [rw]=pipe-slow [splice]=pipe-slow [direct]=zfs-recv)

# one PLANE I: one transfer; returns 0 if it was good.
one() {
    local p=$1 i=$2 tag=st-$1 why='' got fifo=$W/slow.fifo
    xfer_reset
    if [[ $p == direct ]]; then
        zfs destroy -r dstpool/st 2>/dev/null
        SEND_ARGS=(srcpool/st@x) RECV_ARGS=(dstpool/st)
        xfer "$tag" splice "$p"
        [[ $(guid dstpool/st@x) == "$GUID" ]] || why+=" guid differs or snapshot missing;"
    else
        rm -f "$fifo" "$W/slow.out"
        mkfifo "$fifo"
        timeout -k 5 120 python3 "$W/slow.py" "$fifo" "$W/slow.out" &
        local reader=$!
        SL_EXTRA_PIDS+=("$reader")
        SEND_CMD=(pipe send) RECV_CMD=(pipe recv) S_IN=$STREAM R_OUT=$fifo
        xfer "$tag" splice "$p"
        # (if zktls never opened the FIFO, the reader waits for a writer)
        [[ $R_RC == 0 ]] || { exec {fd}<>"$fifo"; exec {fd}>&-; } 2>/dev/null
        wait "$reader" || why+=" slow reader exit $?;"
        SL_EXTRA_PIDS=()
        got=$(cat "$W/slow.out" 2>/dev/null)
        [[ $got == "$SIZE $SUM" ]] || why+=" consumer got '${got:-nothing}' (want $SIZE bytes, sha $SUM);"
    fi
    [[ $S_RC == 0 ]] || why+=" sender exit $S_RC;"
    [[ $R_RC == 0 ]] || why+=" receiver exit $R_RC;"
    RATE[$p]="${RATE[$p]:-} $(jf "$tag.r" seconds)"
    if [[ -n $why ]]; then
        echo "stress: FAIL $p run $i:$why"
        show "$tag"
        cp "$W/$tag.s.log" "$W/fail-$p-$i.s.log" 2>/dev/null
        cp "$W/$tag.r.log" "$W/fail-$p-$i.r.log" 2>/dev/null
        return 1
    fi
    return 0
}

T0=$SECONDS
for ((i = 1; i <= RUNS; i++)); do
    for p in "${PLANES[@]}"; do
        if ((SECONDS - T0 >= BUDGET)); then
            echo "stress: time budget of ${BUDGET}s spent after $((i - 1)) full rounds"
            break 2
        fi
        t=$SECONDS
        one "$p" "$i" || FAIL[$p]=$((FAIL[$p] + 1))
        RUN[$p]=$((RUN[$p] + 1))
        SECS[$p]=$((SECS[$p] + SECONDS - t))
    done
    ((i % 10 == 0)) && echo "stress: $i rounds done ($((SECONDS - T0)) s)"
done

echo
printf '%-8s %-10s %6s %9s %7s %14s\n' plane mode runs failures s/run "recv MiB/s"
total=0
for p in "${PLANES[@]}"; do
    printf '%-8s %-10s %6d %9d %7s %14s\n' "$p" "${MODE[$p]}" "${RUN[$p]}" "${FAIL[$p]}" \
        "$(awk -v s="${SECS[$p]}" -v n="${RUN[$p]}" 'BEGIN { if (n) printf "%.1f", s / n; else print "-" }')" \
        "$(awk -v b="$SIZE" -v l="${RATE[$p]:-}" 'BEGIN { n = split(l, a, " "); for (i = 1; i <= n; i++) t += a[i];
            if (n && t > 0) printf "%.1f", n * b / 1048576 / t; else print "-" }')"
    total=$((total + FAIL[$p]))
done
echo "stress: $((SECONDS - T0)) s of transfers, sender plane splice, stream $SIZE bytes, consumer alone $CONSUMER MiB/s; $total failures"
[[ $total -eq 0 ]]
