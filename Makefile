# libkapreload: an LD_PRELOAD shim that turns on TCP keepalive.
# Targets: all test demo bench fuzz check-sanitize install uninstall clean

VERSION    = 0.1.0

PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
BINDIR     ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec
SYSCONFDIR ?= /etc
DOCDIR     ?= $(PREFIX)/share/doc/libkapreload
DESTDIR    ?=

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
DEFS     = -D_GNU_SOURCE -DKAP_VERSION='"$(VERSION)"' -DKAP_SYSCONFDIR='"$(SYSCONFDIR)"'
ALL_CFLAGS = -std=c11 $(WARN) $(DEFS) $(CFLAGS)

# Build output lives here; check-sanitize uses its own folder.
B ?= build

# The parser is pure and shared by the library, the unit tests and the fuzzer.
PARSER_SRCS = src/config.c src/values.c src/rules.c
LIB_SRCS    = src/wrappers.c src/policy.c src/init.c src/log.c src/real.c $(PARSER_SRCS)
LIB_OBJS    = $(LIB_SRCS:src/%.c=$(B)/obj/%.o)
PARSER_OBJS = $(PARSER_SRCS:src/%.c=$(B)/obj/%.o)

UNIT_SRCS   = $(wildcard tests/unit/test_*.c)
UNIT_BINS   = $(UNIT_SRCS:tests/unit/test_%.c=$(B)/tests/unit_%)
# tests/helpers/lib*.c are preloadable objects, every other file a program.
HELPER_LIBS = $(patsubst tests/helpers/%.c,$(B)/tests/%.so,$(wildcard tests/helpers/lib*.c))
HELPER_BINS = $(patsubst tests/helpers/%.c,$(B)/tests/%,$(filter-out tests/helpers/lib%,$(wildcard tests/helpers/*.c)))

SCRIPTS = keepalive-run keepalive-check keepalive-systemd keepalive-preload

.PHONY: all test demo bench fuzz check-sanitize install uninstall clean format
.DELETE_ON_ERROR:

all: $(B)/libkapreload.so $(B)/keepalive-check-helper

$(B)/obj/%.o: src/%.c src/*.h | $(B)/obj
	$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

# Export only the interposed symbols (src/exports.map); link only libc and libdl.
# noseparate-code: code and constants share one mapping, which saves the
# loader two mmap calls and every process a page fault at start-up.
$(B)/libkapreload.so: $(LIB_OBJS) src/exports.map Makefile
	$(CC) $(ALL_CFLAGS) -shared -fPIC -Wl,--version-script=src/exports.map \
		-Wl,-z,now -Wl,-z,relro -Wl,-z,noseparate-code -Wl,--as-needed $(LDFLAGS) \
		-o $@ $(LIB_OBJS) -ldl

$(B)/keepalive-check-helper: src/check_helper.c | $(B)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<

$(B)/tests/unit_%: tests/unit/test_%.c tests/unit/unit.h $(LIB_OBJS) | $(B)/tests
	$(CC) $(ALL_CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(filter-out $(B)/obj/wrappers.o $(B)/obj/init.o,$(LIB_OBJS)) -ldl

$(B)/tests/%.so: tests/helpers/%.c | $(B)/tests
	$(CC) $(ALL_CFLAGS) -shared -fPIC $(LDFLAGS) -o $@ $<

$(B)/tests/%: tests/helpers/%.c | $(B)/tests
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< -lpthread

$(B) $(B)/obj $(B)/tests:
	mkdir -p $@

test-programs: all $(UNIT_BINS) $(HELPER_BINS) $(HELPER_LIBS) $(B)/empty.so

# An empty preloadable object: the baseline for start-up cost.
$(B)/empty.so: tests/bench/empty.c | $(B)
	$(CC) $(ALL_CFLAGS) -shared -fPIC $(LDFLAGS) -o $@ $<

test: test-programs
	KAP_BUILD=$(abspath $(B)) tests/run.sh

demo: all $(B)/demo-server
	@scripts/demo.sh $(abspath $(B))

$(B)/demo-server: scripts/demo-server.c | $(B)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<

bench: test-programs
	KAP_BUILD=$(abspath $(B)) BENCH_SYSCONFDIR=$(SYSCONFDIR) tests/bench/run.sh

# The parser under libFuzzer (clang only); FUZZ_SECONDS bounds the run.
# Crash inputs land in $(B)/fuzz-findings/; each one becomes a file in
# tests/fuzz/regressions/, which tests/integration/fuzz.sh replays.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_FLAGS   ?=
fuzz: | $(B)
	$(FUZZ_CC) -std=c11 $(DEFS) -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
		-o $(B)/fuzz_config tests/fuzz/fuzz_config.c $(PARSER_SRCS)
	mkdir -p $(B)/fuzz-corpus $(B)/fuzz-findings
	$(B)/fuzz_config -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
		-artifact_prefix=$(abspath $(B))/fuzz-findings/ $(FUZZ_FLAGS) \
		$(B)/fuzz-corpus tests/fuzz/corpus

# Library, unit tests and integration tests with ASan and UBSan.
SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
# A report from a process whose exit status no test reads would go unseen:
# every report is also written under build/san/reports/, and any file there fails.
SAN_REPORTS = $(abspath build/san)/reports
check-sanitize:
	$(MAKE) B=build/san CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" test-programs
	rm -rf $(SAN_REPORTS) && mkdir -p $(SAN_REPORTS)
	KAP_SANITIZE=1 KAP_BUILD=$(abspath build/san) \
	ASAN_OPTIONS=detect_leaks=0:log_path=$(SAN_REPORTS)/asan \
	UBSAN_OPTIONS=print_stacktrace=1:log_path=$(SAN_REPORTS)/ubsan tests/run.sh $(SAN_SUITES)
	@if [ -n "$$(ls -A $(SAN_REPORTS))" ]; then \
		echo "sanitizer reports:"; head -n 20 $(SAN_REPORTS)/*; exit 1; fi

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR)/libkapreload \
		$(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)
	install -m 0755 $(B)/libkapreload.so $(DESTDIR)$(LIBDIR)/libkapreload.so
	install -m 0755 $(B)/keepalive-check-helper $(DESTDIR)$(LIBEXECDIR)/libkapreload/keepalive-check-helper
	for s in $(SCRIPTS); do \
		sed -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' \
		    -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
		    scripts/$$s > $(DESTDIR)$(BINDIR)/$$s.tmp && \
		chmod 0755 $(DESTDIR)$(BINDIR)/$$s.tmp && \
		mv -f $(DESTDIR)$(BINDIR)/$$s.tmp $(DESTDIR)$(BINDIR)/$$s || exit 1; \
	done
	install -m 0644 keepalive.conf.example README.md LICENSE $(DESTDIR)$(DOCDIR)/
	@# Never overwrite an operator's configuration.
	if [ ! -e $(DESTDIR)$(SYSCONFDIR)/keepalive.conf ]; then \
		install -m 0644 keepalive.conf.example $(DESTDIR)$(SYSCONFDIR)/keepalive.conf; \
	else echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/keepalive.conf"; fi

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libkapreload.so
	rm -f $(DESTDIR)$(LIBEXECDIR)/libkapreload/keepalive-check-helper
	-rmdir $(DESTDIR)$(LIBEXECDIR)/libkapreload 2>/dev/null
	for s in $(SCRIPTS); do rm -f $(DESTDIR)$(BINDIR)/$$s; done
	rm -f $(DESTDIR)$(DOCDIR)/keepalive.conf.example $(DESTDIR)$(DOCDIR)/README.md $(DESTDIR)$(DOCDIR)/LICENSE
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null
	@echo "$(DESTDIR)$(SYSCONFDIR)/keepalive.conf is configuration: left in place"

format:
	clang-format -i src/*.c src/*.h tests/unit/*.c tests/unit/*.h tests/helpers/*.c tests/bench/*.c tests/fuzz/*.c scripts/*.c

clean:
	rm -rf build
