#!/usr/bin/env bash
# Builds the pre-change Framecast, the bench's `framecast-before` contender, from a commit of this
# repository's history, and prints the binary's path (the only line on stdout; progress goes to
# stderr).
#
#   bench/build-before.sh                    # BEFORE_REF, default 42ce3ee
#   BEFORE_REF=v1.2 bench/build-before.sh    # any commit-ish that `git rev-parse` knows
#
# The ref's tree is exported with `git archive` (no worktree, no change to the repository's index
# or work tree) into bench/before/<short commit>/ (git-ignored) and built there with
# `swift build -c release --product framecast`. A binary already built for the same commit is
# reused without running SwiftPM again; delete bench/before/<commit>/ to force a rebuild.
#
# Dependencies: when the ref carries no Package.resolved (it is git-ignored here), the work tree's
# Package.resolved is copied in, so both binaries link the same dependency versions, and SwiftPM's
# shared cache (~/.cache/org.swift.swiftpm) spares most of the fetching.
#
# Environment: BEFORE_REF (default 42ce3ee), SWIFT (default swift), SWIFT_BUILD_FLAGS (extra flags).
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(git -C "$BENCH" rev-parse --show-toplevel)
REF=${BEFORE_REF:-42ce3ee}
SWIFT=${SWIFT:-swift}

log() { echo "build-before: $*" >&2; }

if ! commit=$(git -C "$REPO" rev-parse --verify --quiet "$REF^{commit}"); then
    log "BEFORE_REF=$REF is not a commit of $REPO (a shallow clone? git fetch --unshallow)"
    exit 1
fi
short=$(git -C "$REPO" rev-parse --short=7 "$commit")
dir=$BENCH/before/$short
bin=$dir/.build/release/framecast
stamp=$dir/.framecast-before   # written after a successful build: the full commit

if [[ -x $bin && -f $stamp && $(head -n 1 "$stamp") == "$commit" ]]; then
    log "reusing $bin (commit $short)"
    echo "$bin"
    exit 0
fi

mkdir -p "$BENCH/before"
# One build per commit at a time (two bench runs started together).
exec 9>"$BENCH/before/.lock-$short"
if command -v flock >/dev/null; then
    flock 9
    if [[ -x $bin && -f $stamp && $(head -n 1 "$stamp") == "$commit" ]]; then
        log "reusing $bin (commit $short, built meanwhile)"
        echo "$bin"
        exit 0
    fi
fi

# Sources: exported once; an interrupted export (no Package.swift yet) is redone. A build that
# failed or was interrupted keeps its sources and its .build, so the next attempt is incremental.
if [[ ! -f $dir/.sources-complete ]]; then
    log "exporting $REF ($short) into $dir"
    rm -rf "$dir"
    tmp=$(mktemp -d "$BENCH/before/.export-$short.XXXXXX")
    chmod 755 "$tmp"   # mktemp -d makes it 0700
    git -C "$REPO" archive --format=tar "$commit" | tar -x -C "$tmp"
    if [[ ! -f $tmp/Package.resolved && -f $REPO/Package.resolved ]]; then
        cp "$REPO/Package.resolved" "$tmp/Package.resolved"
        log "no Package.resolved at $short: using the work tree's (same dependency versions as the current build)"
    fi
    echo "$commit" >"$tmp/.sources-complete"
    mv "$tmp" "$dir"
fi

log "swift build -c release --product framecast in $dir (about 10 minutes on 2 cores)"
# shellcheck disable=SC2086  # SWIFT_BUILD_FLAGS is a list of words
(cd "$dir" && "$SWIFT" build -c release --product framecast ${SWIFT_BUILD_FLAGS:-} >&2)
if [[ ! -x $bin ]]; then
    log "the build finished without $bin"
    exit 1
fi
{ echo "$commit"; echo "ref=$REF built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; } >"$stamp"
log "built $bin"
echo "$bin"
