# Framecast: the two commands are `make run` and `make test`; both install what is missing first.
SWIFT ?= swift
# Extra arguments for `make run`, e.g. make run ARGS="--pipeline-file pipelines/camera.pipeline"
ARGS ?=

.PHONY: all deps build release run test browser-test check bench bench-quick clean

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
	Tests/Browser/run.sh

browser-test: deps
	$(SWIFT) build --product framecast
	Tests/Browser/run.sh

# Framecast against the Flask recipe, a GStreamer-only server and a C floor, side by side
# (about 20 minutes; writes bench/BENCHMARKS.md). bench-quick is a 4-minute smoke run.
bench: release
	$(MAKE) -C bench FRAMECAST=$(CURDIR)/.build/release/framecast

bench-quick: release
	BENCH_QUICK=1 $(MAKE) -C bench FRAMECAST=$(CURDIR)/.build/release/framecast

# Validates every shipped pipeline file.
check: build
	@for file in pipelines/*.pipeline; do .build/debug/framecast --check --pipeline-file $$file || exit 1; done

clean:
	rm -rf .build
