#!/usr/bin/env bash
# compose_one_node: deploy/compose.yaml runs one node. Opt-in, root:
#   MSOCK_TEST_DEPLOY=1 bash tests/scripts/compose_one_node.sh
# The image must exist (scripts/image.sh builds it when missing). Runs
# docker-compose (1.29, Debian's; installed when missing) against a
# `podman system service` of its own: Debian's podman-compose 1.0.3 cannot
# run the file (it passes network_mode: service:X to podman as is, adds
# --net PROJECT_default beside it, and ignores pid:).
# 1. up: the seven containers (the node's namespace holder and six
#    programs); `msockctl status --json`, in the broker's container, shows
#    the five components running, each process with its fixed uid
#    (61001-61005; all share the node's pid namespace, so /proc there shows
#    theirs) and Self.NodeKey and Self.DiscoKey;
# 2. kill -9 of the disco container's process: podman restarts it
#    (restart: on-failure) and the broker shows it running again, a new pid;
# 3. kill -9 of the broker's process: the components run on (same pids),
#    podman restarts the broker, and each component sets its state again;
# 4. down; prints the seconds of each phase.
# Everything it makes (containers, volumes, the service, podman's bridge
# and its iptables chains when they were not there before) is removed on
# exit, also on failure.
#
# Environment:
#   MSOCK_IMAGE          the image (default localhost/msock:dev)
#   MSOCK_NODE_NETWORK   the node's network (default bridge; none: no
#                        network, nothing on the host's firewall)
set -Eeuo pipefail
trap 'echo "compose_one_node.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR

if [ "${MSOCK_TEST_DEPLOY:-}" != 1 ]; then
  echo "compose_one_node: skipped (opt-in: MSOCK_TEST_DEPLOY=1, as root; installs podman, docker-compose when missing)"
  exit 77
fi
if [ "$(id -u)" != 0 ]; then
  echo "compose_one_node: skipped (needs root: rootful podman)"
  exit 77
