# shellcheck shell=bash disable=SC2034
# suite-lib.sh - helpers for the guest-side scripts suite.sh, stress.sh,
# demo-guest.sh and bench/bench-vm.sh (source it inside the test VM).
#
# Description: builds on tests/vm/lib.sh (namespaces zka/zkb, file-backed
# pools, tls_stat) and adds what every zktls scenario needs: test
# certificates, zktls started in a namespace in the background with its
# stderr in a log, its PID known exactly, and a watcher that samples its
# /proc/PID/io (and the namespace's /proc/net/tls_stat) until it exits;
# a push/pull transfer helper; JSON session-line fields; snapshot checksums.
#
# Strategy: every wait is bounded (timeout(1) around every process, bounded
# polling loops); sleeping is done with `read -t` on a private FIFO, so the
# samplers fork nothing while they watch.  Processes are only ever stopped
# by the PIDs this file recorded.
#
# Conventions: alpha (zka, 10.77.0.1) sends, beta (zkb, 10.77.0.2)
# receives.  A zktls run is named by a TAG; its files are $W/TAG.log
# (stderr), $W/TAG.pid (its PID), $W/TAG.io ("rchar wchar maxCurrTx
# maxCurrRx samples", written when it exits).

SL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SL_REPO=$(cd "$SL_DIR/../.." && pwd)
# shellcheck source=tests/vm/lib.sh
. "$SL_DIR/lib.sh"

ZK=${ZKTLS_BIN:-$SL_REPO/zktls}
RELAY=$SL_REPO/tests/host/relay.py
W=${ZKTLS_WORK:-/tmp/zkw}
CERTS=$W/certs
ZK_TO=${ZK_TO:-300}          # hard limit for any one zktls process (s)
declare -A SL_BG=() SL_IOW=()
SL_EXTRA_PIDS=()

# sl_setup: work dir, certificates, the nap FIFO, hosts zka/zkb.
sl_setup() {
    mkdir -p "$W"
    [[ -x $ZK ]] || { echo "no zktls binary at $ZK (run make on the host)"; return 1; }
    modprobe tls 2>/dev/null || true
    # The VM's /init mounts devtmpfs only: no /dev/fd, which bash process
    # substitution (used by tests/host/mkcerts.sh) needs.
    [[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
    [[ -e /dev/stdin ]] || ln -s /proc/self/fd/0 /dev/stdin
    [[ -e /dev/stdout ]] || ln -s /proc/self/fd/1 /dev/stdout
    [[ -e /dev/stderr ]] || ln -s /proc/self/fd/2 /dev/stderr
    bash "$SL_REPO/tests/host/mkcerts.sh" "$CERTS" >/dev/null || return 1
    TLS_A=(--cert "$CERTS/alpha.pem" --key "$CERTS/alpha.key" --ca "$CERTS/ca.pem" --peer-name beta)
    TLS_B=(--cert "$CERTS/beta.pem" --key "$CERTS/beta.key" --ca "$CERTS/ca.pem" --peer-name alpha)
    rm -f "$W/nap.fifo"
    mkfifo "$W/nap.fifo"
    exec {SL_NAPFD}<>"$W/nap.fifo"
    zk_hosts_up
}

# sl_cleanup: stop what we started (by PID), unmount, destroy pools, hosts.
sl_cleanup() {
    local p
    for p in "${SL_BG[@]}" "${SL_IOW[@]}" "${SL_EXTRA_PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "$W"/mnt/*; do
        [[ -d $p ]] && umount "$p" 2>/dev/null
    done
    zk_teardown
}

# nap SECONDS: sleep without forking.
nap() { read -r -t "$1" -u "$SL_NAPFD" _ 2>/dev/null; return 0; }

now() { local t; t=${EPOCHREALTIME/./}; echo "$((t / 1000))"; }   # ms

# stat_file FILE: "TlsTxSw TlsRxSw TlsCurrTxSw TlsCurrRxSw TlsDecryptError"
# of a tls_stat-format file; stat_read FILE puts it in $STAT (no fork).
stat_read() {
    local k v tx=0 rx=0 ctx=0 crx=0 de=0
    STAT=''
    [[ -r $1 ]] || return 1
    while read -r k v; do
        case $k in
            TlsTxSw) tx=$v ;; TlsRxSw) rx=$v ;;
            TlsCurrTxSw) ctx=$v ;; TlsCurrRxSw) crx=$v ;;
            TlsDecryptError) de=$v ;;
        esac
    done <"$1"
    STAT="$tx $rx $ctx $crx $de"
}
stat_file() { stat_read "$1" && echo "$STAT"; }
# ns_stat NS: the same for network namespace NS.
ns_stat() {
    ip netns exec "$1" cat /proc/net/tls_stat >"$W/.stat.$1" 2>/dev/null || { echo "0 0 0 0 0"; return; }
    stat_file "$W/.stat.$1"
}

