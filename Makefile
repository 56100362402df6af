# Framecast: the two commands are `make run` and `make test`; both install what is missing first.
SWIFT ?= swift
# Extra arguments for `make run`, e.g. make run ARGS="--pipeline-file pipelines/camera.pipeline"
ARGS ?=

.PHONY: all deps build release run test browser-test fuzz check bench bench-quick clean install uninstall

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product framecast

# Serves the built-in test pattern on http://127.0.0.1:8080 unless ARGS says otherwise.
run: release
	.build/release/framecast $(ARGS)

# Every test: real GStreamer pipelines and real HTTP clients on loopback, then the page in a
# real headless Chromium against a real server.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel
	Fuzz/run.sh
	Tests/Browser/run.sh

browser-test: deps
	$(SWIFT) build --product framecast
	Tests/Browser/run.sh

# Framecast against the Flask recipe, a GStreamer-only server, a C floor and the pre-change binary
# (framecast-before: built once from BEFORE_REF, default 42ce3ee, into bench/before/<commit>/ by
# bench/build-before.sh, about 10 minutes the first time; FRAMECAST_BEFORE=/path skips the build),
# side by side, then the rendition cells (about 32 minutes; writes bench/BENCHMARKS.md). bench-quick
# is an 8-minute smoke run. e.g. make bench BEFORE_REF=<commit>; make bench BENCH_ONLY=renditions
# for the rendition cells alone (about 7 minutes; replaces the Renditions section of the report);
# make bench BENCH_ONLY=tls,h2 for the TLS and HTTP/2 cells alone (Framecast over HTTPS against
# nginx terminating TLS, HTTP/2 against HTTP/1.1-over-TLS; about 6 minutes; replaces the report's
# TLS and HTTP/2 section).
bench: release
	$(MAKE) -C bench FRAMECAST=$(CURDIR)/.build/release/framecast

bench-quick: release
	BENCH_QUICK=1 $(MAKE) -C bench FRAMECAST=$(CURDIR)/.build/release/framecast

# Coverage-guided fuzzing (libFuzzer + AddressSanitizer) of every parser that reads outside input,
# FUZZ_SECONDS (default 20) per target: make fuzz FUZZ_SECONDS=600 for a long run. See Fuzz/run.sh.
fuzz: deps
	Fuzz/run.sh

