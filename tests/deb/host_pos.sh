#!/usr/bin/env bash
# tests/deb/host_pos.sh - the Debian package and the installation, on the
# host (the VM case tests/vm/cases/deb_pos.sh installs and purges it).
#
# Description:
#	VERSION, debian/changelog and the man pages name one version; make deb
#	builds zktls_VERSION_ARCH.deb, lintian reports no error and no
#	warning (its whole output is printed); the package holds every file
#	it should; its zktls prints that version and the protocol versions;
#	systemd-analyze verify says nothing about any shipped unit, and
#	systemd-analyze security rates zktls.service and zktls-sync@.service
#	4.0 or better; the bash completion offers exactly the long options
#	of each subcommand's getopt table (src/cmd_*.c, COMMON_LONG_OPTS) and
#	every option of --help; make install DESTDIR=... then make uninstall
#	leaves no file.
#
# Strategy:
#	make deb reuses the package when it is up to date (tests/run builds
#	it before the VM suites start).  The units are verified with the path
#	of the package's own zktls (extracted) in place of /usr/sbin/zktls,
#	since this host has none installed.  Run: bash tests/deb/host_pos.sh
set -u -o pipefail
cd "$(dirname "$0")/../.." || exit 1
fails=0
t0=$(date +%s)
T=$(mktemp -d /tmp/zktls-deb.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
note() { echo "-- $*"; }

# --- one version everywhere
ver=$(cat VERSION)
clver=$(dpkg-parsechangelog -S Version -l debian/changelog)
[ "$clver" = "$ver" ] || fail "debian/changelog says $clver, VERSION $ver"
for m in man/zktls.8 man/zktls.conf.5; do
	grep -q "^\.TH .*\"zktls $ver\"" "$m" || fail "$m: .TH does not name zktls $ver"
done
note "version $ver (VERSION, debian/changelog, man pages)"

# --- the package
arch=$(dpkg --print-architecture)
deb=zktls_${ver}_$arch.deb
st0=$(git status --porcelain 2>/dev/null)
make deb >"$T/make-deb.log" 2>&1 || { tail -n 30 "$T/make-deb.log"; fail "make deb"; }
[ "$(git status --porcelain 2>/dev/null)" = "$st0" ] || fail "make deb changed the tree: $(git status --porcelain)"
[ -f "$deb" ] || { fail "no $deb"; echo "FAIL deb/host_pos"; exit 1; }
note "lintian --pedantic -I -E $deb:"
lintian --pedantic -I -E "$deb" >"$T/lintian" 2>&1
sed -e '/^running with root privileges/d' -e 's/^/   | /' "$T/lintian"
grep -q '^[EW]: ' "$T/lintian" && fail "lintian reports errors or warnings"

# the unit directory: where debhelper looks (pkg-config systemd: /lib on
# Debian 12, /usr/lib later)
ud=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
ud=${ud:-/usr/lib/systemd/system}
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$T/files"
for f in /usr/sbin/zktls /usr/share/man/man8/zktls.8.gz \
	/usr/share/man/man5/zktls.conf.5.gz \
	$ud/zktls.service \
	$ud/zktls-sync@.service \
	$ud/zktls-sync@.timer \
	/usr/lib/sysusers.d/zktls.conf /usr/lib/tmpfiles.d/zktls.conf \
	/usr/share/bash-completion/completions/zktls \
	/usr/share/doc/zktls/examples/zktls.conf \
	/usr/share/doc/zktls/examples/sync.d/home; do
	grep -qx "$f" "$T/files" || fail "the package has no $f"
done
grep -q '^/etc/' "$T/files" && fail "the package ships files in /etc: $(grep '^/etc/' "$T/files" | tr '\n' ' ')"
root=$T/root
dpkg-deb -x "$deb" "$root"
v=$("$root/usr/sbin/zktls" version)
[ "$(sed -n 1p <<<"$v")" = "zktls $ver" ] || fail "zktls version: '$v'"
grep -q '^protocol versions 1 2' <<<"$v" || fail "zktls version names no protocol versions: '$v'"
note "zktls version: $(tr '\n' ';' <<<"$v")"

# --- the units
mkdir -p "$T/units"
for u in "$root$ud"/*; do
	sed "s|/usr/sbin/zktls|$root/usr/sbin/zktls|g" "$u" >"$T/units/${u##*/}"
