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
# - msock-derper's shipped unit comes up as its user in its chroot;
# - msock.service ("supervise": "broker"): the broker runs all five
#   components, each as its fixed uid, chrooted into /run/msock/bus, with
#   no capabilities, no_new_privs and a seccomp filter; kill -9 of the
#   broker: systemd starts it again (Restart=on-failure) and, the
#   components having outlived it (KillMode=process), it adopts them:
#   the same pids, Supervisor "broker (adopted)", their state back, and
#   the dataplane's sockets taken back (a dataplane restart then keeps
#   them); then `systemctl stop msock` leaves none;
# - msock.target ("supervise": "external", the installed config): the
#   broker and the five component units, the same credentials, each
#   component running in `msockctl status` with its unit's pid and
#   Supervisor "systemd (msock-<name>.service)", the dataplane on
#   systemd's sockets (41641, 41642, 7 MiB buffers); `systemctl restart
#   msock-broker` and kill -9 of the broker leave the components' pids
#   alone, each sees the new broker (Bus.BrokerRestarts) and their state
#   comes back on the bus; `systemctl restart msock-disco` counts as a
#   restart of disco; a dataplane restart keeps systemd's sockets;
#   `systemctl stop msock.target` leaves none.
# It prints each process's credentials, what systemd ignored, the errors
# in the units' journal on failure, and the seconds each phase and each
# recovery took. Containers, images and files it made are removed on
# exit, also on failure.
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

src=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../../scripts/podman-lib.sh
. "$src/scripts/podman-lib.sh"
# What this script runs, installed when missing (nothing here may rely on a
# package installed by hand).
podman_need cmake:cmake openssl:openssl jq:jq || exit 1

