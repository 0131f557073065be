# shellcheck shell=bash disable=SC2034
# cut_resume_neg.sh - a connection cut mid-stream fails, a rerun resumes
# (sourced by tests/vm/suite.sh)
#
# Description:
#	The relay cuts the connection (FIN) after 2 MiB: both ends fail (not
#	0, not a timeout), the receiver with 4 and "connection closed by peer
#	without close_notify" or "reset by peer"; recv -s leaves a resume
#	token and no snapshot.  A plain rerun resumes (the sender logs
#	"resuming an interrupted transfer", its stream shorter than a full
#	one) and completes: guid and file checksum equal.  On splice->splice
#	(cut-resume), a direct receiver (cut-direct) and a direct sender
#	(cut-direct-send), where zfs, not zktls, meets the cut first.
#
# Strategy:
#	tests/host/relay.py --cut-after 2097152 between the two; the resumed
#	byte count is the receiver's where the sender is direct (its JSON
#	says null).
#
# Cases: cut-resume cut-direct cut-direct-send
# Tags: kernels=all zfs
# Limit: 300
# Order: 30

# cut_case NAME SEND-PLANE RECV-PLANE: cut mid-stream (receiver with -s),
# then resume.
cut_case() {
    local name=$1 ms=$2 mr=$3 t0=$SECONDS d=dstpool/$1 cs cr token rb
    xfer_reset
    SEND_ARGS=(srcpool/data@s1) RECV_ARGS=(-s "$d") RELAY_OPTS=(--cut-after $((2 * 1048576)))
    xfer "$name.1" "$ms" "$mr"
    cs=$S_RC cr=$R_RC
    [[ $cs != 0 && $cs != 124 ]] || err "sender exit $cs on a cut connection (want a failure, not 0/timeout)"
    [[ $cr == 4 ]] || err "receiver ($mr) exit $cr on a cut connection (want 4: connection cut)"
    expect_log "$name.1.r" '"level":"error".*connection (closed by peer without close_notify|reset by peer)'
    expect_log "$name.1.s" '"level":"error".*(connection (closed|reset)|sending to the peer|reading from the peer)'
    grep -q 'cut (fin) after' "$W/$name.1.relay.log" 2>/dev/null || err "the relay did not cut"
    token=$(zfs get -H -o value receive_resume_token "$d" 2>/dev/null)
    [[ -n $token && $token != - ]] || err "no receive_resume_token on $d after the cut"
    [[ -z $(guid "$d@s1") ]] || err "$d@s1 exists after a cut stream"
    xfer_reset
    SEND_ARGS=(srcpool/data@s1) RECV_ARGS=(-s "$d")
    xfer "$name.2" "$ms" "$mr"
    expect_rc "resumed sender" "$S_RC" 0; expect_rc "resumed receiver" "$R_RC" 0
    expect_log "$name.2.s" 'resuming an interrupted transfer of srcpool/data@s1'
    # A direct sender cannot count (its JSON says null): take the receiver's.
    if [[ $ms == direct ]]; then rb=$(jf "$name.2.r" bytes); else rb=$(jf "$name.2.s" bytes); fi
    [[ -n $rb && $rb -lt $S1_BYTES ]] || err "resumed stream $rb bytes is not shorter than the full $S1_BYTES"
    same_guid srcpool/data@s1 "$d@s1"
    [[ -z $(guid "$d@s1") || $(snap_sum "$d@s1") == "$SUM_S1" ]] || err "file checksum differs"
    verdict "$name" "$ms->$mr cut after 2 MiB: sender exit $cs '$(jerr "$name.1.s")', receiver exit $cr '$(jerr "$name.1.r" | cut -c1-80)', token left; rerun resumed ($rb of $S1_BYTES bytes), guid+sum ok ($((SECONDS - t0)) s)" "$name.1" "$name.2"
    zfs destroy -r "$d" 2>/dev/null
}
want cut-resume && cut_case cut-resume splice splice
want cut-direct && cut_case cut-direct splice direct
want cut-direct-send && cut_case cut-direct-send direct splice
