# shellcheck shell=bash disable=SC2034
# no_plaintext_pos.sh - no plaintext on the wire
# (sourced by tests/vm/suite.sh)
#
# Description:
#	A marker (64 hex digits, 2 MiB of it) in the data is absent from a
#	tcpdump capture of kernel-plane (splice->splice, direct->rw) and
#	user-plane (user->user) sessions, each capture bigger than the
#	stream; as a control, present in a plain TCP (socat) transfer of the
#	same stream (so the check can fail).
#
# Strategy:
#	srcpool/mark (the marker and 512 KiB of random) is made here;
#	tcpdump on zkb0 for each transfer, the capture grepped for the
#	marker and deleted.
#
# Cases: no-plaintext
# Tags: kernels=all zfs slow
# Limit: 600
# Order: 35

# capture TAG: start tcpdump on zkb0 into $W/TAG.pcap (sets CAP_PID).
cap_start() {
    local i
    rm -f "$W/$1.pcap" "$W/$1.tcpdump"
    ip netns exec "$ZKB" timeout -k 5 600 tcpdump -n -i zkb0 -s 0 -B 65536 --immediate-mode -U -w "$W/$1.pcap" tcp \
        2>"$W/$1.tcpdump" &
    CAP_PID=$!
    SL_EXTRA_PIDS+=("$CAP_PID")
    for ((i = 0; i < 200; i++)); do
        grep -q 'listening on' "$W/$1.tcpdump" 2>/dev/null && return 0
        nap 0.1
    done
    return 1
}
cap_stop() {
    local i
    nap 1.5
    kill -INT "$CAP_PID" 2>/dev/null
    for ((i = 0; i < 100; i++)); do kill -0 "$CAP_PID" 2>/dev/null || break; nap 0.1; done
    kill -KILL "$CAP_PID" 2>/dev/null
    wait "$CAP_PID" 2>/dev/null
}
marker_hits() { grep -aFo -- "$MARK" "$1" 2>/dev/null | wc -l; }
if want no-plaintext; then
    t0=$SECONDS
    zfs create -o mountpoint="$W/src/mark" srcpool/mark
    yes "$MARK" | head -c 2M >"$W/src/mark/marker.txt"
    head -c 512K /dev/urandom >"$W/src/mark/rand"
    zfs snapshot srcpool/mark@m1
    mbytes=$(zfs send srcpool/mark@m1 | wc -c)
    det=''
    for planes in "splice splice" "direct rw" "user user"; do
        read -r ms mr <<<"$planes"
        tag=cap-$ms-$mr
        cap_start "$tag" || err "tcpdump did not start"
        xfer_reset
        SEND_ARGS=(srcpool/mark@m1) RECV_ARGS=("dstpool/$tag")
        xfer "$tag" "$ms" "$mr"
        cap_stop
        expect_rc "$tag sender" "$S_RC" 0; expect_rc "$tag receiver" "$R_RC" 0
        same_guid srcpool/mark@m1 "dstpool/$tag@m1"
        sz=$(stat -c %s "$W/$tag.pcap" 2>/dev/null || echo 0)
        hits=$(marker_hits "$W/$tag.pcap")
        [[ $sz -gt $mbytes ]] || err "$tag capture is $sz bytes, less than the $mbytes-byte stream (capture broken? tcpdump: $(grep -h 'dropped' "$W/$tag.tcpdump" | tr '\n' ' '))"
        [[ $hits == 0 ]] || err "$tag: marker found $hits times in the capture (plaintext on the wire)"
        det+="$ms->$mr ${hits} hits in $((sz / 1024)) KiB; "
        rm -f "$W/$tag.pcap"
        zfs destroy -r "dstpool/$tag" 2>/dev/null
    done
    # Control: the same stream over plain TCP must show the marker.
    cap_start cap-plain || err "tcpdump did not start"
    ip netns exec "$ZKB" timeout -k 5 120 bash -c \
        'socat -u TCP-LISTEN:5999,bind=10.77.0.2,reuseaddr STDOUT | zfs recv dstpool/cap-plain' \
        >"$W/cap-plain.r.log" 2>&1 &
    plain_r=$!
    for ((i = 0; i < 100; i++)); do
        ip netns exec "$ZKB" ss -Hltn 'sport = :5999' | grep -q . && break
        nap 0.1
    done
    zfs send srcpool/mark@m1 | ip netns exec "$ZKA" timeout -k 5 120 socat -u STDIN TCP:10.77.0.2:5999 \
        >"$W/cap-plain.s.log" 2>&1
    src_rc=$?
    wait "$plain_r"; prc=$?
    cap_stop
    [[ $src_rc == 0 && $prc == 0 ]] || err "plain TCP control transfer failed (send $src_rc, recv $prc)"
    hits=$(marker_hits "$W/cap-plain.pcap")
    [[ $hits -gt 0 ]] || err "control: marker NOT found in a plain TCP capture (the check cannot fail)"
    det+="plain TCP (control) ${hits} hits"
    rm -f "$W/cap-plain.pcap"
    zfs destroy -r dstpool/cap-plain 2>/dev/null
    verdict no-plaintext "$det ($((SECONDS - t0)) s)" cap-splice-splice cap-direct-rw cap-user-user cap-plain
fi
