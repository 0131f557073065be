# shellcheck shell=bash disable=SC2034
# props_safe_pos.sh - the receiving host is safe from a stream's mount
# properties (sourced by tests/vm/suite.sh)
#
# Description:
#	A -p stream that says mountpoint=/etc/zktls-test canmount=on lands
#	unmounted, its mountpoint "none inherited from dstpool" (the
#	receiver's own), and /etc/zktls-test is not created; the operator's
#	--mount --sender-mount-props take the stream's mountpoint (a
#	harmless one here) and mount it.
#
# Strategy:
#	srcpool/evil and srcpool/okmp are made not mounted here (both hosts
#	share one ZFS); everything made is destroyed at the end.
#
# Cases: props-safe
# Tags: kernels=all zfs
# Limit: 300
# Order: 40

if want props-safe; then
    t0=$SECONDS
    # src_ds NAME MOUNTPOINT: a dataset whose -p stream says canmount=on
    # and that MOUNTPOINT, not mounted here (both hosts share one ZFS).
    src_ds() {
        zfs create -o canmount=noauto -o mountpoint="$2" "$1" &&
            zfs snapshot "$1@e1" && zfs set canmount=on "$1" || return 1
        zfs umount "$1" 2>/dev/null
        rmdir "$2" 2>/dev/null
        return 0
    }
    src_ds srcpool/evil /etc/zktls-test || err "cannot create srcpool/evil"
    [[ ! -e /etc/zktls-test ]] || err "setup: /etc/zktls-test exists before the receive"
    xfer_reset
    SEND_ARGS=(-p srcpool/evil@e1) RECV_ARGS=(dstpool/evil)
    xfer evil splice splice
    expect_rc sender "$S_RC" 0; expect_rc receiver "$R_RC" 0
    same_guid srcpool/evil@e1 dstpool/evil@e1
    mp=$(zfs get -H -o value,source mountpoint dstpool/evil 2>/dev/null | tr '\t' ' ')
    [[ $mp == "none inherited from dstpool" ]] || err "received mountpoint '$mp' (want 'none inherited from dstpool')"
    # (zfs receive runs under "ip netns exec", in a mount namespace of its
    # own: a mount would not show here, but the directory it creates does.)
    [[ ! -e /etc/zktls-test ]] || err "/etc/zktls-test exists after the receive (a mount was tried)"
    # The operator may allow both (to a harmless place here).
    src_ds srcpool/okmp "$W/okmp" || err "cannot create srcpool/okmp"
    xfer_reset
    SEND_ARGS=(-p srcpool/okmp@e1) RECV_ARGS=(dstpool/evil2) R_XOPTS=(--mount --sender-mount-props)
    xfer evil2 splice splice
    expect_rc "allowed: sender" "$S_RC" 0; expect_rc "allowed: receiver" "$R_RC" 0
    [[ $(zfs get -H -o value mountpoint dstpool/evil2 2>/dev/null) == "$W/okmp" ]] ||
        err "with --sender-mount-props the mountpoint was not taken"
    [[ -d $W/okmp ]] || err "with --mount nothing was mounted at $W/okmp"
    verdict props-safe "a -p stream with mountpoint=/etc/zktls-test canmount=on: received unmounted, mountpoint '$mp', /etc/zktls-test absent; --mount --sender-mount-props take it ($((SECONDS - t0)) s)" evil evil2
    zfs umount dstpool/evil2 2>/dev/null
    zfs destroy -r dstpool/evil 2>/dev/null; zfs destroy -r dstpool/evil2 2>/dev/null
    zfs destroy -r srcpool/evil 2>/dev/null; zfs destroy -r srcpool/okmp 2>/dev/null
fi
