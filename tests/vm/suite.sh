#!/bin/bash
# suite.sh - the zktls VM test suite (guest side).
#   tests/vm/run.sh -- tests/vm/suite.sh [CASE-PREFIX...]
#
# Description: end-to-end tests of zktls with real kernel TLS and real
# OpenZFS, between two network-namespace "hosts" (zka = alpha, the sender;
# zkb = beta, the receiver) joined by a veth pair, with file-backed pools
# srcpool and dstpool.  Cases:
#   matrix-S-R        every sender plane S x receiver plane R (user, rw,
#                     splice, direct): full send of srcpool/data@s1 with
#                     --key-limit 16 on the sender, 1 on the receiver; both
#                     exit 0, session lines name the planes, guids equal,
#                     file checksums of the received snapshot equal; where
#                     both planes can change keys (user; rw/splice on
#                     Linux >= 6.14) KeyUpdates both ways, counted on both
#                     sides; else ChaCha20-Poly1305 chosen at the
#                     handshake and no KeyUpdate
#   ktls-stat         /proc/net/tls_stat TlsTxSw/TlsRxSw rise by exactly 1
#                     per kernel-plane side and session, 0 on user sides;
#                     TlsCurr* >= 1 during, back to the baseline after
#   userbytes-PLANE   /proc/PID/io rchar+wchar and the JSON user_bytes per
#                     stream byte: < 0.05 for splice/direct, 0.9..2.6 for
#                     rw/user (both roles)
#   incr-i, incr-I, incr-i-user-direct, recursive-R, raw-encrypted-w,
#   compressed-c      zfs send flags end to end; guids equal
#   pull              send --listen (zka), recv --connect (zkb)
#   cut-resume, cut-direct, cut-direct-send
#                     relay cuts mid-stream (after 2 MiB) (splice, direct receiver, direct
#                     sender):
#                     both fail, the receiver with 4, recv -s leaves a
#                     resume token, a plain rerun resumes and completes
#   result-lost       relay cuts the receiver's RESULT: the sender must not
#                     exit 0 (4), the receiver committed (0)
#   stall-splice, stall-direct, stall-direct-send
#                     relay stops forwarding in the middle of a record
#                     after 2 MiB (TCP stays up), --timeout 10
#                     on the side under test: both give up in bounded time
#                     with 4 (direct: zfs owns the socket and zktls watches
#                     TCP's byte counters)
#   stall-copy-rw, stall-copy-splice, stall-copy-direct
#                     the same with an 8 KiB TCP receive buffer on the
#                     receiver's host: kernel TLS copies each record out
#                     of TCP's queue piece by piece, so the stalled
#                     record's start sits in kernel TLS, not in the queue
#   stall-keyupdate-rw, stall-keyupdate-splice
#                     the same after KeyUpdates (--key-limit 50; Linux >=
#                     6.14, else ChaCha20 and no KeyUpdate)
#   keyupdate-pull-direct-splice, keyupdate-pull-user-direct
#                     the matrix's key checks with the sender listening
#                     (who listens picks the cipher)
#   keyupdate-openssl-rw, keyupdate-openssl-splice (Linux >= 6.14)
#                     tests/host/key_update_pos.sh on that kernel plane:
#                     KeyUpdates with OpenSSL's s_server and s_client
#   quiet-user, quiet-rw, quiet-splice, quiet-direct
#                     the source's zfs send is silent for 15 s, both ends
#                     have --timeout 8 (the handshake too must fit in
#                     it under load): the receiver waits (TCP finds the
#                     peer alive), both exit 0, guids equal
#   quiet-copy-rw, quiet-copy-splice, quiet-copy-direct
#                     the same silence with the 8 KiB receive buffer: a
#                     silent peer between records is still waited for
#   busy-zfs-direct   a direct receiver (8 KiB receive buffer, --timeout 8)
#                     whose zfs is stopped for 12 s: waited for, whole
#                     (the sender has --timeout 40)
#   quiet-dead-splice, quiet-dead-direct
#                     in a 40 s silence the sender's link goes down: the
#                     receiver notices by TCP keepalive within 25 s
#                     (exit 4, "timed out"), nothing committed
#   flip-splice, flip-user, flip-direct
#                     one flipped bit: "TLS record authentication failed",
#                     both fail (the receiver with 4), nothing committed
#   no-plaintext      a marker in the data is absent from a tcpdump capture
#                     of kernel-plane and user-plane sessions, present in
#                     a plain TCP (socat) transfer
#   full-pool-{splice,direct}
#                     a 64 MiB pool receiving a bigger stream: both exit 5
#                     with zfs's "out of space"; no hang
#   exists-no-F-{splice,direct}
#                     target exists, no -F: both exit 5 with zfs's text
#   props-safe        a -p stream with mountpoint=/etc/zktls-test lands
#                     unmounted with the receiver's own mountpoint; the
#                     operator's --mount --sender-mount-props allow it
#   token-raw         a real but non-raw resume token against send -w:
#                     refused, nothing sent; a raw one resumes raw
#   recv-d-guid       recv -d: the guid below the target reported, checked
#   empty-records-PLANE, tickets-PLANE
#                     tests/tools/tlspeer sends a zfs stream with two empty
#                     data records after each record (received, guid
#                     equal), or a NewSessionTicket after each (refused,
#                     exit 4, nothing committed), to each receiving plane
#   padded-records-PLANE
#                     tlspeer pads every record with 200 bytes: received,
#                     guid equal; on rw the kernel's TlsRxNoPadViolation
#                     rises (TLS_RX_EXPECT_NO_PAD is set; the kernel
#                     decrypts such a record again)
#   exists-loop-direct
#                     exists-no-F-direct 8 times: the sender always reports
#                     the receiver's words (the killed zfs send can leave
#                     ERESTARTSYS on the socket)
#   serve             zktls serve in zkb: two clients push at once (direct,
#                     splice), one pulls incrementally, guids equal; its
#                     network-facing process unprivileged (uid, CapEff,
#                     NoNewPrivs, Seccomp from /proc)
#   sync-*            zktls sync against a zktls serve in zkb, every case
#                     comparing the snapshot GUIDs of both sides: full;
#                     three new snapshots in one -I stream; the base pruned
#                     (-i from its bookmark); --dry-run (nothing changes);
#                     a diverged target refused; a committed snapshot whose
#                     RESULT was lost not sent again; --protect hold; -r
#                     with a child added; --jobs 4; killed mid-stream, the
#                     rerun resumes; --rate 2M within 10 %; pulls (full,
#                     incremental, diverged then --rollback, -r)
#   ktls-selftest     tests/vm/ktls_selftest.c, 5 runs per stress method
# Output: exactly one line per case, "VMTEST PASS <name> <detail>" or
# "VMTEST FAIL <name> <why>" (failures are followed by indented log tails);
# exit 0 only if every case passed.  Arguments: run only the cases whose
# name starts with one of the prefixes (setup always runs).
#
# Strategy: one data set (~5.5 MiB: text, random files, a marker file;
# about 350 16-KiB records, many pipe-fulls) with four snapshots is made
# once; each case pushes it through zktls with the planes forced by
# --mode, and judges by exit codes, the --json session lines, zfs guids,
# checksums of the received snapshot (mounted read-only), tls_stat and
# /proc/PID/io (sampled only for the matrix, ZK_WATCH=1).  The cases that
# mostly wait (stall-*, quiet-*) run side by side in the background, each
# worker on a host pair of its own, while the rest runs in the
# foreground.  Every process runs under timeout(1); every wait loop is
# bounded.  Each verdict is preceded by "VMTIME NAME SECONDS".
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/vm/suite-lib.sh
. "$HERE/suite-lib.sh"

ONLY=("$@")
NPASS=0 NFAIL=0
ERRS=()
T_SUITE=$SECONDS

