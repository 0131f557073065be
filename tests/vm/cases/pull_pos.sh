# shellcheck shell=bash disable=SC2034
# pull_pos.sh - the sender listens, the receiver connects
# (sourced by tests/vm/suite.sh)
#
# Description:
#	send --listen in zka, recv --connect from zkb (splice both): both
#	exit 0, guid and file checksum equal.
#
# Strategy:
#	xfer with PULL=1; the received dataset is destroyed at the end.
#
# Cases: pull
# Tags: kernels=all zfs
# Limit: 240
# Order: 24

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
