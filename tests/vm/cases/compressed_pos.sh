# shellcheck shell=bash disable=SC2034
# compressed_pos.sh - a compressed (-c) stream
# (sourced by tests/vm/suite.sh)
#
# Description:
#	splice->splice send -c of an lz4 dataset: both exit 0, guid equal,
#	the stream (the sender's byte count) smaller than 3/4 of the
#	snapshot's logical size, so -c was in effect.
#
# Strategy:
#	srcpool/comp (1.5 M lines of numbers and 1 MiB of random) is made
#	here.
#
# Cases: compressed-c
# Tags: kernels=all zfs
# Limit: 240
# Order: 23

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
