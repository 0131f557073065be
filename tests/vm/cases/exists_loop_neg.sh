# shellcheck shell=bash disable=SC2034
# exists_loop_neg.sh - the direct sender reports the receiver's words
# every time (sourced by tests/vm/suite.sh)
#
# Description:
#	exists-no-F on direct->direct 8 times: the sender always exits 5
#	with the receiver's zfs text ("receiver: ... exists").  Killing zfs
#	send (which writes the socket itself) after the receiver's zfs
#	failed early can leave the kernel's ERESTARTSYS (512) on the socket;
#	repeated, as it is a race.
#
# Strategy:
#	dstpool/exists2 made here, 8 transfers into it, destroyed at the
#	end.
#
# Cases: exists-loop-direct
# Tags: kernels=all zfs slow
# Limit: 900
# Order: 45

if want exists-loop-direct; then
    t0=$SECONDS bad=0 n=8
    zfs create dstpool/exists2
    for ((i = 1; i <= n; i++)); do
        xfer_reset
        SEND_ARGS=(srcpool/data@s1) RECV_ARGS=(dstpool/exists2)
        xfer "exl-$i" direct direct
        if [[ $S_RC != 5 ]] || ! grep -aq '"level":"error".*receiver:.*exists' "$W/exl-$i.s.log"; then
            bad=$((bad + 1))
            err "run $i: sender exit $S_RC: $(jerr "exl-$i.s" | cut -c1-120)"
        fi
    done
    verdict exists-loop-direct "$n runs direct->direct into an existing dataset: the sender reported the receiver's zfs text every time ($bad bad) ($((SECONDS - t0)) s)" "exl-$n"
    zfs destroy -r dstpool/exists2 2>/dev/null
fi