# io_watch TAG: wait for $W/TAG.pid, then sample the process's I/O
# counters and its namespace's /proc/net/tls_stat every 50 ms until it is
# gone; write "rchar wchar maxCurrTx maxCurrRx samples whole_rchar
# whole_wchar" to $W/TAG.io.  rchar/wchar are the process's own (the sum
# of /proc/PID/task/*/io, each thread's last sample kept once it is gone:
# the user plane's writer thread ends with the stream, and what it wrote
# after its last sample, at most one interval's worth, is not counted);
# /proc/PID/io ("whole") also counts the children it has reaped, i.e. zfs
# send/recv's own kernel_write/kernel_read of the stream, which is not
# zktls's doing.
io_watch() {
    local tag=$1 pid='' i n=0 mtx=0 mrx=0 k v t tid
    local rch=0 wch=0 r w wr=0 ww=0 s
    local -A tr=() tw=()
    for ((i = 0; i < 1200; i++)); do
        [[ -s $W/$tag.pid ]] && read -r pid <"$W/$tag.pid" && [[ -n $pid ]] && break
        kill -0 "${SL_BG[$tag]:-0}" 2>/dev/null || break
        nap 0.05
    done
    if [[ -n $pid ]]; then
        while [[ -d /proc/$pid/task ]]; do
            for t in /proc/"$pid"/task/*/io; do
                tid=${t%/io} tid=${tid##*/}
                while read -r k v; do
                    case $k in rchar:) tr[$tid]=$v ;; wchar:) tw[$tid]=$v ;; esac
                done <"$t" 2>/dev/null
            done
            s=''
            { IFS= read -r -d '' s <"/proc/$pid/io"; } 2>/dev/null
            [[ -n $s ]] || break
            r=0 w=0
            for tid in "${!tr[@]}"; do r=$((r + tr[$tid])); done
            for tid in "${!tw[@]}"; do w=$((w + tw[$tid])); done
            rch=$r wch=$w
            while read -r k v; do
                case $k in rchar:) wr=$v ;; wchar:) ww=$v ;; esac
            done <<<"$s"
            n=$((n + 1))
            if stat_read "/proc/$pid/net/tls_stat" 2>/dev/null; then
                read -r _ _ k v _ <<<"$STAT"
                ((k > mtx)) && mtx=$k
                ((v > mrx)) && mrx=$v
            fi
            nap 0.05
        done
    fi
    echo "$rch $wch $mtx $mrx $n $wr $ww" >"$W/$tag.io"
}

# zk_start TAG NS ARGS...: run `zktls ARGS...` in namespace NS in the
# background (bounded by $ZK_TO), stderr to $W/TAG.log, stdin from
# ${ZK_IN:-/dev/null}, stdout to ${ZK_OUT:-/dev/null}; with ZK_WATCH=1,
# watch its io (io_watch).
zk_start() {
    local tag=$1 ns=$2
    shift 2
    rm -f "$W/$tag.log" "$W/$tag.pid" "$W/$tag.io"
    # shellcheck disable=SC2016
    # shellcheck disable=SC2086 # ZK_ENV: NAME=VALUE words for env(1)
    timeout -k 5 "$ZK_TO" ip netns exec "$ns" env ${ZK_ENV:-} \
        bash -c 'echo $$ >"$0"; exec "$@"' "$W/$tag.pid" "$ZK" "$@" \
        <"${ZK_IN:-/dev/null}" >"${ZK_OUT:-/dev/null}" 2>"$W/$tag.log" &
    SL_BG[$tag]=$!
    # the sampler only where its numbers are read (ZK_WATCH=1): under
    # TCG it costs a share of a CPU per process
    if [[ ${ZK_WATCH:-0} == 1 ]]; then
        io_watch "$tag" </dev/null >/dev/null 2>&1 &
        SL_IOW[$tag]=$!
    fi
}

