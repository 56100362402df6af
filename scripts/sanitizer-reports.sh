#!/usr/bin/env bash
# Prints the sanitizer reports that `make test-sanitize` collected (one file per process: the test
# runner's and every framecast/PipelineCycles child's, through the sanitizers' log_path) and fails
# when there is any. Usage: scripts/sanitizer-reports.sh DIR NAME
set -uo pipefail
dir=$1
name=$2
shopt -s nullglob
reports=("$dir"/*)
if ((${#reports[@]} == 0)); then
  echo "$name: no reports."
  exit 0
fi
for report in "${reports[@]}"; do
  echo "===== $name report: $report"
  cat "$report"
done
count=$(cat "${reports[@]}" | grep -c "^WARNING: ThreadSanitizer\|^==[0-9]*==ERROR: AddressSanitizer\|^SUMMARY: " || true)
echo "$name: ${#reports[@]} report file(s), $count report line(s) (WARNING/ERROR/SUMMARY) in $dir."
exit 1
