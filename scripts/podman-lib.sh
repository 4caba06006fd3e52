# shellcheck shell=bash
# podman-lib.sh: what scripts/image.sh, tests/scripts/image_smoke.sh and
# tests/scripts/systemd_boot.sh share (sourced, root): the packages podman needs on this machine, a
# containers.conf with what works here, and the Debian mirror.
#
# This machine: rootful podman 4.3 runs containers with runc and cgroupfs
# (crun fails), and only with ulimits no higher than the host's hard
# limits. containers.conf says so once; CONTAINERS_CONF points at it.

# podman_need [COMMAND:PACKAGE ...]: install what is missing (apt-get,
# noninteractive): podman, runc, debootstrap, and what the caller adds (a
# command or, starting with /, a file, and the package that has it). runc by
# name: podman depends on crun or runc. debian-archive-keyring: debootstrap
# checks the mirror's Release file with it (a Recommends it would lose).
# shellcheck disable=SC2120 # the extra packages are optional
podman_need() {
  local need what missing=() log
  for need in podman:podman runc:runc debootstrap:debootstrap \
    /usr/share/keyrings/debian-archive-keyring.gpg:debian-archive-keyring "$@"; do
    what=${need%%:*}
    if [[ $what == /* ]]; then
      [ -e "$what" ] || missing+=("${need#*:}")
    else
      command -v "$what" >/dev/null || missing+=("${need#*:}")
    fi
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The package lists only when the install fails without them: apt-get
  # update is slow and changes this machine.
  log=$(mktemp /var/tmp/msock-podman-apt.XXXXXX)
  if ! apt-get install -y --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    if ! { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } >>"$log" 2>&1; then
      tail -20 "$log" >&2
      echo "FAIL: apt-get install ${missing[*]} (log: $log)" >&2
      return 1
    fi
  fi
  rm -f "$log"
}

# podman_conf DIR: writes DIR/containers.conf and exports CONTAINERS_CONF;
# sets PODMAN_ULIMITS (the --ulimit flags, for podman build, which takes
# them from its command line).
podman_conf() {
  local nofile nproc
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  if [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; then nofile=65536; fi
  if [ "$nproc" = unlimited ] || [ "$nproc" -gt 16384 ]; then nproc=16384; fi
  cat >"$1/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
  export CONTAINERS_CONF=$1/containers.conf
  # shellcheck disable=SC2034 # for the scripts that source this file
  PODMAN_ULIMITS=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
}

# podman_mirror: this machine's Debian mirror (MSOCK_DEBIAN_MIRROR, else the
# first .../debian of its apt sources, else deb.debian.org).
podman_mirror() {
  local m=${MSOCK_DEBIAN_MIRROR:-}
  if [ -z "$m" ]; then
    m=$({ grep -rhoE '(URIs:|^deb)[[:space:]]+[^[:space:]]+/debian/?([[:space:]]|$)' \
      /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null || true; } | awk '{print $2; exit}')
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

# A script's own checks: fail counts without stopping (the script exits
# non-zero at its end when fails > 0), phase_done NAME notes the seconds
# since the last phase (phases_start first); the script prints ${phases[@]}.
# shellcheck disable=SC2034 # fails, t0 and phases are read by the scripts
fails=0
fail() {
  echo "FAIL: $*" >&2
  fails=$((fails + 1))
}
phases_start() {
  t0=$(date +%s)
  tp=$t0
  # shellcheck disable=SC2034 # read by the scripts
  phases=()
}
phase_done() {
  local now
  now=$(date +%s)
  phases+=("$(printf '  %-28s %4d s' "$1" $((now - tp)))")
  tp=$now
}

# podman_host_snapshot DIR: notes the host's bridges and podman's firewall
# chains (netavark's NETAVARK*, CNI's CNI-*) and jumps to them, so that
# podman_host_restore DIR removes only those a test's networks added (podman
# leaves them when its last network goes).
podman_host_snapshot() {
  ip -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | sort >"$1/bridges.before"
  iptables-save 2>/dev/null | grep -E '^(:|-A ).*(NETAVARK|CNI-)' | sort >"$1/fw.before" || true
}
podman_host_restore() {
  local d=$1 br t rule chain
  [ -f "$d/bridges.before" ] || return 0
  for br in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | sort |
    comm -13 "$d/bridges.before" -); do
    case $br in podman* | cni-podman*) ip link del "$br" 2>/dev/null ;; esac
  done
  for t in nat filter; do
    iptables-save -t "$t" 2>/dev/null | grep -E '^-A .*-j (NETAVARK|CNI-)' | sort |
      comm -13 "$d/fw.before" - | sed 's/^-A //' |
      while read -r rule; do eval "iptables -t $t -D $rule" 2>/dev/null; done
    for chain in $(iptables-save -t "$t" 2>/dev/null | grep -E '^:(NETAVARK|CNI-)' | sort |
      comm -13 "$d/fw.before" - | sed 's/^:\([^ ]*\).*/\1/'); do
      iptables -t "$t" -F "$chain" 2>/dev/null
    done
    for chain in $(iptables-save -t "$t" 2>/dev/null | grep -E '^:(NETAVARK|CNI-)' | sort |
      comm -13 "$d/fw.before" - | sed 's/^:\([^ ]*\).*/\1/'); do
      iptables -t "$t" -X "$chain" 2>/dev/null
    done
  done
}

# podman_project_rm PROJECT: removes a compose project's containers (those
# joining another's namespaces, named with a dash by our compose files,
# first: podman refuses to remove a container others depend on), then its
# networks and volumes. Prints what is left (nothing, normally).
podman_project_rm() {
  local p=$1 ids=() name
  local f="label=com.docker.compose.project=$p"
  mapfile -t ids < <(podman ps -a --filter "$f" --format '{{.Names}}' | grep -- '-' || true)
  [ "${#ids[@]}" -eq 0 ] || podman rm -f -t 2 "${ids[@]}" >/dev/null 2>&1
  mapfile -t ids < <(podman ps -a --filter "$f" --format '{{.Names}}')
  [ "${#ids[@]}" -eq 0 ] || podman rm -f -t 2 "${ids[@]}" >/dev/null 2>&1
  mapfile -t ids < <(podman network ls --filter "$f" --format '{{.Name}}')
  [ "${#ids[@]}" -eq 0 ] || podman network rm -f "${ids[@]}" >/dev/null 2>&1
  mapfile -t ids < <(podman volume ls -q --filter "$f")
  [ "${#ids[@]}" -eq 0 ] || podman volume rm -f "${ids[@]}" >/dev/null 2>&1
  for name in $(podman ps -a --filter "$f" --format '{{.Names}}') \
    $(podman network ls --filter "$f" --format '{{.Name}}') $(podman volume ls -q --filter "$f"); do
    echo "$name"
  done
}

# phases_report NAME: the seconds of each phase and the total, then NAME's
# verdict; false when a check failed.
phases_report() {
  echo "seconds per phase:"
  printf '%s\n' "${phases[@]}"
  printf '  %-28s %4d s\n' total $(($(date +%s) - t0))
  if [ "$fails" -ne 0 ]; then
    echo "$1: $fails check(s) failed" >&2
    return 1
  fi
  echo "$1: ok"
}
