# Framecast: the two commands are `make run` and `make test`; both install what is missing first.
SWIFT ?= swift
# Extra arguments for `make run`, e.g. make run ARGS="--pipeline-file pipelines/camera.pipeline"
ARGS ?=

.PHONY: all deps build release run test check clean

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

# Every test: real GStreamer pipelines and real HTTP clients on loopback.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel

# Validates every shipped pipeline file.
check: build
	@for file in pipelines/*.pipeline; do .build/debug/framecast --check --pipeline-file $$file || exit 1; done

clean:
	rm -rf .build
