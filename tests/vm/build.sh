#!/bin/bash
# Builds the zktls test VM from Debian packages: a kernel with KTLS (tls.ko),
# OpenZFS modules compiled from zfs-dkms, and a root filesystem
# (zfsutils-linux + test tools) packed whole as a zstd cpio initramfs with
# tests/vm/init as /init.
#   tests/vm/build.sh [--flavour NAME]        (or ZKTLS_VM_FLAVOUR=NAME)
# Flavours (the table below):
#   bookworm-6.12  the default: the newest bookworm-backports kernel (6.12)
#                  and zfs-dkms (2.3), modules built with the host's compiler,
#                  a bookworm root filesystem.
#   trixie-7.2     the trixie-backports kernel 7.2.12 and zfs-dkms 2.4.4 (the
#                  newest kernel that zfs 2.4.4 supports), modules built in a
#                  trixie chroot (the 7.x headers want gcc-14), a trixie root
#                  filesystem with zfsutils-linux 2.4.4; exact versions pinned
#                  below. Its apt lists are private (nothing is added to the
#                  host's apt sources).
#   trixie-kernel-X.Y.Z
#                  a trixie-backports kernel X.Y.Z (X.Y.Z-1~bpo13+1) alone, no
#                  OpenZFS, on a trixie root filesystem: for the kernel
#                  selftest's reproducers on other kernels (e.g. the last
#                  kernel with the short-splice loss, 7.0.13, and the first
#                  without, 7.1.3). The suite's zfs cases cannot run there.
# Idempotent: everything is cached in ${ZKTLS_VM_CACHE:-~/.cache/zktls-vm}
# (bookworm-6.12) or in its subdirectory named after the flavour, so a rerun
# with everything cached takes seconds. Progress goes to stderr; the last
# line on stdout is the artefact directory (vmlinuz, initrd.img, info).
# Exit 77 ("SKIP: ...") where the VM cannot be built on this host at all.
# (apt format strings are single-quoted and the word lists split on purpose)
# shellcheck disable=SC2016,SC2086,SC2012
set -euo pipefail