# zk_wait TAG: wait for it; returns its exit status (124: timed out).
zk_wait() {
    local tag=$1 rc
    [[ -n ${SL_BG[$tag]:-} ]] || return 127
    wait "${SL_BG[$tag]}"
    rc=$?
    [[ -n ${SL_IOW[$tag]:-} ]] && wait "${SL_IOW[$tag]}" 2>/dev/null
    unset "SL_BG[$tag]" "SL_IOW[$tag]"
    return "$rc"
}

# zk_stop TAG: kill a background zktls (its timeout wrapper) and reap it.
zk_stop() {
    local tag=$1
    [[ -n ${SL_BG[$tag]:-} ]] || return 0
    kill "${SL_BG[$tag]}" 2>/dev/null
    zk_wait "$tag"
    return 0
}

# wait_listen TAG [SECONDS]: print the port from "listening on ADDR:PORT"
# in $W/TAG.log; fails if it does not appear or the process died.
wait_listen() {
    local tag=$1 lim=${2:-60} i re='listening on [^ ]*:([0-9]+)'
    for ((i = 0; i < lim * 10; i++)); do
        if [[ -s $W/$tag.log && $(<"$W/$tag.log") =~ $re ]]; then
            echo "${BASH_REMATCH[1]}"
            return 0
        fi
        kill -0 "${SL_BG[$tag]:-0}" 2>/dev/null || return 1
        nap 0.1
    done
    return 1
}

# jf TAG KEY: a field of the JSON session line in $W/TAG.log ("" if none).
jf() {
    local line
    line=$(grep -a '"event":"session"' "$W/$1.log" 2>/dev/null | tail -n1)
    sed -n "s/.*\"$2\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p" <<<"$line"
}
# jerr TAG: the error messages (JSON "level":"error" lines), joined by " | ".
jerr() {
    grep -a '"level":"error"' "$W/$1.log" 2>/dev/null |
        sed 's/.*"message":"\(.*\)"}$/\1/' | paste -sd'|' | sed 's/|/ | /g'
}
# ioratio TAG BYTES [whole]: (rchar+wchar)/BYTES of TAG's last sample
# (its own threads; with "whole": /proc/PID/io, reaped children included).
ioratio() {
    local r w x
    read -r r w x x x x x <"$W/$1.io" 2>/dev/null || { echo nan; return; }
    # shellcheck disable=SC2034
    [[ ${3:-} == whole ]] && read -r x x x x x r w <"$W/$1.io"
    awk -v r="$r" -v w="$w" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", (r + w) / b; else print "nan" }'
}
# ubratio TAG BYTES: JSON user_bytes / BYTES.
ubratio() {
    awk -v u="$(jf "$1" user_bytes)" -v b="$2" \
        'BEGIN { if (b > 0) printf "%.3f", u / b; else print "nan" }'
}
# fle A B: A <= B (floats)
fle() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "nan" && a + 0 <= b + 0) }'; }

# Transfer settings (globals, reset by xfer_reset):
#   SEND_ARGS / RECV_ARGS  zfs flags and dataset of each side (for pipe
#                          mode: SEND_CMD=(pipe send) RECV_CMD=(pipe recv))
#   PULL=1                 the sender listens (zka), the receiver connects
#   RELAY_OPTS=(...)       put tests/host/relay.py (in zka) between them
#   S_IN / R_OUT           the sender's stdin / the receiver's stdout
#   XFER_OPTS / S_XOPTS / R_XOPTS  more zktls options: both / sender / receiver
#   S_ENV / R_ENV          NAME=VALUE words added to the sender's / the
#                          receiver's environment
xfer_reset() {
    SEND_CMD=(send) RECV_CMD=(recv) SEND_ARGS=() RECV_ARGS=() PULL=0 RELAY_OPTS=()
    XFER_OPTS=() S_XOPTS=() R_XOPTS=() S_IN=/dev/null R_OUT=/dev/null S_ENV='' R_ENV=''
    S_RC='' R_RC='' RELAY_RC=''
}
xfer_reset

