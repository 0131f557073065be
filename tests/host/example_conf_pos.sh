#!/usr/bin/env bash
#
# Description:
#	The configurations the project ships work as written: the example
#	file (contrib/zktls.conf.example) and the man page's EXAMPLE
#	(zktls.conf(5)) start serve, which listens on both of their
#	addresses (0.0.0.0 and [::] on one port: the IPv6 listener takes
#	IPV6_V6ONLY), and a push of their client alpha lands where their
#	rule says (backup/alpha).
#
# Strategy:
#	Each file with only what cannot be the same here replaced: the
#	certificate paths (this test's PKI, alpha's certificate named
#	alpha.example.com), the port (a free one), the user (nobody), the
#	metrics directory (the test's).  serve runs with the stand-in zfs;
#	both "listening on" lines appear; a client certificate for
#	alpha.example.com pushes pool/home@a over IPv4 and over IPv6: exit 0,
#	the stream landed in backup/alpha/home, the stand-in ran "receive -d"
#	-u into backup/alpha.  SIGTERM: serve exits 0.
#
. "$(dirname "$0")/lib.sh"

client_pki alpha.example.com
mkdata "$T/stream" 64K
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("0.0.0.0",0)); print(s.getsockname()[1])')
if ! python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1",0))' 2>/dev/null; then
	note "no IPv6 on this host: IPv4 only"
	V6=0
else
	V6=1
fi

sed -n '/^\.SH EXAMPLE/,/^\.fi/p' "$REPO/man/zktls.conf.5" | sed '1,2d;$d' |
	sed 's/\\-/-/g' >"$T/man.conf"
n=0
for ex in "$REPO/contrib/zktls.conf.example" "$T/man.conf"; do
	n=$((n + 1))
	sed -e "s|/etc/zktls/backup.pem|$PKI/beta.pem|" \
		-e "s|/etc/zktls/backup.key|$PKI/beta.key|" \
		-e "s|/etc/zktls/ca.pem|$PKI/ca.pem|" -e "s|^user .*|user nobody|" \
		-e "s|:4433$|:$port|" \
		-e "s|/var/lib/prometheus/node-exporter/|$T/|" "$ex" >"$T/ex$n.conf"
	[ "$V6" = 1 ] || sed -i '/^listen \[::\]/d' "$T/ex$n.conf"
	[ "$(id -u)" = 0 ] || echo "privsep no" >>"$T/ex$n.conf"
	echo "state-dir $T" >>"$T/ex$n.conf" # not this host's /var/lib/zktls
	assert_grep "listen 0.0.0.0:$port" "$T/ex$n.conf"
	mkdir -p "$T/srv.out"
	: >"$T/srv.zfs.log"
	bg SPID 60 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_OUTDIR="$T/srv.out" \
		ZKTLS_FAKE_LOG="$T/srv.zfs.log" ZKTLS_FAKE_GUID=102 \
		"$ZK" serve --config "$T/ex$n.conf" </dev/null >/dev/null \
		2>"$T/serve$n.err"
	wait_for_line "$T/serve$n.err" "listening on 0.0.0.0:$port" 10 ||
		die "$(basename "$ex"): serve did not listen on 0.0.0.0:$port" "$T/serve$n.err"
	if [ "$V6" = 1 ]; then
		wait_for_line "$T/serve$n.err" "listening on \[::\]:$port" 10 ||
			fail "$(basename "$ex"): serve did not listen on [::]:$port" "$T/serve$n.err"
	fi
	for addr in "127.0.0.1:$port" "[::1]:$port"; do
		[ "$V6" = 1 ] || [ "$addr" = "127.0.0.1:$port" ] || continue
		rm -f "$T/srv.out/backup_alpha"
		bounded 30 env ZKTLS_ZFS="$FAKEZFS" ZKTLS_FAKE_STREAM="$T/stream" \
			ZKTLS_FAKE_SNAPS=pool/home@a ZKTLS_FAKE_GUIDS=pool/home@a=102 \
			"$ZK" send pool/home@a --connect "$addr" \
			--cert "$PKI/alpha.example.com.pem" \
			--key "$PKI/alpha.example.com.key" --ca "$PKI/ca.pem" \
			--peer-name beta </dev/null >/dev/null 2>"$T/push$n.err"
		assert_rc 0 $? "$(basename "$ex"): alpha's push to $addr" \
			"$T/push$n.err" "$T/serve$n.err"
		assert_file_eq "$T/stream" "$T/srv.out/backup_alpha"
	done
	assert_grep "$(printf '\037-d\037-u\037')" "$T/srv.zfs.log"
	assert_grep "$(printf '\037overlay\037backup/alpha')" "$T/srv.zfs.log"
	kill -TERM "$SPID"
	reap "$SPID" rc
	assert_rc 0 "$rc" "$(basename "$ex"): serve after SIGTERM" "$T/serve$n.err"
done

finish "the example file and the man page's EXAMPLE start serve on 0.0.0.0 and [::] (v6 $V6) and take alpha's push"