build=${MSOCK_BUILD_DIR:-$src/build/release}
[ -x "$build/bin/msock-broker" ] || {
  echo "systemd_boot: no build in $build (set MSOCK_BUILD_DIR)" >&2
  exit 1
}
mirror=$(podman_mirror)
name=msock-sdboot-$$
image=localhost/msock-sdboot:$$
host=msock-sdboot
work=$(mktemp -d /var/tmp/msock-sdboot.XXXXXX)
cleanup() {
  if [ "${MSOCK_SYSTEMD_BOOT_KEEP:-}" = 1 ]; then
    echo "kept: podman exec -it $name bash; then podman rm -f $name; podman rmi $image; rm -rf $work"
    return 0
  fi
  podman rm -f "$name" >/dev/null 2>&1 || true
  podman rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

phases_start
# Milliseconds, for the recoveries (a broker restart, ...).
ms() { echo $(($(date +%s%N) / 1000000)); }
recoveries=()
recovered() { recoveries+=("$(printf '  %-52s %6d ms' "$1" $(($(ms) - $2)))"); }
in_ct() { podman exec "$name" "$@"; }
# What systemd ignored, the journal when something failed, the seconds
# per phase; returns 1 when a check failed.
finish() {
  echo "what systemd ignored (msock units):"
  in_ct journalctl --no-pager -o cat -u 'msock*' | grep -iE 'ignoring|not supported' | sort | uniq -c |
    sed 's/^/   /' || echo "   nothing"
  if [ "$fails" -ne 0 ]; then
    echo "--- the msock units' errors, each line once, with its count ---"
    in_ct journalctl --no-pager -o cat -u 'msock*' | grep -E 'ERROR|WARN|Failed (at|to set up)' |
      sed -E 's/^[0-9:.]+ //' | sort | uniq -c | sort -rn | head -30
  fi
  echo "milliseconds to recover (from the kill or restart):"
  printf '%s\n' "${recoveries[@]}"
  phases_report systemd_boot
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
grep -q '"supervise": "external"' "$r/etc/msock/msock.json" ||
  fail "the installed /etc/msock/msock.json does not say \"supervise\": \"external\""
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
# CAP_NET_ADMIN, as systemd has on a host: the socket units' 7 MiB
# buffers past net.core.rmem_max (SO_RCVBUFFORCE; without it they are
# cut to rmem_max, silently) and the loopback of PrivateNetwork=.
# CAP_SYS_PTRACE is for this script's readlink /proc/PID/root, and lets
# the units have it where they ask for it (msock.service). The units
# have bounding sets of their own. --network none: the sockets are
# bound on the wildcard address and only loopback is used, so the
# container needs no bridge (nor netavark's firewall rules on this host).
# --cgroupns=private, podman's default on cgroup v2 but not on v1: the
# container sees its own cgroup tree, so a component's /proc/<pid>/cgroup
# is /system.slice/msock-disco.service, which the broker names "systemd
# (msock-disco.service)". In the host's namespace (v1's default) the path
# starts with /libpod_parent/libpod-<id>/; the broker takes off what it
# shares with its own cgroup (broker/external.c) and says the same (run
# once without this flag: it passes too).
podman run -d --name "$name" --hostname "$host" --systemd=always --runtime runc \
  --cgroup-manager cgroupfs --network none --cgroupns=private --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add SYS_PTRACE \
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
# wait_status JQ WANT [TRIES]: until the jq expression JQ prints WANT,
# every 0.1 s (default 100 tries, 10 s); 1 when it never did.
wait_status() {
  local got=
  for _ in $(seq 1 "${3:-100}"); do
    got=$(status "$1")
    [ "$got" = "$2" ] && return 0
    sleep 0.1
  done
  echo "   status: $1 = ${got:-?}, want $2"
  return 1
}
# The components' state on the bus: both keys and the dataplane's ports,
# which a new broker's cache has only once the components set them again.
state_jq='[.Self.NodeKey[0:8], .Self.DiscoKey[0:9], (.Self.Dataplane.Port // 0), (.Self.Dataplane.WGEndpointPort // 0)] | map(tostring) | join(" ")'
state_want='nodekey: discokey: 41641 41642'
state_back() { wait_status "$state_jq" "$state_want"; }
# The inode of the IPv4 socket bound to port $1 (hex): the same socket
# or another on the same port.
inode() { in_ct cat /proc/net/udp | awk -v p=":$1" '$2 ~ p"$" {print $10; exit}'; }
socks() { echo "$(inode A2A9) $(inode A2AA)"; } # 41641, 41642
# 7 MiB asked (the socket units' ReceiveBuffer=, the broker's
# SO_RCVBUFFORCE), twice that as the kernel reports it.
bufs_want="14680064 14680064"
bufs() { status '"\(.Self.Dataplane.RcvBuf) \(.Self.Dataplane.SndBuf)"'; }
# The broker's view of the components: "name:pid:state:supervisor:restarts",
# one per line, sorted.
comps_jq='(.Components // {}) | to_entries | map("\(.key):\(.value.PID):\(.value.State):\(.value.Supervisor):\(.value.Restarts)") | sort | .[]'
# want_comps SUPERVISOR_FMT: what comps_jq must print with the pids in
# pid[], the restarts in restarts[] and the supervisor in sup[], else
# SUPERVISOR_FMT (%s in it: the name).
want_comps() {
  for c in $(printf '%s\n' "${comps[@]}" | sort); do
    printf '%s:%s:running:%s:%s\n' "$c" "${pid[$c]}" "${sup[$c]:-${1//%s/$c}}" "${restarts[$c]:-0}"
  done
}
comps=(dataplane disco derp netcheck portmapper)
declare -A uids=([dataplane]=61001 [disco]=61002 [derp]=61003 [netcheck]=61004 [portmapper]=61005)
declare -A pid restarts sup
# The broker's MainPID, once systemd has one other than $1 (a restart).
new_main_pid() {
  local p=0
  for _ in $(seq 1 100); do
    p=$(in_ct systemctl show -P MainPID "$2")
    if [ "$p" != 0 ] && [ "$p" != "$1" ]; then
      echo "$p"
      return 0
    fi
    sleep 0.1
  done
  echo 0
}

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

echo "6. msock.service: the broker runs the components (a config without \"supervise\")"
in_ct timeout 60 systemctl start msock.service || fail "systemctl start msock.service failed"
n=0
for _ in $(seq 1 100); do
  n=$(status '[(.Components // {})[] | select(.State == "running")] | length')
  [ "$n" = "${#comps[@]}" ] && break
  sleep 0.1
done
[ "$n" = "${#comps[@]}" ] || fail "msock.service: $n of ${#comps[@]} components running"
for c in "${comps[@]}"; do
  pid[$c]=$(status "(.Components // {}).$c.PID // 0")
  if [ "${pid[$c]}" = 0 ]; then
    fail "msock.service: no $c"
  else
    check_proc "$c" "${pid[$c]}" "${uids[$c]}" /run/msock/bus
  fi
done
state_back || fail "msock.service: the components' state is not on the bus"
b=$(bufs)
echo "   dataplane buffers (rcv, snd): $b"
[ "$b" = "$bufs_want" ] || fail "msock.service: the dataplane's buffers are $b, not $bufs_want"

echo "6b. kill -9 of the broker: systemd starts it again, it adopts the components"
bpid=$(in_ct systemctl show -P MainPID msock.service)
t=$(ms)
in_ct sh -c "kill -9 $bpid"
nbpid=$(new_main_pid "$bpid" msock.service)
recovered "msock.service: kill -9 -> systemd's new broker" "$t"
[ "$nbpid" != 0 ] || fail "msock.service: no new broker after kill -9 of $bpid"
if wait_status "$comps_jq" "$(want_comps 'broker (adopted)')"; then
  recovered "msock.service: kill -9 -> all five adopted (same pids)" "$t"
else
  fail "msock.service: the new broker did not adopt the five components (same pids)"
fi
if state_back; then
  recovered "msock.service: kill -9 -> the state back on the bus" "$t"
else
  fail "msock.service: the components did not set their state again on the new broker"
fi
for c in "${comps[@]}"; do
  in_ct sh -c "kill -0 ${pid[$c]}" || fail "msock.service: $c (pid ${pid[$c]}) died with the broker"
done
# The adopting broker took the dataplane's sockets back (pidfd_getfd):
# a dataplane it restarts gets them, the same sockets. (The journal read
# whole first: grep -q would leave journalctl a SIGPIPE, a failed
# pipeline under pipefail.)
log=$(in_ct journalctl --no-pager -o cat -u msock.service)
grep -qF "adopted dataplane (pid ${pid[dataplane]}, restarts 0) and its sockets" <<<"$log" ||
  fail "msock.service: the new broker did not take the dataplane's sockets back"
before=$(socks)
t=$(ms)
in_ct msockctl restart dataplane >/dev/null || fail "msockctl restart dataplane failed"
for _ in $(seq 1 100); do
  p=$(status '(.Components // {}).dataplane | "\(.PID) \(.State)"')
  [ "${p% *}" != "${pid[dataplane]}" ] && [ "${p#* }" = running ] && break
  sleep 0.1
done
pid[dataplane]=${p% *}
restarts[dataplane]=1
sup[dataplane]=broker # this broker's own child now
if wait_status "$comps_jq" "$(want_comps 'broker (adopted)')"; then
  recovered "msock.service: adopted, msockctl restart dataplane" "$t"
else
  fail "msock.service: the restarted dataplane is not running"
fi
after=$(socks)
echo "   sockets 41641 41642 across the adopted dataplane's restart: inodes $before, then $after"
if [[ ! $before =~ ^[0-9]+\ [0-9]+$ ]] || [ "$before" != "$after" ]; then
  fail "msock.service: the dataplane's sockets changed across its restart after the adoption"
fi
state_back || fail "msock.service: the restarted dataplane's state is not on the bus"
in_ct systemctl stop msock.service || fail "systemctl stop msock.service failed"
left=$(in_ct sh -c 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\0" " "' | grep -oE 'msock-(broker|dataplane|disco|derp|netcheck|portmapper) ' || true)
[ -z "$left" ] || fail "systemctl stop msock left: $left"
phase_done "msock.service"

echo "7. msock.target: systemd supervises each process"
units=(msock-broker "${comps[@]/#/msock-}")
in_ct timeout 60 systemctl start msock.target || fail "systemctl start msock.target failed"
up=0
for _ in $(seq 1 100); do
  up=$(in_ct systemctl show -P SubState "${units[@]/%/.service}" | grep -c '^running$' || true)
  [ "$up" = "${#units[@]}" ] && break
  sleep 0.1
done
in_ct systemctl list-units 'msock*' --all --no-pager --no-legend | sed 's/^/   /'
phase_done "start msock.target"
if [ "$up" != "${#units[@]}" ]; then
  fail "$up of ${#units[@]} units running"
  finish || exit
fi
sup=()
for c in "${comps[@]}"; do
  pid[$c]=$(in_ct systemctl show -P MainPID "msock-$c.service")
  restarts[$c]=0
  check_proc "$c" "${pid[$c]}" "${uids[$c]}" /run/msock/bus
done
wait_status "$comps_jq" "$(want_comps 'systemd (msock-%s.service)')" ||
  fail "msockctl status does not show the five units' pids running, supervised by systemd"
state_back || fail "the bus has not the components' state (SelfKeys, DataplaneState: systemd's ports)"
echo "   dataplane ports (peer, wg): $(status '"\(.Self.Dataplane.Port) \(.Self.Dataplane.WGEndpointPort)"')"
b=$(bufs)
echo "   dataplane buffers (rcv, snd): $b"
[ "$b" = "$bufs_want" ] || fail "the dataplane's buffers (systemd's sockets) are $b, not $bufs_want"

# broker_back WHAT T0 N: after a broker restart or kill, the components'
# pids unchanged (systemd's and the new broker's view), each having seen
# N new brokers (their BusStats), and their state set again.
broker_back() {
  for c in "${comps[@]}"; do
    now=$(in_ct systemctl show -P MainPID "msock-$c.service")
    [ "$now" = "${pid[$c]}" ] || fail "msock-$c: pid ${pid[$c]} became $now across $1"
  done
  if wait_status "$comps_jq" "$(want_comps 'systemd (msock-%s.service)')"; then
    recovered "msock.target: $1 -> the five on the new bus" "$2"
  else
    fail "after $1, msockctl status does not show the five components running with their pids"
  fi
  if wait_status '[(.Components // {})[] | .Bus.BrokerRestarts // 0] | map(tostring) | join(" ")' \
    "$(printf "$3 %.0s" "${comps[@]}" | sed 's/ $//')"; then
    recovered "msock.target: $1 -> each saw the new broker ($3)" "$2"
  else
    fail "after $1, not every component counts $3 broker restarts (Bus.BrokerRestarts)"
  fi
  if state_back; then
    recovered "msock.target: $1 -> the state back" "$2"
  else
    fail "after $1, the components did not set their state again on the new broker"
  fi
}

echo "8. systemctl restart msock-broker leaves the components running"
t=$(ms)
in_ct systemctl restart msock-broker.service || fail "systemctl restart msock-broker failed"
recovered "msock.target: systemctl restart msock-broker (returns)" "$t"
broker_back "a broker restart" "$t" 1

echo "9. kill -9 of the broker: systemd starts it again (Restart=on-failure)"
bpid=$(in_ct systemctl show -P MainPID msock-broker.service)
t=$(ms)
in_ct sh -c "kill -9 $bpid"
nbpid=$(new_main_pid "$bpid" msock-broker.service)
[ "$nbpid" != 0 ] || fail "no new broker after kill -9 of $bpid"
recovered "msock.target: kill -9 broker -> systemd's new broker" "$t"
broker_back "kill -9 of the broker" "$t" 2

echo "10. systemctl restart msock-disco: a restart of disco"
t=$(ms)
in_ct systemctl restart msock-disco.service || fail "systemctl restart msock-disco failed"
pid[disco]=$(in_ct systemctl show -P MainPID msock-disco.service)
restarts[disco]=1
if wait_status "$comps_jq" "$(want_comps 'systemd (msock-%s.service)')"; then
  recovered "msock.target: restart msock-disco -> running, Restarts 1" "$t"
else
  fail "msockctl status does not show disco's new pid ${pid[disco]} with Restarts 1"
fi
state_back || fail "the disco key is not back after disco's restart"

echo "11. a dataplane restart keeps systemd's UDP sockets"
before=$(socks)
t=$(ms)
in_ct systemctl restart msock-dataplane.service || fail "systemctl restart msock-dataplane failed"
pid[dataplane]=$(in_ct systemctl show -P MainPID msock-dataplane.service)
restarts[dataplane]=1
after=$(socks)
echo "   sockets 41641 41642: inodes $before, then $after"
if [[ ! $before =~ ^[0-9]+\ [0-9]+$ ]] || [ "$before" != "$after" ]; then
  fail "the dataplane's sockets (41641, 41642) changed across its restart: $before, then $after"
fi
if wait_status "$comps_jq" "$(want_comps 'systemd (msock-%s.service)')"; then
  recovered "msock.target: restart msock-dataplane -> running, Restarts 1" "$t"
else
  fail "msockctl status does not show the dataplane's new pid ${pid[dataplane]} with Restarts 1"
fi
state_back || fail "the dataplane's ports are not 41641/41642 after its restart"
phase_done "components"

echo "12. systemctl stop msock.target stops every msock process"
in_ct systemctl stop msock.target || fail "systemctl stop msock.target failed"
left=$(in_ct sh -c 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\0" " "' | grep -oE 'msock-(broker|dataplane|disco|derp|netcheck|portmapper) ' || true)
[ -z "$left" ] || fail "systemctl stop msock.target left: $left"
phase_done "stop"

finish || exit