# trixie-7.2's packages, found once in the archive (zfs-dkms 2.4.4 declares
# linux-libc-dev (<< 7.3~); trixie-backports keeps several 7.2.x kernels).
TRIXIE_KVER=7.2.12+deb13-amd64
TRIXIE_KPKGVER=7.2.12-1~bpo13+1
TRIXIE_ZFSVER=2.4.4-1~bpo13+1

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${ZKTLS_VM_CACHE:-${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.cache/zktls-vm}
JOBS=$(nproc)
T0=$SECONDS

FLAVOUR=${ZKTLS_VM_FLAVOUR:-bookworm-6.12}
while [[ $# -gt 0 ]]; do
    case $1 in
        --flavour) [[ $# -ge 2 ]] || { echo "usage: $0 [--flavour NAME]" >&2; exit 2; }
                   FLAVOUR=$2; shift 2 ;;
        *) echo "usage: $0 [--flavour NAME]" >&2; exit 2 ;;
    esac
done
# What differs between flavours:
#   SUITE       Debian release of the guest (and of the kernel's backports)
#   FCACHE      the flavour's cache directory
#   KVER...     pinned kernel / zfs versions; empty: the newest in backports
#   APT         host: the host's apt (backports added to its sources);
#               private: apt lists of its own under FCACHE
#   KPACKAGING  image: linux-image-KVER-unsigned, modules under /lib;
#               split: linux-binary/-modules/-base-KVER, under /usr/lib
#   ZFS_BUILD   build_zfs (host compiler), build_zfs_chroot (SUITE's), or
#               none (a kernel alone)
#   SSL_PKG     the libssl.so.3 package that zktls links
case $FLAVOUR in
    bookworm-6.12)
        SUITE=bookworm FCACHE=$CACHE KVER="" KPKGVER="" ZFSVER="" APT=host
        KPACKAGING=image ZFS_BUILD=build_zfs SSL_PKG=libssl3 ;;
    trixie-7.2)
        SUITE=trixie FCACHE=$CACHE/$FLAVOUR APT=private
        KVER=$TRIXIE_KVER KPKGVER=$TRIXIE_KPKGVER ZFSVER=$TRIXIE_ZFSVER
        KPACKAGING=split ZFS_BUILD=build_zfs_chroot SSL_PKG=libssl3t64 ;;
    trixie-kernel-*)
        KV=${FLAVOUR#trixie-kernel-}
        [[ $KV =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
            { echo "vm-build: flavour '$FLAVOUR': want trixie-kernel-X.Y.Z" >&2; exit 2; }
        SUITE=trixie FCACHE=$CACHE/trixie-kernel APT=private
        KVER=$KV+deb13-amd64 KPKGVER=$KV-1~bpo13+1 ZFSVER=none
        KPACKAGING=split ZFS_BUILD=none SSL_PKG=libssl3t64 ;;
    *) echo "vm-build: unknown flavour '$FLAVOUR' (known: bookworm-6.12, trixie-7.2, trixie-kernel-X.Y.Z)" >&2; exit 2 ;;
esac
BACKPORTS=$SUITE-backports

# Guest userland on top of minbase (zfsutils-linux and its libraries are added
# from backports at the version of the zfs module).
# systemd-standalone-sysusers: else stunnel4 pulls in all of systemd.
GUEST_PKGS="kmod iproute2 iputils-ping procps psmisc lsof strace python3
  util-linux openssl $SSL_PKG ca-certificates socat stunnel4 tcpdump pv mbuffer
  openssh-server openssh-client coreutils time xxd bsdextrautils gawk bash file
  systemd-standalone-sysusers"
# Module directories (under lib/modules/$KVER/kernel) the guest never needs.
DROP_MODULES="sound drivers/accel drivers/ata drivers/atm drivers/bluetooth
  drivers/comedi drivers/firewire drivers/gnss drivers/gpio drivers/gpu
  drivers/hid drivers/hv drivers/hwmon drivers/i2c drivers/iio
  drivers/infiniband drivers/input drivers/isdn drivers/leds drivers/media
  drivers/memstick drivers/mfd drivers/mmc drivers/mtd drivers/nfc
  drivers/parport drivers/pcmcia drivers/pinctrl drivers/platform
  drivers/power drivers/rtc drivers/scsi drivers/soundwire drivers/spi
  drivers/staging drivers/target drivers/thunderbolt drivers/ufs drivers/usb
  drivers/video drivers/w1 drivers/watchdog drivers/xen
  drivers/net/arcnet drivers/net/can drivers/net/ethernet drivers/net/fddi
  drivers/net/hamradio drivers/net/ieee802154 drivers/net/plip
  drivers/net/slip drivers/net/usb drivers/net/wan drivers/net/wireless
  drivers/net/wwan net/atm net/bluetooth net/can net/ieee802154
  net/mac80211 net/mac802154 net/nfc net/wireless"
HOST_TOOLS="qemu-system-x86 mmdebstrap cpio kmod zstd gcc gcc-12 make curl
  libc6-dev binutils libelf1 gawk"

log() { printf '[vm-build %4ds] %s\n' $((SECONDS - T0)) "$*" >&2; }
die() { printf 'vm-build: ERROR: %s\n' "$*" >&2; exit 1; }
skip() { printf 'SKIP: %s\n' "$*"; exit 77; }
need_root() { [[ $EUID -eq 0 ]] || skip "building the test VM needs root (apt-get, mmdebstrap, mknod); $1"; }

[[ $(uname -m) == x86_64 ]] || skip "the test VM is x86_64 and its modules are built with the host compiler; host is $(uname -m)"

# --- apt: sources, one update at most, host tools --------------------------
# (apt is slow where its binary cache is disabled, as in Docker images: one
# indextargets and one apt-cache call, parsed here. No early exit from a
# pipeline's reader anywhere: with pipefail the writer's SIGPIPE would fail
# the pipeline at random.)
TARGETS=$(apt-get indextargets --format '$(RELEASE) $(COMPONENT) $(REPO_URI)')
repo_uri() {   # repo_uri SUITE DEFAULT: the host's mirror for that suite
    local u
    u=$(awk -v s="$1" '$1 == s && !n++ { print $3 }' <<<"$TARGETS")
    echo "${u:-$2}"
}
MIRROR=${ZKTLS_VM_MIRROR:-$(repo_uri bookworm http://deb.debian.org/debian/)}
SECURITY_MIRROR=${ZKTLS_VM_SECURITY_MIRROR:-$(repo_uri bookworm-security http://deb.debian.org/debian-security/)}

# Kernel and zfs-dkms packages come from BACKPORTS through the host's apt or
# through private lists (only BACKPORTS, main contrib) under FCACHE/apt.
APT_OPTS=()
if [[ $APT == private ]]; then
    APTDIR=$FCACHE/apt
    APT_OPTS=(-o "Dir::Etc::SourceList=$APTDIR/sources.list" -o Dir::Etc::SourceParts=-
              -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache=$APTDIR/cache"
              -o Dir::State::status=/dev/null -o APT::Sandbox::User=root)
fi
APT_UPDATED=
apt_update() {
    [[ -z $APT_UPDATED ]] || return 0
    need_root "apt-get update"
    if [[ $APT == private ]]; then
        mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
        echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $BACKPORTS main contrib" \
            > "$APTDIR/sources.list"
        log "apt-get update ($BACKPORTS, private lists in $APTDIR)"
    else
        log "apt-get update"
    fi
    apt-get "${APT_OPTS[@]}" update -q >&2 || die "apt-get update failed"
    APT_UPDATED=1
}

if [[ $APT == host ]]; then
    missing=
    for comp in main contrib; do
        grep "^$BACKPORTS $comp " <<<"$TARGETS" >/dev/null || missing+=" $comp"
    done
    if [[ -n $missing ]]; then
        need_root "adding $BACKPORTS to apt"
        log "adding apt source $BACKPORTS:$missing"
        cat > /etc/apt/sources.list.d/zktls-$BACKPORTS.sources <<EOF
Types: deb
URIs: $MIRROR
Suites: $BACKPORTS
Components:$missing
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        apt_update
    fi
fi

missing=
for p in $HOST_TOOLS; do
    [[ $(dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null) == "ii " ]] || missing+=" $p"
done
if [[ -n $missing ]]; then
    need_root "installing host tools:$missing"
    log "installing host tools:$missing"
    install_tools() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >&2; }
    if [[ $APT == host ]]; then
        install_tools || { apt_update; install_tools; } || die "cannot install host tools:$missing"
    else
        install_tools || { apt-get update -q >&2; install_tools; } || die "cannot install host tools:$missing"
    fi
fi

# --- versions: the backports kernel and zfs-dkms ---------------------------
field() {   # field PACKAGE FIELD: that field of PACKAGE's first record in $RECORDS
    awk -v p="$1" -v f="$2:" '$1 == "Package:" { pkg = $2 }
        pkg == p && $1 == f && !n++ { sub(/^[^:]*: */, ""); print }' <<<"$RECORDS"
}
resolve_versions() {   # the newest in BACKPORTS (flavours without pinned versions)
    local dep
    RECORDS=$(apt-cache show linux-image-amd64/$BACKPORTS zfs-dkms/$BACKPORTS \
        zfsutils-linux/$BACKPORTS 2>/dev/null) || true
    dep=$(field linux-image-amd64 Depends)   # linux-image-KVER (= PKGVER)
    KVER=$(sed -n 's/^linux-image-\([^ ,]*\) (= \([^)]*\)).*/\1/p' <<<"$dep")
    KPKGVER=$(sed -n 's/^linux-image-\([^ ,]*\) (= \([^)]*\)).*/\2/p' <<<"$dep")
    ZFSVER=$(field zfs-dkms Version)
    [[ -n $KVER && -n $KPKGVER && -n $ZFSVER && $(field zfsutils-linux Version) == "$ZFSVER" ]]
}
if [[ -z $KVER ]]; then
    resolve_versions || { apt_update; resolve_versions; } || die "no kernel, zfs-dkms or matching zfsutils-linux in $BACKPORTS"
fi
KABI=${KVER%-amd64}
ZFSUP=${ZFSVER%%-*}
# Where the kernel packages put things (KMODS, VMLINUZ: relative to their tree).
if [[ $KPACKAGING == split ]]; then
    # 7.x: linux-image-KVER is an empty meta package. The headers are only
    # unpacked for their Module.symvers (the chroot build installs its own).
    KPKGS="linux-binary-$KVER linux-modules-$KVER linux-base-$KVER linux-headers-$KVER"
    KMODS=usr/lib/modules/$KVER VMLINUZ=usr/lib/modules/$KVER/vmlinuz
    UNPACK=unpack_kernel_split
else
    KPKGS="linux-image-$KVER-unsigned linux-headers-$KVER linux-headers-$KABI-common linux-kbuild-$KABI"
    KMODS=lib/modules/$KVER VMLINUZ=boot/vmlinuz-$KVER
    UNPACK=unpack_kernel
fi

HASH=$(cat "$HERE/build.sh" "$HERE/init" | sha256sum | cut -c1-12)
ART=$FCACHE/vm/$KVER-zfs-$ZFSVER-$HASH
mkdir -p "$FCACHE"
exec 9>"$FCACHE/.lock"
flock 9   # one build at a time; concurrent callers wait and then reuse it
if [[ -f $ART/done ]]; then
    log "cached: $FLAVOUR, kernel $KVER, zfs $ZFSVER"
    echo "$ART"
    exit 0
fi
need_root "nothing cached for $FLAVOUR: kernel $KVER, zfs $ZFSVER, scripts $HASH"
log "building $FLAVOUR: kernel $KVER ($KPKGVER), zfs $ZFSVER, scripts $HASH"

# Library packages pinned by zfsutils-linux to its own version (all from
# BACKPORTS: else apt may mix in the release's own zfs libraries).
zfs_pkgs() {
    RECORDS=$(apt-cache "${APT_OPTS[@]}" show "zfsutils-linux=$ZFSVER" 2>/dev/null) || return 1
    ZFS_PKGS="zfsutils-linux=$ZFSVER $(field zfsutils-linux Depends | tr ',' '\n' |
        sed -n "s/^ *\([^ ]*\) (= $ZFSVER)$/\1=$ZFSVER/p" | tr '\n' ' ')"
    [[ $ZFS_PKGS == *" "*=* ]]
}
if [[ $ZFS_BUILD == none ]]; then
    ZFS_PKGS=
else
    zfs_pkgs || { apt_update; zfs_pkgs; } || die "zfsutils-linux $ZFSVER not found in $BACKPORTS"
fi

# --- downloads -------------------------------------------------------------
DEBS=$FCACHE/debs
deb() { compgen -G "$DEBS/${1}_${2}_*.deb" | head -n1; }   # deb PACKAGE VERSION
download() {
    local p need=()
    for p in $KPKGS; do [[ -n $(deb "$p" "$KPKGVER") ]] || need+=("$p=$KPKGVER"); done
    [[ $ZFS_BUILD == none || -n $(deb zfs-dkms "$ZFSVER") ]] || need+=("zfs-dkms=$ZFSVER")
    [[ ${#need[@]} -eq 0 ]] && return 0
    log "downloading ${need[*]}"
    mkdir -p "$DEBS"
    (cd "$DEBS" && apt-get "${APT_OPTS[@]}" download -q -o APT::Sandbox::User=root "${need[@]}" >&2)
}
# Older backports kernels (7.0.13, 7.1.3) keep their .debs in the pool while
# the index lists only linux-binary/-image: a kernel-only flavour fetches
# the rest from the pool over https (no index hash to check them against).
pool_download() {
    local p u
    [[ $ZFS_BUILD == none ]] || return 1
    for p in $KPKGS; do
        [[ -z $(deb "$p" "$KPKGVER") ]] || continue
        u=https://deb.debian.org/debian/pool/main/l/linux/${p}_${KPKGVER}_amd64.deb
        [[ $p == linux-binary-* ]] &&
            u=https://deb.debian.org/debian/pool/main/l/linux-signed-amd64/${p}_${KPKGVER}_amd64.deb
        log "downloading $u"
        curl -fsS -o "$DEBS/${p}_${KPKGVER//:/%3a}_amd64.deb.part" "$u" &&
            mv "$DEBS/${p}_${KPKGVER//:/%3a}_amd64.deb.part" "$DEBS/${p}_${KPKGVER//:/%3a}_amd64.deb" || return 1
    done
}
download || { apt_update; download; } || pool_download || die "apt-get download failed"

# Each intermediate stage is cached under a key made of its inputs and of the
# text of the function that builds it.
key() { declare -f "$1" | sha256sum | cut -c1-8; }

# --- kernel: image, modules, headers (private tree) ------------------------
unpack_kernel() {   # unpack_kernel DIR
    local p
    for p in $KPKGS; do dpkg-deb -x "$(deb "$p" "$KPKGVER")" "$1"; done
    # The headers' Makefile includes the -common tree by absolute path.
    sed -i "s#^include /usr/src/#include $1/usr/src/#" "$1/usr/src/linux-headers-$KVER/Makefile"
    # Without vmlinux, kbuild skips BTF for out-of-tree modules (not needed; faster).
    rm -f "$1/usr/src/linux-headers-$KVER/vmlinux"
}
unpack_kernel_split() {   # unpack_kernel_split DIR
    local p
    for p in $KPKGS; do dpkg-deb -x "$(deb "$p" "$KPKGVER")" "$1"; done
}
KTREE=$FCACHE/kernel/${KVER}_$KPKGVER-$(key $UNPACK)
if [[ ! -f $KTREE/done ]]; then
    log "unpacking kernel packages"
    rm -rf "$KTREE"
    mkdir -p "$KTREE"
    $UNPACK "$KTREE"
    touch "$KTREE/done"
fi
KHDR=$KTREE/usr/src/linux-headers-$KVER

WORK=$FCACHE/work
# --one-file-system: never follow a mount a killed mmdebstrap left in its chroot.
rm -rf --one-file-system "$WORK"
mkdir -p "$WORK"
ROOT=$WORK/rootfs

# --- guest root filesystem (runs in the background while zfs compiles) -----
build_rootfs() {
    local apt_cache=$FCACHE/apt-archives
    mkdir -p "$apt_cache"
    # Cached .debs are synced in and, with the new ones, out again.
    mmdebstrap --variant=minbase --mode=root \
        --include="$(echo $GUEST_PKGS $ZFS_PKGS | tr ' ' ',')" \
        --skip=essential/unlink \
        --setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
        --setup-hook="sync-in $apt_cache /var/cache/apt/archives" \
        --customize-hook="sync-out /var/cache/apt/archives $apt_cache" \
        $SUITE "$ROOT" \
        "deb $MIRROR $SUITE main contrib" \
        "deb $MIRROR $SUITE-updates main contrib" \
        "deb $SECURITY_MIRROR $SUITE-security main contrib" \
        "deb $MIRROR $BACKPORTS main contrib"
    rm -f "$apt_cache"/lock
    # (Deleted here rather than with dpkg path-exclude, which makes mmdebstrap
    # filter every essential package through a python script: +15 s.)
    rm -rf "$ROOT"/usr/share/{doc,man,info,locale}
    install_modules
    echo zktls-vm > "$ROOT/etc/hostname"
    mkdir -p "$ROOT/mnt/host"
    [[ -e $ROOT/dev/console ]] || mknod -m 600 "$ROOT/dev/console" c 5 1
    install -m 755 "$HERE/init" "$ROOT/init"
}
install_modules() {   # a slimmed copy of the kernel's modules, closed under dependencies
    local m=$ROOT/lib/modules/$KVER bad
    mkdir -p "$m"
    cp -a "$KTREE/$KMODS/." "$m/"
    rm -f "$m/build" "$m/source" "$m/vmlinuz"
    (cd "$m/kernel" && rm -rf $DROP_MODULES)
    while bad=$(depmod -b "$ROOT" -e -E "$KHDR/Module.symvers" "$KVER" 2>&1 |
            sed -n 's/^depmod: WARNING: \(.*\.ko[^ ]*\) needs unknown symbol.*/\1/p' | sort -u)
          [[ -n $bad ]]; do
        xargs rm -f <<<"$bad"
    done
}
log "building the root filesystem in the background (log: $WORK/rootfs.log)"
# Niced: the zfs build is the critical path; this fills its idle moments.
(renice -n 15 -p $BASHPID >/dev/null || true; build_rootfs) > "$WORK/rootfs.log" 2>&1 &
ROOTFS_PID=$!

# --- OpenZFS modules --------------------------------------------------------
build_zfs() {   # build_zfs OUTDIR
    local src=$WORK/zfs
    dpkg-deb -x "$(deb zfs-dkms "$ZFSVER")" "$src"
    cd "$src/usr/src/zfs-$ZFSUP"
    # -g0: no debug info (it is stripped anyway); configure runs ~20% faster.
    export KCFLAGS=-g0
    ./configure --with-config=kernel --with-linux="$KHDR" --with-linux-obj="$KHDR"
    make -j"$JOBS"
    strip --strip-debug module/spl.ko module/zfs.ko
    cp module/spl.ko module/zfs.ko "$1/"
    cd /
    rm -rf "$src"
}
# In a throwaway SUITE chroot (mmdebstrap, output discarded) with the kernel's
# headers installed by its apt: their compiler (gcc-14 for 7.x) and kbuild
# tools are built for SUITE, not for the host. --with-linux is the -common
# tree and --with-linux-obj the flavour's, as zfs's dkms.conf does (the
# flavour's for both fails on 7.2: "Macro 'stack_frame_non_standard' was
# already defined"). vmlinux goes as in unpack_kernel: with -g0, pahole
# would fail on every module.
build_zfs_chroot() {   # build_zfs_chroot OUTDIR
    local src=$WORK/zfs apt_cache=$FCACHE/apt-archives-build z=/usr/src/zfs-$ZFSUP
    local m=/usr/lib/modules/$KVER
    dpkg-deb -x "$(deb zfs-dkms "$ZFSVER")" "$src"
    mkdir -p "$apt_cache"
    mmdebstrap --variant=minbase --mode=root \
        --include="gcc,make,libc6-dev,linux-headers-$KVER=$KPKGVER" \
        --skip=essential/unlink \
        --setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
        --setup-hook="sync-in $apt_cache /var/cache/apt/archives" \
        --customize-hook="sync-out /var/cache/apt/archives $apt_cache" \
        --customize-hook="copy-in $src$z /usr/src" \
        --customize-hook="chroot \"\$1\" sh -exc 'date -u +%T; cd $z
            rm -f $m/build/vmlinux
            export KCFLAGS=-g0
            ./configure --with-config=kernel --with-linux=$m/source --with-linux-obj=$m/build
            make -j$JOBS
            strip --strip-debug module/spl.ko module/zfs.ko; date -u +%T'" \
        --customize-hook="copy-out $z/module/spl.ko $z/module/zfs.ko $1" \
        $SUITE /dev/null \
        "deb $MIRROR $SUITE main" \
        "deb $MIRROR $BACKPORTS main"
    rm -f "$apt_cache"/lock
    rm -rf "$src"
}
ZFSMOD=
[[ $ZFS_BUILD == none ]] || ZFSMOD=$FCACHE/zfs/${KVER}_$KPKGVER-zfs-$ZFSVER-$(key $ZFS_BUILD)
if [[ -n $ZFSMOD && ! -f $ZFSMOD/done ]]; then
    log "building zfs $ZFSVER modules ($ZFS_BUILD, make -j$JOBS; log: $ZFSMOD/build.log)"
    rm -rf "$ZFSMOD"
    mkdir -p "$ZFSMOD"
    # (In the background so that errexit holds inside: an "if !" would disable it.)
    $ZFS_BUILD "$ZFSMOD" > "$ZFSMOD/build.log" 2>&1 &
    if ! wait $!; then
        tail -n 40 "$ZFSMOD/build.log" >&2
        die "zfs module build failed (full log: $ZFSMOD/build.log)"
    fi
    want=$(modinfo -F vermagic "$KTREE/$KMODS/kernel/net/tls/tls.ko"*)
    for ko in spl zfs; do
        got=$(modinfo -F vermagic "$ZFSMOD/$ko.ko")
        [[ $got == "$want" ]] || die "$ko.ko vermagic '$got' != kernel's '$want'"
    done
    touch "$ZFSMOD/done"
fi
[[ -z $ZFSMOD ]] || log "zfs modules ready: $ZFSMOD"

if ! wait "$ROOTFS_PID"; then
    tail -n 40 "$WORK/rootfs.log" >&2
    die "root filesystem build failed (full log: $WORK/rootfs.log)"
fi
log "root filesystem ready"

# --- zfs into the guest, final module check, pack ---------------------------
GUEST_MODS="tls 9p 9pnet_virtio veth"
if [[ -n $ZFSMOD ]]; then
    mkdir -p "$ROOT/lib/modules/$KVER/updates/dkms"
    cp "$ZFSMOD/spl.ko" "$ZFSMOD/zfs.ko" "$ROOT/lib/modules/$KVER/updates/dkms/"
    GUEST_MODS+=" zfs spl"
fi
warn=$(depmod -b "$ROOT" -e -E "$KHDR/Module.symvers" "$KVER" 2>&1) || die "depmod failed: $warn"
[[ -z $warn ]] || die "depmod reports problems: $warn"
for mod in $GUEST_MODS; do
    modprobe -d "$ROOT" -S "$KVER" --show-depends "$mod" >/dev/null || die "module $mod missing from the guest"
done
# The module indexes are written by the guest's own kmod, which reads them
# (newer than the host's where the guest's release is).
chroot "$ROOT" depmod "$KVER" || die "the guest's depmod failed"

rm -rf "$ART.tmp"
mkdir -p "$ART.tmp"
log "packing initrd.img"
(cd "$ROOT" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
    cpio --null --create --format=newc --quiet) | zstd -q -T0 -o "$ART.tmp/initrd.img"
# (7.0 and 7.1's signed linux-binary still put it under /boot)
[[ -f $KTREE/$VMLINUZ ]] || VMLINUZ=boot/vmlinuz-$KVER
cp "$KTREE/$VMLINUZ" "$ART.tmp/vmlinuz"
cat > "$ART.tmp/info" <<EOF
KVER=$KVER
KPKGVER=$KPKGVER
ZFSVER=$ZFSVER
SCRIPTS_HASH=$HASH
ROOTFS_BYTES=$(du -sb "$ROOT" | cut -f1)
EOF
cp "$WORK/rootfs.log" ${ZFSMOD:+"$ZFSMOD/build.log"} "$ART.tmp/"
touch "$ART.tmp/done"
rm -rf "$ART"
mv "$ART.tmp" "$ART"
rm -rf --one-file-system "$WORK"
# Keep the three newest artefacts.
ls -1dt "$FCACHE"/vm/*/ | tail -n +4 | xargs -r rm -rf
log "done: $(du -sh "$ART/initrd.img" | cut -f1) initrd, $FLAVOUR, kernel $KVER, zfs $ZFSVER"
echo "$ART"