done
n=0
for u in "$T"/units/*; do
	out=$(cd "$T/units" && systemd-analyze verify --man=no "./${u##*/}" 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [ -z "$out" ] || fail "systemd-analyze verify ${u##*/} (exit $rc): $out"
	n=$((n + 1))
done
[ $n -eq 3 ] || fail "$n units in the package, not 3"
note "systemd-analyze verify: $n units, nothing to say"
for u in zktls.service zktls-sync@.service; do
	s=$(systemd-analyze security --offline=true --threshold=40 "$T/units/$u" 2>&1)
	rc=$?
	note "systemd-analyze security $u: $(grep -o 'exposure level.*' <<<"$s")"
	[ $rc -eq 0 ] || fail "systemd-analyze security $u: above 4.0 (exit $rc)"
done

# --- bash completion against the getopt tables and --help
# table FILE: the long options of FILE's struct option tables.
common=$(sed -n '/^#define COMMON_LONG_OPTS/,/^[^\t#]/p' src/zktls.h |
	grep -o '{ "[a-z-]*"' | sed 's/{ "\(.*\)"/--\1/')
table() {
	sed -n '/struct option [a-z_]*\[\] = {/,/^[[:space:]]*};/p' "$1" |
		sed "s/COMMON_LONG_OPTS/$(echo $common | sed 's/--/COMMON:/g')/" |
		grep -o '{ "[a-z-]*"\|COMMON:[a-z-]*' |
		sed -e 's/{ "\(.*\)"/--\1/' -e 's/COMMON:/--/' | sort -u
}
comp() { # comp CMD: the long options the completion offers for CMD
	bash -c '. contrib/zktls.bash-completion
		COMP_WORDS=(zktls "$1" --); COMP_CWORD=2; _zktls
		printf "%s\n" "${COMPREPLY[@]}"' comp "$1" | grep '^--' | sort -u
}
[ -n "$common" ] || fail "no COMMON_LONG_OPTS in src/zktls.h"
for pair in serve:cmd_serve list:cmd_list sync:cmd_sync cert:cmd_cert status:cmd_status; do
	c=${pair%%:*} f=src/${pair#*:}.c
	d=$(diff <(table "$f") <(comp "$c"))
	[ -z "$d" ] || fail "completion of $c differs from $f's table (<: table, >: completion): $(echo $d)"
done
x=$(table src/cmd_xfer.c)
for c in pipe send recv receive; do
	d=$(comm -13 <(echo "$x") <(comp "$c"))
	[ -z "$d" ] || fail "completion of $c offers what src/cmd_xfer.c lacks: $(echo $d)"
done
d=$(comm -23 <(echo "$x") <(for c in pipe send recv; do comp $c; done | sort -u))
[ -z "$d" ] || fail "completion of pipe/send/recv lacks: $(echo $d)"
all=$(for c in pipe send recv serve list sync cert status; do comp $c; done | sort -u)
for h in "" sync serve cert status; do
	# shellcheck disable=SC2086
	for o in $("$root/usr/sbin/zktls" $h --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -qx -- "$o" <<<"$all" || fail "zktls $h --help names $o; the completion does not"
	done
done
top1=$(bash -c '. contrib/zktls.bash-completion; COMP_WORDS=(zktls ""); COMP_CWORD=1; _zktls; echo "${COMPREPLY[*]}"')
for c in pipe send recv serve list sync cert status pin version; do
	grep -qw -- "$c" <<<"$top1" || fail "completion offers no subcommand $c"
done
note "completion: $(wc -l <<<"$all") long options, the getopt tables' and --help's"

# --- make install / make uninstall
d=$T/dest
make install DESTDIR="$d" PREFIX=/usr/local >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install"; }
ni=$(find "$d" -type f | wc -l)
[ "$ni" -eq 11 ] || fail "make install put $ni files, not 11: $(find "$d" -type f)"
[ -x "$d/usr/local/sbin/zktls" ] || fail "make install: no $d/usr/local/sbin/zktls"
ud=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
ud=${ud:-/usr/local/lib/systemd/system}
[ -f "$d$ud/zktls.service" ] || fail "make install: zktls.service not in $ud"
grep -q '^ExecStart=/usr/local/sbin/zktls serve' "$d$ud/zktls.service" ||
	fail "make install: the unit does not run /usr/local/sbin/zktls"
make uninstall DESTDIR="$d" PREFIX=/usr/local >"$T/uninstall.log" 2>&1 || fail "make uninstall"
left=$(find "$d" \( -type f -o -name '*zktls*' \) -print)
[ -z "$left" ] || fail "make uninstall left: $left"
note "make install: $ni files; make uninstall: none left"

s=$(($(date +%s) - t0))
if [ $fails -eq 0 ]; then
	echo "PASS deb/host_pos: $deb, lintian clean, 3 units verified, completion, install/uninstall ($s s)"
else
	echo "FAIL deb/host_pos: $fails failures ($s s)"
	exit 1
fi
