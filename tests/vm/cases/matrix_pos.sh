# shellcheck shell=bash disable=SC2034
# matrix_pos.sh - every sender plane x receiver plane carries a full send
# (sourced by tests/vm/suite.sh; run alone: tests/vm/run-case matrix_pos)
#
# Description:
#	Every sender plane S x receiver plane R (user, rw, splice, direct): a
#	full send of srcpool/data@s1 with --key-limit 16 on the sender, 1 on
#	the receiver; both exit 0, the session lines name the planes, guids
#	equal, file checksums of the received snapshot equal, the session
#	lines' byte counts equal the stream's (a direct side reports 0).
#	Where both planes can change keys (user; rw/splice on Linux >= 6.14)
#	KeyUpdates both ways, counted on both sides; else ChaCha20-Poly1305
#	chosen at the handshake and no KeyUpdate.
#
# Strategy:
#	One push per pair into dstpool/m-S-R, with ZK_WATCH=1 (io_watch
#	samples each process's /proc/PID/io and its namespace's tls_stat);
#	tls_stat of both namespaces read before and after.  What each
#	session left (errors, tls_stat, io and user_bytes ratios) goes to
#	$W/matrix.facts, which ktls_stat_pos.sh and userbytes_pos.sh judge.
#
# Cases: matrix-user-user matrix-user-rw matrix-user-splice matrix-user-direct
# Cases: matrix-rw-user matrix-rw-rw matrix-rw-splice matrix-rw-direct
# Cases: matrix-splice-user matrix-splice-rw matrix-splice-splice matrix-splice-direct
# Cases: matrix-direct-user matrix-direct-rw matrix-direct-splice matrix-direct-direct
# Tags: kernels=all zfs
# Limit: 300
# Order: 10

declare -A M_RUN=() M_STAT=() M_IO=() M_IOW=() M_UB=() M_CURR=()
rm -f "$W/matrix.facts"
# matrix_one S R: one combination; records facts for ktls-stat/userbytes.
matrix_one() {
    local ms=$1 mr=$2 tag=m-$1-$2 sa sb aa ab t0=$SECONDS d bytes ku
    d=dstpool/$tag
    sa=$(ns_stat "$ZKA") sb=$(ns_stat "$ZKB")
    xfer_reset
    SEND_ARGS=(srcpool/data@s1) RECV_ARGS=("$d")
    S_XOPTS=(--key-limit 16) R_XOPTS=(--key-limit 1)
    ZK_WATCH=1 xfer "$tag" "$ms" "$mr"
    aa=$(ns_stat "$ZKA") ab=$(ns_stat "$ZKB")
    expect_rc sender "$S_RC" 0
    expect_rc receiver "$R_RC" 0
    [[ $(jf "$tag.s" plane) == "$ms" ]] || err "sender session line plane '$(jf "$tag.s" plane)' (want $ms)"
    [[ $(jf "$tag.r" plane) == "$mr" ]] || err "receiver session line plane '$(jf "$tag.r" plane)' (want $mr)"
    same_guid srcpool/data@s1 "$d@s1"
    if [[ -n $(guid "$d@s1") ]]; then
        local sum
        sum=$(snap_sum "$d@s1")
        [[ $sum == "$SUM_S1" ]] || err "file checksum $sum != source $SUM_S1"
    fi
    # A direct side cannot count (zfs moves the bytes): it reports 0.
    bytes=$S1_BYTES
    [[ $ms == direct || $(jf "$tag.s" bytes) == "$bytes" ]] ||
        err "sender session line bytes $(jf "$tag.s" bytes) (stream is $bytes)"
    [[ $mr == direct || $(jf "$tag.r" bytes) == "$bytes" ]] ||
        err "receiver session line bytes $(jf "$tag.r" bytes) (stream is $bytes)"
    key_checks "$tag" "$ms" "$mr"
    ku=$KU_DETAIL
    M_RUN[$tag]=${#ERRS[@]}
    M_STAT[$tag]="$sa|$aa|$sb|$ab"
    M_IO[$tag]="$(ioratio "$tag.s" "$bytes") $(ioratio "$tag.r" "$bytes")"
    M_IOW[$tag]="$(ioratio "$tag.s" "$bytes" whole) $(ioratio "$tag.r" "$bytes" whole)"
    M_UB[$tag]="$(ubratio "$tag.s" "$bytes") $(ubratio "$tag.r" "$bytes")"
    M_CURR[$tag]="$(cut -d' ' -f3,4 "$W/$tag.s.io" 2>/dev/null || echo '? ?') $(cut -d' ' -f3,4 "$W/$tag.r.io" 2>/dev/null || echo '? ?')"
    verdict "matrix-$ms-$mr" "$(awk -v b="${bytes:-0}" 'BEGIN { printf "%.1f MiB", b / 1048576 }'), sender $(jf "$tag.s" mib_per_s) MiB/s, receiver $(jf "$tag.r" mib_per_s) MiB/s, guid+sum ok; --key-limit 16/1: $ku ($((SECONDS - t0)) s)" "$tag"
    declare -p M_RUN M_STAT M_IO M_IOW M_UB M_CURR >"$W/matrix.facts"
    zfs destroy -r "$d" 2>/dev/null
}
for ms in "${PLANES[@]}"; do
    for mr in "${PLANES[@]}"; do
        want "matrix-$ms-$mr" && matrix_one "$ms" "$mr"
    done
done
