#!/usr/bin/env bash
# systemd_units_test: deploy/systemd/ as installed. `cmake --install` of
# the build into a scratch root (DESTDIR, prefix /usr), then: every unit,
# the sysusers file and the example config are where README.md says;
# every ExecStart= program is in the install; `systemd-analyze verify`
# against that root accepts every unit and prints nothing (verify exits 0
# on a line it ignores, such as a misspelt ProtectSystem=, so any output
# fails; a deliberately broken copy checks that it does); and
# `systemd-analyze security --offline` scores each service: a table of
# unit, exposure and verdict, the checks that keep a unit above 2.0, a
# failure above 4.0, and a failure when README.md's table differs. No
# daemon starts: verify and security --offline only load unit files.
# MSOCK_BUILD_DIR names the build (default: the directory above
# $MSOCK_BIN_DIR, which ctest sets).
set -Eeuo pipefail
trap 'echo "systemd_units_test.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR

started=$(date +%s%N)
src=${MSOCK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${MSOCK_BUILD_DIR:-$(dirname "${MSOCK_BIN_DIR:-$src/build/test/bin}")}
limit=40 # tenths: 4.0, systemd's upper bound of "OK"
fails=0
fail() {
  echo "FAIL: $*" >&2
  fails=$((fails + 1))
}

# systemd-analyze (package systemd) and the targets every unit's default
# dependencies name (sysinit.target, ...) come from this host.
if ! command -v systemd-analyze >/dev/null || [ ! -e /usr/lib/systemd/system/sysinit.target ]; then
  echo "systemd_units_test: no systemd-analyze or no systemd units on this host; skipped"
  exit 77
fi
if [ ! -x "$build/bin/msock-broker" ]; then
  echo "systemd_units_test: no build in $build (set MSOCK_BUILD_DIR)" >&2
  exit 1
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
units=$root/usr/lib/systemd/system

echo "1. cmake --install into a scratch root (prefix /usr)"
if ! log=$(DESTDIR=$root cmake --install "$build" --prefix /usr 2>&1); then
  echo "$log" >&2
  echo "FAIL: cmake --install failed" >&2
  exit 1
fi
for f in "$src"/deploy/systemd/*; do
  cmp -s "$f" "$units/$(basename "$f")" || fail "$(basename "$f") not installed in /usr/lib/systemd/system"
done
cmp -s "$src/deploy/sysusers.d/msock.conf" "$root/usr/lib/sysusers.d/msock.conf" ||
  fail "the sysusers file is not /usr/lib/sysusers.d/msock.conf"
cmp -s "$src/deploy/msock.json" "$root/etc/msock/msock.json" || fail "no /etc/msock/msock.json"
for p in broker dataplane disco derp netcheck portmapper derper; do
  [ -x "$root/usr/bin/msock-$p" ] || fail "/usr/bin/msock-$p not installed"
done
[ -x "$root/usr/bin/msockctl" ] || fail "/usr/bin/msockctl not installed"

echo "2. every ExecStart= program and every msock unit named is in the install"
# The other Exec lines (ExecStartPost's /bin/sh) run what the OS under
# the install has: copied from this host, with its targets, so that
# verify resolves them as it would on a real system.
mkdir -p "$root/lib/systemd/system"
cp /usr/lib/systemd/system/*.target "$root/lib/systemd/system/"
for u in "$units"/*.service; do
  while IFS= read -r line; do
    key=${line%%=*}
    prog=${line#*=}
    prog=${prog#[-@:+!]}
    prog=${prog%% *}
    if [ "$key" = ExecStart ]; then
      [ -x "$root$prog" ] || fail "$(basename "$u"): ExecStart=$prog is not in the install"
    elif [ ! -e "$root$prog" ]; then
      mkdir -p "$root$(dirname "$prog")"
      cp "$prog" "$root$prog" || fail "$(basename "$u"): $key=$prog: not on this host either"
    fi
  done < <(grep -E '^Exec[A-Za-z]*=' "$u")
done

# verify accepts a Wants= or Sockets= of a unit that does not exist (a
# missing wanted unit is no error to systemd): every msock unit a unit
# names must be in the install.
while IFS=: read -r file named; do
  [ -e "$units/$named" ] || fail "$(basename "$file") names $named, which is not installed"
done < <(grep -v '^#' "$units"/msock* | grep -oE '^[^:]+:|msock[a-z-]*\.(service|socket|target)' |
  awk '/:$/ {f = $0; next} {print f $0}' | sort -u)

# verify UNIT-FILES...: 0 when systemd-analyze verify exits 0 and prints
# nothing; else its output, on stdout.
verify() {
  local out rc=0
  out=$(systemd-analyze verify --root="$root" --man=no --generators=no "$@" 2>&1) || rc=$?
  if [ "$rc" != 0 ] || [ -n "$out" ]; then
    printf '%s\n(exit %s)\n' "$out" "$rc"
    return 1
  fi
}

echo "3. systemd-analyze verify --root (the checker first fails a broken unit)"
sed 's/^ProtectSystem=strict$/ProtectSytem=strict/' "$units/msock-disco.service" >"$units/msock-broken.service"
if verify "$units/msock-broken.service" >/dev/null; then
  fail "verify did not notice ProtectSytem= (a misspelt line it ignores)"
fi
rm "$units/msock-broken.service"
mapfile -t all < <(ls "$units"/msock*.service "$units"/msock*.socket "$units"/msock*.target)
if ! out=$(verify "${all[@]}"); then
  fail "systemd-analyze verify: $out"
fi
echo "   ${#all[@]} units verified"

echo "4. systemd-analyze security --offline --root"
declare -A score verdict held
for u in "$units"/*.service; do
  name=$(basename "$u")
  report=$(systemd-analyze security --offline=yes --root="$root" "$name" 2>&1) || true
  line=$(grep -a "Overall exposure level for $name:" <<<"$report" || true)
  if [[ ! $line =~ :\ ([0-9]+)\.([0-9])\ ([A-Z]+) ]]; then
    fail "$name: no exposure level in: $report"
    continue
  fi
  score[$name]="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
  verdict[$name]=${BASH_REMATCH[3]}
  tenths=$((10#${BASH_REMATCH[1]} * 10 + 10#${BASH_REMATCH[2]}))
  if [ "$tenths" -gt "$limit" ]; then
    fail "$name: exposure ${score[$name]} is above 4.0"
  fi
  if [ "$tenths" -gt 20 ]; then
    # The checks it fails, heaviest first ("✗ NAME DESCRIPTION WEIGHT").
    why=$(grep -a '^✗' <<<"$report" | awk '{print $NF, $2}' | sort -rn | head -8 |
      awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}')
    held[$name]=$why
  fi
done
printf '   %-28s %8s  %s\n' unit exposure verdict
for name in $(printf '%s\n' "${!score[@]}" | sort); do
  printf '   %-28s %8s  %s\n' "$name" "${score[$name]}" "${verdict[$name]}"
done
for name in $(printf '%s\n' "${!held[@]}" | sort); do
  echo "   above 2.0: $name: ${held[$name]}"
done

echo "5. README.md's table matches"
for name in "${!score[@]}"; do
  row="| \`$name\` | ${score[$name]} | ${verdict[$name]} |"
  grep -qxF "$row" "$src/README.md" || fail "README.md has no row \"$row\""
done
# A row of the table: | `UNIT` | N.N | VERDICT | (a dot for each backtick).
n=$(grep -cE '^[|] .msock[a-z-]*[.]service. [|] [0-9]+[.][0-9] [|] [A-Z]+ [|]$' "$src/README.md" || true)
[ "$n" = "${#score[@]}" ] || fail "README.md's exposure table has $n rows, not ${#score[@]}"

secs=$((($(date +%s%N) - started) / 1000000))
printf 'systemd_units_test: %d.%03d s\n' $((secs / 1000)) $((secs % 1000))
if [ "$fails" -ne 0 ]; then
  echo "systemd_units_test: $fails check(s) failed" >&2
  exit 1
fi
echo "systemd_units_test: ok"