# xfer TAG SEND_MODE RECV_MODE: run one session; $W/TAG.s.* is the
# sender, $W/TAG.r.* the receiver, $W/TAG.relay.* the relay.  Sets S_RC,
# R_RC (127: never started).  Extra options for both sides: XFER_OPTS.
xfer() {
    local tag=$1 ms=$2 mr=$3 port rport lt lip host
    S_RC=127 R_RC=127 RELAY_RC=''
    local -a s_side r_side
    # (zktls stops parsing options at the first operand: the dataset and
    # zfs flags go last.)
    s_side=("${SEND_CMD[@]}" --mode "$ms" --json --timeout 60 "${XFER_OPTS[@]}" "${S_XOPTS[@]}" "${TLS_A[@]}")
    r_side=("${RECV_CMD[@]}" --mode "$mr" --json --timeout 60 "${XFER_OPTS[@]}" "${R_XOPTS[@]}" "${TLS_B[@]}")
    if [[ $PULL == 1 ]]; then
        lt=$tag.s lip=$ZKA_IP
        ZK_ENV=$S_ENV ZK_IN=$S_IN ZK_OUT=/dev/null zk_start "$tag.s" "$ZKA" "${s_side[@]}" --listen "$ZKA_IP:0" "${SEND_ARGS[@]}"
    else
        lt=$tag.r lip=$ZKB_IP
        ZK_ENV=$R_ENV ZK_IN=/dev/null ZK_OUT=$R_OUT zk_start "$tag.r" "$ZKB" "${r_side[@]}" --listen "$ZKB_IP:0" "${RECV_ARGS[@]}"
    fi
    if ! port=$(wait_listen "$lt" 60); then
        zk_stop "$lt"
        [[ $PULL == 1 ]] && S_RC=126 || R_RC=126
        return 1
    fi
    host=$lip
    if [[ ${#RELAY_OPTS[@]} -gt 0 ]]; then
        # The relay listens on 127.0.0.1 of the client's namespace.
        local cns=$ZKA
        [[ $PULL == 1 ]] && cns=$ZKB
        rm -f "$W/$tag.relay.out" "$W/$tag.relay.log"
        timeout -k 5 "$ZK_TO" ip netns exec "$cns" python3 "$RELAY" --to "$lip:$port" \
            --lifetime "${RELAY_LIFETIME:-240}" "${RELAY_OPTS[@]}" >"$W/$tag.relay.out" 2>"$W/$tag.relay.log" &
        local relay_pid=$! i
        rport=''
        for ((i = 0; i < 300; i++)); do
            [[ -s $W/$tag.relay.out ]] && read -r rport <"$W/$tag.relay.out" && [[ -n $rport ]] && break
            nap 0.1
        done
        [[ -n $rport ]] || { kill "$relay_pid" 2>/dev/null; zk_stop "$lt"; RELAY_RC=126; return 1; }
        host=127.0.0.1 port=$rport
    fi
    if [[ $PULL == 1 ]]; then
        ZK_ENV=$R_ENV ZK_IN=/dev/null ZK_OUT=$R_OUT zk_start "$tag.r" "$ZKB" "${r_side[@]}" --connect "$host:$port" "${RECV_ARGS[@]}"
    else
        ZK_ENV=$S_ENV ZK_IN=$S_IN ZK_OUT=/dev/null zk_start "$tag.s" "$ZKA" "${s_side[@]}" --connect "$host:$port" "${SEND_ARGS[@]}"
    fi
    zk_wait "$tag.s"; S_RC=$?
    zk_wait "$tag.r"; R_RC=$?
    if [[ -n ${relay_pid:-} ]]; then
        wait "$relay_pid"; RELAY_RC=$?
    fi
    return 0
}

# guid SNAP: the snapshot's guid ("" if it does not exist).
guid() { zfs get -H -p -o value guid "$1" 2>/dev/null; }

# snap_sum SNAP: sha256 (16 hex) over the names and contents of all files
# in a snapshot, mounted read-only for the purpose.
snap_sum() {
    local d=$W/mnt/${1//[\/@]/_} s
    mkdir -p "$d"
    mount -t zfs -o ro "$1" "$d" 2>/dev/null || { echo "unmountable"; return 1; }
    s=$(cd "$d" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum | cut -c1-16)
    umount "$d"
    rmdir "$d"
    echo "$s"
}

# show TAG...: the logs of a failed case, indented (not VMTEST lines).
show() {
    local t f
    for t in "$@"; do
        for f in "$W/$t.log" "$W/$t.relay.log" "$W/$t.s.log" "$W/$t.r.log"; do
            [[ -s $f ]] || continue
            echo "  --- ${f##*/}:"
            tail -n 12 "$f" | cut -c1-400 | sed 's/^/  | /'
        done
    done
}
