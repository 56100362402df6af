#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer + AddressSanitizer) of every parser that reads outside input,
# and of the stream lifecycle state machine (random event sequences against a fake clock).
#
# Each target is one harness (Fuzz/Targets/NAME.swift) compiled by swiftc together with the few
# project files it tests, which import nothing or only Foundation: no SwiftPM, so NIO and
# Hummingbird are never rebuilt with the sanitizers. The runtime (libclang_rt.fuzzer and .asan)
# ships with the Swift toolchain, in usr/lib/swift/clang/lib/linux/.
#
#   Fuzz/run.sh                         every target, FUZZ_SECONDS (default 20) each
#   FUZZ_SECONDS=600 Fuzz/run.sh host_policy
#   SWIFT_BACKTRACE=enable=no .build-fuzz/bin/NAME FILE
#                                       replays one input (a reproducer) once
#
# Seeds come from Fuzz/Corpus/NAME/ (committed, read only); what libFuzzer finds goes to
# .build-fuzz/corpus/NAME/ (kept between runs), crashes to .build-fuzz/crashes/NAME/. A crash or
# a broken invariant fails the script and prints the reproducer.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}
swiftc=${SWIFTC:-swiftc}
out=.build-fuzz
# A broken invariant is a fatalError: let libFuzzer catch the trap and save the input, instead of
# Swift's backtracer, which reads the stack in a way AddressSanitizer reports as an error.
export SWIFT_BACKTRACE=enable=no

server=Sources/FramecastServer
media=Sources/MediaPipeline
support=Fuzz/Support/FuzzInput.swift
numbers="Fuzz/Support/BoundedNumberChecks.swift $server/Configuration/BoundedNumber.swift $server/Configuration/Limits.swift $server/HTTP/EchoedText.swift"
template="$media/PipelineTemplate.swift $media/PipelineVariables.swift $media/PipelineError.swift"
streams=$server/Streams
lifecycle="$streams/StreamLifecycle.swift $streams/StreamLifecycle+Action.swift $streams/StreamSettings.swift $streams/StreamState.swift $streams/StreamStatus.swift $streams/Double+formatted.swift $server/Renditions/RenditionStatus.swift $server/Relay/RelayMonitor.swift $media/PictureRegion.swift"

# NAME and the project files its harness needs, in the order they run.
targets=(
  "pipeline_template $template"
  "pipeline_set $template"
  "bounded_number $numbers"
  "query_string $numbers"
  "request_path $server/HTTP/RequestPath.swift"
  "host_policy $server/HTTP/HostPolicy.swift $server/HTTP/EchoedText.swift"
  "mjpg_action $server/HTTP/MjpgStreamerAction.swift"
  "wall_subscription $server/HTTP/WallSubscription.swift"
  "rendition_request $numbers $template $server/Renditions/RenditionRequest.swift $media/PictureRegion.swift $media/RenditionPlans.swift"
  "htpasswd $server/Configuration/HtpasswdFile.swift"
  "stream_lifecycle $lifecycle"
)

flags=(
  -sanitize=fuzzer,address -parse-as-library -O -wmo -swift-version 6
  -enable-upcoming-feature ExistentialAny
  -enable-upcoming-feature InternalImportsByDefault
  -enable-upcoming-feature MemberImportVisibility
  -module-name FramecastFuzz
  # gold warns about every ASan helper symbol of an -O build; lld ships with the toolchain.
  -use-ld=lld
)

selected=("$@")
wanted() {
  ((${#selected[@]} == 0)) && return 0
  local name
  for name in "${selected[@]}"; do [[ $name == "$1" ]] && return 0; done
  return 1
}

mkdir -p "$out/bin" "$out/logs"
failures=()
ran=0
printf '%-18s %12s %8s %8s %9s  %s\n' target executions cov ft corpus result
for entry in "${targets[@]}"; do
  read -r name files <<<"$entry"
  wanted "$name" || continue
  ran=$((ran + 1))
  harness=Fuzz/Targets/$name.swift
  binary=$out/bin/$name
  log=$out/logs/$name.log
  # shellcheck disable=SC2086 # $files is a list of paths without spaces
  inputs=("$harness" $support $files)

  # Rebuild when a harness, a project file or this script (the flags) is newer than the binary.
  if [[ ! -x $binary ]] || [[ -n $(find "${inputs[@]}" "$0" -newer "$binary" 2>/dev/null) ]]; then
    if ! "$swiftc" "${flags[@]}" "${inputs[@]}" -o "$binary" >"$out/logs/$name.build.log" 2>&1; then
      cat "$out/logs/$name.build.log" >&2
      echo "$name: the fuzz target does not build (log: $out/logs/$name.build.log)" >&2
      failures+=("$name: does not build")
      continue
    fi
  fi

  scratch=$out/corpus/$name
  crashes=$out/crashes/$name
  mkdir -p "$scratch" "$crashes"
  options=(-max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/")
  [[ -f Fuzz/Dictionaries/$name.dict ]] && options+=(-dict="Fuzz/Dictionaries/$name.dict")

  # The first folder receives new inputs; the committed seeds are only read.
  status=0
  "$binary" "${options[@]}" "$scratch" "Fuzz/Corpus/$name" >"$log" 2>&1 || status=$?

  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  progress=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$progress")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$progress")
  corpus=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$progress")
  if ((status == 0)); then
    result=ok
  else
    reproducer=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    result="FAILED (exit $status)"
    failures+=("$name: exit $status, reproducer ${reproducer:-none written}, log $log")
  fi
  printf '%-18s %12s %8s %8s %9s  %s\n' "$name" "${executions:-?}" "${cov:-?}" "${ft:-?}" "${corpus:-?}" "$result"
  if ((status != 0)); then
    # What broke: the invariant's message or the sanitizer's report, and the input.
    { grep -E 'Fatal error|ERROR: (AddressSanitizer|libFuzzer)|SUMMARY|^0x|^base64:' "$log" || true; } | head -8 | sed 's/^/    /' >&2
    [[ -n ${reproducer:-} ]] && echo "    replay: SWIFT_BACKTRACE=enable=no $binary $reproducer" >&2
  fi
done

if ((ran == 0)); then
  echo "no fuzz target named: ${selected[*]}" >&2
  exit 2
fi
if ((${#failures[@]} > 0)); then
  echo "fuzzing failed:" >&2
  printf '  %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "fuzzing: $ran targets, ${seconds}s each, no crash (logs in $out/logs/)"
