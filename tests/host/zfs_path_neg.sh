#!/usr/bin/env bash
#
# Description:
#	zktls runs as root and runs zfs: which program that is must not be
#	up to the working directory or $PATH.  zfs is looked up only in a
#	fixed list of system directories, or named by an absolute ZKTLS_ZFS.
#
# Strategy:
#	A directory holds an executable "zfs" that leaves a marker file when
#	it runs.  From inside that directory, with that directory (and ".")
#	first in PATH and no ZKTLS_ZFS:
#	1. zktls send: the planted zfs never runs; where the host has no zfs
#	   in the system directories the error says so, exit 5.
#	2. zktls recv --listen: likewise.
#	3. ZKTLS_ZFS=zfs (a relative name): usage error, exit 2, nothing run.
#	4. ZKTLS_ZFS naming the stand-in by absolute path still works (the
#	   rest of the suite relies on it): the dry run of zfs send runs it.
#
. "$(dirname "$0")/lib.sh"

plant=$T/cwd
mkdir -p "$plant"
cat >"$plant/zfs" <<PLANT
#!/bin/sh
echo "ran \$0 \$*" >>"$T/pwned"
exit 0
PLANT
chmod +x "$plant/zfs"
have_sys_zfs=0
for d in /usr/sbin /sbin /usr/local/sbin /usr/bin /bin; do
	[ -x "$d/zfs" ] && have_sys_zfs=1
done
nozfs="cannot find zfs in /usr/sbin, /sbin, /usr/local/sbin, /usr/bin or /bin (ZKTLS_ZFS names another one, by absolute path)"

# 1. send
(cd "$plant" && unset ZKTLS_ZFS && PATH=".:$plant:$PATH" && bounded 10 "$ZK" \
	send pool/fs@a --connect 127.0.0.1:9 "${TLS_A[@]}") >/dev/null 2>"$T/send.err"
rc=$?
[ -e "$T/pwned" ] && fail "send ran the zfs planted in the working directory: $(cat "$T/pwned")"
if [ $have_sys_zfs = 0 ]; then
	expect_fail "send without a system zfs" 5 "$rc" "$T/send.err" "$nozfs"
fi
rm -f "$T/pwned"

# 2. recv --listen
(cd "$plant" && unset ZKTLS_ZFS && PATH=".:$plant:$PATH" && bounded 10 "$ZK" \
	recv backup --listen 127.0.0.1:0 "${TLS_B[@]}") >/dev/null 2>"$T/recv.err"
rc=$?
[ -e "$T/pwned" ] && fail "recv ran the zfs planted in the working directory: $(cat "$T/pwned")"
if [ $have_sys_zfs = 0 ]; then
	expect_fail "recv without a system zfs" 5 "$rc" "$T/recv.err" "$nozfs"
fi
rm -f "$T/pwned"

# 3. a relative ZKTLS_ZFS
(cd "$plant" && PATH=".:$PATH" && export ZKTLS_ZFS=zfs && bounded 10 "$ZK" \
	send pool/fs@a --connect 127.0.0.1:9 "${TLS_A[@]}") >/dev/null 2>"$T/rel.err"
rc=$?
expect_fail "relative ZKTLS_ZFS" 2 "$rc" "$T/rel.err" \
	"ZKTLS_ZFS must be an absolute path, not 'zfs'"
[ -e "$T/pwned" ] && fail "a relative ZKTLS_ZFS ran the planted zfs"

# 4. an absolute ZKTLS_ZFS is used (the planted one, on purpose)
(cd / && export ZKTLS_ZFS="$plant/zfs" && bounded 10 "$ZK" \
	send pool/fs@a --connect 127.0.0.1:9 "${TLS_A[@]}") >/dev/null 2>"$T/abs.err"
assert_grep "ran $plant/zfs send -nP pool/fs@a" "$T/pwned"

finish "zfs is never taken from the working directory or PATH"
