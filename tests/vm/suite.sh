#!/bin/bash
# shellcheck disable=SC2034 # the set-up's variables are for the case files
# suite.sh - the zktls VM test suite (guest side): shared set-up, then the
# case files of tests/vm/cases/.
#   tests/vm/run.sh -- tests/vm/suite.sh [SELECTOR...]
#   tests/vm/run-case NAME... [--flavour F]     (the same, from the host)
#
# Description: end-to-end tests of zktls with real kernel TLS and real
# OpenZFS, between two network-namespace "hosts" (zka = alpha, the sender;
# zkb = beta, the receiver) joined by a veth pair, with file-backed pools
# srcpool and dstpool.  The cases are files, tests/vm/cases/TOPIC_pos.sh
# (a behaviour that must work) and TOPIC_neg.sh (a failure that must be
# met as designed), one behaviour each; each file's header says what it
# checks (Description) and how (Strategy), and carries these lines:
#   # Cases: NAME...   the VMTEST names it reports, in order
#   # Tags: WORD...    kernels=all, or kernels=6.14+ (run only on Linux
#                      6.14 and later; the header says why); zfs (needs
#                      the pools); slow (a minute or more a case); bg (its
#                      cases mostly wait: they run in background workers,
#                      one case at a time, each worker on a host pair of
#                      its own); alone (runs only after the background
#                      group has ended: nothing beside it, as sync-rate
#                      times a transfer); chain (its
#                      cases build on each other: selecting one runs all)
#   # Limit: SECONDS   the most one of its cases may take: the driver stops
#                      the file after Limit x its selected cases
#                      (ZK_CASE_LIMIT=SECONDS: the same for every file)
#   # Order: N         where it runs among the files (ascending)
#   # Needs: FILE      a file whose results it judges: run in full first
#                      when none of its cases is selected
# docs/vm-cases.md lists every case with its file.
# Output: exactly one line per case, "VMTEST PASS <name> <detail>" or
# "VMTEST FAIL <name> <why>" (failures are followed by indented log
# tails), each preceded by "VMTIME <name> <seconds>"; last
# "suite: N passed, M failed in S s"; exit 0 only if every case passed.
# A selected case that a file did not report (it hit its limit, or ended
# early) is reported FAIL by the driver.
# Arguments select cases (none: all): PREFIX (every case whose name starts
# with it), =NAME (exactly that case), FILE.sh (every case of
# tests/vm/cases/FILE.sh).  The set-up always runs.
#
# Strategy: set-up once per boot: the hosts, the pools, one data set
# (~5.5 MiB: text, random files, a marker file; about 350 16-KiB records,
# many pipe-fulls) with four snapshots, and the measured cost of zktls's
# start-up probe of kernel TLS.  Each case file then runs in a subshell of
# the driver (the set-up's variables, suite-lib.sh and case-lib.sh are
# there), its output kept in $W/cases/ and its verdicts counted from it.
# The bg files' cases are queued before the first foreground file and
# taken one by one by BG_WORKERS workers (ZK_BG_WORKERS, default 2) while
# the foreground files run in Order; their output comes out when the group
# ends (before the first "alone" file, else at the end).  Cases judge by
# exit codes, the --json session lines, zfs guids, checksums of the
# received snapshot (mounted read-only), tls_stat and /proc/PID/io
# (sampled only for the matrix, ZK_WATCH=1).  Every process runs under
# timeout(1); every wait loop is bounded.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CASES=$HERE/cases
# shellcheck source=tests/vm/suite-lib.sh
. "$HERE/suite-lib.sh"
# shellcheck source=tests/vm/case-lib.sh
. "$HERE/case-lib.sh"

ARGS=("$@")
NPASS=0 NFAIL=0
ERRS=()
T_SUITE=$SECONDS
T_CASE=$SECONDS

