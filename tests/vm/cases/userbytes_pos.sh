# shellcheck shell=bash disable=SC2034
# userbytes_pos.sh - splice and direct move the stream without copying it
# through userspace; rw and user copy it about once (sourced by
# tests/vm/suite.sh)
#
# Description:
#	Per plane P, over the matrix sessions where P was the sender's or the
#	receiver's plane: /proc/PID/io rchar+wchar of zktls's own threads and
#	the JSON user_bytes, per stream byte: < 0.05 for splice/direct,
#	0.9..2.6 for rw/user (both roles).  /proc/PID/io with the reaped zfs
#	child counted is reported, not judged.
#
# Strategy:
#	Judges the sessions of matrix_pos.sh that passed, from
#	$W/matrix.facts (io_watch's last sample of each process).
#
# Cases: userbytes-user userbytes-rw userbytes-splice userbytes-direct
# Tags: kernels=all zfs
# Limit: 60
# Order: 12
# Needs: matrix_pos.sh

declare -A M_RUN=() M_STAT=() M_IO=() M_IOW=() M_UB=() M_CURR=()
# shellcheck disable=SC1091
[[ -s $W/matrix.facts ]] && . "$W/matrix.facts"
for p in "${PLANES[@]}"; do
    want "userbytes-$p" || continue
    [[ ${#M_IO[@]} -gt 0 ]] || { err "no matrix session to judge (matrix_pos.sh left no $W/matrix.facts)"; verdict "userbytes-$p" ""; continue; }
done
if [[ ${#M_IO[@]} -gt 0 ]]; then
    for p in "${PLANES[@]}"; do
        want "userbytes-$p" || continue
        s_io=() r_io=() s_ub=() r_ub=() s_w=() r_w=()
        for tag in "${!M_IO[@]}"; do
            [[ ${M_RUN[$tag]} == 0 ]] || continue
            ms=${tag#m-} ms=${ms%-*} mr=${tag##*-}
            read -r a b <<<"${M_IO[$tag]}"
            read -r c d <<<"${M_UB[$tag]}"
            read -r e f <<<"${M_IOW[$tag]}"
            [[ $ms == "$p" ]] && s_io+=("$a") s_ub+=("$c") s_w+=("$e")
            [[ $mr == "$p" ]] && r_io+=("$b") r_ub+=("$d") r_w+=("$f")
        done
        if [[ $p == splice || $p == direct ]]; then lo=0 hi=0.05; else lo=0.9 hi=2.6; fi
        for x in "sender io:${s_io[*]}" "receiver io:${r_io[*]}" "sender user_bytes:${s_ub[*]}" "receiver user_bytes:${r_ub[*]}"; do
            vals=${x#*:}
            [[ -n $vals ]] || { err "${x%%:*}: no successful session"; continue; }
            for v in $vals; do
                if ! fle "$lo" "$v" || ! fle "$v" "$hi"; then err "${x%%:*} ratio $v outside [$lo, $hi]"; fi
            done
        done
        verdict "userbytes-$p" "per stream byte (want $lo..$hi): zktls rchar+wchar sender [${s_io[*]}] receiver [${r_io[*]}]; JSON user_bytes sender [${s_ub[*]}] receiver [${r_ub[*]}]; (/proc/PID/io incl. the reaped zfs child: sender [${s_w[*]}] receiver [${r_w[*]}])"
    done
fi