want() {   # want NAME: is this case selected?
    local p
    [[ ${#ONLY[@]} -eq 0 ]] && return 0
    for p in "${ONLY[@]}"; do [[ $1 == "$p"* ]] && return 0; done
    return 1
}
err() { ERRS+=("$*"); }
# verdict NAME DETAIL [LOG-TAGS...]: one line, from ERRS.
verdict() {
    local name=$1 detail=$2
    shift 2
    # what the case took: since the last verdict (cases run one by one)
    echo "VMTIME $name $((SECONDS - T_CASE))"
    T_CASE=$SECONDS
    if [[ ${#ERRS[@]} -eq 0 ]]; then
        echo "VMTEST PASS $name $detail"
        NPASS=$((NPASS + 1))
    else
        local why
        why=$(printf '%s; ' "${ERRS[@]}")
        echo "VMTEST FAIL $name ${why%; }"
        NFAIL=$((NFAIL + 1))
        show "$@"
    fi
    ERRS=()
}
expect_rc() {   # expect_rc WHAT GOT WANT
    [[ $2 == "$3" ]] || err "$1 exit $2 (want $3)"
}
# expect_log TAG REGEX: the TAG log matches (grep -E)
expect_log() {
    grep -aEq -- "$2" "$W/$1.log" 2>/dev/null || err "$1: no /$2/ in its log (errors: $(jerr "$1"))"
}
same_guid() {   # same_guid SRC-SNAP DST-SNAP
    local a b
    a=$(guid "$1") b=$(guid "$2")
    [[ -n $a && $a == "$b" ]] || err "guid $1=${a:-none} $2=${b:-none}"
}
is_kernel() { [[ $1 != user ]]; }

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

# Which planes can change keys: the user plane always; rw and splice where
# the kernel can (Linux 6.14 and later; 6.12 refuses a second key with
# EBUSY); direct never (zfs owns the socket).  The test's own oracle is the
# kernel version, not zktls's probe.
IFS=. read -r KMAJ KMIN _ <<<"$(uname -r)"
KREKEY=0
((KMAJ > 6 || (KMAJ == 6 && KMIN >= 14))) && KREKEY=1
rekeys() { [[ $1 == user ]] || [[ $1 != direct && $KREKEY == 1 ]]; }
# key_checks TAG SEND-PLANE RECV-PLANE: after a session with --key-limit 50
# on the sender and 1 on the receiver (the stream is ~850 records).  Where
# both planes can change keys: KeyUpdates both ways, counted on both sides
# (key_strategy key_update).  Where one cannot, both sides pick
# ChaCha20-Poly1305 at the handshake (no key limit), no KeyUpdate, no
# warning.  Sets KU_DETAIL; failures go to err.
key_checks() {
    local name=$1 ms=$2 mr=$3 ss sr rs rr ks kr cs cr
    ss=$(jf "$name.s" key_updates_sent) sr=$(jf "$name.s" key_updates_received)
    rs=$(jf "$name.r" key_updates_sent) rr=$(jf "$name.r" key_updates_received)
    ks=$(jf "$name.s" key_strategy) kr=$(jf "$name.r" key_strategy)
    cs=$(jf "$name.s" cipher) cr=$(jf "$name.r" cipher)
    if rekeys "$ms" && rekeys "$mr"; then
        [[ $ks == key_update && $kr == key_update ]] || err "key_strategy sender ${ks:-?} receiver ${kr:-?} (want key_update)"
        [[ $cs != *CHACHA* ]] || err "cipher $cs (want AES-GCM: both can change keys)"
        [[ ${ss:-0} -ge 16 ]] || err "sender sent ${ss:-no} KeyUpdates (want >= 16)"
        [[ ${rr:-x} == "${ss:-y}" ]] || err "receiver received ${rr:-no}, sender sent ${ss:-no}"
        # the receiver's REPLY/RESULT each go under a fresh key at limit 1
        [[ ${rs:-0} -ge 2 && ${sr:-0} -ge 2 && ${sr:-0} -le ${rs:-0} ]] ||
            err "receiver sent ${rs:-no}, sender received ${sr:-no} (want >= 2, received <= sent)"
    else
        [[ $ks == chacha20 && $kr == chacha20 ]] || err "key_strategy sender ${ks:-?} receiver ${kr:-?} (want chacha20)"
        [[ $cs == *CHACHA20* && $cr == *CHACHA20* ]] || err "cipher ${cs:-?}/${cr:-?} (want ChaCha20-Poly1305)"
        [[ ${ss:-x} == 0 && ${rs:-x} == 0 ]] || err "KeyUpdates under ChaCha20: sender ${ss:-?}, receiver ${rs:-?}"
        ! grep -aq 'cannot follow TLS KeyUpdate' "$W/$name.s.log" "$W/$name.r.log" || err "a key-limit warning under ChaCha20"
    fi
    KU_DETAIL="${cs:-?}, $ks; KeyUpdates sender ${ss:-?} sent ${sr:-?} received, receiver ${rs:-?} sent ${rr:-?} received"
}

PLANES=(user rw splice direct)
declare -A M_RUN=() M_STAT=() M_IO=() M_IOW=() M_UB=() M_CURR=()

# ------------------------------------------------------------ d3. stall
# rmem_small / rmem_restore: an 8 KiB TCP receive buffer for the sockets
# the receiver's host (zkb) opens or accepts from now on, and back.  No
# 16 KiB record fits: kernel TLS's parser takes each one out of TCP's
# queue piece by piece (its copy mode), where SIOCINQ no longer counts it.
RMEM0=$(ip netns exec "$ZKB" sysctl -n net.ipv4.tcp_rmem | tr -s '\t ' ' ')
rmem_small() { ip netns exec "$ZKB" sysctl -qw net.ipv4.tcp_rmem="4096 8192 8192"; }
rmem_restore() { ip netns exec "$ZKB" sysctl -qw net.ipv4.tcp_rmem="$RMEM0"; }
# sbuf_small / sbuf_restore: 64 KiB socket buffers on the sender's host
# (zka: the sender and, in push mode, the relay), so that a stalled relay
# stops the sender with most of the stream unsent (else the relay's and
# the sender's buffers, up to 6 and 4 MiB, take all of it).
WMEM0=$(ip netns exec "$ZKA" sysctl -n net.ipv4.tcp_wmem | tr -s '\t ' ' ')
sbuf_small() {
    ip netns exec "$ZKA" sysctl -qw net.ipv4.tcp_wmem="4096 16384 65536" net.ipv4.tcp_rmem="4096 65536 65536"
}
sbuf_restore() {
    ip netns exec "$ZKA" sysctl -qw net.ipv4.tcp_wmem="$WMEM0" net.ipv4.tcp_rmem="$RMEM0"
}
# stall_case NAME SEND-PLANE RECV-PLANE SIDE [small]: the relay stops
# forwarding (and reading) half way into the first record after 3 MiB, TCP
# stays up.  SIDE (s or r) has --timeout 10,
# the other 40, so SIDE's own stall detection must fire first: both ends
# give up in bounded time with exit 4, SIDE with a timeout message (the
# other end too when the relay also swallows SIDE's alert).
stall_case() {
    local name=$1 ms=$2 mr=$3 side=$4 kl=${6:-} t0=$SECONDS d=dstpool/$1 el kr ks kmaj kmin
    xfer_reset
    [[ ${5:-} == small ]] && rmem_small
    [[ $side == s ]] && sbuf_small
    RELAY_LIFETIME=150 S_XOPTS=(--timeout 40) R_XOPTS=(--timeout 40)
    if [[ $side == s ]]; then S_XOPTS=(--timeout 10); else R_XOPTS=(--timeout 10); fi
    [[ -n $kl ]] && S_XOPTS+=(--key-limit "$kl") R_XOPTS+=(--key-limit "$kl")
    SEND_ARGS=(srcpool/data@s1) RECV_ARGS=("$d") RELAY_OPTS=(--stall-after $((2 * 1048576)) --stall-mid-record)
    xfer "$name" "$ms" "$mr"
    el=$((SECONDS - t0))
    rmem_restore
    [[ $side == s ]] && sbuf_restore
    grep -q 'stalled after' "$W/$name.relay.log" 2>/dev/null || err "the relay did not stall"
    grep -q 'stalling at' "$W/$name.relay.log" 2>/dev/null || err "the relay found no record to stall in"
    [[ $el -lt 100 ]] || err "took ${el}s with --timeout 10/40 (want < 100 s)"
    [[ $S_RC == 4 ]] || err "sender ($ms) exit $S_RC (want 4)"
    [[ $R_RC == 4 ]] || err "receiver ($mr) exit $R_RC (want 4: timeout)"
    expect_log "$name.$side" '"level":"error".*timed out after 10 s'
    [[ -z $(guid "$d@s1") ]] || err "$d@s1 exists after a stalled stream"
    if [[ -n $kl ]]; then
        # KeyUpdates before the stall where the kernel can change keys
        # (6.14 and later): the count of bytes must follow the new keys
        kr=$(jf "$name.r" key_updates_received) ks=$(jf "$name.r" key_strategy)
        IFS=. read -r kmaj kmin _ <<<"$(uname -r)"
        if ((kmaj > 6 || (kmaj == 6 && kmin >= 14))); then
            [[ ${kr:-0} -ge 1 ]] || err "receiver received ${kr:-no} KeyUpdates before the stall (want >= 1)"
        else
            [[ $ks == chacha20 ]] || err "key_strategy ${ks:-?} (want chacha20 where the kernel cannot change keys)"
        fi
    fi
    verdict "$name" "$ms->$mr stalled after 2 MiB${5:+ (8 KiB receive buffer)}${kl:+, --key-limit $kl: $ks, ${kr:-0} KeyUpdates received}, --timeout 10 on the $([[ $side == s ]] && echo sender || echo receiver): receiver exit $R_RC '$(jerr "$name.r" | cut -c1-80)', sender exit $S_RC '$(jerr "$name.s" | cut -c1-60)' (${el} s)" "$name"
}

# ------------------------------------------------------------ d4. quiet source
# A zfs send that goes silent for QUIET s after 1 MiB (ZKTLS_ZFS for the
# sender only: a wrapper around the real zfs; dd reads no further than
# it writes).
quiet_zfs() {   # quiet_zfs SECONDS NAME: the wrapper's path
    local f=$W/quietzfs-$2-$1 real
    real=$(command -v zfs)
    cat >"$f" <<EOF
#!/bin/bash
if [[ \$1 == send && " \$* " != *" -n"* ]]; then
    $real "\$@" | { dd bs=64k count=16 iflag=fullblock status=none; sleep $1; cat; }
    exit \${PIPESTATUS[0]}
fi
exec $real "\$@"
EOF
    chmod 755 "$f"
    echo "$f"
}
# quiet_case NAME SEND-PLANE RECV-PLANE: the source is silent for 15 s, both
# ends have --timeout 8; the receiver waits (TCP keepalive finds the peer
# alive) and the snapshot arrives whole.
quiet_case() {
    local name=$1 ms=$2 mr=$3 t0=$SECONDS d=dstpool/$1 el
    xfer_reset
    [[ ${4:-} == small ]] && rmem_small
    S_ENV="ZKTLS_ZFS=$(quiet_zfs 15 "$name")"
    XFER_OPTS=(--timeout 8) SEND_ARGS=(srcpool/data@s1) RECV_ARGS=("$d")
    xfer "$name" "$ms" "$mr"
    el=$((SECONDS - t0))
    rmem_restore
    expect_rc sender "$S_RC" 0
    expect_rc receiver "$R_RC" 0
    [[ $el -ge 15 ]] || err "took ${el} s; the source was silent for 15 s"
    same_guid srcpool/data@s1 "$d@s1"
    verdict "$name" "$ms->$mr: 15 s of silence with --timeout 8${4:+ and an 8 KiB receive buffer}, guid equal (${el} s)" "$name"
    zfs destroy -r "$d" 2>/dev/null
}







# quiet_dead NAME RECV-PLANE: the source goes silent for 40 s and, 4 s into
# the silence, the sender's host vanishes (its link goes down): the
# receiver (--timeout 8) must notice through TCP keepalive long before the
# silence ends, exit 4 with "timed out", nothing committed.
quiet_dead() {
    local name=$1 mr=$2 t0=$SECONDS d=dstpool/$1 el rel
    xfer_reset
    S_ENV="ZKTLS_ZFS=$(quiet_zfs 40 "$name")"
    XFER_OPTS=(--timeout 8) SEND_ARGS=(srcpool/data@s1) RECV_ARGS=("$d")
    (
        # 4 s into the silence (the session is up, its first MiB
        # through: the connection is established and has been for a
        # while; under load the start can take seconds)
        for ((i = 0; i < 600; i++)); do
            # (the session's connection: not zktls's loopback probe)
            ip netns exec "$ZKA" ss -Htn state established dst "$ZKB_IP" 2>/dev/null | grep -q . && break
            nap 0.1
        done
        nap 4
        ip -n "$ZKA" link set "${ZKA}0" down
        local down=$SECONDS
        # The receiver's own end of the wire: when did it give up?
        for ((i = 0; i < 300; i++)); do
            [[ -s $W/$name.r.log ]] && grep -aq '"event":"session"' "$W/$name.r.log" && break
            nap 0.1
        done
        echo $((SECONDS - down)) >"$W/$name.rgone"
    ) &
    local watcher=$!
    xfer "$name" splice "$mr"
    wait "$watcher"
    ip -n "$ZKA" link set "${ZKA}0" up
    el=$((SECONDS - t0))
    rel=$(cat "$W/$name.rgone" 2>/dev/null)
    expect_rc receiver "$R_RC" 4
    [[ $S_RC != 0 ]] || err "sender exit 0 with its peer gone"
    expect_log "$name.r" '"level":"error".*(timed out|unreachable)'
    [[ -n $rel && $rel -lt 25 ]] || err "the receiver ended ${rel:-never} s after the link went down (want < 25 s: keepalive with --timeout 8 gives up within about 16 s of the last data; the source resumes ~35 s later)"
    [[ -z $(guid "$d@s1") ]] || err "$d@s1 exists after the peer vanished"
    verdict "$name" "link down 4 s into a 40 s silence: receiver ($mr) exit $R_RC '$(jerr "$name.r" | cut -c1-70)' ${rel:-?} s later, sender exit $S_RC (${el} s)" "$name"
    zfs destroy -r "$d" 2>/dev/null
}

# busy_case NAME: a direct receiver (8 KiB receive buffer, --timeout 8)
# whose zfs is stopped for 12 s as soon as it runs: the records it has not
# read wait in kernel TLS, the window closes, nothing moves.  zfs is
# behind, not the peer: the receiver must wait for it, and the session
# end whole.  (The sender, --timeout 40, sees its peer take nothing for
# 12 s; with its own idle timeout under that it would give up, by design.)
busy_case() {
    local name=$1 t0=$SECONDS d=dstpool/$1 el zpid='' i rpid
    xfer_reset
    rmem_small
    S_XOPTS=(--timeout 40) R_XOPTS=(--timeout 8) SEND_ARGS=(srcpool/data@s1) RECV_ARGS=("$d")
    (
        # the receiver's zfs, once it runs: stopped for 12 s
        for ((i = 0; i < 600; i++)); do
            [[ -s $W/$name.r.pid ]] && read -r rpid <"$W/$name.r.pid" &&
                zpid=$(pgrep -P "$rpid" -f '^[^ ]*zfs receive ' | head -n1) && [[ -n $zpid ]] && break
            nap 0.1
        done
        [[ -n $zpid ]] || exit 1
        kill -STOP "$zpid" || exit 2
        nap 12
        kill -CONT "$zpid"
        exit 0
    ) &
    local stopper=$!
    xfer "$name" splice direct
    wait "$stopper"; local st=$?
    el=$((SECONDS - t0))
    rmem_restore
    [[ $st == 0 ]] || err "the receiver's zfs receive was not found ($st: 1) or could not be stopped (2)"
    expect_rc sender "$S_RC" 0
    expect_rc receiver "$R_RC" 0
    [[ $el -ge 12 ]] || err "took ${el} s; zfs was stopped for 12 s"
    same_guid srcpool/data@s1 "$d@s1"
    verdict "$name" "splice->direct, 8 KiB receive buffer, receiver --timeout 8, its zfs stopped for 12 s: waited, guid equal (${el} s)" "$name"
    zfs destroy -r "$d" 2>/dev/null
}

# ------------------------------------------------------------ waiting cases
# The cases that mostly wait (a stalled relay, a silent source, a vanished
# peer) run side by side in the background, BG_WORKERS at a time, while
# the rest of the suite runs in the foreground.  Each worker has a host
# pair of its own (zk_pair_up: zkaN/zkbN), so that what a case does to
# its hosts (an 8 KiB receive buffer, a link taken down) and the hosts'
# tls_stat counters touch no other case.  Their VMTEST lines come out
# when the group ends (bg_wait, before serve and sync: sync-rate times a
# transfer).
BG_WORKERS=${ZK_BG_WORKERS:-2}
BG_SPECS=(
    "quiet-dead-splice quiet_dead quiet-dead-splice splice"
    "busy-zfs-direct busy_case busy-zfs-direct"
    "quiet-dead-direct quiet_dead quiet-dead-direct direct"
    "stall-splice stall_case stall-splice splice splice r"
    "stall-direct stall_case stall-direct splice direct r"
    "stall-direct-send stall_case stall-direct-send direct splice s"
    "stall-copy-rw stall_case stall-copy-rw splice rw r small"
    "stall-copy-splice stall_case stall-copy-splice splice splice r small"
    "stall-copy-direct stall_case stall-copy-direct splice direct r small"
    "stall-keyupdate-rw stall_case stall-keyupdate-rw splice rw r small 50"
    "stall-keyupdate-splice stall_case stall-keyupdate-splice splice splice r small 50"
    "quiet-user quiet_case quiet-user user user"
    "quiet-rw quiet_case quiet-rw splice rw"
    "quiet-splice quiet_case quiet-splice direct splice"
    "quiet-direct quiet_case quiet-direct splice direct"
    "quiet-copy-rw quiet_case quiet-copy-rw splice rw small"
    "quiet-copy-splice quiet_case quiet-copy-splice direct splice small"
    "quiet-copy-direct quiet_case quiet-copy-direct splice direct small"
)
bg_start() {
    local k i spec name fn
    local -a args
    BG_PID=''
    for ((k = 1; k <= BG_WORKERS; k++)); do
        zk_pair_up "$k" || { echo "VMTEST FAIL waiting-cases could not make host pair $k"; NFAIL=$((NFAIL + 1)); return 1; }
    done
    (
        trap - EXIT
        for ((k = 1; k <= BG_WORKERS; k++)); do
            (
                zk_pair_use "$k"
                T_CASE=$SECONDS
                for ((i = k - 1; i < ${#BG_SPECS[@]}; i += BG_WORKERS)); do
                    read -r name fn args_s <<<"${BG_SPECS[$i]}"
                    read -r -a args <<<"$args_s"
                    want "$name" || continue
                    "$fn" "${args[@]}"   # (args begin with the name)
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
bg_start

# ------------------------------------------------------------ a. matrix
# matrix_one S R: one combination; records facts for ktls-stat/userbytes.
matrix_one() {
    local ms=$1 mr=$2 tag=m-$1-$2 sa sb aa ab t0=$SECONDS d bytes ku
    d=dstpool/$tag
    sa=$(ns_stat "$ZKA") sb=$(ns_stat "$ZKB")
    xfer_reset
    SEND_ARGS=(srcpool/data@s1) RECV_ARGS=("$d")
    S_XOPTS=(--key-limit 16) R_XOPTS=(--key-limit 1)
    ZK_WATCH=1 xfer "$tag" "$ms" "$mr"
    aa=$(ns_stat "$ZKA") ab=$(ns_stat "$ZKB")
    expect_rc sender "$S_RC" 0
    expect_rc receiver "$R_RC" 0
    [[ $(jf "$tag.s" plane) == "$ms" ]] || err "sender session line plane '$(jf "$tag.s" plane)' (want $ms)"
    [[ $(jf "$tag.r" plane) == "$mr" ]] || err "receiver session line plane '$(jf "$tag.r" plane)' (want $mr)"
    same_guid srcpool/data@s1 "$d@s1"
    if [[ -n $(guid "$d@s1") ]]; then
        local sum
        sum=$(snap_sum "$d@s1")
        [[ $sum == "$SUM_S1" ]] || err "file checksum $sum != source $SUM_S1"
    fi
    # A direct side cannot count (zfs moves the bytes): it reports 0.
    bytes=$S1_BYTES
    [[ $ms == direct || $(jf "$tag.s" bytes) == "$bytes" ]] ||
        err "sender session line bytes $(jf "$tag.s" bytes) (stream is $bytes)"
    [[ $mr == direct || $(jf "$tag.r" bytes) == "$bytes" ]] ||
        err "receiver session line bytes $(jf "$tag.r" bytes) (stream is $bytes)"
    key_checks "$tag" "$ms" "$mr"
    ku=$KU_DETAIL
    M_RUN[$tag]=${#ERRS[@]}
    M_STAT[$tag]="$sa|$aa|$sb|$ab"
    M_IO[$tag]="$(ioratio "$tag.s" "$bytes") $(ioratio "$tag.r" "$bytes")"
    M_IOW[$tag]="$(ioratio "$tag.s" "$bytes" whole) $(ioratio "$tag.r" "$bytes" whole)"
    M_UB[$tag]="$(ubratio "$tag.s" "$bytes") $(ubratio "$tag.r" "$bytes")"
    M_CURR[$tag]="$(cut -d' ' -f3,4 "$W/$tag.s.io" 2>/dev/null || echo '? ?') $(cut -d' ' -f3,4 "$W/$tag.r.io" 2>/dev/null || echo '? ?')"
    verdict "matrix-$ms-$mr" "$(awk -v b="${bytes:-0}" 'BEGIN { printf "%.1f MiB", b / 1048576 }'), sender $(jf "$tag.s" mib_per_s) MiB/s, receiver $(jf "$tag.r" mib_per_s) MiB/s, guid+sum ok; --key-limit 16/1: $ku ($((SECONDS - t0)) s)" "$tag"
    zfs destroy -r "$d" 2>/dev/null
}
for ms in "${PLANES[@]}"; do
    for mr in "${PLANES[@]}"; do
        want "matrix-$ms-$mr" && matrix_one "$ms" "$mr"
    done
done

# ------------------------------------------------------------ f. tls_stat
if want ktls-stat && [[ ${#M_STAT[@]} -gt 0 ]]; then
    n=0
    for tag in "${!M_STAT[@]}"; do
        ms=${tag#m-} ms=${ms%-*} mr=${tag##*-}
        [[ ${M_RUN[$tag]} == 0 ]] || continue   # the matrix case said why
        IFS='|' read -r sa aa sb ab <<<"${M_STAT[$tag]}"
        read -r sa_tx sa_rx sa_ctx sa_crx _ <<<"$sa"
        read -r aa_tx aa_rx aa_ctx aa_crx _ <<<"$aa"
        read -r sb_tx sb_rx sb_ctx sb_crx _ <<<"$sb"
        read -r ab_tx ab_rx ab_ctx ab_crx _ <<<"$ab"
        read -r s_mtx s_mrx r_mtx r_mrx <<<"${M_CURR[$tag]}"
        ea=0 eb=0 pa=0 pb=0
        is_kernel "$ms" && ea=1 pa=$PROBE_TX
        is_kernel "$mr" && eb=1 pb=$PROBE_TX
        [[ $((aa_tx - sa_tx)) == "$((ea + pa))" && $((aa_rx - sa_rx)) == "$((ea + pa))" ]] ||
            err "$tag: zka TlsTxSw +$((aa_tx - sa_tx)) TlsRxSw +$((aa_rx - sa_rx)) (want +$ea each, plus the probe's +$pa)"
        [[ $((ab_tx - sb_tx)) == "$((eb + pb))" && $((ab_rx - sb_rx)) == "$((eb + pb))" ]] ||
            err "$tag: zkb TlsTxSw +$((ab_tx - sb_tx)) TlsRxSw +$((ab_rx - sb_rx)) (want +$eb each, plus the probe's +$pb)"
        [[ $aa_ctx == "$sa_ctx" && $aa_crx == "$sa_crx" && $ab_ctx == "$sb_ctx" && $ab_crx == "$sb_crx" ]] ||
            err "$tag: TlsCurr* not back to the baseline after the session"
        # During the session (sampled from the process's own namespace).
        if [[ $ea == 1 ]]; then
            [[ ${s_mtx:-0} -ge 1 && ${s_mrx:-0} -ge 1 ]] || err "$tag: zka TlsCurrTxSw/RxSw max during the session ${s_mtx:-?}/${s_mrx:-?} (want >= 1)"
        else
            [[ ${s_mtx:-0} == "$sa_ctx" && ${s_mrx:-0} == "$sa_crx" ]] || err "$tag: zka TlsCurr* rose during a user-plane session"
        fi
        if [[ $eb == 1 ]]; then
            [[ ${r_mtx:-0} -ge 1 && ${r_mrx:-0} -ge 1 ]] || err "$tag: zkb TlsCurrTxSw/RxSw max during the session ${r_mtx:-?}/${r_mrx:-?} (want >= 1)"
        else
            [[ ${r_mtx:-0} == "$sb_ctx" && ${r_mrx:-0} == "$sb_crx" ]] || err "$tag: zkb TlsCurr* rose during a user-plane session"
        fi
        n=$((n + 1))
    done
    [[ $n -gt 0 ]] || err "no matrix session succeeded to judge"
    [[ $PROBE_TX =~ ^[0-9]+$ && $PROBE_TX == "$PROBE_RX" ]] || err "probe cost not measured ($PROBE_TX/$PROBE_RX)"
    verdict ktls-stat "$n sessions: TlsTxSw/TlsRxSw +1 per kernel-plane side and session (+$PROBE_TX more from zktls's start-up probe), +0 per user side (user-user +0 both); TlsCurrTxSw/RxSw >= 1 during, baseline after"
fi

# ------------------------------------------------------------ h. userspace bytes
if [[ ${#M_IO[@]} -gt 0 ]]; then
    for p in "${PLANES[@]}"; do
        want "userbytes-$p" || continue
        s_io=() r_io=() s_ub=() r_ub=() s_w=() r_w=()
        for tag in "${!M_IO[@]}"; do
            [[ ${M_RUN[$tag]} == 0 ]] || continue
            ms=${tag#m-} ms=${ms%-*} mr=${tag##*-}
            read -r a b <<<"${M_IO[$tag]}"
            read -r c d <<<"${M_UB[$tag]}"
            read -r e f <<<"${M_IOW[$tag]}"
            [[ $ms == "$p" ]] && s_io+=("$a") s_ub+=("$c") s_w+=("$e")
            [[ $mr == "$p" ]] && r_io+=("$b") r_ub+=("$d") r_w+=("$f")
        done
        if [[ $p == splice || $p == direct ]]; then lo=0 hi=0.05; else lo=0.9 hi=2.6; fi
        for x in "sender io:${s_io[*]}" "receiver io:${r_io[*]}" "sender user_bytes:${s_ub[*]}" "receiver user_bytes:${r_ub[*]}"; do
            vals=${x#*:}
            [[ -n $vals ]] || { err "${x%%:*}: no successful session"; continue; }
            for v in $vals; do
                if ! fle "$lo" "$v" || ! fle "$v" "$hi"; then err "${x%%:*} ratio $v outside [$lo, $hi]"; fi
            done
        done
        verdict "userbytes-$p" "per stream byte (want $lo..$hi): zktls rchar+wchar sender [${s_io[*]}] receiver [${r_io[*]}]; JSON user_bytes sender [${s_ub[*]}] receiver [${r_ub[*]}]; (/proc/PID/io incl. the reaped zfs child: sender [${s_w[*]}] receiver [${r_w[*]}])"
    done
fi

# ------------------------------------------------------------ b. zfs flags
seed() {   # seed DST: local full receive of srcpool/data@s1 into DST
    zfs send srcpool/data@s1 | zfs recv -u "$1"
}
if want incr-i; then
    t0=$SECONDS
    seed dstpool/inc || err "seeding dstpool/inc failed"
    xfer_reset
    SEND_ARGS=(-i @s1 srcpool/data@s2) RECV_ARGS=(dstpool/inc)
    xfer incr-i splice splice
    expect_rc sender "$S_RC" 0; expect_rc receiver "$R_RC" 0
    same_guid srcpool/data@s2 dstpool/inc@s2
    [[ -z $(guid dstpool/inc@s2) || $(snap_sum dstpool/inc@s2) == "$SUM_S2" ]] || err "file checksum of @s2 differs"
    verdict incr-i "splice->splice -i @s1 @s2: $(jf incr-i.s bytes) bytes, guid+sum ok ($((SECONDS - t0)) s)" incr-i
fi
if want incr-I; then
    t0=$SECONDS
    [[ -n $(guid dstpool/inc@s2) ]] || { seed dstpool/inc 2>/dev/null; zfs send -i @s1 srcpool/data@s2 | zfs recv -u dstpool/inc; }
    xfer_reset
    SEND_ARGS=(-I @s2 srcpool/data@s4) RECV_ARGS=(dstpool/inc)
    xfer incr-I splice splice
    expect_rc sender "$S_RC" 0; expect_rc receiver "$R_RC" 0
    same_guid srcpool/data@s3 dstpool/inc@s3
    same_guid srcpool/data@s4 dstpool/inc@s4
    verdict incr-I "splice->splice -I @s2 @s4: @s3 and @s4 guids equal ($((SECONDS - t0)) s)" incr-I
fi
if want incr-i-user-direct; then
    t0=$SECONDS
    seed dstpool/incud || err "seeding dstpool/incud failed"
    xfer_reset
    SEND_ARGS=(-i srcpool/data@s1 srcpool/data@s2) RECV_ARGS=(dstpool/incud)
    xfer incr-ud user direct
    expect_rc sender "$S_RC" 0; expect_rc receiver "$R_RC" 0
    same_guid srcpool/data@s2 dstpool/incud@s2
    [[ -z $(guid dstpool/incud@s2) || $(snap_sum dstpool/incud@s2) == "$SUM_S2" ]] || err "file checksum of @s2 differs"
    verdict incr-i-user-direct "user->direct -i @s1 @s2: guid+sum ok ($((SECONDS - t0)) s)" incr-ud
fi
zfs destroy -r dstpool/inc 2>/dev/null
zfs destroy -r dstpool/incud 2>/dev/null

if want recursive-R; then
    t0=$SECONDS
    if ! zfs create -o mountpoint="$W/src/tree" srcpool/tree || ! zfs create srcpool/tree/a ||
        ! zfs create srcpool/tree/b; then err "cannot create srcpool/tree"; fi
    for x in . a b; do
        head -c 1M /dev/urandom >"$W/src/tree/$x/f1"
        seq 1 20000 >"$W/src/tree/$x/t1"
    done
    zfs snapshot -r srcpool/tree@r1
    for x in . a b; do head -c 256K /dev/urandom >"$W/src/tree/$x/f2"; done
    zfs snapshot -r srcpool/tree@r2
    xfer_reset
    SEND_ARGS=(-R srcpool/tree@r2) RECV_ARGS=(-u dstpool/tree)
    xfer rec splice splice
    expect_rc sender "$S_RC" 0; expect_rc receiver "$R_RC" 0
    src=$(zfs list -H -p -o name,guid -t snapshot -r srcpool/tree | sed 's#^srcpool/tree##' | sort)
    dst=$(zfs list -H -p -o name,guid -t snapshot -r dstpool/tree 2>/dev/null | sed 's#^dstpool/tree##' | sort)
    nsnap=$(wc -l <<<"$src")
    [[ $nsnap == 6 ]] || err "source has $nsnap snapshots (want 6)"
    [[ $src == "$dst" ]] || err "snapshot names/guids differ: source [$(tr '\n\t' ', ' <<<"$src")] received [$(tr '\n\t' ', ' <<<"$dst")]"
    verdict recursive-R "splice->splice -R of parent + 2 children x @r1,@r2: 6 snapshot guids equal ($((SECONDS - t0)) s)" rec
    zfs destroy -r dstpool/tree 2>/dev/null
fi

if want raw-encrypted-w; then
    t0=$SECONDS
    echo "zktls-suite-passphrase" >"$W/keyfile"
    zfs create -o encryption=on -o keyformat=passphrase -o keylocation="file://$W/keyfile" \
        -o mountpoint="$W/src/enc" srcpool/enc || err "cannot create the encrypted dataset"
    head -c 2M /dev/urandom >"$W/src/enc/f1"
    yes "$MARK" | head -c 256K >"$W/src/enc/marker.txt"
    zfs snapshot srcpool/enc@e1
    esum=$(snap_sum srcpool/enc@e1)
    xfer_reset
    SEND_ARGS=(-w srcpool/enc@e1) RECV_ARGS=(dstpool/enc)
    xfer enc splice splice
    expect_rc sender "$S_RC" 0; expect_rc receiver "$R_RC" 0
    same_guid srcpool/enc@e1 dstpool/enc@e1
    [[ $(zfs get -H -o value encryption dstpool/enc 2>/dev/null) == aes-256-gcm ]] ||
        err "received dataset encryption '$(zfs get -H -o value encryption dstpool/enc 2>/dev/null)' (want aes-256-gcm)"
    [[ $(zfs get -H -o value keystatus dstpool/enc 2>/dev/null) == unavailable ]] ||
        err "received raw dataset keystatus is not 'unavailable'"
    if zfs load-key -L "file://$W/keyfile" dstpool/enc 2>/dev/null; then
        [[ $(snap_sum dstpool/enc@e1) == "$esum" ]] || err "file checksum after load-key differs"
    else
        err "zfs load-key of the received dataset failed"
    fi
    verdict raw-encrypted-w "splice->splice -w of an aes-256-gcm dataset: guid equal, key unavailable until load-key, then sums equal ($((SECONDS - t0)) s)" enc
    zfs destroy -r dstpool/enc 2>/dev/null
fi

if want compressed-c; then
    t0=$SECONDS
    zfs create -o compression=lz4 -o mountpoint="$W/src/comp" srcpool/comp || err "cannot create srcpool/comp"
    seq 1 1500000 >"$W/src/comp/numbers.txt"
    head -c 1M /dev/urandom >"$W/src/comp/rand"
    zfs snapshot srcpool/comp@c1
    logical=$(zfs get -H -p -o value logicalreferenced srcpool/comp@c1)
    xfer_reset
    SEND_ARGS=(-c srcpool/comp@c1) RECV_ARGS=(dstpool/comp)
    xfer comp splice splice
    expect_rc sender "$S_RC" 0; expect_rc receiver "$R_RC" 0
    same_guid srcpool/comp@c1 dstpool/comp@c1
    b=$(jf comp.s bytes)
    [[ -n $b && $b -lt $((logical * 3 / 4)) ]] || err "stream $b bytes is not smaller than 3/4 of the logical $logical bytes (-c not in effect?)"
    ratio=$(zfs get -H -o value compressratio dstpool/comp 2>/dev/null)
    verdict compressed-c "splice->splice -c (lz4): guid equal, stream $b bytes for $logical logical, received compressratio $ratio ($((SECONDS - t0)) s)" comp
    zfs destroy -r dstpool/comp 2>/dev/null
fi

# ------------------------------------------------------------ c. pull
if want pull; then
    t0=$SECONDS
    xfer_reset
    PULL=1 SEND_ARGS=(srcpool/data@s1) RECV_ARGS=(dstpool/pull)
    xfer pull splice splice
    expect_rc "sender (listening)" "$S_RC" 0; expect_rc "receiver (connecting)" "$R_RC" 0
    same_guid srcpool/data@s1 dstpool/pull@s1
    [[ -z $(guid dstpool/pull@s1) || $(snap_sum dstpool/pull@s1) == "$SUM_S1" ]] || err "file checksum differs"
    verdict pull "send --listen in zka, recv --connect from zkb: guid+sum ok ($((SECONDS - t0)) s)" pull
    zfs destroy -r dstpool/pull 2>/dev/null
fi

# ------------------------------------------------------------ d. cut + resume
# cut_case NAME SEND-PLANE RECV-PLANE: cut mid-stream (receiver with -s),
# then resume.
cut_case() {
    local name=$1 ms=$2 mr=$3 t0=$SECONDS d=dstpool/$1 cs cr token rb
    xfer_reset
    SEND_ARGS=(srcpool/data@s1) RECV_ARGS=(-s "$d") RELAY_OPTS=(--cut-after $((2 * 1048576)))
    xfer "$name.1" "$ms" "$mr"
    cs=$S_RC cr=$R_RC
    [[ $cs != 0 && $cs != 124 ]] || err "sender exit $cs on a cut connection (want a failure, not 0/timeout)"
    [[ $cr == 4 ]] || err "receiver ($mr) exit $cr on a cut connection (want 4: connection cut)"
    expect_log "$name.1.r" '"level":"error".*connection (closed by peer without close_notify|reset by peer)'
    expect_log "$name.1.s" '"level":"error".*(connection (closed|reset)|sending to the peer|reading from the peer)'
    grep -q 'cut (fin) after' "$W/$name.1.relay.log" 2>/dev/null || err "the relay did not cut"
    token=$(zfs get -H -o value receive_resume_token "$d" 2>/dev/null)
    [[ -n $token && $token != - ]] || err "no receive_resume_token on $d after the cut"
    [[ -z $(guid "$d@s1") ]] || err "$d@s1 exists after a cut stream"
    xfer_reset
    SEND_ARGS=(srcpool/data@s1) RECV_ARGS=(-s "$d")
    xfer "$name.2" "$ms" "$mr"
    expect_rc "resumed sender" "$S_RC" 0; expect_rc "resumed receiver" "$R_RC" 0
    expect_log "$name.2.s" 'resuming an interrupted transfer of srcpool/data@s1'
    # A direct sender cannot count (its JSON says null): take the receiver's.
    if [[ $ms == direct ]]; then rb=$(jf "$name.2.r" bytes); else rb=$(jf "$name.2.s" bytes); fi
    [[ -n $rb && $rb -lt $S1_BYTES ]] || err "resumed stream $rb bytes is not shorter than the full $S1_BYTES"
    same_guid srcpool/data@s1 "$d@s1"
    [[ -z $(guid "$d@s1") || $(snap_sum "$d@s1") == "$SUM_S1" ]] || err "file checksum differs"
    verdict "$name" "$ms->$mr cut after 2 MiB: sender exit $cs '$(jerr "$name.1.s")', receiver exit $cr '$(jerr "$name.1.r" | cut -c1-80)', token left; rerun resumed ($rb of $S1_BYTES bytes), guid+sum ok ($((SECONDS - t0)) s)" "$name.1" "$name.2"
    zfs destroy -r "$d" 2>/dev/null
}
want cut-resume && cut_case cut-resume splice splice
want cut-direct && cut_case cut-direct splice direct
want cut-direct-send && cut_case cut-direct-send direct splice

# ------------------------------------------------------------ d2. lost RESULT
# The receiver commits, but its RESULT never reaches the sender: the sender
# must not report success.  The relay cuts server->client just before the
# TLS record carrying RESULT: a frame of 12 + 24 + PROTO_RESULT_MSG_LEN
# bytes, plus the record's content type and 16-byte tag.
if want result-lost; then
    t0=$SECONDS
    msglen=$(sed -n 's/^#define PROTO_RESULT_MSG_LEN \([0-9]*\).*/\1/p' "$SL_REPO/src/proto.h")
    rlen=$((12 + 24 + ${msglen:-512} + 17))
    xfer_reset
    SEND_ARGS=(srcpool/data@s1) RECV_ARGS=(dstpool/rlost) RELAY_OPTS=(--dir s2c --cut-before-record "$rlen")
    xfer rlost splice splice
    grep -q "record of length $rlen at" "$W/rlost.relay.log" 2>/dev/null || err "the relay saw no $rlen-byte record to cut before"
    [[ $S_RC == 4 ]] || err "sender exit $S_RC without the receiver's RESULT (want 4)"
    expect_rc receiver "$R_RC" 0
    same_guid srcpool/data@s1 dstpool/rlost@s1
    verdict result-lost "RESULT ($rlen-byte record) cut: sender exit $S_RC '$(jerr rlost.s)', receiver exit $R_RC with the snapshot committed ($((SECONDS - t0)) s)" rlost
    zfs destroy -r dstpool/rlost 2>/dev/null
fi

# ------------------------------------------------------------ d3b. key limits
# keyupdate_case NAME SEND-PLANE RECV-PLANE [pull]: the sender with
# --key-limit 50 (the stream is ~850 records), the receiver with 1.  Where
# both planes can change keys: KeyUpdates both ways, counted on both sides
# (key_strategy key_update).  Where one cannot, both sides pick
# ChaCha20-Poly1305 at the handshake (no key limit), no KeyUpdate, no
# warning.  Either way the snapshot arrives whole (guid and file sums).
keyupdate_case() {
    local name=$1 ms=$2 mr=$3 t0=$SECONDS d=dstpool/$1
    xfer_reset
    [[ ${4:-} == pull ]] && PULL=1
    SEND_ARGS=(srcpool/data@s1) RECV_ARGS=("$d")
    S_XOPTS=(--key-limit 16) R_XOPTS=(--key-limit 1)
    xfer "$name" "$ms" "$mr"
    expect_rc sender "$S_RC" 0
    expect_rc receiver "$R_RC" 0
    same_guid srcpool/data@s1 "$d@s1"
    [[ $(snap_sum "$d@s1") == "$SUM_S1" ]] || err "$d@s1: file sums differ from the source's"
    key_checks "$name" "$ms" "$mr"
    verdict "$name" "$ms->$mr${4:+ ($4)}, --key-limit 16/1: $KU_DETAIL, guid and sums equal ($((SECONDS - t0)) s)" "$name"
    zfs destroy -r "$d" 2>/dev/null
}
# (every pair of planes with these key limits is the matrix, above)
# who listens decides who picks the cipher: direct as the listening sender
# (its order wins) and as the connecting receiver (the listener takes it)
want keyupdate-pull-direct-splice && keyupdate_case keyupdate-pull-direct-splice direct splice pull
want keyupdate-pull-user-direct && keyupdate_case keyupdate-pull-user-direct user direct pull
# keyupdate-openssl-PLANE: tests/host/key_update_pos.sh with zktls on a
# kernel plane (OpenSSL's s_server and s_client follow zktls's KeyUpdates,
# zktls follows theirs and answers a request), where the kernel can
# change keys.
for mode in rw splice; do
    want "keyupdate-openssl-$mode" && [[ $KREKEY == 1 ]] && {
        t0=$SECONDS
        out=$(ZKTLS_TEST_MODE=$mode ZKTLS_BIN=$ZK timeout -k 5 300 bash "$SL_REPO/tests/host/key_update_pos.sh" 2>&1)
        rc=$?
        [[ $rc == 0 ]] || err "key_update_pos.sh exit $rc: $(tr '\n' ' ' <<<"$out" | cut -c1-600)"
        verdict "keyupdate-openssl-$mode" "zktls on $mode with s_server/s_client and itself: $(tail -n1 <<<"$out" | cut -c1-120) ($((SECONDS - t0)) s)"
    }
done

# ------------------------------------------------------------ e. flipped bit
flip_case() {   # flip_case RECV-PLANE
    local mr=$1 t0=$SECONDS d=dstpool/flip-$1 de0 de1
    de0=$(ns_stat "$ZKB" | cut -d' ' -f5)
    xfer_reset
    SEND_ARGS=(srcpool/data@s1) RECV_ARGS=("$d") RELAY_OPTS=(--flip-at $((2 * 1048576 + 777)))
    xfer "flip-$mr" splice "$mr"
    de1=$(ns_stat "$ZKB" | cut -d' ' -f5)
    [[ $S_RC != 0 && $S_RC != 124 ]] || err "sender exit $S_RC (want a failure, not 0/timeout)"
    [[ $R_RC == 4 ]] || err "receiver ($mr) exit $R_RC (want 4: corrupted stream)"
    expect_log "flip-$mr.r" '"level":"error".*TLS record authentication failed'
    grep -q 'flipped a bit' "$W/flip-$mr.relay.log" 2>/dev/null || err "the relay did not flip"
    [[ -z $(guid "$d@s1") ]] || err "$d@s1 exists: a corrupted stream was committed"
    zfs list -H "$d" >/dev/null 2>&1 && err "$d exists after a corrupted full stream"
    local ded=''
    if is_kernel "$mr"; then
        [[ $((de1 - de0)) -ge 1 ]] || err "TlsDecryptError in zkb +$((de1 - de0)) (want >= 1)"
        ded=", TlsDecryptError +$((de1 - de0))"
    fi
    verdict "flip-$mr" "bit flip at 2 MiB: receiver ($mr) exit $R_RC 'TLS record authentication failed', sender exit $S_RC, nothing committed$ded ($((SECONDS - t0)) s)" "flip-$mr"
}
want flip-splice && flip_case splice
want flip-user && flip_case user
want flip-direct && flip_case direct

# ------------------------------------------------------------ g. no plaintext
# capture TAG: start tcpdump on zkb0 into $W/TAG.pcap (sets CAP_PID).
cap_start() {
    local i
    rm -f "$W/$1.pcap" "$W/$1.tcpdump"
    ip netns exec "$ZKB" timeout -k 5 600 tcpdump -n -i zkb0 -s 0 -B 65536 --immediate-mode -U -w "$W/$1.pcap" tcp \
        2>"$W/$1.tcpdump" &
    CAP_PID=$!
    SL_EXTRA_PIDS+=("$CAP_PID")
    for ((i = 0; i < 200; i++)); do
        grep -q 'listening on' "$W/$1.tcpdump" 2>/dev/null && return 0
        nap 0.1
    done
    return 1
}
cap_stop() {
    local i
    nap 1.5
    kill -INT "$CAP_PID" 2>/dev/null
    for ((i = 0; i < 100; i++)); do kill -0 "$CAP_PID" 2>/dev/null || break; nap 0.1; done
    kill -KILL "$CAP_PID" 2>/dev/null
    wait "$CAP_PID" 2>/dev/null
}
marker_hits() { grep -aFo -- "$MARK" "$1" 2>/dev/null | wc -l; }
if want no-plaintext; then
    t0=$SECONDS
    zfs create -o mountpoint="$W/src/mark" srcpool/mark
    yes "$MARK" | head -c 2M >"$W/src/mark/marker.txt"
    head -c 512K /dev/urandom >"$W/src/mark/rand"
    zfs snapshot srcpool/mark@m1
    mbytes=$(zfs send srcpool/mark@m1 | wc -c)
    det=''
    for planes in "splice splice" "direct rw" "user user"; do
        read -r ms mr <<<"$planes"
        tag=cap-$ms-$mr
        cap_start "$tag" || err "tcpdump did not start"
        xfer_reset
        SEND_ARGS=(srcpool/mark@m1) RECV_ARGS=("dstpool/$tag")
        xfer "$tag" "$ms" "$mr"
        cap_stop
        expect_rc "$tag sender" "$S_RC" 0; expect_rc "$tag receiver" "$R_RC" 0
        same_guid srcpool/mark@m1 "dstpool/$tag@m1"
        sz=$(stat -c %s "$W/$tag.pcap" 2>/dev/null || echo 0)
        hits=$(marker_hits "$W/$tag.pcap")
        [[ $sz -gt $mbytes ]] || err "$tag capture is $sz bytes, less than the $mbytes-byte stream (capture broken? tcpdump: $(grep -h 'dropped' "$W/$tag.tcpdump" | tr '\n' ' '))"
        [[ $hits == 0 ]] || err "$tag: marker found $hits times in the capture (plaintext on the wire)"
        det+="$ms->$mr ${hits} hits in $((sz / 1024)) KiB; "
        rm -f "$W/$tag.pcap"
        zfs destroy -r "dstpool/$tag" 2>/dev/null
    done
    # Control: the same stream over plain TCP must show the marker.
    cap_start cap-plain || err "tcpdump did not start"
    ip netns exec "$ZKB" timeout -k 5 120 bash -c \
        'socat -u TCP-LISTEN:5999,bind=10.77.0.2,reuseaddr STDOUT | zfs recv dstpool/cap-plain' \
        >"$W/cap-plain.r.log" 2>&1 &
    plain_r=$!
    for ((i = 0; i < 100; i++)); do
        ip netns exec "$ZKB" ss -Hltn 'sport = :5999' | grep -q . && break
        nap 0.1
    done
    zfs send srcpool/mark@m1 | ip netns exec "$ZKA" timeout -k 5 120 socat -u STDIN TCP:10.77.0.2:5999 \
        >"$W/cap-plain.s.log" 2>&1
    src_rc=$?
    wait "$plain_r"; prc=$?
    cap_stop
    [[ $src_rc == 0 && $prc == 0 ]] || err "plain TCP control transfer failed (send $src_rc, recv $prc)"
    hits=$(marker_hits "$W/cap-plain.pcap")
    [[ $hits -gt 0 ]] || err "control: marker NOT found in a plain TCP capture (the check cannot fail)"
    det+="plain TCP (control) ${hits} hits"
    rm -f "$W/cap-plain.pcap"
    zfs destroy -r dstpool/cap-plain 2>/dev/null
    verdict no-plaintext "$det ($((SECONDS - t0)) s)" cap-splice-splice cap-direct-rw cap-user-user cap-plain
fi

# ------------------------------------------------------------ i. full pool
# On splice, and on direct where zfs recv itself reads the socket and fails
# mid-stream: zktls must blame zfs (5), not the connection.
if want full-pool; then
    zk_pool tinypool 64M || err "cannot create tinypool"
    zfs create -o mountpoint="$W/src/big" srcpool/big
    head -c 48M /dev/urandom >"$W/src/big/blob"
    zfs snapshot srcpool/big@b1
    for pl in splice direct; do
        t0=$SECONDS
        xfer_reset
        SEND_ARGS=(srcpool/big@b1) RECV_ARGS=(tinypool/full)
        xfer "full-$pl" "$pl" "$pl"
        expect_rc sender "$S_RC" 5
        expect_rc receiver "$R_RC" 5
        expect_log "full-$pl.r" 'out of space'
        expect_log "full-$pl.s" '"level":"error".*receiver:'
        expect_log "full-$pl.s" '"level":"error".*out of space'
        verdict "full-pool-$pl" "$pl->$pl 48 MiB into a 64 MiB pool: both exit 5, receiver: $(jerr "full-$pl.r" | cut -c1-120) ($((SECONDS - t0)) s)" "full-$pl"
        zfs destroy -r tinypool/full 2>/dev/null
    done
    zk_pool_destroy tinypool
    zfs destroy -r srcpool/big 2>/dev/null
fi

# ------------------------------------------------------------ j. exists, no -F
if want exists-no-F; then
    zfs create dstpool/exists
    for pl in splice direct; do
        t0=$SECONDS
        xfer_reset
        SEND_ARGS=(srcpool/data@s1) RECV_ARGS=(dstpool/exists)
        xfer "exists-$pl" "$pl" "$pl"
        expect_rc sender "$S_RC" 5
        expect_rc receiver "$R_RC" 5
        expect_log "exists-$pl.r" 'destination .dstpool/exists. exists'
        expect_log "exists-$pl.s" '"level":"error".*receiver:.*exists'
        [[ -z $(guid dstpool/exists@s1) ]] || err "dstpool/exists@s1 was created"
        verdict "exists-no-F-$pl" "$pl->$pl both exit 5, sender: $(jerr "exists-$pl.s" | cut -c1-140) ($((SECONDS - t0)) s)" "exists-$pl"
    done
    zfs destroy -r dstpool/exists 2>/dev/null
fi

# ------------------------------------------------------------ k. hardening
# The receiving host is safe from the stream's mount properties: a -p
# stream that says mountpoint=/etc/zktls-test lands unmounted, inheriting
# the receiver's own mountpoint; the operator can allow both explicitly.
if want props-safe; then
    t0=$SECONDS
    # src_ds NAME MOUNTPOINT: a dataset whose -p stream says canmount=on
    # and that MOUNTPOINT, not mounted here (both hosts share one ZFS).
    src_ds() {
        zfs create -o canmount=noauto -o mountpoint="$2" "$1" &&
            zfs snapshot "$1@e1" && zfs set canmount=on "$1" || return 1
        zfs umount "$1" 2>/dev/null
        rmdir "$2" 2>/dev/null
        return 0
    }
    src_ds srcpool/evil /etc/zktls-test || err "cannot create srcpool/evil"
    [[ ! -e /etc/zktls-test ]] || err "setup: /etc/zktls-test exists before the receive"
    xfer_reset
    SEND_ARGS=(-p srcpool/evil@e1) RECV_ARGS=(dstpool/evil)
    xfer evil splice splice
    expect_rc sender "$S_RC" 0; expect_rc receiver "$R_RC" 0
    same_guid srcpool/evil@e1 dstpool/evil@e1
    mp=$(zfs get -H -o value,source mountpoint dstpool/evil 2>/dev/null | tr '\t' ' ')
    [[ $mp == "none inherited from dstpool" ]] || err "received mountpoint '$mp' (want 'none inherited from dstpool')"
    # (zfs receive runs under "ip netns exec", in a mount namespace of its
    # own: a mount would not show here, but the directory it creates does.)
    [[ ! -e /etc/zktls-test ]] || err "/etc/zktls-test exists after the receive (a mount was tried)"
    # The operator may allow both (to a harmless place here).
    src_ds srcpool/okmp "$W/okmp" || err "cannot create srcpool/okmp"
    xfer_reset
    SEND_ARGS=(-p srcpool/okmp@e1) RECV_ARGS=(dstpool/evil2) R_XOPTS=(--mount --sender-mount-props)
    xfer evil2 splice splice
    expect_rc "allowed: sender" "$S_RC" 0; expect_rc "allowed: receiver" "$R_RC" 0
    [[ $(zfs get -H -o value mountpoint dstpool/evil2 2>/dev/null) == "$W/okmp" ]] ||
        err "with --sender-mount-props the mountpoint was not taken"
    [[ -d $W/okmp ]] || err "with --mount nothing was mounted at $W/okmp"
    verdict props-safe "a -p stream with mountpoint=/etc/zktls-test canmount=on: received unmounted, mountpoint '$mp', /etc/zktls-test absent; --mount --sender-mount-props take it ($((SECONDS - t0)) s)" evil evil2
    zfs umount dstpool/evil2 2>/dev/null
    zfs destroy -r dstpool/evil 2>/dev/null; zfs destroy -r dstpool/evil2 2>/dev/null
    zfs destroy -r srcpool/evil 2>/dev/null; zfs destroy -r srcpool/okmp 2>/dev/null
fi

# A real resume token that is not raw, against a raw (-w) send of an
# encrypted dataset: refused, nothing decrypted goes out.  A raw partial
# is resumed raw.
if want token-raw; then
    t0=$SECONDS
    if [[ -z $(guid srcpool/enc@e1) ]]; then
        echo "zktls-suite-passphrase" >"$W/keyfile"
        zfs create -o encryption=on -o keyformat=passphrase -o keylocation="file://$W/keyfile" \
            -o mountpoint="$W/src/enc" srcpool/enc
        head -c 2M /dev/urandom >"$W/src/enc/f1"
        zfs snapshot srcpool/enc@e1
    fi
    zfs send srcpool/enc@e1 | head -c 1M | zfs recv -s dstpool/tokplain 2>/dev/null
    tok=$(zfs get -H -o value receive_resume_token dstpool/tokplain 2>/dev/null)
    [[ -n $tok && $tok != - ]] || err "no partial (non-raw) receive to resume"
    xfer_reset
    SEND_ARGS=(-w srcpool/enc@e1) RECV_ARGS=(-s dstpool/tokplain)
    xfer tokplain splice splice
    expect_rc sender "$S_RC" 4
    expect_log tokplain.s 'resume token refused: it continues a non-raw send of srcpool/enc@e1, but -w was asked'
    expect_log tokplain.r 'the sender ended the session before sending anything'
    [[ -z $(guid dstpool/tokplain@e1) ]] || err "dstpool/tokplain@e1 was received"
    [[ $(zfs get -H -o value receive_resume_token dstpool/tokplain) == "$tok" ]] || err "the partial receive changed"
    zfs send -w srcpool/enc@e1 | head -c 1M | zfs recv -s dstpool/tokraw 2>/dev/null
    xfer_reset
    SEND_ARGS=(-w srcpool/enc@e1) RECV_ARGS=(-s dstpool/tokraw)
    xfer tokraw splice splice
    expect_rc "raw resume: sender" "$S_RC" 0; expect_rc "raw resume: receiver" "$R_RC" 0
    expect_log tokraw.s 'resuming an interrupted transfer of srcpool/enc@e1'
    same_guid srcpool/enc@e1 dstpool/tokraw@e1
    [[ $(zfs get -H -o value keystatus dstpool/tokraw 2>/dev/null) == unavailable ]] ||
        err "the resumed raw receive is not encrypted (keystatus '$(zfs get -H -o value keystatus dstpool/tokraw 2>/dev/null)')"
    verdict token-raw "non-raw token vs send -w refused ($(jerr tokplain.s | cut -c1-100)); raw token resumed raw, keystatus unavailable ($((SECONDS - t0)) s)" tokplain tokraw
    zfs destroy -r dstpool/tokplain 2>/dev/null; zfs destroy -r dstpool/tokraw 2>/dev/null
fi

# recv -d: the receiver reports the guid of what landed below the target.
if want recv-d-guid; then
    t0=$SECONDS
    zfs create dstpool/dd 2>/dev/null
    xfer_reset
    SEND_ARGS=(srcpool/data@s1) RECV_ARGS=(-d dstpool/dd)
    xfer recvd splice direct
    expect_rc sender "$S_RC" 0; expect_rc receiver "$R_RC" 0
    same_guid srcpool/data@s1 dstpool/dd/data@s1
    [[ $(jf recvd.r guid) == "$(guid srcpool/data@s1)" ]] || err "receiver's session guid '$(jf recvd.r guid)'"
    verdict recv-d-guid "recv -d dstpool/dd: dstpool/dd/data@s1 committed, its guid reported and checked ($((SECONDS - t0)) s)" recvd
    zfs destroy -r dstpool/dd 2>/dev/null
fi

# Records a peer may legally send (empty application data) and records
# zktls refuses (session tickets), on every receiving plane, from a peer
# that writes its own records (tests/tools/tlspeer).
TLSPEER=$SL_REPO/build/release/tlspeer
records_case() {   # records_case NAME PLANE TLSPEER-OPTION...
    local name=$1 pl=$2 port t0=$SECONDS d=dstpool/$1
    shift 2
    [[ -s $W/s1.zs ]] || zfs send srcpool/data@s1 >"$W/s1.zs"
    rm -f "$W/$name.peer.out" "$W/$name.peer.err"
    zk_start "$name.r" "$ZKB" recv --mode "$pl" --json --timeout 60 "${TLS_B[@]}" \
        --listen "$ZKB_IP:0" "$d"
    port=$(wait_listen "$name.r" 60) || { err "receiver did not listen"; zk_stop "$name.r"; return; }
    ip netns exec "$ZKA" timeout -k 5 120 "$TLSPEER" --connect "$ZKB_IP:$port" --role send \
        --snapshot srcpool/data@s1 --cert "$CERTS/alpha.pem" --key "$CERTS/alpha.key" \
        --ca "$CERTS/ca.pem" --peer-name beta "$@" <"$W/s1.zs" >"$W/$name.peer.out" 2>"$W/$name.peer.err"
    P_RC=$?
    zk_wait "$name.r"; R_RC=$?
}
# The receiving namespace's count of padded records that a receiver which
# expected none had to decrypt again.
nopad_violations() {
    ip netns exec "$ZKB" awk '$1 == "TlsRxNoPadViolation" { print $2 }' /proc/net/tls_stat
}
for pl in "${PLANES[@]}"; do
    if want "empty-records-$pl"; then
        records_case "er-$pl" "$pl" --empty 2
        expect_rc "tlspeer (sender)" "$P_RC" 0; expect_rc "receiver ($pl)" "$R_RC" 0
        same_guid srcpool/data@s1 "dstpool/er-$pl@s1"
        grep -q "^result status=0 .* guid=$(guid srcpool/data@s1) " "$W/er-$pl.peer.out" ||
            err "tlspeer's RESULT: $(cat "$W/er-$pl.peer.out")"
        verdict "empty-records-$pl" "two empty data records after each data record -> $pl: received, guid equal ($(jf "er-$pl.r" bytes) bytes)" "er-$pl.r"
        zfs destroy -r "dstpool/er-$pl" 2>/dev/null
    fi
    if want "tickets-$pl"; then
        records_case "tk-$pl" "$pl" --tickets 1
        expect_rc "receiver ($pl)" "$R_RC" 4
        [[ $P_RC != 0 ]] || err "tlspeer got RESULT ok"
        expect_log "tk-$pl.r" '"level":"error".*a TLS session ticket after the handshake'
        [[ -z $(guid "dstpool/tk-$pl@s1") ]] || err "dstpool/tk-$pl@s1 was committed"
        verdict "tickets-$pl" "NewSessionTicket after each data record -> $pl: refused, exit 4, nothing committed: $(jerr "tk-$pl.r" | cut -c1-100)" "tk-$pl.r"
        zfs destroy -r "dstpool/tk-$pl" 2>/dev/null
    fi
    if want "padded-records-$pl"; then
        # zktls sets TLS_RX_EXPECT_NO_PAD on kernel-plane receivers; a
        # peer that pads anyway costs a second decryption, never data.
        v0=$(nopad_violations)
        records_case "pd-$pl" "$pl" --pad 200
        v1=$(nopad_violations)
        expect_rc "tlspeer (sender)" "$P_RC" 0; expect_rc "receiver ($pl)" "$R_RC" 0
        same_guid srcpool/data@s1 "dstpool/pd-$pl@s1"
        # rw reads with recvmsg into a large buffer, where the kernel
        # takes the zero-copy guess: the first padded record counts
        # (measured on 6.12: exactly 1).  Without the option, 0.
        if [[ $pl == rw ]]; then
            [[ $((v1 - v0)) -ge 1 ]] || err "TlsRxNoPadViolation rose by $((v1 - v0)) (want >= 1: TLS_RX_EXPECT_NO_PAD not set?)"
        fi
        verdict "padded-records-$pl" "200 bytes of padding in each record -> $pl: received, guid equal, TlsRxNoPadViolation +$((v1 - v0))" "pd-$pl.r"
        zfs destroy -r "dstpool/pd-$pl" 2>/dev/null
    fi
done

# The direct sender after the receiver's zfs failed early: killing zfs
# send (which writes the socket itself) can leave the kernel's
# ERESTARTSYS (512) on the socket; the sender must still report the
# receiver's words.  Repeated, as it is a race.
if want exists-loop-direct; then
    t0=$SECONDS bad=0 n=8
    zfs create dstpool/exists2
    for ((i = 1; i <= n; i++)); do
        xfer_reset
        SEND_ARGS=(srcpool/data@s1) RECV_ARGS=(dstpool/exists2)
        xfer "exl-$i" direct direct
        if [[ $S_RC != 5 ]] || ! grep -aq '"level":"error".*receiver:.*exists' "$W/exl-$i.s.log"; then
            bad=$((bad + 1))
            err "run $i: sender exit $S_RC: $(jerr "exl-$i.s" | cut -c1-120)"
        fi
    done
    verdict exists-loop-direct "$n runs direct->direct into an existing dataset: the sender reported the receiver's zfs text every time ($bad bad) ($((SECONDS - t0)) s)" "exl-$n"
    zfs destroy -r dstpool/exists2 2>/dev/null
fi

bg_wait

# ------------------------------------------------------------ l. serve
# zktls serve in zkb: two clients push at once on kernel planes, one pulls;
# the network-facing process is unprivileged, zfs runs as root.
if want serve; then
    t0=$SECONDS
    for n in delta; do
        ( cd "$CERTS" && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout $n.key -out $n.csr -subj /CN=$n 2>/dev/null &&
          printf 'subjectAltName=DNS:%s\nextendedKeyUsage=clientAuth\n' $n >$n.ext &&
          openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
            -out $n.pem -days 30 -extfile $n.ext 2>/dev/null ) || err "cannot make $n's certificate"
    done
    zfs create dstpool/srv && zfs create dstpool/srv/alpha && zfs create dstpool/srv/delta
    cat >"$W/zktls.conf" <<CONF
listen $ZKB_IP:0
cert $CERTS/beta.pem
key $CERTS/beta.key
ca $CERTS/ca.pem
user nobody
mode splice
metrics $W/zktls.prom
client alpha {
	name alpha
	push dstpool/srv/alpha
	pull srcpool/data
}
client delta {
	name delta
	push dstpool/srv/delta
	property org.zktls:from=delta
}
CONF
    ZK_TO=1200 zk_start srv "$ZKB" serve --config "$W/zktls.conf" --json
    if port=$(wait_listen srv 60); then
        D=(--cert "$CERTS/delta.pem" --key "$CERTS/delta.key" --ca "$CERTS/ca.pem" --peer-name beta)
        zk_start sa "$ZKA" send --mode direct --json "${TLS_A[@]}" --connect "$ZKB_IP:$port" srcpool/data@s1
        zk_start sd "$ZKA" send --mode splice --json "${D[@]}" --connect "$ZKB_IP:$port" srcpool/data@s2
        # the network-facing process of a session, while they run
        net='' nuid='' ncap='' nnp='' nsc=''
        for ((i = 0; i < 100; i++)); do
            [[ -n $net ]] && break
            for p in $(pgrep -P "$(cat "$W/srv.pid")"); do
                for c in $(pgrep -P "$p"); do
                    read -r nuid ncap nnp nsc < <(awk '/^Uid:/ { u = $2 } /^CapEff:/ { c = $2 } /^NoNewPrivs:/ { n = $2 } /^Seccomp:/ { s = $2 } END { print u, c, n, s }' /proc/$c/status 2>/dev/null)
                    [[ $nuid == 65534 ]] && { net=$c; break 2; }
                done
            done
            nap 0.05
        done
        if [[ -n $net ]]; then
            [[ $nuid == 65534 && $ncap == 0000000000000000 && $nnp == 1 && $nsc == 2 ]] ||
                err "network process $net: uid $nuid CapEff $ncap NoNewPrivs $nnp Seccomp $nsc"
        else
            err "no unprivileged network process seen"
        fi
        zk_wait sa; a_rc=$?
        zk_wait sd; d_rc=$?
        expect_rc "alpha (direct)" "$a_rc" 0; expect_rc "delta (splice)" "$d_rc" 0
        same_guid srcpool/data@s1 dstpool/srv/alpha/data@s1
        same_guid srcpool/data@s2 dstpool/srv/delta/data@s2
        v=$(zfs get -H -o value org.zktls:from dstpool/srv/delta/data 2>&1)
        [[ $v == delta ]] || err "delta's policy property: org.zktls:from is '$v'"
        # alpha pulls @s4, incremental from @s1 which it has
        zfs create dstpool/pulled && zfs send srcpool/data@s1 | zfs recv -u dstpool/pulled/data
        zk_start pl "$ZKA" recv --mode splice --json "${TLS_A[@]}" --connect "$ZKB_IP:$port" \
            --source srcpool/data@s4 dstpool/pulled/data
        zk_wait pl; p_rc=$?
        expect_rc "alpha pulls" "$p_rc" 0
        same_guid srcpool/data@s4 dstpool/pulled/data@s4
        grep -aq '"level":"error"' "$W/srv.log" && err "serve logged errors: $(grep -a '"level":"error"' "$W/srv.log" | head -2)"
        # a clone in alpha's pull area of a clone in it of a snapshot
        # outside it (two hops) is not sent, and the refusal does not
        # name what lies outside
        zfs create srcpool/other && zfs snapshot srcpool/other@x &&
            zfs clone srcpool/other@x srcpool/data/b && zfs snapshot srcpool/data/b@y &&
            zfs clone srcpool/data/b@y srcpool/data/cl && zfs snapshot srcpool/data/cl@c
        zk_start clone "$ZKA" recv --mode splice "${TLS_A[@]}" --connect "$ZKB_IP:$port" \
            --source srcpool/data/cl@c dstpool/pulled/cl
        zk_wait clone; c_rc=$?
        expect_rc "alpha pulls a clone of a clone of srcpool/other@x" "$c_rc" 4
        grep -q 'other' "$W/clone.log" && err "the refusal names the origin outside: $(tail -1 "$W/clone.log")"
        grep -q "srcpool/data/cl is a clone whose origin lies outside what client alpha may read" "$W/clone.log" ||
            err "clone pull: $(tail -1 "$W/clone.log")"
        zfs list dstpool/pulled/cl >/dev/null 2>&1 && err "the clone arrived"
        zfs destroy -r srcpool/data/cl; zfs destroy -r srcpool/data/b; zfs destroy -r srcpool/other
        grep -q 'zktls_sessions_total{client="alpha",plane="splice",result="ok"} 2' "$W/zktls.prom" 2>/dev/null ||
            err "metrics: $(grep sessions_total "$W/zktls.prom" 2>/dev/null | tr '\n' ' ')"
    else
        err "serve did not listen"
    fi
    zk_stop srv
    verdict serve "two clients at once (direct, splice) into dstpool/srv/{alpha,delta}, guids equal, delta's policy property set; alpha pulled @s4 incrementally and not a clone of another dataset; network process uid $nuid CapEff $ncap NoNewPrivs $nnp Seccomp $nsc ($((SECONDS - t0)) s)" srv sa sd pl
    zfs destroy -r dstpool/srv 2>/dev/null; zfs destroy -r dstpool/pulled 2>/dev/null
fi

# ------------------------------------------------------------ m. sync
# zktls sync against a zktls serve in zkb: pushes of srcpool/sy (and
# trees) into dstpool/sync, pulls of srcpool/sy into dstpool/pulled.
# Every sub-case compares the snapshot GUIDs of both sides.
# snaplist DS: "name guid" of its snapshots, oldest first, names without DS
snaplist() {
    zfs list -H -p -o name,guid -t snapshot -s createtxg -d 1 "$1" 2>/dev/null | sed "s|^$1@||" | tr '\t' ' '
}
# same_snaps SRC DST [EXTRA-IN-DST...]: every snapshot of SRC is in DST with
# its guid, and DST has no others but EXTRA
same_snaps() {
    local src=$1 dst=$2 a b re='^$'
    shift 2
    [[ $# -gt 0 ]] && { re=$(printf '^%s |' "$@"); re=${re%|}; }
    a=$(snaplist "$src" | awk '{ print $2 }' | sort)
    b=$(snaplist "$dst" | grep -v -E "$re" | awk '{ print $2 }' | sort)
    [[ -n $a && $a == "$b" ]] || err "snapshots of $src [$(snaplist "$src" | tr '\n' ' ')] != $dst [$(snaplist "$dst" | tr '\n' ' ')]"
}
# sync_run TAG ARGS...: zktls sync in zka, waited for; SY_RC its exit
sync_run() {
    local tag=$1
    shift
    zk_start "$tag" "$ZKA" sync --json "${TLS_A[@]}" --timeout 60 "$@"
    zk_wait "$tag"; SY_RC=$?
}
# sy_field TAG KEY: a field of the sync-summary line
sy_field() {
    grep -a '"event":"sync-summary"' "$W/$1.log" 2>/dev/null | tail -n1 |
        sed -n "s/.*\"$2\":\\([0-9]*\\).*/\\1/p"
}
# sjf TAG KEY: a field of the last sender session line (jf takes the last
# session line, which in a sync log is a listing)
sjf() {
    grep -a '"event":"session","role":"sender"' "$W/$1.log" 2>/dev/null | tail -n1 |
        sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p"
}
# bookmarks DS: our bookmarks of DS (names after '#')
zk_bookmarks() {
    zfs list -H -o name -t bookmark -d 1 "$1" 2>/dev/null | sed -n 's/^[^#]*#\(zktls[_:].*\)$/\1/p' | tr '\n' ' '
}
if want sync; then
    t0=$SECONDS
    zfs create -o mountpoint="$W/src/sy" srcpool/sy && head -c 2M /dev/urandom >"$W/src/sy/f" &&
        zfs snapshot srcpool/sy@a1 || err "cannot make srcpool/sy"
    zfs create dstpool/sync && zfs create dstpool/pulled
    cat >"$W/sync-srv.conf" <<CONF
listen $ZKB_IP:0
cert $CERTS/beta.pem
key $CERTS/beta.key
ca $CERTS/ca.pem
user nobody
client alpha {
	name alpha
	push dstpool/sync
	pull srcpool/sy
	pull srcpool/big
	max-sessions 4
}
CONF
    # The server outlives every sync case (ZK_TO bounds one transfer; the
    # sync cases together take several minutes, more on a busy host).
    ZK_TO=3000 zk_start ssrv "$ZKB" serve --config "$W/sync-srv.conf" --json
    if ! port=$(wait_listen ssrv 60); then
        err "serve did not listen"
        verdict sync-setup "" ssrv
    else
        SRV=$ZKB_IP:$port
        # 1. the first sync is a full send
        sync_run sy1 srcpool/sy "$SRV"
        expect_rc "first sync" "$SY_RC" 0
        same_snaps srcpool/sy dstpool/sync/sy
        bm=$(zk_bookmarks srcpool/sy)
        [[ $bm =~ ^zktls:[0-9]+:[0-9.]+:[0-9]+:a1\ $ ]] || err "bookmarks after the first sync: '$bm' (want one zktls:LEN:HOST:PORT:a1)"
        verdict sync-full "srcpool/sy@a1 -> dstpool/sync/sy, guids equal, base bookmark $bm($((SECONDS - t0)) s)" sy1 ssrv

        # 2. three new snapshots: one -I stream
        t0=$SECONDS
        for s in a2 a3 a4; do head -c 256K /dev/urandom >"$W/src/sy/$s"; zfs snapshot srcpool/sy@$s; done
        sync_run sy2 srcpool/sy "$SRV"
        expect_rc "incremental sync" "$SY_RC" 0
        same_snaps srcpool/sy dstpool/sync/sy
        n=$(grep -ac '"event":"session","role":"sender"' "$W/sy2.log")
        [[ $n == 1 ]] || err "$n transfers for three snapshots (want one -I stream)"
        [[ $(sy_field sy2 snapshots) == 3 ]] || err "summary: $(grep -a sync-summary "$W/sy2.log")"
        bm=$(zk_bookmarks srcpool/sy)
        [[ $bm =~ ^zktls:[0-9]+:[0-9.]+:[0-9]+:a4\ $ ]] || err "bookmarks: '$bm' (want only ..._a4)"
        verdict sync-incr "a2..a4 in one -I stream, guids equal, bookmark moved to $bm($((SECONDS - t0)) s)" sy2

        # 3. the base snapshot pruned: the incremental starts at its bookmark
        t0=$SECONDS
        head -c 256K /dev/urandom >"$W/src/sy/a5"; zfs snapshot srcpool/sy@a5
        zfs destroy srcpool/sy@a4
        sync_run sy3 srcpool/sy "$SRV"
        expect_rc "sync from a bookmark" "$SY_RC" 0
        same_snaps srcpool/sy dstpool/sync/sy a4
        grep -aq '"what":"srcpool/sy@a5"' "$W/sy3.log" || err "no transfer of srcpool/sy@a5"
        bm=$(zk_bookmarks srcpool/sy)
        [[ $bm =~ ^zktls:[0-9]+:[0-9.]+:[0-9]+:a5\ $ ]] || err "bookmarks: '$bm' (want only ..._a5)"
        verdict sync-bookmark "srcpool/sy@a4 destroyed: -i from its bookmark to @a5, guids equal ($((SECONDS - t0)) s)" sy3

        # 4. --dry-run changes nothing
        t0=$SECONDS
        head -c 256K /dev/urandom >"$W/src/sy/a6"; zfs snapshot srcpool/sy@a6
        before=$(zfs list -H -p -o name,guid -t all -r srcpool/sy dstpool/sync; zfs holds -H -r srcpool/sy@a5 2>&1)
        sync_run sy4 -n srcpool/sy "$SRV"
        after=$(zfs list -H -p -o name,guid -t all -r srcpool/sy dstpool/sync; zfs holds -H -r srcpool/sy@a5 2>&1)
        expect_rc "dry run" "$SY_RC" 0
        [[ $before == "$after" ]] || err "the dry run changed something: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ')"
        expect_log sy4 '"result":"planned".*"detail":"-I @a5 srcpool/sy@a6'
        grep -aq '"event":"session","role":"sender"' "$W/sy4.log" && err "the dry run sent something"
        verdict sync-dry-run "plan '$(grep -a '"result":"planned"' "$W/sy4.log" | sed 's/.*"detail":"\([^"]*\)".*/\1/')', snapshots, bookmarks and holds unchanged ($((SECONDS - t0)) s)" sy4

        # 5. a diverged target is refused
        t0=$SECONDS
        zfs snapshot dstpool/sync/sy@theirs
        sync_run sy5 srcpool/sy "$SRV"
        expect_rc "diverged target" "$SY_RC" 2
        expect_log sy5 'dstpool/sync/sy has diverged from srcpool/sy: it has dstpool/sync/sy@theirs'
        [[ -z $(guid dstpool/sync/sy@a6) ]] || err "a6 arrived on a diverged target"
        zfs destroy dstpool/sync/sy@theirs
        sync_run sy5b srcpool/sy "$SRV"
        expect_rc "sync after the divergence was removed" "$SY_RC" 0
        same_snaps srcpool/sy dstpool/sync/sy a4
        verdict sync-diverged "refused ('$(jerr sy5 | cut -c1-90)'), then synced once the target's own snapshot was gone ($((SECONDS - t0)) s)" sy5 sy5b

        # 6. the last session committed but its RESULT was lost: the next
        # run finds the snapshot by guid and sends nothing
        t0=$SECONDS
        head -c 64K /dev/urandom >"$W/src/sy/a7"; zfs snapshot srcpool/sy@a7
        zfs send -i @a6 srcpool/sy@a7 | zfs recv -u dstpool/sync/sy
        sync_run sy6 srcpool/sy "$SRV"
        expect_rc "sync after a lost RESULT" "$SY_RC" 0
        grep -aq '"event":"session","role":"sender"' "$W/sy6.log" && err "a transfer ran: $(grep -a '"event":"session","role":"sender"' "$W/sy6.log" | head -1)"
        [[ $(sy_field sy6 current) == 1 ]] || err "not reported up to date: $(grep -a sync-summary "$W/sy6.log")"
        same_snaps srcpool/sy dstpool/sync/sy a4
        [[ $(zk_bookmarks srcpool/sy) =~ [_:]a7\ $ ]] || err "bookmark not moved to a7: $(zk_bookmarks srcpool/sy)"
        verdict sync-result-lost "@a7 already committed: nothing sent, up to date, bookmark at a7 ($((SECONDS - t0)) s)" sy6

        # 6b. --protect hold: a hold on the new base, the old one released
        t0=$SECONDS
        zfs snapshot srcpool/sy@h1
        sync_run sy6h --protect hold srcpool/sy "$SRV"
        zfs snapshot srcpool/sy@h2
        sync_run sy6i --protect hold srcpool/sy "$SRV"
        expect_rc "sync --protect hold" "$SY_RC" 0
        same_snaps srcpool/sy dstpool/sync/sy a4
        h1=$(zfs holds -H srcpool/sy@h1 | awk '{ print $2 }' | tr '\n' ' ')
        h2=$(zfs holds -H srcpool/sy@h2 | awk '{ print $2 }' | tr '\n' ' ')
        [[ -z $h1 && $h2 =~ ^zktls_[0-9._]+\ $ ]] || err "holds: @h1 '$h1' (want none), @h2 '$h2' (want zktls_HOST_PORT)"
        zfs destroy srcpool/sy@h2 2>/dev/null && err "a held snapshot was destroyed"
        [[ -n $h2 ]] && zfs release "${h2% }" srcpool/sy@h2
        verdict sync-hold "--protect hold: hold '${h2% }' moved from @h1 to @h2; a held base cannot be pruned ($((SECONDS - t0)) s)" sy6h sy6i

        # 7. -r: a tree, a child added between runs
        t0=$SECONDS
        zfs create srcpool/sy/c1 && head -c 512K /dev/urandom >"$W/src/sy/c1/f" && zfs snapshot srcpool/sy/c1@a1
        sync_run sy7 -r srcpool/sy "$SRV"
        expect_rc "sync -r" "$SY_RC" 0
        zfs create srcpool/sy/c2 && head -c 512K /dev/urandom >"$W/src/sy/c2/f" && zfs snapshot srcpool/sy/c2@a1
        zfs snapshot srcpool/sy/c1@a2
        sync_run sy7b -r srcpool/sy "$SRV"
        expect_rc "sync -r with a new child" "$SY_RC" 0
        same_snaps srcpool/sy dstpool/sync/sy a4
        same_snaps srcpool/sy/c1 dstpool/sync/sy/c1
        same_snaps srcpool/sy/c2 dstpool/sync/sy/c2
        [[ $(sy_field sy7b datasets) == 3 && $(sy_field sy7b updated) == 2 && $(sy_field sy7b current) == 1 ]] ||
            err "summary: $(grep -a sync-summary "$W/sy7b.log")"
        verdict sync-tree "-r: c1 full, then c2 new and c1 incremental, parent up to date ($((SECONDS - t0)) s)" sy7 sy7b

        # 8. --jobs 4 over four datasets
        t0=$SECONDS
        zfs create -o mountpoint="$W/src/j" srcpool/j
        for j in 1 2 3 4; do
            zfs create srcpool/j/d$j && head -c 1M /dev/urandom >"$W/src/j/d$j/f"
        done
        zfs snapshot -r srcpool/j@x1
        sync_run sy8 -r --jobs 4 srcpool/j "$SRV"
        expect_rc "sync -r --jobs 4" "$SY_RC" 0
        for j in "" /d1 /d2 /d3 /d4; do same_snaps "srcpool/j$j" "dstpool/sync/j$j"; done
        # the four children ran at once: their sessions overlap
        ov=$(grep -a '"event":"sync"' "$W/sy8.log" | grep -c '"result":"updated"')
        [[ $ov == 5 ]] || err "$ov datasets updated (want 5)"
        verdict sync-jobs "srcpool/j and four children with --jobs 4, guids equal ($((SECONDS - t0)) s)" sy8

        # 9. a cut mid-sync: the rerun resumes from the server's token
        t0=$SECONDS
        zfs create -o mountpoint="$W/src/big" srcpool/big && head -c 24M /dev/urandom >"$W/src/big/f" &&
            zfs snapshot srcpool/big@b1
        zk_start sy9 "$ZKA" sync --json "${TLS_A[@]}" --mode splice --rate 2M srcpool/big "$SRV"
        # 24 MiB at 2 MiB/s: cut after about a third
        nap 5
        pkill -9 -f "zktls sync .*srcpool/big" ; zk_wait sy9
        for ((i = 0; i < 50; i++)); do
            tok=$(zfs get -H -o value receive_resume_token dstpool/sync/big 2>/dev/null)
            [[ -n $tok && $tok != - ]] && break
            nap 0.2
        done
        [[ -n $tok && $tok != - ]] || err "no resume token on dstpool/sync/big after the cut"
        sync_run sy9b --mode splice srcpool/big "$SRV"
        expect_rc "sync after a cut" "$SY_RC" 0
        expect_log sy9b 'resuming an interrupted transfer of srcpool/big@b1'
        rb=$(sjf sy9b bytes)
        [[ -n $rb && $rb -lt 25165824 ]] || err "the resumed stream is ${rb:-?} bytes, not less than the 24 MiB of a full one"
        same_snaps srcpool/big dstpool/sync/big
        verdict sync-resume "killed mid-stream, the rerun resumed ($(sjf sy9b bytes) bytes) ($((SECONDS - t0)) s)" sy9 sy9b

        # 10. --rate 2M: judged mid-stream from TCP's own count of the
        # bytes the server acknowledged (start-up and commit left out);
        # pacing counts the TCP/IP headers too (1448 of 1500 bytes are
        # payload), so about 1.93 MiB/s of stream is expected
        t0=$SECONDS
        head -c 24M /dev/urandom >"$W/src/big/g"; zfs snapshot srcpool/big@b2
        zk_start sy10 "$ZKA" sync --json "${TLS_A[@]}" --mode splice --rate 2M srcpool/big "$SRV"
        acked() {   # the largest bytes_acked of zka's connections to the server
            ip netns exec "$ZKA" ss -tinH dst "$SRV" 2>/dev/null |
                grep -o 'bytes_acked:[0-9]*' | cut -d: -f2 | sort -n | tail -1
        }
        b1='' b2='' m1='' m2=''
        for ((i = 0; i < 200; i++)); do
            b1=$(acked)
            [[ -n $b1 && $b1 -gt 2097152 ]] && { m1=$(now); break; }
            nap 0.1
        done
        nap 5
        b2=$(acked) m2=$(now)
        zk_wait sy10; SY_RC=$?
        expect_rc "sync --rate 2M" "$SY_RC" 0
        same_snaps srcpool/big dstpool/sync/big
        rate=nan
        [[ -n $m1 && -n $b2 && $b2 -gt $b1 ]] &&
            rate=$(awk -v b=$((b2 - b1)) -v ms=$((m2 - m1)) 'BEGIN { printf "%.3f", b / (ms / 1000) / 1048576 }')
        awk -v r="$rate" 'BEGIN { exit !(r != "nan" && r >= 1.8 && r <= 2.2) }' ||
            err "--rate 2M: $((b2 - b1)) bytes acknowledged in $((m2 - m1)) ms = $rate MiB/s"
        verdict sync-rate "--rate 2M: $rate MiB/s mid-stream (TCP bytes acknowledged over $((m2 - m1)) ms); whole session $(sjf sy10 bytes) bytes in $(sjf sy10 seconds) s ($((SECONDS - t0)) s)" sy10

        # 11. pulls: full then incremental, a diverged local target refused,
        # then rolled back when asked
        t0=$SECONDS
        sync_run sy11 "$SRV:srcpool/sy" dstpool/pulled/sy
        expect_rc "pull" "$SY_RC" 0
        same_snaps srcpool/sy dstpool/pulled/sy
        zfs snapshot dstpool/pulled/sy@mine
        zfs snapshot dstpool/pulled/sy@mine2
        head -c 64K /dev/urandom >"$W/src/sy/a8"; zfs snapshot srcpool/sy@a8
        sync_run sy11b "$SRV:srcpool/sy" dstpool/pulled/sy
        expect_rc "pull into a diverged target" "$SY_RC" 2
        expect_log sy11b 'dstpool/pulled/sy has diverged from srcpool/sy: it has dstpool/pulled/sy@mine2.*--rollback'
        sync_run sy11c --rollback "$SRV:srcpool/sy" dstpool/pulled/sy
        expect_rc "pull --rollback" "$SY_RC" 0
        # the log names every snapshot the rollback destroyed
        expect_log sy11c 'rolling back to dstpool/pulled/sy@[^ ]* \(destroys @mine, @mine2\)'
        [[ -z $(guid dstpool/pulled/sy@mine) && -z $(guid dstpool/pulled/sy@mine2) ]] || err "the rollback kept @mine or @mine2"
        same_snaps srcpool/sy dstpool/pulled/sy
        sync_run sy11d -r "$SRV:srcpool/sy" dstpool/pulled/sy
        expect_rc "pull -r" "$SY_RC" 0
        same_snaps srcpool/sy/c1 dstpool/pulled/sy/c1
        same_snaps srcpool/sy/c2 dstpool/pulled/sy/c2
        # the server keeps alpha's base as a bookmark: pruned there, the
        # next pull starts at the bookmark
        bm=$(zk_bookmarks srcpool/sy | tr ' ' '\n' | grep '^zktls:5:alpha:' | tr '\n' ' ')
        [[ $bm == "zktls:5:alpha:a8 " ]] || err "the server's bookmarks for alpha: '$bm' (want zktls:5:alpha:a8)"
        zfs snapshot srcpool/sy@a9 && zfs destroy srcpool/sy@a8
        sync_run sy11e "$SRV:srcpool/sy" dstpool/pulled/sy
        expect_rc "pull from the server's bookmark" "$SY_RC" 0
        same_snaps srcpool/sy dstpool/pulled/sy a8
        bm=$(zk_bookmarks srcpool/sy | tr ' ' '\n' | grep '^zktls:5:alpha:' | tr '\n' ' ')
        [[ $bm == "zktls:5:alpha:a9 " ]] || err "the server's bookmarks for alpha after: '$bm' (want zktls:5:alpha:a9)"
        verdict sync-pull "full+incremental pull, diverged refused then --rollback, -r tree, the server's base pruned (-i from its bookmark for alpha), guids equal ($((SECONDS - t0)) s)" sy11 sy11b sy11c sy11d sy11e
    fi
    zk_stop ssrv
    zfs destroy -r dstpool/sync 2>/dev/null; zfs destroy -r dstpool/pulled 2>/dev/null
    zfs destroy -r srcpool/sy 2>/dev/null; zfs destroy -r srcpool/j 2>/dev/null; zfs destroy -r srcpool/big 2>/dev/null
fi

# The kernel behaviours zktls relies on or works around, reproduced (the
# long run: tests/vm/ktls_selftest.sh).
if want ktls-selftest; then
    t0=$SECONDS
    if [[ -x $SL_REPO/build/vm/ktls_selftest ]]; then
        timeout -k 5 600 "$SL_REPO/build/vm/ktls_selftest" 5 >"$W/selftest.log" 2>&1
        st=$?
        [[ $st == 0 ]] || err "ktls_selftest exit $st: $(grep -E 'FAIL|CHECK failed|!=' "$W/selftest.log" | head -3 | tr '\n' ' ')"
    else
        err "no build/vm/ktls_selftest (make build/vm/ktls_selftest)"
    fi
    verdict ktls-selftest "$(grep -c '^PASS' "$W/selftest.log" 2>/dev/null) suites; $(grep -E 'raw splice\(socket -> consumer pipe 64 KiB\)|SPLICE_F_MORE\) +sendmsg' "$W/selftest.log" | sed 's/  */ /g' | tr '\n' ';') ($((SECONDS - t0)) s)" selftest
fi

echo "suite: $NPASS passed, $NFAIL failed in $((SECONDS - T_SUITE)) s"
[[ $NFAIL -eq 0 && $NPASS -gt 0 ]]