# ------------------------------------------------------------ the catalogue
# hdr FILE KEY: the words of FILE's "# KEY:" header lines
hdr() { sed -n "s/^# $2: *//p" "$1" | tr '\n' ' ' | sed 's/  */ /g; s/^ //; s/ $//'; }
declare -A F_CASES=() F_TAGS=() F_LIMIT=() F_ORDER=() F_NEEDS=() F_SEL=()
FILES=()
catalogue() {
    local f b
    for f in "$CASES"/*_pos.sh "$CASES"/*_neg.sh; do
        [[ -f $f ]] || continue
        b=${f##*/}
        F_CASES[$b]=$(hdr "$f" Cases) F_TAGS[$b]=" $(hdr "$f" Tags) "
        F_LIMIT[$b]=$(hdr "$f" Limit) F_ORDER[$b]=$(hdr "$f" Order) F_NEEDS[$b]=$(hdr "$f" Needs)
        [[ -n ${F_CASES[$b]} && ${F_LIMIT[$b]} =~ ^[0-9]+$ && ${F_ORDER[$b]} =~ ^[0-9]+$ ]] || {
            echo "VMTEST FAIL $b: its header lacks Cases, Limit or Order"
            NFAIL=$((NFAIL + 1))
            unset "F_CASES[$b]"
            continue
        }
    done
    [[ ${#F_CASES[@]} -gt 0 ]] || return 0
    mapfile -t FILES < <(for b in "${!F_CASES[@]}"; do printf '%06d %s\n' "${F_ORDER[$b]}" "$b"; done | sort | cut -d' ' -f2)
}
has_tag() { [[ ${F_TAGS[$1]} == *" $2 "* ]]; }
# chosen NAME FILE: does an argument select case NAME of FILE?
chosen() {
    local a
    [[ ${#ARGS[@]} -eq 0 ]] && return 0
    for a in "${ARGS[@]}"; do
        case $a in
            =*) [[ $1 == "${a#=}" ]] && return 0 ;;
            *.sh) [[ $2 == "${a##*/}" ]] && return 0 ;;
            *) [[ $1 == "$a"* ]] && return 0 ;;
        esac
    done
    return 1
}
# select_cases: F_SEL[FILE] = its selected cases (Tags and Needs applied).
select_cases() {
    local b c n a hit kmaj kmin
    IFS=. read -r kmaj kmin _ <<<"$(uname -r)"
    for b in "${FILES[@]}"; do
        F_SEL[$b]=''
        for c in ${F_CASES[$b]}; do chosen "$c" "$b" && F_SEL[$b]+="$c "; done
        [[ -n ${F_SEL[$b]} ]] && has_tag "$b" chain && F_SEL[$b]="${F_CASES[$b]} "
    done
    for b in "${FILES[@]}"; do
        for n in ${F_NEEDS[$b]}; do
            [[ -n ${F_SEL[$b]} && -n ${F_CASES[$n]:-} && -z ${F_SEL[$n]} ]] && F_SEL[$n]="${F_CASES[$n]} "
        done
    done
    for b in "${FILES[@]}"; do
        if [[ -n ${F_SEL[$b]} && ${F_TAGS[$b]} == *" kernels=6.14+ "* ]] &&
            ! ((kmaj > 6 || (kmaj == 6 && kmin >= 14))); then
            echo "suite: $b not run on Linux $(uname -r) (kernels=6.14+): ${F_SEL[$b]}"
            F_SEL[$b]=''
        fi
    done
    for a in "${ARGS[@]}"; do
        hit=0
        for b in "${FILES[@]}"; do
            for c in ${F_CASES[$b]}; do chosen1 "$a" "$c" "$b" && hit=1; done
        done
        [[ $hit == 1 ]] || echo "suite: no case matches '$a'"
    done
}
# chosen1 ARG NAME FILE: does ARG select case NAME of FILE?
chosen1() { local -a ARGS=("$1"); chosen "$2" "$3"; }

# ------------------------------------------------------------ running a file
# run_file FILE STREAM NAME...: tests/vm/cases/FILE sourced in a subshell
# with SEL=(NAME...), stopped after Limit x the number of NAMEs; its
# output in $W/cases/ (copied to stdout as it comes with STREAM=1, at its
# end with 0).  Sets RF_PASS/RF_FAIL from its VMTEST lines; every NAME
# without one is reported FAIL here (and counted).
run_file() {
    local b=$1 stream=$2 out per lim pid tpid='' end i rc stopped=0 c
    shift 2
    local -a names=("$@")
    out=$W/cases/${b%.sh}.out
    [[ $stream == 1 ]] || out=$W/cases/${b%.sh}.$1.out
    per=${ZK_CASE_LIMIT:-${F_LIMIT[$b]}}
    lim=$((per * ${#names[@]}))
    mkdir -p "$W/cases"
    : >"$out"
    (
        trap case_cleanup EXIT
        trap 'exit 143' TERM
        SEL=("${names[@]}") ERRS=() T_CASE=$SECONDS
        # shellcheck disable=SC1090
        . "$CASES/$b"
    ) >"$out" 2>&1 </dev/null &
    pid=$!
    if [[ $stream == 1 ]]; then
        tail -n +1 -f --pid="$pid" "$out" &
        tpid=$!
    fi
    end=$((SECONDS + lim))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= end)); then
            stopped=1
            kill -TERM "$pid" 2>/dev/null
            for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; nap 0.1; done
            pkill -KILL -P "$pid" 2>/dev/null
            kill -KILL "$pid" 2>/dev/null
            echo "suite: cases/$b stopped at its limit of $lim s (ended $((SECONDS - end)) s later)"
            break
        fi
        nap 1
    done
    wait "$pid"; rc=$?
    if [[ -n $tpid ]]; then wait "$tpid"; else cat "$out"; fi
    RF_PASS=$(grep -c '^VMTEST PASS ' "$out") RF_FAIL=$(grep -c '^VMTEST FAIL ' "$out")
    for c in "${names[@]}"; do
        grep -Eq "^VMTEST (PASS|FAIL) $c( |\$)" "$out" && continue
        if [[ $stopped == 1 ]]; then
            echo "VMTEST FAIL $c cases/$b stopped at its limit ($lim s: $per s a case) before this verdict"
        else
            echo "VMTEST FAIL $c cases/$b ended (status $rc) without this verdict"
        fi
        RF_FAIL=$((RF_FAIL + 1))
    done
    T_CASE=$SECONDS
}

trap sl_cleanup EXIT

# ------------------------------------------------------------------ setup
setup() {
    local d
    sl_setup || return 1
    zk_pool srcpool || return 1
    zk_pool dstpool || return 1
    # srcpool/data: text, random files and a marker file; s1..s4.
    zfs create -o mountpoint="$W/src/data" srcpool/data || return 1
    d=$W/src/data
    MARK=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    [[ ${#MARK} -eq 64 ]] || return 1
    cp -r "$SL_REPO/src" "$d/src"
    seq 1 100000 >"$d/numbers.txt"
    head -c 2M /dev/urandom >"$d/r1"
    head -c 1M /dev/urandom >"$d/r2"
    head -c 1M /dev/urandom >"$d/r3"
    yes "$MARK" | head -c 512K >"$d/marker.txt"
    zfs snapshot srcpool/data@s1 || return 1
    seq 100001 110000 >>"$d/numbers.txt"
    head -c 512K /dev/urandom >"$d/r4"
    rm "$d/r3"
    zfs snapshot srcpool/data@s2 || return 1
    head -c 512K /dev/urandom >"$d/r5"
    zfs snapshot srcpool/data@s3 || return 1
    head -c 256K /dev/urandom >"$d/r6"
    zfs snapshot srcpool/data@s4 || return 1
    SUM_S1=$(snap_sum srcpool/data@s1)
    SUM_S2=$(snap_sum srcpool/data@s2)
    [[ $SUM_S1 != unmountable && $SUM_S2 != unmountable ]] || return 1
    S1_BYTES=$(zfs send srcpool/data@s1 | wc -c)
    echo "setup: srcpool/data@s1 stream ${S1_BYTES} bytes, sum $SUM_S1 ($((SECONDS - T_SUITE)) s)"
}
if ! setup; then
    echo "VMTEST FAIL setup could not build hosts, pools or data (see above)"
    exit 1
fi

# What one zktls process adds to its namespace's TlsTxSw/TlsRxSw before
# any session: its start-up probe of kernel TLS (loopback sockets, one per
# cipher suite).  Measured, so that the session's own +1 can be checked.
probe_cost() {
    local a b
    a=$(ns_stat "$ZKA")
    zk_start probe "$ZKA" pipe recv --mode splice --json "${TLS_A[@]}" --listen "$ZKA_IP:0"
    wait_listen probe 60 >/dev/null || { zk_stop probe; echo "? ?"; return; }
    b=$(ns_stat "$ZKA")
    zk_stop probe
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); print y[1] - x[1], y[2] - x[2] }'
}
read -r PROBE_TX PROBE_RX <<<"$(probe_cost)"
echo "VMTIME (setup) $((SECONDS - T_SUITE))"
T_CASE=$SECONDS
echo "setup: one process's kernel TLS probe adds TlsTxSw +$PROBE_TX TlsRxSw +$PROBE_RX"

# The kernel's own answer to "can kernel TLS change keys" (rekeys in
# case-lib.sh): Linux 6.14 and later.
IFS=. read -r KMAJ KMIN _ <<<"$(uname -r)"
KREKEY=0
((KMAJ > 6 || (KMAJ == 6 && KMIN >= 14))) && KREKEY=1
PLANES=(user rw splice direct)
# The hosts' own socket buffer settings (rmem_restore, sbuf_restore).
RMEM0=$(ip netns exec "$ZKB" sysctl -n net.ipv4.tcp_rmem | tr -s '\t ' ' ')
WMEM0=$(ip netns exec "$ZKA" sysctl -n net.ipv4.tcp_wmem | tr -s '\t ' ' ')

catalogue
select_cases

# ------------------------------------------------------------ background
# The bg files' cases (a stalled relay, a silent source, a vanished peer,
# a stopped zfs) mostly wait: they run side by side, BG_WORKERS at a time,
# while the foreground files run.  Each worker has a host pair of its own
# (zk_pair_up: zkaN/zkbN), so that what a case does to its hosts (an 8 KiB
# receive buffer, a link taken down) and the hosts' tls_stat counters
# touch no other case.  The queue is in Order and case order (the longest
# first); a worker takes the next case when it is done with one.
BG_WORKERS=${ZK_BG_WORKERS:-2}
BG_PID=''
# bg_take: the next "FILE NAME" of the queue (fails when it is empty).
bg_take() {
    local i n line
    for ((i = 0; i < 600; i++)); do mkdir "$W/bg.lock" 2>/dev/null && break; nap 0.05; done
    read -r n <"$W/bg.next"
    line=$(sed -n "$((n + 1))p" "$W/bg.queue")
    echo $((n + 1)) >"$W/bg.next"
    rmdir "$W/bg.lock"
    [[ -n $line ]] && echo "$line"
}
bg_start() {
    local k b c item
    : >"$W/bg.queue"
    echo 0 >"$W/bg.next"
    rmdir "$W/bg.lock" 2>/dev/null
    for b in "${FILES[@]}"; do
        has_tag "$b" bg || continue
        for c in ${F_SEL[$b]}; do echo "$b $c" >>"$W/bg.queue"; done
    done
    [[ -s $W/bg.queue ]] || return 0
    for ((k = 1; k <= BG_WORKERS; k++)); do
        zk_pair_up "$k" || { echo "VMTEST FAIL waiting-cases could not make host pair $k"; NFAIL=$((NFAIL + 1)); return 1; }
    done
    (
        trap - EXIT
        for ((k = 1; k <= BG_WORKERS; k++)); do
            (
                zk_pair_use "$k"
                while item=$(bg_take); do
                    run_file "${item% *}" 0 "${item#* }"
                done
            ) >"$W/bg-$k.out" 2>&1 &
        done
        wait
    ) &
    BG_PID=$!
}
# bg_wait: wait for the group; its output, its verdicts counted here.
bg_wait() {
    local k p f
    [[ -n ${BG_PID:-} ]] || return 0
    wait "$BG_PID"
    for ((k = 1; k <= BG_WORKERS; k++)); do
        cat "$W/bg-$k.out" 2>/dev/null
        p=$(grep -c '^VMTEST PASS ' "$W/bg-$k.out" 2>/dev/null)
        f=$(grep -c '^VMTEST FAIL ' "$W/bg-$k.out" 2>/dev/null)
        NPASS=$((NPASS + ${p:-0})) NFAIL=$((NFAIL + ${f:-0}))
    done
    T_CASE=$SECONDS
    BG_PID=''
}

# ------------------------------------------------------------ the files
bg_start
for b in "${FILES[@]}"; do
    if [[ -z ${F_SEL[$b]} ]] || has_tag "$b" bg; then continue; fi
    has_tag "$b" alone && bg_wait
    # shellcheck disable=SC2086 # F_SEL: case names
    run_file "$b" 1 ${F_SEL[$b]}
    NPASS=$((NPASS + RF_PASS)) NFAIL=$((NFAIL + RF_FAIL))
done
bg_wait

echo "suite: $NPASS passed, $NFAIL failed in $((SECONDS - T_SUITE)) s"
[[ $NFAIL -eq 0 && $NPASS -gt 0 ]]
