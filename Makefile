# tcpsight: sudo make run | sudo make test | make bench
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

PKGS := libbpf libmnl libelf zlib libzstd
# Only tcpsightd's HTTP server links these.
SINK_LIBS = $(shell pkg-config --libs libmicrohttpd 2>/dev/null) -lpthread
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
CFLAGS += -Wall -Wextra -Werror -std=gnu11 -Ibuild $(PKG_CFLAGS) $(EXTRA_CFLAGS)
# Header dependencies as the compiler sees them, not as globs guess them.
DEPFLAGS = -MMD -MP
LDLIBS += $(PKG_LIBS) -lm

# Everything build, tests and bench need, from Debian.
DEB_PKGS := clang llvm libbpf-dev libmnl-dev libelf-dev zlib1g-dev bpftool \
	pkg-config iproute2 nftables python3 valgrind libbpf-tools make gcc gnuplot-nox bpftrace \
	qemu-system-x86 busybox-static kmod cpio xz-utils zstd \
	libmicrohttpd-dev libzstd-dev prometheus curl tmux systemd

B ?= build
# Where the tools land: the repository root, or a sanitizer build's dir.
OUT ?= .
COMMON := $(B)/session.o $(B)/payload.o $(B)/output.o $(B)/opts.o $(B)/attach.o \
	$(B)/hooks.o $(B)/cgroup.o $(B)/budget.o