fi
src=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../../scripts/podman-lib.sh
. "$src/scripts/podman-lib.sh"
export MSOCK_IMAGE=${MSOCK_IMAGE:-localhost/msock:dev}
export MSOCK_NODE_NETWORK=${MSOCK_NODE_NETWORK:-bridge}
command -v jq >/dev/null || {
  echo "compose_one_node: no jq (scripts/deps.sh installs it)" >&2
  exit 1
}
podman_need docker-compose:docker-compose
proj=msockc$$
work=$(mktemp -d /var/tmp/msock-compose.XXXXXX)
podman_conf "$work"
had_bridge=0
ip link show cni-podman0 >/dev/null 2>&1 && had_bridge=1
had_cni=0
iptables-save 2>/dev/null | grep -q 'CNI-' && had_cni=1
svc=
dc() { docker-compose -p "$proj" -f "$src/deploy/compose.yaml" "$@"; }
cleanup() {
  trap - ERR
  set +e
  if [ -n "$svc" ]; then dc down -v --timeout 5 >"$work/down.log" 2>&1; fi
  # What down left (it removes in parallel, and the node's container goes
  # only after those that join its namespaces).
  local ids=()
  for svcname in disco derp netcheck portmapper dataplane broker node; do
    mapfile -t ids < <(podman ps -aq --filter "label=com.docker.compose.project=$proj" \
      --filter "label=com.docker.compose.service=$svcname")
    [ "${#ids[@]}" -eq 0 ] || podman rm -f "${ids[@]}" >/dev/null 2>&1
  done
  mapfile -t ids < <(podman volume ls -q --filter "label=com.docker.compose.project=$proj")
  [ "${#ids[@]}" -eq 0 ] || podman volume rm -f "${ids[@]}" >/dev/null 2>&1
  for v in "${proj}_bus" "${proj}_state"; do podman volume rm -f "$v" >/dev/null 2>&1; done
  if [ -n "$svc" ]; then kill "$svc" 2>/dev/null; wait "$svc" 2>/dev/null; fi
  if [ "$had_cni" = 0 ]; then
    local t rule chain
    for t in nat filter; do
      iptables-save -t "$t" 2>/dev/null | grep -E '^-A .* -j CNI-' | sed 's/^-A //' |
        while read -r rule; do eval "iptables -t $t -D $rule" 2>/dev/null; done
      for chain in $(iptables-save -t "$t" 2>/dev/null | sed -n 's/^:\(CNI-[^ ]*\).*/\1/p'); do
        iptables -t "$t" -F "$chain" 2>/dev/null
      done
      for chain in $(iptables-save -t "$t" 2>/dev/null | sed -n 's/^:\(CNI-[^ ]*\).*/\1/p'); do
        iptables -t "$t" -X "$chain" 2>/dev/null
      done
    done
  fi
  if [ "$had_bridge" = 0 ]; then ip link del cni-podman0 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

phases_start
podman image exists "$MSOCK_IMAGE" || "$src/scripts/image.sh"
podman image exists "$MSOCK_IMAGE"

podman system service --time 0 "unix://$work/podman.sock" >"$work/service.log" 2>&1 &
svc=$!
export DOCKER_HOST=unix://$work/podman.sock
for _ in $(seq 1 50); do [ -S "$work/podman.sock" ] && break; sleep 0.1; done

status() { podman exec "${proj}_broker_1" msockctl --socket /run/msock/control.sock status --json 2>/dev/null; }
# wait_running [DISCO_PID_NOT]: the five running with their fixed uids.
declare -A uid=([dataplane]=61001 [disco]=61002 [derp]=61003 [netcheck]=61004 [portmapper]=61005)
check_running() {
  local st=$1 c pid u
  for c in dataplane derp disco netcheck portmapper; do
    [ "$(jq -r ".Components.$c.State" <<<"$st")" = running ] || return 1
    pid=$(jq -r ".Components.$c.PID" <<<"$st")
    [ "$pid" -gt 0 ] 2>/dev/null || return 1
    u=$(podman exec "${proj}_broker_1" awk '/^Uid:/ {print $2; exit}' "/proc/$pid/status" 2>/dev/null) || return 1
    [ "$u" = "${uid[$c]}" ] || return 1
  done
}
show() {
  jq -r '.Components | to_entries[] | "   \(.key): \(.value.State) pid \(.value.PID) restarts \(.value.Restarts) (\(.value.Supervisor))"' <<<"$1"
}

echo "1. up ($MSOCK_IMAGE, network $MSOCK_NODE_NETWORK)"
dc up -d >"$work/up.log" 2>&1 || {
  cat "$work/up.log" >&2
  echo "compose_one_node: docker-compose up failed" >&2
  exit 1
}
bt=$(date +%s%N)
st=
for _ in $(seq 1 150); do
  st=$(status) && check_running "$st" && [ "$(jq -r '.Self.NodeKey // ""' <<<"$st")" != "" ] &&
    [ "$(jq -r '.Self.DiscoKey // ""' <<<"$st")" != "" ] && break
  st=
  sleep 0.2
done
if [ -z "$st" ]; then
  fail "the five components not running with their uids and keys published in 30 s"
  status | jq -c '.Components | map_values({State, PID, Supervisor})' >&2 || true
  for c in broker dataplane derp disco netcheck portmapper; do
    echo "-- $c:" >&2
    podman logs "${proj}_${c}_1" 2>&1 | tail -5 >&2
  done
else
  echo "   all five running, fixed uids, after $((($(date +%s%N) - bt) / 1000000)) ms"
  show "$st"
  echo "   Self.NodeKey $(jq -r .Self.NodeKey <<<"$st" | cut -c1-20)..., Self.DiscoKey $(jq -r .Self.DiscoKey <<<"$st" | cut -c1-20)..."
  echo "   pid namespace: $(podman inspect "${proj}_disco_1" --format '{{.HostConfig.PidMode}}' | cut -c1-22)..." \
    "network: $(podman inspect "${proj}_disco_1" --format '{{.HostConfig.NetworkMode}}' | cut -c1-22)..."
fi
phase_done up

echo "2. kill -9 the disco container's process"
old=$(jq -r '.Components.disco.PID' <<<"${st:-{\}}")
hpid=$(podman inspect "${proj}_disco_1" --format '{{.State.Pid}}')
rc0=$(podman inspect "${proj}_disco_1" --format '{{.RestartCount}}')
kt=$(date +%s%N)
kill -9 "$hpid"
st=
for _ in $(seq 1 150); do
  st=$(status) && check_running "$st" &&
    [ "$(jq -r .Components.disco.PID <<<"$st")" != "$old" ] && break
  st=
  sleep 0.2
done
rc1=$(podman inspect "${proj}_disco_1" --format '{{.RestartCount}}')
if [ -z "$st" ]; then
  fail "disco not running again in 30 s (container restarts $rc0 -> $rc1)"
  podman logs "${proj}_disco_1" 2>&1 | tail -5 >&2
else
  echo "   running again after $((($(date +%s%N) - kt) / 1000000)) ms: container restarts $rc0 -> $rc1," \
    "pid $old -> $(jq -r .Components.disco.PID <<<"$st"), broker's Restarts $(jq -r .Components.disco.Restarts <<<"$st")"
  [ "$rc1" -gt "$rc0" ] || fail "podman's RestartCount of disco did not grow"
fi
phase_done "kill disco"

echo "3. kill -9 the broker's process: the components run on, the restarted broker finds them"
pids0=$(status | jq -c '[.Components | to_entries[] | [.key, .value.PID]] | sort')
hpid=$(podman inspect "${proj}_broker_1" --format '{{.State.Pid}}')
kt=$(date +%s%N)
kill -9 "$hpid"
st=
for _ in $(seq 1 150); do
  st=$(status) && check_running "$st" &&
    [ "$(jq -c '[.Components | to_entries[] | [.key, .value.PID]] | sort' <<<"$st")" = "$pids0" ] &&
    [ "$(jq -r '[.Components[] | .Bus.BrokerRestarts // 0] | min' <<<"$st")" -ge 1 ] && break
  st=
  sleep 0.2
done
if [ -z "$st" ]; then
  fail "after the broker's death: not the same five pids running, state set again, in 30 s (was $pids0, now $(status | jq -c '[.Components | to_entries[] | [.key, .value.PID, .value.State]]' 2>/dev/null))"
else
  echo "   the same pids $pids0, each saw the new broker, after $((($(date +%s%N) - kt) / 1000000)) ms"
fi
phase_done "kill broker"

echo "4. down"
dc down -v --timeout 5 >"$work/down.log" 2>&1 || true
left=$(podman ps -aq --filter "label=com.docker.compose.project=$proj" | wc -l)
echo "   docker-compose down left $left container(s) (removed in order on exit)"
phase_done down

echo "seconds per phase:"
printf '%s\n' "${phases[@]}"
printf '  %-28s %4d s\n' total $(($(date +%s) - t0))
if [ "$fails" -ne 0 ]; then
  echo "compose_one_node: $fails check(s) failed" >&2
  exit 1
fi
echo "compose_one_node: ok"
