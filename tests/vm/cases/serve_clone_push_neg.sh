# shellcheck shell=bash disable=SC2034
# serve_clone_push_neg.sh - a client makes, by a crafted clone stream, a
# clone of another client's snapshot on the server; pulling it back is
# refused (sourced by tests/vm/suite.sh)
#
# Description:
#	zfs receive finds a clone stream's origin by GUID, anywhere in the
#	pool.  A client that knows the GUID of another client's snapshot
#	(here: both back up the same source snapshot) can push a clone
#	stream whose origin is that snapshot, and so make, in its own push
#	dataset, a clone of another client's data.  A full send of that
#	clone would carry the other client's blocks: serve must refuse to
#	send it, and must not say what the origin is called.
#
# Strategy:
#	serve in zkb with clients victim (push dstpool/cp/victim) and alpha
#	(push and pull dstpool/cp/alpha).  victim pushes srcpool/cpsrc@v, a
#	snapshot of this case's own (its guid is nowhere else in dstpool).
#	In zka, srcpool/cpx is a clone of srcpool/cpsrc@v with a file of its
#	own; alpha pushes "send -i srcpool/cpsrc@v srcpool/cpx@e", a clone
#	stream: zfs makes dstpool/cp/alpha/cpx a clone of
#	dstpool/cp/victim/cpsrc@v.  alpha's pull of dstpool/cp/alpha/cpx@e
#	ends with exit 4 and "is a clone whose origin lies outside what
#	client alpha may read", its text never names victim, and nothing
#	arrives; victim's snapshot is intact.
#
# Cases: serve-clone-push
# Tags: kernels=all zfs
# Limit: 300
# Order: 61

if want serve-clone-push; then
    t0=$SECONDS
    client_cert victim
    zfs create dstpool/cp && zfs create dstpool/cp/alpha && zfs create dstpool/cp/victim
    { serve_conf_head; cat <<CONF; } >"$W/cp.conf"
client alpha {
	name alpha
	push dstpool/cp/alpha
	pull dstpool/cp/alpha
}
client victim {
	name victim
	push dstpool/cp/victim
}
CONF
    zk_start cpsrv "$ZKB" serve --config "$W/cp.conf" --json
    if port=$(wait_listen cpsrv 60); then
        V=(--cert "$CERTS/victim.pem" --key "$CERTS/victim.key" --ca "$CERTS/ca.pem" --peer-name beta)
        zfs create -o mountpoint="$W/src/cpsrc" srcpool/cpsrc &&
            head -c 256K /dev/urandom >"$W/src/cpsrc/secret" &&
            zfs snapshot srcpool/cpsrc@v || err "cannot make srcpool/cpsrc@v"
        zk_start cpv "$ZKA" send --mode splice "${V[@]}" --connect "$ZKB_IP:$port" srcpool/cpsrc@v
        zk_wait cpv; v_rc=$?
        expect_rc "victim's push" "$v_rc" 0
        same_guid srcpool/cpsrc@v dstpool/cp/victim/cpsrc@v
        # the crafted clone stream: its origin is srcpool/cpsrc@v's guid
        zfs clone -o mountpoint="$W/src/cpx" srcpool/cpsrc@v srcpool/cpx &&
            head -c 64K /dev/urandom >"$W/src/cpx/mine" &&
            zfs snapshot srcpool/cpx@e || err "cannot make srcpool/cpx@e"
        zk_start cpa "$ZKA" send --mode splice "${TLS_A[@]}" --connect "$ZKB_IP:$port" \
            -i srcpool/cpsrc@v srcpool/cpx@e
        zk_wait cpa; a_rc=$?
        origin=$(zfs get -H -o value origin dstpool/cp/alpha/cpx 2>/dev/null)
        made="alpha's clone push exit $a_rc, dstpool/cp/alpha/cpx origin '${origin:-none}'"
        if [[ -n $origin && $origin != - ]]; then
            [[ $origin == dstpool/cp/victim/cpsrc@v ]] || err "the clone's origin is $origin, not victim's snapshot"
            # the pull of the clone: refused, the origin not named
            zfs create dstpool/cppulled
            zk_start cpp "$ZKA" recv --mode splice "${TLS_A[@]}" --connect "$ZKB_IP:$port" \
                --source dstpool/cp/alpha/cpx@e dstpool/cppulled/cpx
            zk_wait cpp; p_rc=$?
            expect_rc "alpha pulls its clone of victim's snapshot" "$p_rc" 4
            grep -aq "dstpool/cp/alpha/cpx is a clone whose origin lies outside what client alpha may read" "$W/cpp.log" ||
                err "the pull's refusal: $(tail -1 "$W/cpp.log")"
            grep -aq victim "$W/cpp.log" && err "the refusal names the origin: $(grep -a victim "$W/cpp.log" | head -1)"
            zfs list dstpool/cppulled/cpx >/dev/null 2>&1 && err "the clone arrived"
            grep -aq 'monitor: refused to run zfs send for alpha' "$W/cpsrv.log" ||
                err "serve did not log the monitor's refusal"
        else
            # zfs did not make the clone: nothing of victim's can leave
            err "no clone made of the crafted stream ($made): the case needs one"
        fi
        same_guid srcpool/cpsrc@v dstpool/cp/victim/cpsrc@v
    else
        err "serve did not listen"
    fi
    zk_stop cpsrv
    verdict serve-clone-push "a crafted clone stream made dstpool/cp/alpha/cpx a clone of ${origin:-?} ($made); alpha's pull of it refused without naming it, nothing arrived ($((SECONDS - t0)) s)" cpsrv cpv cpa cpp
    zfs destroy -r dstpool/cppulled 2>/dev/null; zfs destroy -R dstpool/cp 2>/dev/null
    zfs destroy -r srcpool/cpx 2>/dev/null; zfs destroy -r srcpool/cpsrc 2>/dev/null
fi
