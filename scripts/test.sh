#!/usr/bin/env bash
# All tests, in phases: deps, go, WireGuard implementations, formatting,
# every script through shellcheck, a sanitized gcc build
# (build/test), the release build the demo uses, the components' users
# (msockctl setup-users, as root), a clang build whose
# libFuzzer targets each run briefly (nproc at once), then every ctest test
# except the slow ones. Ends with a table of seconds per phase and per ctest
# label, also when a phase failed (a failure of format, shellcheck or fuzz
# lets the run go on; any other failure ends it). Environment:
#   MSOCK_FUZZ_SECONDS  fuzzing time per target (default 10; set it high for
#                       a long run)
#   MSOCK_BUILD_ROOT    where the three builds go (default build: build/test,
#                       build/release, build/fuzz)
#   MSOCK_SKIP_INTEROP  1: leave out the interop tests (real Tailscale
#                       programs, which need Go >= 1.26.8 on PATH)
#   MSOCK_SKIP_WG_IMPLS 1: do not build the newest wireguard-go and
#                       boringtun (lab_wg_impls then runs Debian's only)
#   MSOCK_WG_IMPLS_ROOT where they go (default ~/.cache/msock/wg-impls)
set -Eeuo pipefail
trap 'echo "test.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR
cd "$(dirname "$0")/.."
jobs=$(nproc)
root=${MSOCK_BUILD_ROOT:-build}
fuzz_secs=${MSOCK_FUZZ_SECONDS:-10}
junit=$PWD/$root/test/ctest-junit.xml

names=()   # phases that ran, in order
micros=()  # their wall time
results=() # their exit status
current=   # the phase running now (named in the table if interrupted)
status=0

# Runs phase NAME: CMD [ARG...]; returns CMD's status. CMD runs where set -e
# does not apply (it is left of ||), so a CMD of several steps chains them
# with &&.
phase() {
  local name=$1 t0 rc=0
  shift
  echo "== $name"
  current=$name
  t0=${EPOCHREALTIME/./}
  "$@" || rc=$?
  current=
  names+=("$name")
  micros+=($((${EPOCHREALTIME/./} - t0)))
  results+=("$rc")
  if [ "$rc" -ne 0 ]; then
    echo "test.sh: phase '$name' failed (exit $rc)" >&2
    status=1
  fi
  return "$rc"
}

run_shellcheck() {
  local files
  mapfile -t files < <(git ls-files -co --exclude-standard -- '*.sh' .ci/run)
  # -x -P SCRIPTDIR: follow `. "$(dirname "$0")/lib.sh"` beside the script.
  shellcheck -x -P SCRIPTDIR "${files[@]}" && echo "shellcheck: ${#files[@]} scripts clean"
}

build_test() {
  cmake -S . -B "$root/test" -DCMAKE_BUILD_TYPE=Debug -DMSOCK_SANITIZE=ON \
    -DMSOCK_TEST_BUILD=ON >/dev/null &&
    cmake --build "$root/test" -j"$jobs"
}

build_release() {
  cmake -S . -B "$root/release" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMSOCK_TESTS=OFF >/dev/null &&
    cmake --build "$root/release" -j"$jobs"
}

# Prints only what it made; not root, what it would make (the tests that
# need these users need root anyway).
setup_users() {
  local ctl=$root/release/bin/msockctl
  if [ "$(id -u)" -ne 0 ]; then
    echo "users: not root, none made; missing here:"
    "$ctl" setup-users --dry-run | { grep -v ': exists$' || true; }
    return 0
  fi
  "$ctl" setup-users | { grep -v ': exists$' || true; }
}

build_fuzz() {
  CC=clang cmake -S . -B "$root/fuzz" -DCMAKE_BUILD_TYPE=Debug -DMSOCK_FUZZ=ON \
    -DMSOCK_TEST_BUILD=ON >/dev/null &&
    cmake --build "$root/fuzz" -j"$jobs"
}

run_ctest() {
  rm -f "$junit"
  (cd "$root/test" &&
    ctest -LE "$exclude" --output-on-failure -j"$jobs" --timeout 600 --output-junit "$junit")
}

