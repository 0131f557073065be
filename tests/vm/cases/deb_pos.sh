# shellcheck shell=bash disable=SC2034
# deb_pos.sh - the Debian package installed, used and purged in the guest
# (sourced by tests/vm/suite.sh)
#
# Description:
#	dpkg -i of zktls_VERSION_ARCH.deb (built on the host by make deb)
#	needs nothing the guest lacks (no apt, no network); the zktls
#	system user exists (sysusers.d); /usr/sbin/zktls version prints
#	VERSION and the protocol versions; serve --check-config accepts the
#	shipped example (/usr/share/doc/zktls/examples/zktls.conf, copied to
#	/etc/zktls/zktls.conf with the suite's certificates under its
#	names); zktls.service is enabled (its multi-user.target.wants link);
#	one push through /usr/sbin/zktls on both sides, guid equal; dpkg
#	--purge zktls leaves no file or directory of dpkg -L's list
#	(directories that other packages share excepted), no enable link,
#	no /var/lib/zktls (made by systemd-tmpfiles where the guest has it,
#	else by the case); the zktls user stays (Debian keeps system users:
#	files may still carry the uid).
#
# Strategy:
#	The package is found at the repository's top (tests/run builds it
#	before the VMs boot; by hand: make deb).  The guest's root is in
#	memory: the install lasts until power-off.  Runs last, alone: no
#	other case sees /usr/sbin/zktls or the zktls user.
#
# Cases: deb
# Tags: kernels=all zfs alone
# Limit: 120
# Order: 95

if want deb; then
    t0=$SECONDS
    dver=$(cat "$SL_REPO/VERSION")
    deb=$SL_REPO/zktls_${dver}_$(dpkg --print-architecture).deb
    if [[ ! -f $deb ]]; then
        err "no ${deb#"$SL_REPO"/} (make deb on the host)"
    elif ! dpkg -i "$deb" >"$W/deb-install.log" 2>&1; then
        err "dpkg -i failed: $(tail -n 3 "$W/deb-install.log" | tr '\n' ' ')"
    else
        dpkg -L zktls >"$W/deb.files"
        getent passwd zktls >/dev/null || err "no zktls user after install (sysusers.d)"
        [[ -L /etc/systemd/system/multi-user.target.wants/zktls.service ]] ||
            err "zktls.service not enabled (no multi-user.target.wants link)"
        v=$(/usr/sbin/zktls version 2>&1)
        [[ $(head -n1 <<<"$v") == "zktls $dver" ]] || err "zktls version: '$v' (want zktls $dver)"
        grep -q '^protocol versions 1 2' <<<"$v" || err "zktls version names no protocol versions: '$v'"
        # the example, with the suite's certificates where it names them
        mkdir -p /etc/zktls
        cp "$CERTS/beta.pem" /etc/zktls/backup.pem
        cp "$CERTS/beta.key" /etc/zktls/backup.key
        cp "$CERTS/ca.pem" /etc/zktls/ca.pem
        cp /usr/share/doc/zktls/examples/zktls.conf /etc/zktls/zktls.conf
        # its metrics directory, as prometheus-node-exporter makes it
        mkdir -p /var/lib/prometheus/node-exporter
        out=$(/usr/sbin/zktls serve --config /etc/zktls/zktls.conf --check-config 2>&1)
        rc=$?
        [[ $rc == 0 ]] || err "serve --check-config on the example: exit $rc: $out"
        rm -f /etc/zktls/backup.pem /etc/zktls/backup.key /etc/zktls/ca.pem /etc/zktls/zktls.conf
        rmdir /etc/zktls 2>/dev/null
        rm -rf /var/lib/prometheus
        # /var/lib/zktls: systemd-tmpfiles makes it in postinst; this
        # guest has no systemd-tmpfiles: make it as it would, for the purge
        if [[ ! -d /var/lib/zktls ]]; then
            command -v systemd-tmpfiles >/dev/null && err "no /var/lib/zktls after install (tmpfiles.d)"
            install -d -m 755 -o root -g root /var/lib/zktls
        fi
        [[ $(stat -c %U /var/lib/zktls) == root ]] || err "/var/lib/zktls does not belong to root"
        # one push, both sides the installed program
        xfer_reset
        SEND_ARGS=(srcpool/data@s1) RECV_ARGS=(dstpool/deb)
        ZK=/usr/sbin/zktls xfer deb splice splice
        expect_rc "sender (/usr/sbin/zktls)" "$S_RC" 0
        expect_rc "receiver (/usr/sbin/zktls)" "$R_RC" 0
        same_guid srcpool/data@s1 dstpool/deb@s1
        zfs destroy -r dstpool/deb 2>/dev/null
        dpkg --purge zktls >"$W/deb-purge.log" 2>&1 ||
            err "dpkg --purge failed: $(tail -n 3 "$W/deb-purge.log" | tr '\n' ' ')"
        dpkg-query -W -f='${Status}' zktls 2>/dev/null | grep -q installed &&
            err "zktls still installed after purge"
        left=()
        while read -r f; do
            [[ -e $f || -L $f ]] || continue
            # a directory other packages' files share stays
            [[ -d $f && $f != *zktls* ]] && continue
            left+=("$f")
        done <"$W/deb.files"
        [[ ${#left[@]} -eq 0 ]] || err "left after purge: ${left[*]}"
        [[ -e /etc/systemd/system/multi-user.target.wants/zktls.service ]] &&
            err "the enable link is left after purge"
        [[ -e /var/lib/zktls ]] && err "/var/lib/zktls is left after purge"
        getent passwd zktls >/dev/null || err "the zktls user went with the purge"
    fi
    verdict deb "dpkg -i $(basename "$deb"), version, example checked, push guid ok, purge: none of dpkg -L's $(wc -l <"$W/deb.files" 2>/dev/null) paths left ($((SECONDS - t0)) s)" deb.s deb.r
fi
