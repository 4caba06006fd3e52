#!/usr/bin/env bash
# systemd_boot: deploy/systemd/ on a real systemd, booted as PID 1 in a
# podman container (this machine's PID 1 is not systemd). Opt-in, root:
#   MSOCK_SYSTEMD_BOOT=1 bash tests/scripts/systemd_boot.sh
# What it needs on this machine (podman, runc, debootstrap, ...) it
# installs with apt-get when missing. A Debian 12 root (debootstrap
# --variant=minbase, from this machine's Debian mirror) gets `cmake
# --install` of the build and a self-signed certificate for msock-derper,
# and is imported as an image; the container boots and systemd-sysusers
# makes the fixed users. Then:
# msock-derper's shipped unit must come up as its user in its chroot;
# msock.service (the broker spawning the components, with a config
# without "supervise") must run all five, each as its fixed uid,
# chrooted into /run/msock/bus, with no capabilities, no_new_privs and a
# seccomp filter, and `systemctl stop msock` must leave none; then
# msock.target must bring the broker and the five component units up the
# same way, with the right socket for each port; a broker restart must
# leave the components' processes alone and get their state back on the
# bus; a dataplane restart must keep its UDP socket (systemd's). It prints
# each process's credentials, what systemd ignored, the errors in the
# units' journal on failure, and the seconds each phase took. Containers,
# images and files it made are removed on exit, also on failure.
#
# Environment:
#   MSOCK_BUILD_DIR            the build to install (default build/release)
#   MSOCK_SYSTEMD_BOOT_ROOTFS  a debootstrap root to reuse (made there,
#                              and kept, when missing): saves ~50 s a run
#   MSOCK_DEBIAN_MIRROR        default: the first .../debian of
#                              /etc/apt/sources.list*
#   MSOCK_SYSTEMD_BOOT_KEEP    1: leave the container and image (says how
#                              to remove them)
set -Eeuo pipefail
trap 'echo "systemd_boot.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR

if [ "${MSOCK_SYSTEMD_BOOT:-}" != 1 ]; then
  echo "systemd_boot: skipped (opt-in: MSOCK_SYSTEMD_BOOT=1, as root; installs podman and debootstrap when missing)"
  exit 77
fi
[ "$(id -u)" = 0 ] || {
  echo "systemd_boot: run as root (rootful podman, debootstrap, apt-get)" >&2
  exit 1
}

