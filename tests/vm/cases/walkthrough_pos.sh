# shellcheck shell=bash disable=SC2034
# walkthrough_pos.sh - the README's walkthrough, run as written: every
# block marked <!-- walkthrough HOST --> on its host, in order (sourced by
# tests/vm/suite.sh)
#
# Description:
#	walkthrough: the shell blocks of README.md's "Walkthrough" section
#	  run unchanged, each on its host: ca makes the CA and the host
#	  certificates and copies them (ssh, scp); beta writes zktls.conf
#	  (clients alpha and gamma, keep, expect) and starts serve; alpha
#	  and gamma push tank/home and rpool/srv with sync -r --metrics;
#	  beta's zktls status; a changed keep grid, its --prune-dry-run and
#	  --prune-now; a restore on alpha with recv --mount; beta's
#	  certificate renewed and serve reloaded.  After the steps: every
#	  newest snapshot's GUID equal on both sides, both sync metrics files
#	  saying success, serve's metrics naming both clients; status naming
#	  both clients' four datasets, none stale; the grid's own prune after
#	  the push (the two oldest of five gone, three kept); the dry run
#	  naming exactly the two it would destroy and destroying nothing;
#	  --prune-now leaving only the newest (gamma's untouched); the
#	  restored snapshot's GUID and files equal to the source's and its
#	  files listed from the mountpoint; after the renewal, the same serve
#	  process answering with the new key (a listing pinned to the new key
#	  works, one pinned to the old key is refused).
#
# Strategy:
#	Four hosts of its own, network namespaces zkw-ca (no link),
#	zkw-beta, zkw-alpha and zkw-gamma (veth to beta each, 10.78.1.0/24
#	and 10.78.2.0/24); /etc/netns/zkw-HOST/hosts names beta (ip netns
#	exec binds it over /etc/hosts), and beta's passwd and group add the
#	zktls user the package would make.  ZFS and the file system are the
#	VM's, shared by the namespaces, so what differs per host is bound
#	over the README's paths in each block's mount namespace (walk-on):
#	/etc/zktls, /var/lib/zktls, /var/lib/prometheus/node-exporter and
#	HOME, each a directory $W/walk/HOST/.  The pools are the README's
#	own names, made here (tank, rpool: mounted at /tank, /rpool; backup:
#	mountpoint=none), so no command is rewritten.  Stand-ins on PATH
#	for what the VM lacks: ssh and scp (the same commands through
#	walk-on on the other host: a copy by way of $W/walk), systemctl
#	(enable --now zktls starts zktls.service's ExecStart and returns once
#	it listens; reload zktls sends SIGHUP, as its ExecReload, and waits
#	for serve's "reloaded" line).  sanoid's part is played here: four
#	snapshots of tank/home before alpha's block takes its own.
#	Retention periods are local time: TZ is set (a POSIX offset) so that
#	local time is 12:20 when the case starts, far from an hour's or a
#	day's end, and all snapshots fall in one hour and one day.  The
#	planner's clock (ZKTLS_NOW) is left alone: a grid counts only
#	periods that have snapshots, so "now" matters only for snapshots
#	from the future.  A block runs under bash -e -x; its stdout is
#	judged where the README says what it shows.  The case checks that
#	the README has exactly the blocks it knows (hosts in order), so a
#	changed walkthrough fails here until the checks follow it.
#
# Cases: walkthrough
# Tags: kernels=all zfs
# Limit: 300
# Order: 73

