#!/usr/bin/env bash
# image_smoke: the container image of deploy/Dockerfile runs. Opt-in, root:
#   MSOCK_TEST_DEPLOY=1 bash tests/scripts/image_smoke.sh
# It builds the image first with scripts/image.sh (which installs podman,
# runc and debootstrap when missing; unchanged sources build nothing).
# Then:
# - every program starts in it (`PROG --help`: a usage, or the component's
#   own "no bus directory"), and ldd finds every library of each;
# - no compiler or CMake in it; the users and groups are exactly those of
#   deploy/sysusers.d/msock.conf (numbers, groups, home, shell, GECOS);
# - the image's command, msock-broker --config /etc/msock/msock.json, runs
#   with --cap-drop ALL and only the capabilities its unit keeps, a
#   read-only root and a tmpfs for /run/msock, and `msockctl status
#   --json` answers inside it: the five components it waits for
#   ("supervise": "external").
# Prints the seconds of each phase. Its containers are removed on exit,
# also on failure; the image stays (scripts/image.sh's to replace).
#
# Environment:
#   MSOCK_IMAGE   the image (default localhost/msock:dev)
set -Eeuo pipefail
trap 'echo "image_smoke.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR

if [ "${MSOCK_TEST_DEPLOY:-}" != 1 ]; then
  echo "image_smoke: skipped (opt-in: MSOCK_TEST_DEPLOY=1, as root; installs podman when missing)"
  exit 77
fi
[ "$(id -u)" = 0 ] || {
  echo "image_smoke: run as root (rootful podman)" >&2
  exit 1
}
src=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../../scripts/podman-lib.sh
. "$src/scripts/podman-lib.sh"
image=${MSOCK_IMAGE:-localhost/msock:dev}
export MSOCK_IMAGE=$image
command -v jq >/dev/null || {
  echo "image_smoke: no jq (scripts/deps.sh installs it)" >&2
  exit 1
}
name=msock-smoke-$$
work=$(mktemp -d /var/tmp/msock-smoke.XXXXXX)
cleanup() {
  podman rm -f "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

phases_start
# A container of the image that only runs its command: no network, no
# capabilities (--help needs none).
run() { podman run --rm --network none --cap-drop ALL "$image" "$@"; }

echo "1. the image (scripts/image.sh)"
"$src/scripts/image.sh" >"$work/image.log" 2>&1 || {
  tail -30 "$work/image.log" >&2
  echo "image_smoke: scripts/image.sh failed" >&2
  exit 1
}
grep -A20 '^seconds per step' "$work/image.log" | sed 's/^/   /'
podman_conf "$work"
phase_done "image.sh"

echo "2. each program starts and finds its libraries"
# What `--help` prints: the programs with options a usage, the components
# (which take their bus from the broker or --config) that they have none.
declare -A want=([msock-broker]='^usage: msock-broker' [msockctl]='^usage: msockctl'
  [msock-derper]='^Usage of msock-derper')
progs=(msock-broker msock-dataplane msock-disco msock-derp msock-netcheck msock-portmapper
  msock-derper msockctl)
for p in "${progs[@]}"; do
  rc=0
  out=$(run "$p" --help 2>&1) || rc=$?
  re=${want[$p]:-" ${p#msock-} ERROR: no bus directory"}
  if grep -qE "$re" <<<"$out"; then
    printf '   %-17s starts (exit %d): %s\n' "$p" "$rc" "$(head -1 <<<"$out")"
  else
    fail "$p --help (exit $rc) did not print /$re/: $(head -3 <<<"$out")"
  fi
done
rc=0
out=$(run sh -c 'for f in /usr/bin/msock-* /usr/bin/msockctl; do echo "$f:"; ldd "$f"; done' 2>&1) || rc=$?
if [ "$rc" -ne 0 ] || grep -q 'not found' <<<"$out"; then
  fail "ldd in the image (exit $rc): $(grep -B20 'not found' <<<"$out" | grep -E '^/|not found' | tr '\n' ' ')"
else
  echo "   ldd: every library found ($(grep -c '=> /' <<<"$out") resolved over ${#progs[@]} programs)"
fi
phase_done programs

echo "3. no compiler; the users of deploy/sysusers.d/msock.conf"
found=$(run sh -c 'for c in cc gcc clang cmake make ld as; do command -v "$c" || true; done')
[ -z "$found" ] || fail "build tools in the runtime image: $found"
# The image's accounts, one line each as sysusers.d would describe them.
have=$(run sh -c 'getent group | grep ^msock; getent passwd | grep ^msock' |
  awk -F: 'NF == 4 {print "g " $1 " " $3; n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] != "") print "m " m[i] " " $1}
           NF == 7 {print "u " $1 " " $3 ":" $4 " \"" $5 "\" " $6 " " $7}' | sort)
wantu=$(grep -E '^[gum] ' "$src/deploy/sysusers.d/msock.conf" | sed -E 's/[[:space:]]+/ /g; s/ $//' | sort)
if [ "$have" = "$wantu" ]; then
  echo "   $(grep -c '^u ' <<<"$have") users, $(grep -c '^g ' <<<"$have") groups, $(grep -c '^m ' <<<"$have") memberships: as msock.conf says"
else
  fail "the image's users differ from deploy/sysusers.d/msock.conf (< image, > file):"
  diff <(echo "$have") <(echo "$wantu") | grep '^[<>]' >&2 || true
fi
phase_done "tools, users"

echo "4. the broker, --cap-drop ALL, read-only root, tmpfs /run/msock"
# The capabilities of msock-broker.service's CapabilityBoundingSet: the
# bus directory's owner, group and setgid channel directories. The
# components would need CAP_SETUID, CAP_SETGID and CAP_SYS_CHROOT.
bt=$(date +%s%N)
podman run -d --name "$name" --network none --read-only \
  --tmpfs /run/msock:rw,nosuid,nodev,noexec,mode=0755 \
  --cap-drop ALL --cap-add CHOWN --cap-add FOWNER --cap-add FSETID "$image" >/dev/null
st=
for _ in $(seq 1 100); do
  if st=$(podman exec "$name" msockctl status --json 2>/dev/null) && [ -n "$st" ]; then break; fi
  st=
  sleep 0.1
done
if [ -z "$st" ]; then
  fail "msockctl status --json did not answer in 10 s"
  podman logs "$name" 2>&1 | tail -20 >&2
else
  echo "   msockctl status --json answered after $((($(date +%s%N) - bt) / 1000000)) ms"
  comps=$(jq -r '(.Components // {}) | to_entries | map("\(.key):\(.value.State)") | sort | join(" ")' <<<"$st")
  echo "   components: $comps"
  [ "$comps" = "dataplane:waiting derp:waiting disco:waiting netcheck:waiting portmapper:waiting" ] ||
    fail "the broker does not wait for the five components (supervise: external): $comps"
fi
sleep 2
state=$(podman inspect --format '{{.State.Status}}' "$name")
echo "   after 2 s more: $state"
[ "$state" = running ] || {
  fail "the broker's container is $state"
  podman logs "$name" 2>&1 | tail -20 >&2
}
caps=$(podman exec "$name" sh -c 'grep ^CapEff /proc/1/status' | awk '{print $2}')
echo "   the broker's CapEff: $caps"
if podman exec "$name" sh -c 'touch /etc/msock/x' 2>/dev/null; then fail "the root is writable"; fi
podman rm -f "$name" >/dev/null
phase_done broker

phases_report image_smoke || exit 1
