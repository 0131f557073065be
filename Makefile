# zktls - ZFS replication over mutually-authenticated TLS 1.3 with kernel TLS.
#
#   make             build ./zktls
#   make check       install test dependencies (Debian), run every test
#   make demo        replicate a dataset over kernel TLS in the test VM
#   make bench       userspace plane vs socat/stunnel/TCP on loopback; serve
#                    setup time and concurrent streams
#   make bench-vm    every plane vs socat/ssh inside the test VM
#   make fuzz        build the libFuzzer targets (clang)
#   make install     PREFIX=/usr/local DESTDIR= (program, man pages,
#                    systemd units, sysusers.d/tmpfiles.d entries, bash
#                    completion, examples); make uninstall removes them
#   make deb         zktls_VERSION_ARCH.deb (dpkg-buildpackage, debhelper)

CC       ?= cc
PKG_CONFIG ?= pkg-config
PREFIX   ?= /usr/local
SBINDIR  ?= $(PREFIX)/sbin
MANDIR   ?= $(PREFIX)/share/man

WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2
CFLAGS   ?= -O2 -g
ZK_CFLAGS = -std=c11 -D_GNU_SOURCE -pthread $(WARN) -Isrc $(CFLAGS) \
            $(shell $(PKG_CONFIG) --cflags openssl)
LIBS      = $(shell $(PKG_CONFIG) --libs openssl) -pthread

OS       := $(shell uname -s)
KTLS     ?= $(if $(filter Linux,$(OS)),linux,none)
KTLS_SRC := src/ktls_$(KTLS).c src/os_$(KTLS).c
# The kernel planes, where the OS has kernel TLS.
PLANES_linux := src/plane_kernel.c src/plane_rw.c src/plane_splice.c \
                src/plane_direct.c
LIB_SRC  := src/err.c src/log.c src/util.c src/net.c src/conn.c src/tls.c \
            src/tlskeys.c src/tlsrec.c src/certinfo.c src/cipher.c src/state.c src/control.c src/proto.c src/zfs.c src/child.c src/endpoint.c src/session.c \
            src/policy.c src/conf.c src/privsep.c src/plane.c src/plane_user.c src/upipe.c $(PLANES_$(KTLS)) \
            src/sync_plan.c src/sync_filter.c src/sync_metrics.c src/retain.c src/prune.c src/tree.c src/sessmsg.c \
            $(KTLS_SRC)
UNIT     := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))

B        ?= build/release

# The version: VERSION (debian/changelog agrees; tests/deb/host_pos.sh).
VERSION  := $(shell cat VERSION)

.PHONY: splice-repro all check check-host check-vm deps asan fuzz bench bench-vm demo none \
        stress-vm install uninstall deb clean format

all: zktls

zktls: $(B)/zktls
	cp $< $@

