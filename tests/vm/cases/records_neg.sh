# shellcheck shell=bash disable=SC2034
# records_neg.sh - a session ticket after the handshake is refused
# (sourced by tests/vm/suite.sh)
#
# Description:
#	From tests/tools/tlspeer, a zfs stream with a NewSessionTicket after
#	each data record, to each receiving plane: refused ("a TLS session
#	ticket after the handshake"), the receiver exits 4, tlspeer gets no
#	RESULT ok, nothing committed.
#
# Strategy:
#	records_case (case-lib.sh) with tlspeer --tickets 1.
#
# Cases: tickets-user tickets-rw tickets-splice tickets-direct
# Tags: kernels=all zfs
# Limit: 180
# Order: 44

for pl in "${PLANES[@]}"; do
    if want "tickets-$pl"; then
        records_case "tk-$pl" "$pl" --tickets 1
        expect_rc "receiver ($pl)" "$R_RC" 4
        [[ $P_RC != 0 ]] || err "tlspeer got RESULT ok"
        expect_log "tk-$pl.r" '"level":"error".*a TLS session ticket after the handshake'
        [[ -z $(guid "dstpool/tk-$pl@s1") ]] || err "dstpool/tk-$pl@s1 was committed"
        verdict "tickets-$pl" "NewSessionTicket after each data record -> $pl: refused, exit 4, nothing committed: $(jerr "tk-$pl.r" | cut -c1-100)" "tk-$pl.r"
        zfs destroy -r "dstpool/tk-$pl" 2>/dev/null
    fi
done
