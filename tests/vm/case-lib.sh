# shellcheck shell=bash
# case-lib.sh - what the VM case files (tests/vm/cases/*.sh) may use, on
# top of suite-lib.sh: selection (want), verdicts, the checks the cases
# share, and the helpers of more than one case file.  Sourced by suite.sh
# (the driver) after its shared set-up.
#
# Conventions: a case file runs in a subshell of the driver with SEL (the
# case names selected of it).  A case collects failures with err (or the
# expect_* checks) and ends with verdict NAME DETAIL [LOG-TAGS...], which
# prints "VMTIME NAME SECONDS" and "VMTEST PASS NAME DETAIL" or
# "VMTEST FAIL NAME WHY" (then the tails of the LOG-TAGS' logs).

SEL=()
want() {   # want NAME: is the case NAME selected?
    local p
    for p in "${SEL[@]}"; do [[ $1 == "$p" ]] && return 0; done
    return 1
}
want_any() {   # want_any PREFIX: is any selected case named PREFIX...?
    local p
    for p in "${SEL[@]}"; do [[ $p == "$1"* ]] && return 0; done
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
    else
        local why
        why=$(printf '%s; ' "${ERRS[@]}")
        echo "VMTEST FAIL $name ${why%; }"
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

# ------------------------------------------------------------ keys
# Which planes can change keys: the user plane always; rw and splice where
# the kernel can (Linux 6.14 and later; 6.12 refuses a second key with
# EBUSY); direct never (zfs owns the socket).  The test's own oracle is the
# kernel version, not zktls's probe.
rekeys() { [[ $1 == user ]] || [[ $1 != direct && $KREKEY == 1 ]]; }
# key_checks TAG SEND-PLANE RECV-PLANE: after a session with --key-limit 16
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

# ------------------------------------------------------------ socket buffers
# rmem_small / rmem_restore: an 8 KiB TCP receive buffer for the sockets
# the receiver's host (zkb) opens or accepts from now on, and back.  No
# 16 KiB record fits: kernel TLS's parser takes each one out of TCP's
# queue piece by piece (its copy mode), where SIOCINQ no longer counts it.
# (RMEM0 and WMEM0: the hosts' own settings, read once at set-up.)
rmem_small() { ip netns exec "$ZKB" sysctl -qw net.ipv4.tcp_rmem="4096 8192 8192"; }
rmem_restore() { ip netns exec "$ZKB" sysctl -qw net.ipv4.tcp_rmem="$RMEM0"; }
# sbuf_small / sbuf_restore: 64 KiB socket buffers on the sender's host
# (zka: the sender and, in push mode, the relay), so that a stalled relay
# stops the sender with most of the stream unsent (else the relay's and
# the sender's buffers, up to 6 and 4 MiB, take all of it).
sbuf_small() {
    ip netns exec "$ZKA" sysctl -qw net.ipv4.tcp_wmem="4096 16384 65536" net.ipv4.tcp_rmem="4096 65536 65536"
}
sbuf_restore() {
    ip netns exec "$ZKA" sysctl -qw net.ipv4.tcp_wmem="$WMEM0" net.ipv4.tcp_rmem="$RMEM0"
}

# ------------------------------------------------------------ a silent source
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

# ------------------------------------------------------------ serve
# client_cert NAME: a client certificate $CERTS/NAME.pem (SAN DNS:NAME,
# clientAuth) and its key NAME.key, signed by the suite's CA; made once.
client_cert() {
    ( cd "$CERTS" && [[ -s $1.pem ]] || {
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null &&
        printf 'subjectAltName=DNS:%s\nextendedKeyUsage=clientAuth\n' "$1" >"$1.ext" &&
        openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
            -out "$1.pem" -days 30 -extfile "$1.ext" 2>/dev/null; } ) ||
        err "cannot make $1's certificate"
}
# serve_conf_head [LINE...]: the server settings of a zktls.conf for a
# serve in zkb (any free port on zkb's address, beta's certificate, the
# suite's CA, network processes as nobody, the splice plane), then the
# LINEs; the caller appends its client blocks.
serve_conf_head() {
    printf '%s\n' "listen $ZKB_IP:0" "cert $CERTS/beta.pem" "key $CERTS/beta.key" \
        "ca $CERTS/ca.pem" "user nobody" "mode splice" "$@"
}

# ------------------------------------------------------------ tlspeer
# Records a peer may legally send (empty application data) and records
# zktls refuses (session tickets), on every receiving plane, from a peer
# that writes its own records (tests/tools/tlspeer).
TLSPEER=$SL_REPO/build/release/tlspeer
records_case() {   # records_case NAME PLANE TLSPEER-OPTION...
    local name=$1 pl=$2 port t0=$SECONDS d=dstpool/$1
    shift 2
    P_RC=127 R_RC=127
    # (without it the receiver would wait for a peer until ZK_TO)
    [[ -x $TLSPEER ]] || { err "no $TLSPEER (make units)"; return; }
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

# case_cleanup: a case file's exit (also when the driver stops it at its
# limit): what it started and did not reap, by PID.
case_cleanup() {
    local p
    for p in "${SL_BG[@]}" "${SL_IOW[@]}" "${SL_EXTRA_PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    return 0
}
