# shellcheck shell=bash disable=SC2034
# exists_neg.sh - a target that exists, without -F, is refused with zfs's
# words (sourced by tests/vm/suite.sh)
#
# Description:
#	A full send into dstpool/exists (which exists; no -F): both ends exit
#	5, the receiver's log has zfs's "destination 'dstpool/exists'
#	exists", the sender reports it as the receiver's error, nothing is
#	created.  On splice and on direct.
#
# Strategy:
#	dstpool/exists is made here and destroyed at the end;
#	exists_loop_neg.sh repeats the direct case for a race.
#
# Cases: exists-no-F-splice exists-no-F-direct
# Tags: kernels=all zfs
# Limit: 240
# Order: 37

if want_any exists-no-F-; then
    zfs create dstpool/exists
    for pl in splice direct; do
        want "exists-no-F-$pl" || continue
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
