#!/usr/bin/env bash
# deps.sh - install what building and testing zktls needs, from Debian's
# archive only.  Quick when everything is already there.  The test VM's
# own tools are installed by tests/vm/build.sh.
set -euo pipefail

# The Debian package's build (debian/control's Build-Depends), its checks
# (lintian) and systemd-analyze for the units.  "tests/deps.sh deb": only
# these (make deb).
deb_pkgs=(gcc make pkg-config libssl-dev dpkg-dev debhelper lintian fakeroot)
command -v systemd-analyze >/dev/null || deb_pkgs+=(systemd)
if [ "${1:-}" = deb ]; then
	pkgs=("${deb_pkgs[@]}")
else
	pkgs=(gcc make pkg-config libssl-dev openssl clang llvm libclang-rt-14-dev
	      valgrind socat stunnel4 python3 iproute2 procps psmisc xxd time
	      prometheus "${deb_pkgs[@]}")   # prometheus: promtool (alerts_pos)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]} (run as root or install them)" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
