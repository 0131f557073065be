# shellcheck shell=bash disable=SC2034
# stall_neg.sh - a peer that stops mid-record is given up on in bounded
# time (sourced by tests/vm/suite.sh)
#
# Description:
#	The relay stops forwarding (and reading) in the middle of a record
#	after 2 MiB; TCP stays up.  The side under test has --timeout 10, the
#	other 40, so its own stall detection must fire first: both ends give
#	up within 100 s with exit 4, the side under test with "timed out
#	after 10 s", nothing committed.
#	stall-splice, stall-direct, stall-direct-send: on a splice receiver,
#	a direct receiver and a direct sender (direct: zfs owns the socket
#	and zktls watches TCP's byte counters).
#	stall-copy-rw, stall-copy-splice, stall-copy-direct: the same with an
#	8 KiB TCP receive buffer on the receiver's host: kernel TLS copies
#	each record out of TCP's queue piece by piece, so the stalled
#	record's start sits in kernel TLS, not in the queue.
#	stall-keyupdate-rw, stall-keyupdate-splice: the same after KeyUpdates
#	(--key-limit 50; on Linux >= 6.14 at least one KeyUpdate received
#	before the stall, else ChaCha20 and no KeyUpdate).
#
# Strategy:
#	tests/host/relay.py --stall-after 2097152 --stall-mid-record; the
#	sender's host gets 64 KiB socket buffers when the sender is under
#	test (else the buffers take the whole stream).  Runs in background
#	workers (it mostly waits), each on a host pair of its own.
#
# Cases: stall-splice stall-direct stall-direct-send
# Cases: stall-copy-rw stall-copy-splice stall-copy-direct
# Cases: stall-keyupdate-rw stall-keyupdate-splice
# Tags: kernels=all zfs slow bg
# Limit: 240
# Order: 52

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
want stall-splice && stall_case stall-splice splice splice r
want stall-direct && stall_case stall-direct splice direct r
want stall-direct-send && stall_case stall-direct-send direct splice s
want stall-copy-rw && stall_case stall-copy-rw splice rw r small
want stall-copy-splice && stall_case stall-copy-splice splice splice r small
want stall-copy-direct && stall_case stall-copy-direct splice direct r small
want stall-keyupdate-rw && stall_case stall-keyupdate-rw splice rw r small 50
want stall-keyupdate-splice && stall_case stall-keyupdate-splice splice splice r small 50
