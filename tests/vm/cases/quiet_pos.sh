# shellcheck shell=bash disable=SC2034
# quiet_pos.sh - a silent source is waited for
# (sourced by tests/vm/suite.sh)
#
# Description:
#	The source's zfs send is silent for 15 s after 1 MiB; both ends have
#	--timeout 8 (the handshake too must fit in it under load): the
#	receiver waits (TCP keepalive finds the peer alive), both exit 0,
#	guids equal, and the transfer took at least the 15 s.
#	quiet-user, quiet-rw, quiet-splice, quiet-direct: on each receiving
#	plane (user->user, splice->rw, direct->splice, splice->direct).
#	quiet-copy-rw, quiet-copy-splice, quiet-copy-direct: the same
#	silence with an 8 KiB receive buffer: a silent peer between records
#	is still waited for.
#
# Strategy:
#	quiet_zfs (case-lib.sh) wraps zfs for the sender.  Runs in
#	background workers (it mostly waits), each on a host pair of its
#	own.
#
# Cases: quiet-user quiet-rw quiet-splice quiet-direct
# Cases: quiet-copy-rw quiet-copy-splice quiet-copy-direct
# Tags: kernels=all zfs bg
# Limit: 200
# Order: 53

# quiet_case NAME SEND-PLANE RECV-PLANE: the source is silent for 15 s, both
# ends have --timeout 8; the receiver waits (TCP keepalive finds the peer
# alive) and the snapshot arrives whole.
quiet_case() {
    local name=$1 ms=$2 mr=$3 t0=$SECONDS d=dstpool/$1 el
    xfer_reset
    [[ ${4:-} == small ]] && rmem_small
    S_ENV="ZKTLS_ZFS=$(quiet_zfs 15 "$name")"
    XFER_OPTS=(--timeout 8) SEND_ARGS=(srcpool/data@s1) RECV_ARGS=("$d")
    xfer "$name" "$ms" "$mr"
    el=$((SECONDS - t0))
    rmem_restore
    expect_rc sender "$S_RC" 0
    expect_rc receiver "$R_RC" 0
    [[ $el -ge 15 ]] || err "took ${el} s; the source was silent for 15 s"
    same_guid srcpool/data@s1 "$d@s1"
    verdict "$name" "$ms->$mr: 15 s of silence with --timeout 8${4:+ and an 8 KiB receive buffer}, guid equal (${el} s)" "$name"
    zfs destroy -r "$d" 2>/dev/null
}
want quiet-user && quiet_case quiet-user user user
want quiet-rw && quiet_case quiet-rw splice rw
want quiet-splice && quiet_case quiet-splice direct splice
want quiet-direct && quiet_case quiet-direct splice direct
want quiet-copy-rw && quiet_case quiet-copy-rw splice rw small
want quiet-copy-splice && quiet_case quiet-copy-splice direct splice small
want quiet-copy-direct && quiet_case quiet-copy-direct splice direct small