# What this script runs on this machine, by the package that has it;
# installed when missing (nothing here may rely on a package installed by
# hand). runc by name: the containers run with --runtime runc, and
# podman's dependency is crun or runc. debian-archive-keyring: debootstrap
# checks the mirror's Release file with it (a Recommends of debootstrap,
# which --no-install-recommends would leave out).
missing=()
for need in podman:podman runc:runc debootstrap:debootstrap cmake:cmake openssl:openssl jq:jq \
  /usr/share/keyrings/debian-archive-keyring.gpg:debian-archive-keyring; do
  what=${need%%:*}
  if [[ $what == /* ]]; then
    [ -e "$what" ] || missing+=("${need#*:}")
  else
    command -v "$what" >/dev/null || missing+=("${need#*:}")
  fi
done
if [ "${#missing[@]}" -ne 0 ]; then
  echo "0. installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The package lists only when the install fails without them (a fresh
  # image has none): apt-get update is slow and changes this machine.
  log=/var/tmp/msock-sdboot-apt.log
  if ! apt-get install -y --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    if ! { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } >>"$log" 2>&1; then
      tail -20 "$log" >&2
      echo "FAIL: apt-get install ${missing[*]} (log: $log)" >&2
      exit 1
    fi
  fi
fi

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${MSOCK_BUILD_DIR:-$src/build/release}
[ -x "$build/bin/msock-broker" ] || {
  echo "systemd_boot: no build in $build (set MSOCK_BUILD_DIR)" >&2
  exit 1
}
mirror=${MSOCK_DEBIAN_MIRROR:-$({ grep -rhoE '(URIs:|^deb)[[:space:]]+[^[:space:]]+/debian/?([[:space:]]|$)' \
  /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null || true; } | awk '{print $2; exit}')}
mirror=${mirror:-http://deb.debian.org/debian}
name=msock-sdboot-$$
image=localhost/msock-sdboot:$$
host=msock-sdboot
work=$(mktemp -d /var/tmp/msock-sdboot.XXXXXX)
cleanup() {
  if [ "${MSOCK_SYSTEMD_BOOT_KEEP:-}" = 1 ]; then
    echo "kept: podman exec -it $name bash; then podman rm -f $name; podman rmi $image"
    return 0
  fi
  podman rm -f "$name" >/dev/null 2>&1 || true
  podman rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fails=0
fail() {
  echo "FAIL: $*" >&2
  fails=$((fails + 1))
}
t0=$(date +%s)
tp=$t0
phases=()
phase_done() {
  local now
  now=$(date +%s)
  phases+=("$(printf '  %-28s %4d s' "$1" $((now - tp)))")
  tp=$now
}
in_ct() { podman exec "$name" "$@"; }
# What systemd ignored, the journal when something failed, the seconds
# per phase; returns 1 when a check failed.
finish() {
  echo "what systemd ignored (msock units):"
  in_ct journalctl --no-pager -o cat -u 'msock*' | grep -E 'ignoring|not supported' | sort | uniq -c |
    sed 's/^/   /' || echo "   nothing"
  if [ "$fails" -ne 0 ]; then
    echo "--- the msock units' errors, each line once, with its count ---"
    in_ct journalctl --no-pager -o cat -u 'msock*' | grep -E 'ERROR|WARN|Failed (at|to set up)' |
      sed -E 's/^[0-9:.]+ //' | sort | uniq -c | sort -rn | head -30
  fi
  echo "seconds per phase:"
  printf '%s\n' "${phases[@]}"
  printf '  %-28s %4d s\n' total $(($(date +%s) - t0))
  if [ "$fails" -ne 0 ]; then
    echo "systemd_boot: $fails check(s) failed" >&2
    return 1
  fi
  echo "systemd_boot: ok"
}

echo "1. a Debian 12 root (debootstrap minbase, $mirror)"
pkgs=systemd,systemd-sysv,dbus,libzmq5,libsodium23,libseccomp2,libjansson4,libprotobuf-c1
pkgs+=,libssl3,libhttp-parser2.9,libminiupnpc17,ca-certificates,iproute2
cache=${MSOCK_SYSTEMD_BOOT_ROOTFS:-}
if [ -n "$cache" ] && [ -x "$cache/sbin/init" ]; then
  cp -a "$cache" "$work/rootfs"
else
  debootstrap --variant=minbase --include="$pkgs" bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    {
      tail -20 "$work/debootstrap.log" >&2
      echo "FAIL: debootstrap" >&2
      exit 1
    }
  if [ -n "$cache" ]; then
    mkdir -p "$(dirname "$cache")"
    cp -a "$work/rootfs" "$cache"
  fi
fi
phase_done rootfs

echo "2. cmake --install into it, a certificate for msock-derper, the image"
r=$work/rootfs
DESTDIR=$r cmake --install "$build" --prefix /usr >/dev/null
# The derper's shipped ExecStart: -certmode manual, certdir
# /var/lib/derper/certs, -hostname %H (the container's host name).
mkdir -p "$r/var/lib/derper/certs"
chmod 0700 "$r/var/lib/derper"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$host" \
  -addext "subjectAltName=DNS:$host" -keyout "$r/var/lib/derper/certs/$host.key" \
  -out "$r/var/lib/derper/certs/$host.crt" 2>/dev/null
# msock.service with a config of the broker-supervised mode (the
# installed one says "external").
sed '/"supervise"/d' "$src/deploy/msock.json" >"$r/etc/msock/broker.json"
mkdir -p "$r/etc/systemd/system/msock.service.d"
printf '[Service]\nExecStart=\nExecStart=/usr/bin/msock-broker --config /etc/msock/broker.json\n' \
  >"$r/etc/systemd/system/msock.service.d/test.conf"
tar -C "$r" -c . | podman import - "$image" >/dev/null
phase_done "install + image"

echo "3. boot systemd in a container"
# Limits no higher than this machine's hard ones (podman refuses more).
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; then nofile=65536; fi
if [ "$nproc" = unlimited ] || [ "$nproc" -gt 16384 ]; then nproc=16384; fi
# CAP_SYS_ADMIN lets systemd set up the units' namespaces (ProtectSystem,
# PrivateNetwork, ...) as on a host; without it, it ignores them.
# CAP_SYS_PTRACE is for this script's readlink /proc/PID/root; the units
# have bounding sets of their own.
podman run -d --name "$name" --hostname "$host" --systemd=always --runtime runc \
  --cgroup-manager cgroupfs --cap-add SYS_ADMIN --cap-add SYS_PTRACE \
  --ulimit "nofile=$nofile:$nofile" \
  --ulimit "nproc=$nproc:$nproc" "$image" /sbin/init >/dev/null
state=
for _ in $(seq 1 120); do
  state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
  case $state in running | degraded) break ;; esac
  sleep 0.5
done
echo "   system: ${state:-not up}"
[ "$state" = running ] || [ "$state" = degraded ] || fail "systemd did not come up ($state)"
phase_done boot

echo "4. sysusers: the fixed users"
for u in msock-dataplane:61001 msock-disco:61002 msock-derp:61003 msock-netcheck:61004 \
  msock-portmapper:61005 msock-derper:61006; do
  got=$(in_ct getent passwd "${u%%:*}" | cut -d: -f3 || true)
  [ "$got" = "${u#*:}" ] || fail "user ${u%%:*}: uid ${got:-missing}, want ${u#*:}"
done
[ "$(in_ct getent group msock | cut -d: -f3)" = 61000 ] || fail "group msock is not 61000"

# check_proc NAME PID UID ROOT: the process runs as UID, chrooted to
# ROOT, with no capabilities, no_new_privs and a seccomp filter.
check_proc() {
  local st uid caps nnp sec root
  st=$(in_ct cat "/proc/$2/status" 2>/dev/null || true)
  uid=$(awk '/^Uid:/{print $2}' <<<"$st")
  caps=$(awk '/^CapEff:/{print $2}' <<<"$st")
  nnp=$(awk '/^NoNewPrivs:/{print $2}' <<<"$st")
  sec=$(awk '/^Seccomp:/{print $2}' <<<"$st")
  root=$(in_ct readlink "/proc/$2/root" 2>/dev/null || true)
  printf '   %-11s pid %-5s uid %-6s CapEff %s NoNewPrivs %s Seccomp %s root %s\n' \
    "$1" "$2" "$uid" "$caps" "$nnp" "$sec" "$root"
  [ "$uid" = "$3" ] || fail "$1 runs as uid $uid, not $3"
  [ "$caps" = 0000000000000000 ] || fail "$1 has capabilities $caps"
  if [ "$nnp" != 1 ] || [ "$sec" != 2 ]; then fail "$1: NoNewPrivs $nnp Seccomp $sec"; fi
  [ "$root" = "$4" ] || fail "$1's root is $root, not $4"
}
# Fields of `msockctl status --json` (docs/status-json.md).
status() { { in_ct msockctl status --json 2>/dev/null || echo '{}'; } | jq -r "$@"; }
# The components' state on the bus: both keys and the dataplane's port.
keys_back() {
  local k
  for _ in $(seq 1 20); do
    k=$(status '[.Self.NodeKey, .Self.DiscoKey, (.Self.Dataplane.Port // 0)] | map(tostring) | join(" ")')
    [[ $k == nodekey:*" "discokey:*" 41641" ]] && return 0
    sleep 0.5
  done
  echo "   status: NodeKey DiscoKey Dataplane.Port = ${k:-?}"
  return 1
}
comps=(dataplane disco derp netcheck portmapper)
declare -A uids=([dataplane]=61001 [disco]=61002 [derp]=61003 [netcheck]=61004 [portmapper]=61005)

echo "5. msock-derper (the shipped unit: TLS on 443, HTTP on 80, STUN)"
in_ct systemctl start msock-derper.service || fail "systemctl start msock-derper failed"
sleep 2
dpid=$(in_ct systemctl show -P MainPID msock-derper.service)
if [ "$dpid" = 0 ]; then
  fail "msock-derper is not running"
else
  check_proc derper "$dpid" 61006 /run/msock-derper
fi
phase_done derper

echo "6. msock.service: the broker spawns the components (a config without \"supervise\")"
in_ct timeout 60 systemctl start msock.service || fail "systemctl start msock.service failed"
n=0
for _ in $(seq 1 20); do
  n=$(status '[(.Components // {})[] | select(.State == "running")] | length')
  [ "$n" = "${#comps[@]}" ] && break
  sleep 0.5
done
[ "$n" = "${#comps[@]}" ] || fail "msock.service: $n of ${#comps[@]} components running"
for c in "${comps[@]}"; do
  p=$(status "(.Components // {}).$c.PID // 0")
  if [ "$p" = 0 ]; then
    fail "msock.service: no $c"
  else
    check_proc "$c" "$p" "${uids[$c]}" /run/msock/bus
  fi
done
keys_back || fail "msock.service: the components' state is not on the bus"
in_ct systemctl stop msock.service || fail "systemctl stop msock.service failed"
left=$(in_ct sh -c 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\0" " "' | grep -oE 'msock-(broker|dataplane|disco|derp|netcheck|portmapper) ' || true)
[ -z "$left" ] || fail "systemctl stop msock left: $left"
phase_done "msock.service"

echo "7. msock.target: systemd supervises each process"
units=(msock-broker "${comps[@]/#/msock-}")
in_ct timeout 60 systemctl start msock.target || fail "systemctl start msock.target failed"
up=0
for _ in $(seq 1 30); do
  up=$(in_ct systemctl show -P SubState "${units[@]/%/.service}" | grep -c '^running$' || true)
  [ "$up" = "${#units[@]}" ] && break
  sleep 0.5
done
in_ct systemctl list-units 'msock*' --all --no-pager --no-legend | sed 's/^/   /'
phase_done "start msock.target"
if [ "$up" != "${#units[@]}" ]; then
  fail "$up of ${#units[@]} units running"
  finish || exit
fi
keys_back || fail "the bus has not the components' state (SelfKeys, DataplaneState)"
ports=$(status '"\(.Self.Dataplane.Port) \(.Self.Dataplane.WGEndpointPort)"')
echo "   dataplane ports (peer, wg): $ports"
[ "$ports" = "41641 41642" ] || fail "the dataplane took the wrong socket for a port: $ports"
declare -A pid
for c in "${comps[@]}"; do
  pid[$c]=$(in_ct systemctl show -P MainPID "msock-$c.service")
  check_proc "$c" "${pid[$c]}" "${uids[$c]}" /run/msock/bus
done

echo "8. a broker restart leaves the components running"
in_ct systemctl restart msock-broker.service || fail "systemctl restart msock-broker failed"
sleep 3
for c in "${comps[@]}"; do
  now=$(in_ct systemctl show -P MainPID "msock-$c.service")
  [ "$now" = "${pid[$c]}" ] || fail "msock-$c: pid ${pid[$c]} became $now across a broker restart"
done
[ -n "$(in_ct ls /run/msock/bus/ch-disco)" ] || fail "the channel directory is empty after the restart"
keys_back || fail "the components did not set their state again on the new broker"

echo "9. a dataplane restart keeps systemd's UDP socket"
inode() { in_ct cat /proc/net/udp | awk '$2 ~ /:A2A9$/ {print $10; exit}'; }
before=$(inode)
in_ct systemctl restart msock-dataplane.service || fail "systemctl restart msock-dataplane failed"
sleep 2
after=$(inode)
if [ -z "$before" ] || [ "$before" != "$after" ]; then
  fail "port 41641's socket was ${before:-none}, is ${after:-none}"
fi
[ "$(in_ct systemctl show -P SubState msock-dataplane.service)" = running ] ||
  fail "msock-dataplane is not running after its restart"
phase_done "components"

finish || exit
