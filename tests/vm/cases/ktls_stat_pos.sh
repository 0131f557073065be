# shellcheck shell=bash disable=SC2034
# ktls_stat_pos.sh - kernel TLS carried each kernel-plane session of the
# matrix, and nothing else (sourced by tests/vm/suite.sh)
#
# Description:
#	/proc/net/tls_stat TlsTxSw/TlsRxSw rise by exactly 1 per kernel-plane
#	side and session (plus what zktls's start-up probe adds, measured at
#	set-up), by 0 on user sides; TlsCurrTxSw/RxSw >= 1 during a
#	kernel-plane session (0 more during a user one), back to the
#	baseline after.
#
# Strategy:
#	Judges the sessions of matrix_pos.sh that passed, from
#	$W/matrix.facts (the counters of both namespaces before and after
#	each session, and io_watch's maxima of TlsCurr* sampled in the
#	process's own namespace during it).
#
# Cases: ktls-stat
# Tags: kernels=all zfs
# Limit: 60
# Order: 11
# Needs: matrix_pos.sh

declare -A M_RUN=() M_STAT=() M_IO=() M_IOW=() M_UB=() M_CURR=()
# shellcheck disable=SC1091
[[ -s $W/matrix.facts ]] && . "$W/matrix.facts"
if want ktls-stat; then
  if [[ ${#M_STAT[@]} -eq 0 ]]; then
    err "no matrix session to judge (matrix_pos.sh left no $W/matrix.facts)"
    verdict ktls-stat ""
  else
    n=0
    for tag in "${!M_STAT[@]}"; do
        ms=${tag#m-} ms=${ms%-*} mr=${tag##*-}
        [[ ${M_RUN[$tag]} == 0 ]] || continue   # the matrix case said why
        IFS='|' read -r sa aa sb ab <<<"${M_STAT[$tag]}"
        read -r sa_tx sa_rx sa_ctx sa_crx _ <<<"$sa"
        read -r aa_tx aa_rx aa_ctx aa_crx _ <<<"$aa"
        read -r sb_tx sb_rx sb_ctx sb_crx _ <<<"$sb"
        read -r ab_tx ab_rx ab_ctx ab_crx _ <<<"$ab"
        read -r s_mtx s_mrx r_mtx r_mrx <<<"${M_CURR[$tag]}"
        ea=0 eb=0 pa=0 pb=0
        is_kernel "$ms" && ea=1 pa=$PROBE_TX
        is_kernel "$mr" && eb=1 pb=$PROBE_TX
        [[ $((aa_tx - sa_tx)) == "$((ea + pa))" && $((aa_rx - sa_rx)) == "$((ea + pa))" ]] ||
            err "$tag: zka TlsTxSw +$((aa_tx - sa_tx)) TlsRxSw +$((aa_rx - sa_rx)) (want +$ea each, plus the probe's +$pa)"
        [[ $((ab_tx - sb_tx)) == "$((eb + pb))" && $((ab_rx - sb_rx)) == "$((eb + pb))" ]] ||
            err "$tag: zkb TlsTxSw +$((ab_tx - sb_tx)) TlsRxSw +$((ab_rx - sb_rx)) (want +$eb each, plus the probe's +$pb)"
        [[ $aa_ctx == "$sa_ctx" && $aa_crx == "$sa_crx" && $ab_ctx == "$sb_ctx" && $ab_crx == "$sb_crx" ]] ||
            err "$tag: TlsCurr* not back to the baseline after the session"
        # During the session (sampled from the process's own namespace).
        if [[ $ea == 1 ]]; then
            [[ ${s_mtx:-0} -ge 1 && ${s_mrx:-0} -ge 1 ]] || err "$tag: zka TlsCurrTxSw/RxSw max during the session ${s_mtx:-?}/${s_mrx:-?} (want >= 1)"
        else
            [[ ${s_mtx:-0} == "$sa_ctx" && ${s_mrx:-0} == "$sa_crx" ]] || err "$tag: zka TlsCurr* rose during a user-plane session"
        fi
        if [[ $eb == 1 ]]; then
            [[ ${r_mtx:-0} -ge 1 && ${r_mrx:-0} -ge 1 ]] || err "$tag: zkb TlsCurrTxSw/RxSw max during the session ${r_mtx:-?}/${r_mrx:-?} (want >= 1)"
        else
            [[ ${r_mtx:-0} == "$sb_ctx" && ${r_mrx:-0} == "$sb_crx" ]] || err "$tag: zkb TlsCurr* rose during a user-plane session"
        fi
        n=$((n + 1))
    done
    [[ $n -gt 0 ]] || err "no matrix session succeeded to judge"
    [[ $PROBE_TX =~ ^[0-9]+$ && $PROBE_TX == "$PROBE_RX" ]] || err "probe cost not measured ($PROBE_TX/$PROBE_RX)"
    verdict ktls-stat "$n sessions: TlsTxSw/TlsRxSw +1 per kernel-plane side and session (+$PROBE_TX more from zktls's start-up probe), +0 per user side (user-user +0 both); TlsCurrTxSw/RxSw >= 1 during, baseline after"
  fi
fi
