# shellcheck shell=bash disable=SC2034
# full_pool_neg.sh - a full pool fails with zfs's words, no hang
# (sourced by tests/vm/suite.sh)
#
# Description:
#	A 64 MiB pool receiving a 48 MiB stream: both ends exit 5 (zfs
#	failed, not the connection), the receiver's log has zfs's "out of
#	space", the sender's reports it as the receiver's error.  On splice,
#	and on direct where zfs recv itself reads the socket and fails
#	mid-stream.
#
# Strategy:
#	tinypool (64 MiB file) and srcpool/big (48 MiB of random) are made
#	here and destroyed at the end.
#
# Cases: full-pool-splice full-pool-direct
# Tags: kernels=all zfs slow
# Limit: 300
# Order: 36

if want_any full-pool-; then
    zk_pool tinypool 64M || err "cannot create tinypool"
    zfs create -o mountpoint="$W/src/big" srcpool/big
    head -c 48M /dev/urandom >"$W/src/big/blob"
    zfs snapshot srcpool/big@b1
    for pl in splice direct; do
        want "full-pool-$pl" || continue
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
