# shellcheck shell=bash disable=SC2034
# result_lost_neg.sh - the receiver's RESULT never reaches the sender
# (sourced by tests/vm/suite.sh)
#
# Description:
#	The receiver commits, but its RESULT is cut: the sender must not
#	report success (exit 4), the receiver exits 0 and the snapshot is
#	there with its guid.
#
# Strategy:
#	The relay cuts server->client just before the TLS record carrying
#	RESULT: a frame of 12 + 24 + PROTO_RESULT_MSG_LEN bytes (read from
#	src/proto.h), plus the record's content type and 16-byte tag.
#
# Cases: result-lost
# Tags: kernels=all zfs
# Limit: 240
# Order: 31

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