# Seconds per ctest label: the labels from ctest's test list, each test's
# time from the JUnit file of the run. Tests run $jobs at once, so the sums
# add up to more than the ctest phase's wall time.
label_table() {
  [ -s "$junit" ] || return 0
  (cd "$root/test" && ctest --show-only=json-v1) | python3 -c '
import json, sys, xml.etree.ElementTree as ET
labels = {}
for t in json.load(sys.stdin).get("tests", []):
    for p in t.get("properties", []):
        if p["name"] == "LABELS":
            labels[t["name"]] = p["value"]
rows = {}
for tc in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    if tc.get("status") == "notrun":
        continue
    failed = tc.find("failure") is not None or tc.get("status") == "fail"
    for label in labels.get(tc.get("name"), ["(none)"]):
        r = rows.setdefault(label, [0, 0, 0.0])
        r[0] += 1
        r[1] += failed
        r[2] += float(tc.get("time", 0))
print("== ctest: seconds per label (sum of its tests'"'"' times; %s at once)" % sys.argv[2])
for label, (n, bad, secs) in sorted(rows.items(), key=lambda kv: -kv[1][2]):
    print("  %-14s %3d tests %8.1f%s" % (label, n, secs, "  (%d failed)" % bad if bad else ""))
' "$junit" "$jobs" || echo "test.sh: no per-label table (ctest --show-only or the JUnit file failed)" >&2
}

# EXIT trap: the table of what ran, then the run's status.
report() {
  local rc=$? i total=0 ran=" "
  trap - ERR
  [ "$rc" -eq 0 ] || status=1
  echo
  echo "== seconds per phase"
  for i in "${!names[@]}"; do
    total=$((total + micros[i]))
    ran+="${names[i]} "
    printf '  %-14s %8s%s\n' "${names[i]}" "$(secs "${micros[i]}")" \
      "$([ "${results[i]}" = 0 ] || echo "  FAILED (exit ${results[i]})")"
  done
  [ -z "$current" ] || printf '  %-14s %8s\n' "$current" interrupted
  for i in deps go "wg impls" format shellcheck "build test" "build release" users "build fuzz" fuzz ctest; do
    [[ $ran == *" $i "* ]] || [ "$i" = "$current" ] || printf '  %-14s %8s\n' "$i" "not run"
  done
  printf '  %-14s %8s\n' total "$(secs "$total")"
  label_table
  exit "$status"
}
# Microseconds as seconds with one decimal (integers: no locale's comma).
secs() {
  local t=$((($1 + 50000) / 100000))
  printf '%d.%d' $((t / 10)) $((t % 10))
}
trap report EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

phase deps ./scripts/deps.sh || exit
# The interop tests run Tailscale's own programs, built with Go >= 1.26.8
# (tests/interop): without it, a clear failure, never a silent skip.
exclude=slow
if [ "${MSOCK_SKIP_INTEROP:-0}" = 1 ]; then
  echo "== interop: skipped (MSOCK_SKIP_INTEROP=1)"
  exclude='slow|interop'
else
  phase go tests/interop/check-go.sh || exit
fi
# The newest upstream wireguard-go and boringtun for lab_wg_impls (msock
# under three unmodified WireGuards): built once per machine into a cache
# outside the clone (a clean clone reuses it); one that cannot be built is
# skipped by the test, which says so.
if [ "${MSOCK_SKIP_WG_IMPLS:-0}" != 1 ]; then
  export WG_IMPLS_ROOT=${MSOCK_WG_IMPLS_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/msock/wg-impls}
  export LAB_WG_IMPLS_BIN=$WG_IMPLS_ROOT/bin
  phase "wg impls" ./bench/wg_impls.sh || true
fi
phase format ./scripts/check-format.sh || true
phase shellcheck run_shellcheck || true
phase "build test" build_test || exit
phase "build release" build_release || exit
# The components' users and groups on this host (docs/design.md, "Users and
# groups"), before any test runs a component: made if missing, left alone if
# there; one with another uid ends the run, named.
phase users setup_users || exit
phase "build fuzz" build_fuzz || exit
phase fuzz env MSOCK_FUZZ_BUILD="$root/fuzz" ./scripts/fuzz.sh "$fuzz_secs" || true
phase ctest run_ctest || exit
