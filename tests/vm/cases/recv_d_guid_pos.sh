# shellcheck shell=bash disable=SC2034
# recv_d_guid_pos.sh - recv -d reports the guid of what landed below the
# target (sourced by tests/vm/suite.sh)
#
# Description:
#	splice->direct with recv -d dstpool/dd: both exit 0,
#	dstpool/dd/data@s1 committed with the source's guid, and the
#	receiver's session line reports that guid.
#
# Strategy:
#	One transfer; dstpool/dd destroyed at the end.
#
# Cases: recv-d-guid
# Tags: kernels=all zfs
# Limit: 240
# Order: 42

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
