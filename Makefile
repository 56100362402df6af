# Framecast: the two commands are `make run` and `make test`; both install what is missing first.
SWIFT ?= swift
# Extra arguments for `make run`, e.g. make run ARGS="--pipeline-file pipelines/camera.pipeline"
ARGS ?=

.PHONY: all deps build release run test browser-test fuzz check bench bench-quick clean

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
# for the rendition cells alone (about 7 minutes; replaces the Renditions section of the report).
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

clean:
	rm -rf .build