$(B)/%.o: src/%.c $(wildcard src/*.h)
	@mkdir -p $(B)
	$(CC) $(ZK_CFLAGS) -c $< -o $@

$(B)/main.o: VERSION
$(B)/main.o: ZK_CFLAGS += -DZKTLS_VERSION='"$(VERSION)"'

$(B)/libzk.a: $(patsubst src/%.c,$(B)/%.o,$(LIB_SRC))
	rm -f $@
	ar rcs $@ $^

$(B)/zktls: $(B)/main.o $(B)/cli.o $(B)/cmd_xfer.o $(B)/cmd_serve.o $(B)/cmd_list.o \
		$(B)/cmd_sync.o $(B)/cmd_cert.o $(B)/cmd_status.o \
		$(B)/libzk.a
	$(CC) $(ZK_CFLAGS) $(LDFLAGS) $^ -o $@ $(LIBS)

$(B)/test_%: tests/unit/test_%.c $(B)/libzk.a tests/unit/t.h
	$(CC) $(ZK_CFLAGS) $< $(B)/libzk.a -o $@ $(LIBS)

# Test tools: tlspeer, a TLS 1.3 peer that writes its own records.
$(B)/tlspeer: tests/tools/tlspeer.c src/proto.c src/proto.h
	@mkdir -p $(B)
	$(CC) $(ZK_CFLAGS) tests/tools/tlspeer.c src/proto.c -o $@ $(LIBS)

units: $(addprefix $(B)/,$(UNIT)) $(B)/tlspeer

# The kernel TLS selftest, run inside the test VM (static: the guest has
# no compiler; no OpenSSL: it brings stand-ins for what it does not test).
SELFTEST_SRC := tests/vm/ktls_selftest.c src/ktls_linux.c src/err.c \
                src/util.c src/log.c src/endpoint.c src/child.c \
                src/zfs.c src/tree.c src/net.c src/os_linux.c $(PLANES_linux)
build/vm/ktls_selftest: $(SELFTEST_SRC) $(wildcard src/*.h) tests/unit/t.h
	@mkdir -p build/vm
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g -static -Isrc -Itests/unit \
		$(SELFTEST_SRC) -o $@

# AddressSanitizer + UndefinedBehaviorSanitizer build of everything.
asan:
	$(MAKE) B=build/asan CFLAGS="-O1 -g -fsanitize=address,undefined \
		-fno-omit-frame-pointer -fno-sanitize-recover=all" \
		build/asan/zktls $(addprefix build/asan/,$(UNIT))

FUZZ_CC = clang -std=c11 -D_GNU_SOURCE -pthread -g -O1 -Isrc \
	-fsanitize=fuzzer,address,undefined
fuzz: build/fuzz/fuzz_proto build/fuzz/fuzz_tlsrec build/fuzz/fuzz_conf \
	build/fuzz/fuzz_monitor build/fuzz/fuzz_state build/fuzz/fuzz_sessmsg

build/fuzz/fuzz_proto: fuzz/fuzz_proto.c src/proto.c src/proto.h src/tree.c \
		src/tree.h src/err.c
	@mkdir -p build/fuzz
	$(FUZZ_CC) $< src/proto.c src/tree.c src/err.c -o $@

build/fuzz/fuzz_tlsrec: fuzz/fuzz_tlsrec.c src/tlsrec.c src/tlsrec.h \
		src/tlskeys.c src/err.c src/util.c src/zktls.h
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(shell $(PKG_CONFIG) --cflags openssl) $< src/tlsrec.c \
		src/tlskeys.c src/err.c src/util.c -o $@ $(LIBS)

CONF_FUZZ_SRC := src/conf.c src/err.c src/util.c src/net.c src/zfs.c src/tree.c src/child.c src/policy.c src/retain.c \
                 src/privsep.c src/os_$(KTLS).c \
                 src/endpoint.c src/log.c src/plane.c src/plane_user.c src/upipe.c \
                 src/tlsrec.c src/tlskeys.c src/tls.c src/cipher.c src/ktls_$(KTLS).c \
                 $(PLANES_$(KTLS))
build/fuzz/fuzz_conf: fuzz/fuzz_conf.c $(CONF_FUZZ_SRC) $(wildcard src/*.h)
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(shell $(PKG_CONFIG) --cflags openssl) $< \
		$(CONF_FUZZ_SRC) -o $@ $(LIBS)

build/fuzz/fuzz_monitor: fuzz/fuzz_monitor.c $(CONF_FUZZ_SRC) $(wildcard src/*.h)
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(shell $(PKG_CONFIG) --cflags openssl) $< \
		$(CONF_FUZZ_SRC) -o $@ $(LIBS)

build/fuzz/fuzz_state: fuzz/fuzz_state.c src/state.c src/certinfo.c src/zfs.c \
		src/tree.c src/err.c src/util.c src/log.c src/child.c src/state.h
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(shell $(PKG_CONFIG) --cflags openssl) $< src/state.c \
		src/certinfo.c src/zfs.c src/tree.c src/err.c src/util.c src/log.c \
		src/child.c -o $@ $(LIBS)

build/fuzz/fuzz_sessmsg: fuzz/fuzz_sessmsg.c src/sessmsg.c src/sessmsg.h \
		src/state.c src/certinfo.c src/zfs.c src/tree.c src/err.c \
		src/util.c src/log.c src/child.c src/state.h
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(shell $(PKG_CONFIG) --cflags openssl) $< src/sessmsg.c \
		src/state.c src/certinfo.c src/zfs.c src/tree.c src/err.c \
		src/util.c src/log.c src/child.c -o $@ $(LIBS)

deps:
	tests/deps.sh

# The README's test command: installs what it needs, runs everything.
# (tests/run --build: deps, then the builds, then every test; it times
# each phase and runs the host tests and both VM suites side by side.)
check:
	tests/run --build

# The same program for an OS without a kernel TLS port (user plane only):
# proves that nothing outside ktls_<os>.c and os_<os>.c is Linux-only.
none:
	$(MAKE) KTLS=none B=build/none build/none/zktls

check-host: all units asan fuzz deb
	tests/run --host-only

check-vm: all units build/vm/ktls_selftest deb
	tests/run --vm-only

bench: deps
	$(MAKE) all
	bench/bench.sh
	bench/bench-serve.sh

bench-vm: deps all
	tests/vm/run.sh -- bench/bench-vm.sh
	tests/vm/run.sh -- bench/bench-vm-tree.sh

# The short receive-splice loss (docs/kernel-tls-notes.md) on the last
# Debian kernel that has it (7.0.13) and the first that does not (7.1.3):
# kernel-only VMs, the selftest's slow-consumer part.  Not part of check.
SPLICE_REPRO_KERNELS ?= 7.0.13 7.1.3
splice-repro: deps build/vm/ktls_selftest
	@mkdir -p build/vm
	for k in $(SPLICE_REPRO_KERNELS); do \
		ZKTLS_VM_FLAVOUR=trixie-kernel-$$k tests/vm/ktls_selftest.sh \
			20 slow-consumer >build/vm/splice-repro-$$k.log 2>&1 \
			|| { tail -n 30 build/vm/splice-repro-$$k.log; exit 1; }; \
		echo "== $$k (build/vm/splice-repro-$$k.log)"; \
		grep -aE 'probe ok|short in|checks' build/vm/splice-repro-$$k.log; \
	done

stress-vm: deps all
	tests/vm/run.sh -- tests/vm/stress.sh

demo: deps all
	tests/vm/demo.sh

# Install and uninstall (the same list of files both ways).  Directories
# that systemd and bash-completion define come from their pkg-config
# files where those are installed, else they follow PREFIX.
pcvar     = $(shell $(PKG_CONFIG) --variable=$(1) $(2) 2>/dev/null)
either = $(if $(1),$(1),$(2))
CONFDIR  ?= /etc/zktls
DOCDIR   ?= $(PREFIX)/share/doc/zktls
UNITDIR  ?= $(call either,$(call pcvar,systemdsystemunitdir,systemd),$(PREFIX)/lib/systemd/system)
SYSUSERSDIR ?= $(call either,$(call pcvar,sysusersdir,systemd),$(PREFIX)/lib/sysusers.d)
TMPFILESDIR ?= $(call either,$(call pcvar,tmpfilesdir,systemd),$(PREFIX)/lib/tmpfiles.d)
BASHCOMPDIR ?= $(call either,$(call pcvar,completionsdir,bash-completion),$(PREFIX)/share/bash-completion/completions)
UNITS     = zktls.service zktls-sync@.service zktls-sync@.timer
# FILE-IN-REPO:MODE:INSTALLED-PATH (units: from contrib/UNIT.in, with the
# program's path filled in)
INSTALL_FILES = \
	zktls:755:$(SBINDIR)/zktls \
	man/zktls.8:644:$(MANDIR)/man8/zktls.8 \
	man/zktls.conf.5:644:$(MANDIR)/man5/zktls.conf.5 \
	$(foreach u,$(UNITS),build/units/$(u):644:$(UNITDIR)/$(u)) \
	contrib/zktls.sysusers:644:$(SYSUSERSDIR)/zktls.conf \
	contrib/zktls.tmpfiles:644:$(TMPFILESDIR)/zktls.conf \
	contrib/zktls.bash-completion:644:$(BASHCOMPDIR)/zktls \
	contrib/zktls.conf.example:644:$(DOCDIR)/examples/zktls.conf \
	contrib/sync.d.example:644:$(DOCDIR)/examples/sync.d/home

build/units/%: contrib/%.in Makefile
	@mkdir -p build/units
	sed 's|@SBINDIR@|$(SBINDIR)|g' $< >$@

install: zktls $(addprefix build/units/,$(UNITS))
	@set -e; for f in $(INSTALL_FILES); do \
		src=$${f%%:*}; rest=$${f#*:}; mode=$${rest%%:*}; dst=$${rest#*:}; \
		echo "install $$src $(DESTDIR)$$dst"; \
		install -D -m $$mode $$src "$(DESTDIR)$$dst"; \
	done

# Removes exactly what install put there, then the directories of our
# own that are left empty (never a shared one such as man8).
uninstall:
	@for f in $(INSTALL_FILES); do \
		dst=$${f#*:}; dst=$${dst#*:}; \
		rm -f "$(DESTDIR)$$dst" && echo "rm $(DESTDIR)$$dst"; \
	done; \
	rmdir "$(DESTDIR)$(DOCDIR)/examples/sync.d" "$(DESTDIR)$(DOCDIR)/examples" \
		"$(DESTDIR)$(DOCDIR)" 2>/dev/null; true

# The Debian package, built by dpkg-buildpackage from a copy of the tree
# (build/deb/zktls-VERSION: the repository stays clean), then copied here.
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB      := zktls_$(VERSION)_$(DEB_ARCH).deb
# What the package is built from: the tree as git sees it (tracked and
# new files; not what .gitignore ignores), or every file but build/ out of
# git; less the tests.
DEB_SRC  := $(wildcard $(shell \
	if [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ]; then \
		git ls-files -co --exclude-standard; \
	else find . -path ./build -prune -o -type f ! -name '*.deb' -print | sed 's|^\./||'; fi | \
	grep -v '^tests/\|^bench/\|^fuzz/\|^\.ci/\|^\.git'))

deb: $(DEB)

$(DEB): $(DEB_SRC)
	tests/deps.sh deb
	rm -rf build/deb && mkdir -p build/deb/zktls-$(VERSION)
	tar cf - $(DEB_SRC) | tar xf - -C build/deb/zktls-$(VERSION)
	cd build/deb/zktls-$(VERSION) && \
		dpkg-buildpackage -us -uc -b -j2 >../build.log 2>&1 || \
		{ tail -n 40 ../build.log; exit 1; }
	cp build/deb/$(DEB) $@
	@echo "$@ (log: build/deb/build.log)"

format:
	clang-format -i src/*.c src/*.h tests/unit/*.c fuzz/*.c

clean:
	rm -rf build zktls zktls_*.deb
