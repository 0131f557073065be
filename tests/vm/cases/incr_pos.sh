# shellcheck shell=bash disable=SC2034
# incr_pos.sh - incremental sends (-i, -I) end to end
# (sourced by tests/vm/suite.sh; run alone: tests/vm/run-case incr_pos)
#
# Description:
#	incr-i: splice->splice send -i @s1 srcpool/data@s2 into a copy of @s1:
#	both exit 0, guid and file checksum of @s2 equal.  incr-I: -I @s2 @s4
#	on top: @s3 and @s4 arrive, guids equal.  incr-i-user-direct: the
#	same -i on user->direct (zfs receive reads the socket), guid and
#	checksum equal.
#
# Strategy:
#	The base is seeded locally (zfs send | zfs recv -u) into dstpool/inc
#	and dstpool/incud; incr-I reuses incr-i's target (seeding it itself
#	when incr-i did not run); both are destroyed at the end.
#
# Cases: incr-i incr-I incr-i-user-direct
# Tags: kernels=all zfs
# Limit: 240
# Order: 20

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
