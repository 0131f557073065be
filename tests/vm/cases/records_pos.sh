# shellcheck shell=bash disable=SC2034
# records_pos.sh - records a TLS peer may legally send are received
# (sourced by tests/vm/suite.sh)
#
# Description:
#	From tests/tools/tlspeer (a peer that writes its own records), a zfs
#	stream to each receiving plane: with two empty data records after
#	each data record (empty-records-PLANE), and with 200 bytes of padding
#	in every record (padded-records-PLANE): received, guid equal,
#	tlspeer's RESULT ok (empty records).  On rw the kernel's
#	TlsRxNoPadViolation rises (zktls sets TLS_RX_EXPECT_NO_PAD on
#	kernel-plane receivers; the kernel decrypts such a record again).
#
# Strategy:
#	records_case (case-lib.sh): a zktls receiver listening in zkb,
#	tlspeer --empty 2 / --pad 200 connecting from zka with the stream
#	of srcpool/data@s1; tls_stat of zkb before and after.
#
# Cases: empty-records-user empty-records-rw empty-records-splice empty-records-direct
# Cases: padded-records-user padded-records-rw padded-records-splice padded-records-direct
# Tags: kernels=all zfs
# Limit: 180
# Order: 43

for pl in "${PLANES[@]}"; do
    if want "empty-records-$pl"; then
        records_case "er-$pl" "$pl" --empty 2
        expect_rc "tlspeer (sender)" "$P_RC" 0; expect_rc "receiver ($pl)" "$R_RC" 0
        same_guid srcpool/data@s1 "dstpool/er-$pl@s1"
        grep -q "^result status=0 .* guid=$(guid srcpool/data@s1) " "$W/er-$pl.peer.out" ||
            err "tlspeer's RESULT: $(cat "$W/er-$pl.peer.out")"
        verdict "empty-records-$pl" "two empty data records after each data record -> $pl: received, guid equal ($(jf "er-$pl.r" bytes) bytes)" "er-$pl.r"
        zfs destroy -r "dstpool/er-$pl" 2>/dev/null
    fi
    if want "padded-records-$pl"; then
        # zktls sets TLS_RX_EXPECT_NO_PAD on kernel-plane receivers; a
        # peer that pads anyway costs a second decryption, never data.
        v0=$(nopad_violations)
        records_case "pd-$pl" "$pl" --pad 200
        v1=$(nopad_violations)
        expect_rc "tlspeer (sender)" "$P_RC" 0; expect_rc "receiver ($pl)" "$R_RC" 0
        same_guid srcpool/data@s1 "dstpool/pd-$pl@s1"
        # rw reads with recvmsg into a large buffer, where the kernel
        # takes the zero-copy guess: the first padded record counts
        # (measured on 6.12: exactly 1).  Without the option, 0.
        if [[ $pl == rw ]]; then
            [[ $((v1 - v0)) -ge 1 ]] || err "TlsRxNoPadViolation rose by $((v1 - v0)) (want >= 1: TLS_RX_EXPECT_NO_PAD not set?)"
        fi
        verdict "padded-records-$pl" "200 bytes of padding in each record -> $pl: received, guid equal, TlsRxNoPadViolation +$((v1 - v0))" "pd-$pl.r"
        zfs destroy -r "dstpool/pd-$pl" 2>/dev/null
    fi
done
