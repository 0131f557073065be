# shellcheck shell=bash disable=SC2034
# keyupdate_pull_pos.sh - key limits with the sender listening
# (sourced by tests/vm/suite.sh)
#
# Description:
#	The matrix's key checks (sender --key-limit 16, receiver 1) in pull
#	mode, where who listens picks the cipher: direct as the listening
#	sender (its order wins: keyupdate-pull-direct-splice) and as the
#	connecting receiver (the listener takes it:
#	keyupdate-pull-user-direct).  Where both planes can change keys:
#	KeyUpdates both ways, counted on both sides; where one cannot:
#	ChaCha20-Poly1305 at the handshake, no KeyUpdate, no warning.  Either
#	way the snapshot arrives whole (guid and file sums).
#
# Strategy:
#	xfer with PULL=1 and key_checks (case-lib.sh); every pair of planes
#	with these key limits in push mode is matrix_pos.sh.
#
# Cases: keyupdate-pull-direct-splice keyupdate-pull-user-direct
# Tags: kernels=all zfs
# Limit: 240
# Order: 32

# keyupdate_case NAME SEND-PLANE RECV-PLANE [pull]: the sender with
# --key-limit 16 (the stream is ~850 records), the receiver with 1.  Where
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