if want walkthrough; then
    t0=$SECONDS
    WK=$W/walk
    WALK_HOSTS=(ca beta alpha gamma)
    WALK_SEQ="ca beta alpha gamma beta beta beta alpha ca beta"
    WALK_MADE=()      # directories made in the VM's root file system
    WALK_NS=()
    WALK_POOLS=()

    walk_cleanup() {
        local p h
        for p in "$WK"/beta/serve.pid "$WK"/beta/serve.tpid; do
            [[ -s $p ]] && kill "$(<"$p")" 2>/dev/null
        done
        nap 0.5
        for p in "${WALK_POOLS[@]}"; do zk_pool_destroy "$p"; done
        for h in "${WALK_NS[@]}"; do ip netns del "$h" 2>/dev/null; rm -rf "/etc/netns/$h"; done
        rmdir /etc/netns 2>/dev/null
        rmdir /tank /rpool 2>/dev/null
        for ((p = ${#WALK_MADE[@]} - 1; p >= 0; p--)); do rmdir "${WALK_MADE[p]}" 2>/dev/null; done
        return 0
    }
    trap 'walk_cleanup; case_cleanup' EXIT

    # walk_blocks: README.md's marked blocks as $WK/blocks/NN.sh, their
    # hosts in WALK_HOSTSEQ
    walk_blocks() {
        mkdir -p "$WK/blocks"
        awk -v dir="$WK/blocks" '
            /^<!-- walkthrough [a-z]+ -->$/ { host = $3; want = 1; next }
            want == 1 && /^```/ { n++; f = sprintf("%s/%02d.sh", dir, n)
                                  print host > (dir "/hosts"); want = 2; next }
            want == 1 { print "walkthrough: a marker not followed by a code block" >"/dev/stderr"; exit 1 }
            want == 2 && /^```/ { close(f); want = 0; next }
            want == 2 { print > f }' "$SL_REPO/README.md" || return 1
        WALK_HOSTSEQ=$(tr '\n' ' ' <"$WK/blocks/hosts" | sed 's/ $//')
    }
    # walk_run N: block N on its host; its stdout in $WK/out/N.out, its
    # trace and stderr in N.log
    walk_run() {
        local n=$1 f h rc
        f=$(printf '%s/blocks/%02d.sh' "$WK" "$n")
        h=$(sed -n "${n}p" "$WK/blocks/hosts")
        timeout -k 5 180 "$WK/bin/walk-on" "$h" bash -e -x -o pipefail "$f" \
            >"$WK/out/$n.out" 2>"$WK/out/$n.log" </dev/null
        rc=$?
        echo "walkthrough: block $n on $h: exit $rc ($((SECONDS - t0)) s)"
        if [[ $rc != 0 ]]; then
            err "block $n ($h) exit $rc: $(tail -n 4 "$WK/out/$n.log" | tr '\n' '|')"
            return 1
        fi
    }
    # walk_snaps DS: its snapshot names after '@', oldest first
    walk_snaps() {
        zfs list -H -o name -t snapshot -s createtxg -d 1 "$1" 2>/dev/null | sed 's/^[^@]*@//' | tr '\n' ' ' | sed 's/ $//'
    }
    walk_wait_snaps() {   # walk_wait_snaps DS WANT SECONDS
        local i
        for ((i = 0; i < $3 * 10; i++)); do
            [[ $(walk_snaps "$1") == "$2" ]] && return 0
            nap 0.1
        done
        return 1
    }
    walk_newest() { zfs list -H -o name -t snapshot -s createtxg -d 1 "$1" 2>/dev/null | tail -n 1 | sed 's/^[^@]*@//'; }

    walk_setup() {
        local h d i ip
        rm -rf "$WK"
        mkdir -p "$WK/bin" "$WK/out" && chmod 0755 "$WK" "$WK/bin"
        chmod 0755 "$W"
        for d in /etc/zktls /var/lib/zktls /var/lib/prometheus /var/lib/prometheus/node-exporter; do
            [[ -d $d ]] && continue
            mkdir -m 0755 "$d" || return 1
            WALK_MADE+=("$d")
        done
        [[ -e /etc/hosts ]] || echo "127.0.0.1 localhost" >/etc/hosts
        for h in "${WALK_HOSTS[@]}"; do
            mkdir -p "$WK/$h/etc" "$WK/$h/state" "$WK/$h/prom" "$WK/$h/home" &&
                chmod 0755 "$WK/$h" "$WK/$h/etc" "$WK/$h/state" "$WK/$h/prom" || return 1
            ip netns add "zkw-$h" || return 1
            WALK_NS+=("zkw-$h")
            ip -n "zkw-$h" link set lo up
            mkdir -p "/etc/netns/zkw-$h"
            echo "127.0.0.1 localhost $h" >"/etc/netns/zkw-$h/hosts"
        done
        i=1
        for h in alpha gamma; do
            ip link add "zkw-$h-b" netns "zkw-$h" type veth peer name "zkw-b-$h" netns zkw-beta || return 1
            ip -n "zkw-$h" addr add "10.78.$i.1/24" dev "zkw-$h-b"
            ip -n zkw-beta addr add "10.78.$i.2/24" dev "zkw-b-$h"
            ip -n "zkw-$h" link set "zkw-$h-b" up
            ip -n zkw-beta link set "zkw-b-$h" up
            echo "10.78.$i.2 beta" >>"/etc/netns/zkw-$h/hosts"
            echo "10.78.$i.1 $h" >>/etc/netns/zkw-beta/hosts
            i=$((i + 1))
        done
        # beta: the zktls user the package's sysusers.d makes
        cp /etc/passwd /etc/netns/zkw-beta/passwd && cp /etc/group /etc/netns/zkw-beta/group
        if ! getent passwd zktls >/dev/null; then
            echo "zktls:x:64990:64990:zktls:/nonexistent:/usr/sbin/nologin" >>/etc/netns/zkw-beta/passwd
            echo "zktls:x:64990:" >>/etc/netns/zkw-beta/group
        fi
        # the hosts' pools, by the README's names
        for p in tank rpool; do
            truncate -s 256M "/tmp/zk-$p.img" &&
                zpool create -f -o ashift=12 -O compression=off "$p" "/tmp/zk-$p.img" || return 1
            WALK_POOLS+=("$p")
        done
        zk_pool backup 256M || return 1
        WALK_POOLS+=(backup)
        zfs create tank/home && zfs create tank/home/alice &&
            zfs create rpool/srv && zfs create rpool/srv/db || return 1
        seq 1 20000 >/tank/home/numbers.txt
        head -c 192K /dev/urandom >/tank/home/photo.raw
        echo "alice's notes $RANDOM" >/tank/home/alice/notes.txt
        head -c 64K /dev/urandom >/rpool/srv/index.html
        head -c 128K /dev/urandom >/rpool/srv/db/table.dat
        # sanoid's part: snapshots before the walkthrough's own
        for i in 1 2 3 4; do
            head -c 32K /dev/urandom >"/tank/home/day$i"
            head -c 16K /dev/urandom >"/tank/home/alice/draft$i"
            zfs snapshot -r "tank/home@autosnap-$i" || return 1
        done
        # the stand-ins
        ln -s "$ZK" "$WK/bin/zktls"
        cat >"$WK/bin/walk-on" <<EOF
#!/bin/bash
# walk-on HOST CMD...: CMD as on HOST: its network namespace, its
# /etc/zktls, /var/lib/zktls, node-exporter directory and home
h=\$1
shift
[[ -d $WK/\$h/home ]] || { echo "walk-on: no host \$h" >&2; exit 2; }
exec ip netns exec "zkw-\$h" env -i PATH=$WK/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    HOME=$WK/\$h/home TZ=$WALK_TZ LANG=C.UTF-8 WALK_HOST=\$h \\
    bash -c 'r=$WK/\$WALK_HOST; mkdir -p -m 0755 "\$r/etc" &&
        mount --bind "\$r/etc" /etc/zktls && mount --bind "\$r/state" /var/lib/zktls &&
        mount --bind "\$r/prom" /var/lib/prometheus/node-exporter && cd && exec "\$@"' walk-on "\$@"
EOF
        cat >"$WK/bin/ssh" <<EOF
#!/bin/bash
# ssh [USER@]HOST CMD...: CMD on HOST (the remote shell: its words joined)
while [[ \$1 == -* ]]; do shift; done
h=\${1#*@}
shift
exec $WK/bin/walk-on "\$h" bash -c "\$*"
EOF
        cat >"$WK/bin/scp" <<EOF
#!/bin/bash
# scp SRC... [USER@]HOST:PATH: files of this host to HOST's PATH
a=()
for x; do [[ \$x == -* ]] || a+=("\$x"); done
dst=\${a[-1]}
unset 'a[-1]'
h=\${dst%%:*} h=\${h#*@} p=\${dst#*:}
st=\$(mktemp -d $WK/scp.XXXXXX) || exit 1
cp -- "\${a[@]}" "\$st/" && $WK/bin/walk-on "\$h" bash -c 'cp -- "\$0"/* "\$1"' "\$st" "\$p"
rc=\$?
rm -rf "\$st"
exit \$rc
EOF
        cat >"$WK/bin/systemctl" <<EOF
#!/bin/bash
# systemctl, for zktls.service on a guest without systemd: its ExecStart
# (returning once serve listens) and ExecReload (returning once serve
# says it reloaded)
d=$WK/\$WALK_HOST
case "\$*" in
daemon-reload) exit 0 ;;
"enable --now zktls" | "start zktls")
    timeout -k 5 ${ZK_TO:-300} bash -c 'echo \$\$ >"\$0"; exec zktls serve --config /etc/zktls/zktls.conf' \\
        "\$d/serve.pid" </dev/null >>"\$d/serve.log" 2>&1 &
    echo \$! >"\$d/serve.tpid"
    for ((i = 0; i < 600; i++)); do
        grep -q 'listening on' "\$d/serve.log" 2>/dev/null && exit 0
        kill -0 \$! 2>/dev/null || break
        sleep 0.1
    done
    echo "zktls.service failed: \$(tail -n 3 "\$d/serve.log")" >&2
    exit 1 ;;
"reload zktls")
    n=\$(grep -c reloaded "\$d/serve.log")
    kill -HUP "\$(cat "\$d/serve.pid")" || exit 1
    for ((i = 0; i < 300; i++)); do
        [[ \$(grep -c reloaded "\$d/serve.log") -gt \$n ]] && exit 0
        sleep 0.1
    done
    echo "zktls.service: no reload: \$(tail -n 3 "\$d/serve.log")" >&2
    exit 1 ;;
*) echo "systemctl: '\$*' is not what the walkthrough does" >&2; exit 1 ;;
esac
EOF
        chmod 755 "$WK/bin/walk-on" "$WK/bin/ssh" "$WK/bin/scp" "$WK/bin/systemctl"
    }

    # local time 12:20 now: TZ "WLK-H:M" is UTC+H:M
    now_m=$((10#$(date -u +%H) * 60 + 10#$(date -u +%M)))
    off=$(((12 * 60 + 20 - now_m + 1440) % 1440))
    WALK_TZ=$(printf 'WLK-%d:%02d' $((off / 60)) $((off % 60)))
    export TZ=$WALK_TZ
    detail=''
    if ! walk_setup; then
        err "set-up: the hosts, pools or stand-ins could not be made"
    elif ! walk_blocks; then
        err "README.md: cannot read the walkthrough's blocks"
    elif [[ $WALK_HOSTSEQ != "$WALK_SEQ" ]]; then
        err "README.md's walkthrough blocks run on [$WALK_HOSTSEQ], the case knows [$WALK_SEQ]: update the case"
    else
        echo "walkthrough: TZ=$WALK_TZ (local $(date +%H:%M)), blocks on $WALK_HOSTSEQ ($((SECONDS - t0)) s)"
        while :; do
            # 1 ca: the CA, three host certificates, copied
            walk_run 1 || break
            for h in beta alpha gamma; do
                for f in ca.pem "$h.pem" "$h.key"; do
                    [[ -s $WK/$h/etc/$f ]] || err "$h has no /etc/zktls/$f"
                done
                [[ $(stat -c %a "$WK/$h/etc/$h.key") == 600 ]] || err "$h.key on $h: mode $(stat -c %a "$WK/$h/etc/$h.key")"
                [[ $(stat -c %a "$WK/$h/etc") == 700 ]] || err "/etc/zktls on $h: mode $(stat -c %a "$WK/$h/etc")"
            done
            [[ ! -e $WK/beta/etc/ca.key ]] || err "the CA key reached beta"
            old_pin=$("$ZK" pin "$WK/beta/etc/beta.pem")
            # 2 beta: the configuration, serve started
            walk_run 2 || break
            grep -q 'listening on 0.0.0.0:4433' "$WK/beta/serve.log" || err "serve: $(head -3 "$WK/beta/serve.log")"
            srv_pid=$(<"$WK/beta/serve.pid")
            # 3, 4: alpha and gamma push
            walk_run 3 || break
            walk_run 4 || break
            a_new=$(walk_newest tank/home) g_new=$(walk_newest rpool/srv)
            [[ $a_new == "$(date +%F)" && $g_new == "$a_new" ]] || err "the sources' newest snapshots: $a_new $g_new (want $(date +%F))"
            for ds in home home/alice; do
                same_guid "tank/$ds@$a_new" "backup/alpha/$ds@$a_new"
                # the grid's own prune, after the push: newest=3 of five
                walk_wait_snaps "backup/alpha/$ds" "autosnap-3 autosnap-4 $a_new" 30 ||
                    err "backup/alpha/$ds after the push: [$(walk_snaps "backup/alpha/$ds")] (want autosnap-3 autosnap-4 $a_new)"
            done
            for ds in srv srv/db; do
                same_guid "rpool/$ds@$g_new" "backup/gamma/$ds@$g_new"
            done
            grep -q '^zktls_sync_last_run_success{dataset="tank/home/alice",server="beta:4433"} 1$' "$WK/alpha/prom/zktls-sync.prom" ||
                err "alpha's sync metrics: $(grep last_run_success "$WK/alpha/prom/zktls-sync.prom" 2>&1 | tr '\n' ' ')"
            grep -q '^zktls_sync_last_run_success{dataset="rpool/srv/db",server="beta:4433"} 1$' "$WK/gamma/prom/zktls-sync.prom" ||
                err "gamma's sync metrics: $(grep last_run_success "$WK/gamma/prom/zktls-sync.prom" 2>&1 | tr '\n' ' ')"
            # 5 beta: status
            walk_run 5 || break
            sed 's/^/walkthrough: status: /' "$WK/out/5.out"
            for row in "alpha backup/alpha/home" "alpha backup/alpha/home/alice" "gamma backup/gamma/srv" "gamma backup/gamma/srv/db"; do
                grep -Eq "^  ${row% *} +push +[0-9]+[smhd] ago +never +no +${row#* }\$" "$WK/out/5.out" ||
                    err "status has no good, fresh row for ${row% *} ${row#* }: $(tr '\n' '|' <"$WK/out/5.out")"
            done
            for c in alpha gamma; do
                grep -q "^zktls_last_success_timestamp_seconds{client=\"$c\",dataset=\"backup/$c/" "$WK/beta/prom/zktls.prom" ||
                    err "serve's metrics name no success of $c"
            done
            # 6 beta: a new grid, its dry run
            walk_run 6 || break
            want="would destroy backup/alpha/home/alice@autosnap-3 (outside keep grid daily=14 weekly=8)
would destroy backup/alpha/home/alice@autosnap-4 (outside keep grid daily=14 weekly=8)
would destroy backup/alpha/home@autosnap-3 (outside keep grid daily=14 weekly=8)
would destroy backup/alpha/home@autosnap-4 (outside keep grid daily=14 weekly=8)"
            [[ $(LC_ALL=C sort "$WK/out/6.out") == "$want" ]] || err "the dry run said: $(tr '\n' '|' <"$WK/out/6.out")"
            [[ $(walk_snaps backup/alpha/home) == "autosnap-3 autosnap-4 $a_new" ]] ||
                err "after the dry run: [$(walk_snaps backup/alpha/home)]"
            # 7 beta: reload, prune now
            walk_run 7 || break
            for ds in home home/alice; do
                [[ $(walk_snaps "backup/alpha/$ds") == "$a_new" ]] ||
                    err "backup/alpha/$ds after --prune-now: [$(walk_snaps "backup/alpha/$ds")] (want $a_new)"
                same_guid "tank/$ds@$a_new" "backup/alpha/$ds@$a_new"
            done
            [[ $(walk_snaps backup/gamma/srv) == "$g_new" ]] || err "gamma's backup pruned: [$(walk_snaps backup/gamma/srv)]"
            # 8 alpha: the restore
            walk_run 8 || break
            same_guid "tank/home@$a_new" "tank/restore/home@$a_new"
            s1=$(snap_sum "tank/home@$a_new") s2=$(snap_sum "tank/restore/home@$a_new")
            [[ $s1 != unmountable && $s1 == "$s2" ]] || err "restored files: sum $s2, source $s1"
            for f in numbers.txt photo.raw day4; do
                grep -qx "$f" "$WK/out/8.out" || err "ls of the restore lacks $f: $(tr '\n' ' ' <"$WK/out/8.out")"
            done
            # 9 ca, 10 beta: beta's certificate renewed, serve reloaded
            walk_run 9 || break
            new_pin=$("$ZK" pin "$WK/beta/etc/beta.pem")
            [[ $new_pin == sha256:* && $new_pin != "$old_pin" ]] || err "beta.pem on beta not renewed ($old_pin, now $new_pin)"
            walk_run 10 || break
            grep -q "^pin: *$new_pin\$" "$WK/out/10.out" || err "cert show: $(tr '\n' '|' <"$WK/out/10.out")"
            tls="--cert /etc/zktls/alpha.pem --key /etc/zktls/alpha.key --ca /etc/zktls/ca.pem --peer-name beta"
            # shellcheck disable=SC2016 # expanded on alpha
            lst='zktls list --connect beta:4433 $0 --peer-pin "$1" backup/alpha/home'
            "$WK/bin/walk-on" alpha bash -c "$lst" "$tls" "$new_pin" >"$WK/out/new.out" 2>"$WK/out/new.log"
            expect_rc "a listing pinned to the new key" "$?" 0
            grep -q "^backup/alpha/home@$a_new	" "$WK/out/new.out" || err "the listing: $(tr '\n' '|' <"$WK/out/new.out") $(cat "$WK/out/new.log")"
            "$WK/bin/walk-on" alpha bash -c "$lst" "$tls" "$old_pin" >/dev/null 2>"$WK/out/old.log"
            rc=$?
            [[ $rc != 0 ]] || err "a listing pinned to the old key worked after the renewal"
            if [[ $(<"$WK/beta/serve.pid") != "$srv_pid" ]] || ! kill -0 "$srv_pid" 2>/dev/null; then
                err "serve $srv_pid is not the one running"
            fi
            [[ $(grep -c 'reloaded /etc/zktls/zktls.conf' "$WK/beta/serve.log") == 2 ]] ||
                err "serve's reloads: $(grep reloaded "$WK/beta/serve.log" | tr '\n' '|')"
            detail="10 blocks on $WALK_HOSTSEQ; GUIDs equal, status names alpha and gamma, grid pruned 2 of 5 after the push, dry run 4 lines, prune-now left $a_new, restore's files equal, serve $srv_pid answers with the new key, refused under the old pin (exit $rc)"
            break
        done
    fi
    [[ ${#ERRS[@]} -eq 0 ]] || {
        for f in "$WK"/out/*.log; do
            [[ -s $f ]] || continue
            echo "  --- ${f##*/}:"
            tail -n 15 "$f" | cut -c1-300 | sed 's/^/  | /'
        done
        [[ -s $WK/beta/serve.log ]] && { echo "  --- serve.log:"; tail -n 15 "$WK/beta/serve.log" | cut -c1-300 | sed 's/^/  | /'; }
    }
    verdict walkthrough "$detail ($((SECONDS - t0)) s)"
    walk_cleanup
    trap case_cleanup EXIT
fi
