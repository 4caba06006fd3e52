#!/usr/bin/env bash
# Runs every libFuzzer target of build/fuzz for SECONDS (default 10) on a
# scratch copy of its corpus (tests/fuzz/corpus/<module>). New inputs stay in
# the scratch dir; a crash leaves its input in build/fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
out=build/fuzz/crashes
mkdir -p "$out"
status=0
for bin in build/fuzz/bin/fuzz-*; do
  mod=${bin##*/fuzz-}
  scratch=$(mktemp -d)
  cp -r "tests/fuzz/corpus/$mod/." "$scratch/" 2>/dev/null || true
  if ! "$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$out/$mod-" \
      "$scratch" >"$out/$mod.log" 2>&1; then
    echo "fuzz $mod: FAILED (see $out/$mod.log)"; tail -30 "$out/$mod.log"; status=1
  else
    echo "fuzz $mod: ok, $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$mod.log" | grep -o '[0-9]*$') runs in ${secs}s"
  fi
  rm -rf "$scratch"
done
exit $status