POLLER := $(B)/poller.o $(B)/owners.o
TRACER := $(B)/tracer.o $(B)/tracemode.o $(B)/tcpiter.o
# The engine's daemon sinks wrap these (engine/sink_metrics.c, sink_archive.c).
SINKS := $(B)/metrics.o $(B)/jsonl.o
ENGINE_OBJS := $(patsubst engine/%.c,$(B)/%.o,$(wildcard engine/*.c))
ENGINE := $(ENGINE_OBJS) $(COMMON) $(POLLER) $(TRACER) $(SINKS)
SKELS := $(B)/tcpclose.skel.h $(B)/tcptrace.skel.h $(B)/tcpiter.skel.h
TOOLS := $(OUT)/tcptop $(OUT)/tcplife $(OUT)/tcpsightd
TESTS := $(B)/test_session $(B)/test_parser $(B)/test_poller $(B)/capture_dump $(B)/cycles \
	$(B)/test_sinks
BENCH := bench/tcpload bench/baredump bench/pollbench

.SECONDARY:
.PHONY: all deps run test bench clean fuzz asan-test test-kernels install
all: $(TOOLS)

# Only when something is missing: a machine that has it all stays offline.
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

run: deps
	$(MAKE) all
	./tcptop

$(B):
	mkdir -p $@

# vmlinux.h is generated from this machine's BTF, not committed: CO-RE
# relocates against the running kernel anyway, and a 3 MB generated header
# in the tree would only go stale.
bpf/vmlinux.h:
	@test -r /sys/kernel/btf/vmlinux || { echo "kernel has no BTF (/sys/kernel/btf/vmlinux): cannot build the BPF side" >&2; exit 1; }
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(B)/%.bpf.o: bpf/%.bpf.c bpf/tcpsight.h bpf/sock_tuple.bpf.h bpf/vmlinux.h | $(B)
	$(CLANG) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) -Ibpf -c $< -o $@

$(B)/%.skel.h: $(B)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@.tmp && mv $@.tmp $@

$(B)/%.o: common/%.c | $(B)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@
$(B)/%.o: poller/%.c | $(B)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@
$(B)/%.o: tracer/%.c $(SKELS) | $(B)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@
$(B)/%.o: engine/%.c $(SKELS) | $(B)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@
$(B)/%.o: tools/%.c $(SKELS) | $(B)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@
$(B)/%.o: sinks/%.c | $(B)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@
$(B)/%.o: tests/%.c $(SKELS) | $(B)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(OUT)/tcptop: $(B)/tcptop.o $(ENGINE)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(OUT)/tcplife: $(B)/tcplife.o $(ENGINE)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(OUT)/tcpsightd: $(B)/tcpsightd.o $(ENGINE) $(B)/http.o
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(SINK_LIBS)

$(B)/test_session: $(B)/test_session.o $(COMMON)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(B)/test_sinks: $(B)/test_sinks.o $(SINKS) $(B)/http.o $(COMMON)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(SINK_LIBS)
$(B)/test_parser: $(B)/test_parser.o $(COMMON) $(POLLER)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(B)/test_poller: $(B)/test_poller.o $(COMMON) $(POLLER)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(B)/capture_dump: $(B)/capture_dump.o $(COMMON) $(POLLER)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(B)/cycles: $(B)/cycles.o $(ENGINE)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

bench/tcpload: bench/tcpload.c
	$(CC) $(CFLAGS) $< -o $@ -lpthread
bench/baredump: bench/baredump.c
	$(CC) $(CFLAGS) $< -o $@ $(PKG_LIBS)
bench/pollbench: $(B)/pollbench.o $(COMMON) $(POLLER)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(B)/pollbench.o: bench/pollbench.c | $(B)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

test: deps
	$(MAKE) all $(TESTS) $(BENCH) $(B)/fuzz_parser $(B)/fuzz_acct
	tests/run
	$(MAKE) asan-test

# The suite on this kernel, then under Debian's kernels in qemu (their
# packages are fetched into build/kernels/): see tests/kernels/README.md.
# HOST_OUTPUT=FILE: this machine's row from a tests/run output already made.
KERNELS ?= 6.1 6.12
test-kernels: deps
	$(MAKE) all $(TESTS) $(BENCH)
	$(if $(GUEST_TESTS),TESTS="$(GUEST_TESTS)") \
	tests/kernels/run $(foreach k,$(KERNELS),--kernel $(k)) $(if $(NO_HOST),--no-host) \
		$(if $(HOST_OUTPUT),--host-output $(HOST_OUTPUT))

bench: deps
	$(MAKE) all $(BENCH)
	bench/run-bench $(if $(QUICK),--quick)
	bench/netns-cost $(if $(QUICK),--quick)

# Sanitizer build of everything, in its own directory, then the unit and
# parser tests and the core integration tests against it.
ASAN_TESTS := hybrid_loopback_v4 life_loopback_v4 trace_loopback poll_loopback_v4 small_ring bad_options broken_pipe signals no_btf \
	session_keys owner_of_reset nothing_left netns_all_hybrid netns_born cgroup_filter_in_kernel \
	prometheus jsonl_exact disk_full
ASAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan-test:
	$(MAKE) B=build-asan OUT=build-asan EXTRA_CFLAGS="$(ASAN)" LDLIBS="$(ASAN) $(PKG_LIBS) -lm" \
		build-asan/tcptop build-asan/tcplife build-asan/tcpsightd build-asan/test_session \
		build-asan/test_parser build-asan/test_poller build-asan/cycles build-asan/test_sinks
	TCPSIGHT_BUILD=build-asan TCPSIGHT_BIN=build-asan TESTS="$(ASAN_TESTS)" tests/run

# libFuzzer: clang only.  Each target runs FUZZ_SECONDS on a scratch copy of
# its seed corpus (tests/fuzz/corpus), so the tree stays clean.
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -Ibuild $(PKG_CFLAGS)
$(B)/fuzz_parser: tests/fuzz/fuzz_parser.c common/session.c common/payload.c common/cgroup.c poller/poller.c | $(B)
	$(CLANG) $(FUZZ_FLAGS) $^ -o $@ -lmnl
$(B)/fuzz_acct: tests/fuzz/fuzz_acct.c common/session.c common/payload.c | $(B)
	$(CLANG) $(FUZZ_FLAGS) $^ -o $@
fuzz: $(B)/fuzz_parser $(B)/fuzz_acct
	tests/fuzz/run $(FUZZ_SECONDS)

# Like a system tool: make install PREFIX=/usr/local DESTDIR=
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/tcpsight
UNITDIR ?= $(PREFIX)/lib/systemd/system
install: deps
	$(MAKE) all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(UNITDIR)
	install -m 0755 tcptop tcplife tcpsightd $(DESTDIR)$(SBINDIR)
	install -m 0644 man/tcptop.8 man/tcplife.8 man/tcpsightd.8 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 man/*_example.txt $(DESTDIR)$(DOCDIR)/examples
	sed 's|@SBINDIR@|$(SBINDIR)|g' dist/tcpsightd.service.in > $(DESTDIR)$(UNITDIR)/tcpsightd.service.tmp
	mv $(DESTDIR)$(UNITDIR)/tcpsightd.service.tmp $(DESTDIR)$(UNITDIR)/tcpsightd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tcpsightd.service

clean:
	rm -rf $(B) build-asan tcptop tcplife tcpsightd $(BENCH) bpf/vmlinux.h

-include $(wildcard $(B)/*.d)