# Validates every shipped pipeline file.
check: build
	@for file in pipelines/*.pipeline; do .build/debug/framecast --check --pipeline-file $$file || exit 1; done

# The Swift suites under ThreadSanitizer, then under AddressSanitizer, each in its own scratch
# directory (every dependency is rebuilt sanitized: 10+ minutes each on two cores). Both halves
# always run; the target fails if either does. Sanitizer reports, the test process's and those of
# the framecast/PipelineCycles children the tests start, go to .build-{t,a}san/reports/ and are
# printed at the end. SANITIZE_TEST_ARGS narrows the run, e.g.
#   make test-sanitize SANITIZE_TEST_ARGS='--filter "FrameHub|Lifecycle|Churn"'
# TSan: halt_on_error=0 so one run lists every race (a 20-minute run that stopped at the first one
# would need a rebuild-free rerun per race); the process still exits 66 when it reported any.
# Suppressions (scripts/tsan.supp) cover only races inside third-party code (Swift's concurrency
# runtime) or GStreamer's own threads, never an access made by Framecast's code.
# scripts/tsan-mutex-shim.c (LD_PRELOAD) shows TSan the lock hand-overs of Synchronization.Mutex
# that happen in the kernel on Linux; without it every contended withLock is a false report.
# ASan: detect_leaks=0 because GLib, fontconfig and NIO's singleton thread pool keep allocations
# for the process's lifetime that LeakSanitizer reports at exit, turning every framecast child's
# exit status into 1 (`--check`, SIGTERM tests); leaks of GStreamer objects are checked by
# PipelineCycleTests with GStreamer's own leak tracer instead. Under either sanitizer the tests'
# resident-memory and wall-time thresholds (RSS growth, exit within 2 s) can fail by themselves:
# shadow memory, ASan's quarantine and a 5-20x slowdown. G_SLICE=always-malloc under TSan: GLib
# 2.74's slice allocator hands a freed GstBuffer's memory to another thread through per-thread
# magazines TSan cannot see, so two different buffers at one address looked like a race.
SANITIZE_TEST_ARGS ?=
TSAN_OPTIONS_FRAMECAST = halt_on_error=0 second_deadlock_stack=1 history_size=4 \
	suppressions=$(CURDIR)/scripts/tsan.supp log_path=$(CURDIR)/.build-tsan/reports/tsan
ASAN_OPTIONS_FRAMECAST = detect_leaks=0 halt_on_error=1 detect_stack_use_after_return=0 \
	log_path=$(CURDIR)/.build-asan/reports/asan

.PHONY: test-sanitize test-sanitize-thread test-sanitize-address

test-sanitize: deps
	@status=0; \
	$(MAKE) --no-print-directory test-sanitize-thread || status=1; \
	$(MAKE) --no-print-directory test-sanitize-address || status=1; \
	exit $$status

test-sanitize-thread: deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	clang -shared -fPIC -O1 -Wall -o .build-tsan/libtsan-mutex-shim.so scripts/tsan-mutex-shim.c
	rm -rf .build-tsan/reports && mkdir -p .build-tsan/reports
	TSAN_OPTIONS="$(TSAN_OPTIONS_FRAMECAST)" LD_PRELOAD=$(CURDIR)/.build-tsan/libtsan-mutex-shim.so G_SLICE=always-malloc \
		$(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan --no-parallel $(SANITIZE_TEST_ARGS); \
	status=$$?; scripts/sanitizer-reports.sh .build-tsan/reports ThreadSanitizer || status=1; exit $$status

test-sanitize-address: deps
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	rm -rf .build-asan/reports && mkdir -p .build-asan/reports
	ASAN_OPTIONS="$(ASAN_OPTIONS_FRAMECAST)" \
		$(SWIFT) test --skip-build --sanitize=address --scratch-path .build-asan --no-parallel $(SANITIZE_TEST_ARGS); \
	status=$$?; scripts/sanitizer-reports.sh .build-asan/reports AddressSanitizer || status=1; exit $$status

# Installation as a system service (README: Install as a service): the binary, the page, the
# pipelines, an example configuration, the systemd units and the man page, all under PREFIX
# (under DESTDIR when staging a package). `make install` builds the release binary first;
# `make install SKIP_BUILD=1 FRAMECAST_BINARY=.build/debug/framecast` installs one already built.
# The man page is generated at install time from the binary's own ArgumentParser definitions
# (swift-argument-parser's generate-manual, built from the package's checkout), uncompressed.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/framecast
MANDIR ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
FRAMECAST_BINARY ?= .build/release/framecast
SKIP_BUILD ?=
# The manual's date: the last commit's, so one commit always yields the same page.
MANUAL_DATE ?= $(shell git log -1 --format=%cs 2>/dev/null)
ARGUMENT_PARSER = .build/checkouts/swift-argument-parser
GENERATE_MANUAL = .build/generate-manual/debug/generate-manual
WEB_FILES = $(notdir $(wildcard Web/*))
PIPELINE_FILES = $(notdir $(wildcard pipelines/*.pipeline))
UNIT_FILES = framecast.service framecast.socket
# @BINDIR@ and @DATADIR@ in the units and the example configuration become the installed paths.
SUBSTITUTE = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g'

install: $(if $(SKIP_BUILD),,release) $(GENERATE_MANUAL)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/Web $(DESTDIR)$(DATADIR)/pipelines \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(FRAMECAST_BINARY) $(DESTDIR)$(BINDIR)/framecast
	install -m 644 $(addprefix Web/,$(WEB_FILES)) $(DESTDIR)$(DATADIR)/Web
	install -m 644 $(addprefix pipelines/,$(PIPELINE_FILES)) $(DESTDIR)$(DATADIR)/pipelines
	$(SUBSTITUTE) packaging/framecast.yaml.example > $(DESTDIR)$(DATADIR)/framecast.yaml.example
	chmod 644 $(DESTDIR)$(DATADIR)/framecast.yaml.example
	for unit in $(UNIT_FILES); do \
		$(SUBSTITUTE) packaging/systemd/$$unit > $(DESTDIR)$(UNITDIR)/$$unit && chmod 644 $(DESTDIR)$(UNITDIR)/$$unit || exit 1; \
	done
	$(GENERATE_MANUAL) $(FRAMECAST_BINARY) --output-directory - $(if $(MANUAL_DATE),--date $(MANUAL_DATE)) \
		> $(DESTDIR)$(MANDIR)/man1/framecast.1.new || { rm -f $(DESTDIR)$(MANDIR)/man1/framecast.1.new; exit 1; }
	chmod 644 $(DESTDIR)$(MANDIR)/man1/framecast.1.new
	mv $(DESTDIR)$(MANDIR)/man1/framecast.1.new $(DESTDIR)$(MANDIR)/man1/framecast.1

# Removes exactly what install put there, then the framecast folders if nothing else is in them.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/framecast
	rm -f $(addprefix $(DESTDIR)$(DATADIR)/Web/,$(WEB_FILES))
	rm -f $(addprefix $(DESTDIR)$(DATADIR)/pipelines/,$(PIPELINE_FILES))
	rm -f $(DESTDIR)$(DATADIR)/framecast.yaml.example
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNIT_FILES))
	rm -f $(DESTDIR)$(MANDIR)/man1/framecast.1
	for folder in $(DATADIR)/Web $(DATADIR)/pipelines $(DATADIR); do \
		if [ -d $(DESTDIR)$$folder ]; then rmdir --ignore-fail-on-non-empty $(DESTDIR)$$folder; fi; \
	done

# swift-argument-parser's man page generator, from the checkout SwiftPM already made (its own
# scratch folder: no lock shared with a build or test run of the package).
$(GENERATE_MANUAL): | $(ARGUMENT_PARSER)/Package.swift
	$(SWIFT) build --package-path $(ARGUMENT_PARSER) --scratch-path $(CURDIR)/.build/generate-manual \
		--product generate-manual

$(ARGUMENT_PARSER)/Package.swift:
	$(SWIFT) package resolve

clean:
	rm -rf .build
