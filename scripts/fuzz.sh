#!/usr/bin/env bash
# Runs every libFuzzer target of build/fuzz (or $MSOCK_FUZZ_BUILD) for SECONDS
# (default 10) on a scratch copy of its corpus (tests/fuzz/corpus/<module>).
# New inputs stay in the scratch dir; a crash leaves its input in
# build/fuzz/crashes/, beside the target's log (<module>.log).
# MSOCK_FUZZ_JOBS targets run at once (default: nproc, one core each); each
# target's result is printed as it ends; the script fails if any failed.
set -Eeuo pipefail
trap 'echo "fuzz.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR
cd "$(dirname "$0")/.."
secs=${1:-10}
jobs=${MSOCK_FUZZ_JOBS:-$(nproc)}
build=${MSOCK_FUZZ_BUILD:-build/fuzz}
out=$build/crashes
mkdir -p "$out"
bins=()
for bin in "$build"/bin/fuzz-*; do
  [ -x "$bin" ] && bins+=("$bin")
done
if [ ${#bins[@]} -eq 0 ]; then
  echo "fuzz.sh: no fuzz targets in $build/bin (configure with CC=clang -DMSOCK_FUZZ=ON)" >&2
  exit 1
fi

# One target; prints its result in one write (targets end concurrently).
one() {
  local bin=$1 mod=${1##*/fuzz-} scratch rc=0 runs
  scratch=$(mktemp -d)
  cp -r "tests/fuzz/corpus/$mod/." "$scratch/" 2>/dev/null || true
  "$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$out/$mod-" \
    "$scratch" >"$out/$mod.log" 2>&1 || rc=$?
  rm -rf "$scratch"
  if [ "$rc" -ne 0 ]; then
    printf 'fuzz %s: FAILED (exit %s, see %s)\n%s\n' "$mod" "$rc" "$out/$mod.log" \
      "$(tail -n 30 "$out/$mod.log")"
    return 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$out/$mod.log")
  echo "fuzz $mod: ok, ${runs:-?} runs in ${secs}s"
}

declare -A running=() # pid -> module
failed=()
# Waits for one target to end and notes a failure.
reap() {
  local pid rc=0
  wait -n -p pid || rc=$?
  [ "$rc" -eq 0 ] || failed+=("${running[$pid]}")
  unset "running[$pid]"
}
for bin in "${bins[@]}"; do
  while [ ${#running[@]} -ge "$jobs" ]; do reap; done
  # `|| exit 1`: a failed target is reported by one() and counted by reap(),
  # not also by the ERR trap of the job's subshell.
  { one "$bin" || exit 1; } &
  running[$!]=${bin##*/fuzz-}
done
while [ ${#running[@]} -gt 0 ]; do reap; done

if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz.sh: ${#failed[@]} of ${#bins[@]} targets failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#bins[@]} targets ok (${secs}s each, $jobs at once)"
