#!/usr/bin/env bash
# deploy_compose (ctest label deploy): deploy/compose.yaml's small internet
# for real, under rootful podman. Opt-in, root:
#   MSOCK_TEST_DEPLOY=1 ./scripts/test.sh     or    MSOCK_TEST_DEPLOY=1 bash tests/deploy/deploy_compose.sh
# 1. image: scripts/image.sh (the base image once, then only what changed);
# 2. init: msock-compose-init writes two nodes' keys and configs;
# 3. up with the routers dropping UDP (MSOCK_BLOCK_UDP=1): docker-compose
#    1.29 (Debian's) against a `podman system service` of its own. Each node's
#    broker shows its five components running, each with its fixed uid, and
#    the node's keys;
# 4. DERP: WireGuard (wireguard-go, in each node) pings through msock over
#    the derper (both peers' path derp, the derper's relay count rising);
# 5. direct: UDP let through, a netcheck on each node, and the path becomes
#    direct to the other router's address (the routers count the UDP);
# 6. during a ping flood on the direct path, kill -9 of each component
#    container's process of node 1 in turn (netcheck, portmapper, derp,
#    disco, broker, dataplane): podman restarts it, the broker shows it
#    running again (the broker: the same five pids, each set its state
#    again); no ping lost but for the dataplane, whose gap is printed;
# 7. upgrade: `docker-compose up -d --no-deps n1-disco` with a new image
#    during a ping flood: no ping lost, the new image runs, every other
#    container is the same one;
# 8. down: nothing left (containers, networks, volumes, podman's bridges
#    and firewall chains it added), also when a step fails.
# Prints the milliseconds of each wait and the seconds of each phase.
#
# docker-compose 1.29 compares each network's IPAM options with the
# engine's on every `up` after the first and reads its own under the wrong
# key ("Options"), so podman's {"driver": "host-local"} always differs and
# it refuses ("needs to be recreated"). The upgrade's `up` is given a
# second file that names the networks as existing (external), which it
# does not compare. Docker Compose v2 against Docker needs none.
#
# Environment: MSOCK_IMAGE, MSOCK_NET_IMAGE (default localhost/msock:dev,
# localhost/msock-net:dev).
set -Eeuo pipefail
trap 'echo "deploy_compose.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR

src=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
. "$src/tests/deploy/lib.sh"
deploy_gate deploy_compose
export MSOCK_IMAGE=${MSOCK_IMAGE:-localhost/msock:dev}
export MSOCK_NET_IMAGE=${MSOCK_NET_IMAGE:-localhost/msock-net:dev}
podman_need docker-compose:docker-compose jq:jq curl:curl nsenter:util-linux
proj=msd$$
work=$(mktemp -d /var/tmp/msock-deploy.XXXXXX)
podman_conf "$work"
podman_host_snapshot "$work"
export MSOCK_DEPLOY_DIR=$work/deploy
deploy_svc=
bg=()
upgrade_image=
dc() { docker-compose -p "$proj" -f "$src/deploy/compose.yaml" "$@"; }
ctr() { echo "${proj}_$1_1"; }
cleanup() {
  trap - ERR
  set +e
  local p
  for p in "${bg[@]}"; do kill "$p" 2>/dev/null; done
  podman_project_rm "$proj" >/dev/null
  [ -z "$upgrade_image" ] || podman rmi "$upgrade_image" >/dev/null 2>&1
  deploy_finish "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# ctl NODE ARGS: msockctl in NODE's broker container.
ctl() {
  local n=$1
  shift
  msock_ctl "$(ctr "$n-broker")" "$@"
}
status() { ctl "$1" status --json 2>/dev/null; }
# in_node NODE CMD...: CMD in NODE's network namespace (the holder's).
in_node() {
  local n=$1
  shift
  in_ns "$(ctr "$n")" "$@"
}
other() { [ "$1" = n1 ] && echo n2 || echo n1; }
tun() { echo "10.99.0.${1#n}"; }
wan() { echo "198.18.0.10${1#n}"; }
declare -A uid=([dataplane]=61001 [disco]=61002 [derp]=61003 [netcheck]=61004 [portmapper]=61005)
# running NODE: the five running with their fixed uids and the keys
# published (in the broker's status: the pid namespace is the node's).
running() {
  local st c pid u
  st=$(status "$1") || return 1
  for c in dataplane derp disco netcheck portmapper; do
    [ "$(jq -r ".Components.$c.State" <<<"$st")" = running ] || return 1
    pid=$(jq -r ".Components.$c.PID" <<<"$st")
    [ "$pid" -gt 0 ] 2>/dev/null || return 1
    u=$(podman exec "$(ctr "$1-broker")" awk '/^Uid:/ {print $2; exit}' "/proc/$pid/status" 2>/dev/null) || return 1
    [ "$u" = "${uid[$c]}" ] || return 1
  done
  [ -n "$(jq -r '.Self.NodeKey // ""' <<<"$st")" ] && [ -n "$(jq -r '.Self.DiscoKey // ""' <<<"$st")" ]
}
peer_field() { status "$1" | jq -r --arg f "$2" '[.Peer[]][0][$f] // ""'; }
path() { peer_field "$1" Path; }
is_path() { [ "$(path "$1")" = "$2" ]; }
derp_up() { [ "$(status "$1" | jq -r '.Self.DERP["900"].State // ""')" = up ]; }
relayed() { derper_metric "$(ctr derper1)" derp_packets_relayed_total; }
router_udp() {
  podman exec "$(ctr "$1")" nft -j list counter ip msock_router msock_udp |
    jq -e '.nftables[] | select(.counter) | .counter.packets'
}
tunnel_ping() { in_node "$1" ping -n -q -c "$2" -i "${3:-0.2}" -W 1 "$(tun "$(other "$1")")"; }
pids() { status "$1" | jq -c '[.Components | to_entries[] | [.key, .value.PID]] | sort'; }
show() {
  status "$1" | jq -r '.Components | to_entries[] |
    "     \(.key): \(.value.State), pid \(.value.PID), restarts \(.value.Restarts), \(.value.Supervisor)"'
}
diag() {
  local n c
  for n in n1 n2; do
    echo "-- $n status:" >&2
    ctl "$n" status 2>&1 | sed 's/^/   /' >&2 || true
    for c in broker dataplane derp disco netcheck portmapper wg; do
      echo "-- $n-$c log (last 4):" >&2
      podman logs "$(ctr "$n-$c")" 2>&1 | tail -4 | sed 's/^/   /' >&2
    done
  done
}

phases_start
echo "1. the images"
"$src/scripts/image.sh" >"$work/image.log" 2>&1 || {
  tail -30 "$work/image.log" >&2
  echo "deploy_compose: scripts/image.sh failed" >&2
  exit 1
}
sed -n '/^seconds per step/,$p' "$work/image.log" | sed 's/^/   /'
phase_done image

echo "2. msock-compose-init: two nodes, one derper"
mkdir -p "$MSOCK_DEPLOY_DIR"
podman run --rm --network none -v "$MSOCK_DEPLOY_DIR:/out" "$MSOCK_NET_IMAGE" \
  msock-compose-init /out 2 | sed 's/^/   /'
phase_done init

echo "3. up, the routers dropping UDP"
deploy_service "$work"
t=$(now_ms)
MSOCK_BLOCK_UDP=1 dc up -d >"$work/up.log" 2>&1 || {
  cat "$work/up.log" >&2
  echo "deploy_compose: docker-compose up failed" >&2
  exit 1
}
echo "   docker-compose up -d: $(($(now_ms) - t)) ms, $(podman ps -q --filter "label=com.docker.compose.project=$proj" | wc -l) containers running"
for n in n1 n2; do
  if wait_for 30 running "$n"; then
    echo "   $n: five components running, fixed uids, keys published, after $(($(now_ms) - t)) ms"
  else
    diag
    fail "$n: not the five components running with their uids and keys in 30 s"
    exit 1
  fi
done
show n1
phase_done up

echo "4. WireGuard over DERP"
for n in n1 n2; do
  wait_for 20 derp_up "$n" || fail "$n: DERP region 900 not up in 20 s"
done
t=$(now_ms)
wait_for 20 tunnel_ping n1 1 >/dev/null || {
  diag
  fail "no ping reply through WireGuard in 20 s"
  exit 1
}
echo "   first reply n1 -> n2 through WireGuard after $(($(now_ms) - t)) ms"
r0=$(relayed)
out=$(tunnel_ping n1 20 0.05) || fail "ping over DERP lost packets: $out"
r1=$(relayed)
echo "   ping -c 20 over DERP: rtt avg $(awk -F/ '/^rtt/ {print $5}' <<<"$out") ms; the derper relayed $((r1 - r0)) packets"
[ $((r1 - r0)) -ge 40 ] || fail "the derper relayed $((r1 - r0)) packets for 20 pings (want >= 40)"
for n in n1 n2; do
  [ "$(path "$n")" = derp ] || fail "$n: path $(path "$n"), want derp while UDP is dropped"
done
echo "   paths: n1 $(path n1), n2 $(path n2); UDP dropped by r1: $(podman exec "$(ctr r1)" nft -j list chain ip msock_router faults |
  jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add') packets"
phase_done derp

echo "5. UDP let through: the direct path"
for r in r1 r2; do podman exec "$(ctr "$r")" nft flush chain ip msock_router faults; done
t=$(now_ms)
for n in n1 n2; do ctl "$n" netcheck >/dev/null || fail "$n: msockctl netcheck failed"; done
in_node n1 ping -n -q -c 600 -i 0.05 -W 1 "$(tun n2)" >"$work/warm.log" 2>&1 &
bg+=($!)
for n in n1 n2; do
  if wait_for 30 is_path "$n" direct; then
    echo "   $n: direct to $(peer_field "$n" DirectAddr) after $(($(now_ms) - t)) ms"
  else
    fail "$n: no direct path in 30 s after UDP was let through (path $(path "$n"))"
  fi
done
for n in n1 n2; do
  want="$(wan "$(other "$n")"):41641"
  [ "$(peer_field "$n" DirectAddr)" = "$want" ] || fail "$n: direct to $(peer_field "$n" DirectAddr), not $want"
done
kill "${bg[-1]}" 2>/dev/null || true
c0=$(router_udp r1)
r0=$(relayed)
out=$(tunnel_ping n1 20 0.05) || fail "ping over the direct path lost packets: $out"
r1=$(relayed)
echo "   ping -c 20 direct: rtt avg $(awk -F/ '/^rtt/ {print $5}' <<<"$out") ms; derper relayed $((r1 - r0)); r1 counted $(($(router_udp r1) - c0)) UDP packets"
[ $((r1 - r0)) -le 4 ] || fail "the derper relayed $((r1 - r0)) packets during a direct ping"
[ $(($(router_udp r1) - c0)) -ge 40 ] || fail "r1's UDP counter did not rise with the direct ping"
phase_done direct

# flood_start: a ping flood n1 -> n2 (-D: timestamps), 0.02 s apart for 12
# s; flood_end waits for it and sets sent, got and gap (the longest time
# between two replies, ms).
flood_start() {
  flood=$work/flood-$1.log
  in_node n1 ping -D -n -c 600 -i 0.02 -W 2 "$(tun n2)" >"$flood" 2>&1 &
  flood_pid=$!
  bg+=("$flood_pid")
  sleep 1
}
flood_end() {
  wait "$flood_pid" 2>/dev/null || true
  read -r sent got gap < <(awk '/packets transmitted/ { s = $1; g = $4 }
    /bytes from/ { gsub(/[\[\]]/, "", $1); t = $1 * 1000; if (n++ && t - p > gap) gap = t - p; p = t }
    END { printf "%d %d %.0f\n", s, g, gap }' "$flood")
}
# container_pid NAME: its process on the host; restarts NAME: podman's count.
container_pid() { podman inspect --format '{{.State.Pid}}' "$1"; }
restarts() { podman inspect --format '{{.RestartCount}}' "$1"; }
back() {
  local c=$1 old=$2 st
  st=$(status n1) || return 1
  running n1 || return 1
  [ "$c" = broker ] && return 0
  [ "$(jq -r ".Components.$c.PID" <<<"$st")" != "$old" ]
}
broker_back() {
  running n1 && [ "$(pids n1)" = "$pids0" ] &&
    [ "$(status n1 | jq -r '[.Components[] | .Bus.BrokerRestarts // 0] | min')" -ge "$1" ]
}

echo "6. kill -9 of each component container's process of n1 during a ping flood"
brk=0
for c in netcheck portmapper derp disco broker dataplane; do
  name=$(ctr "n1-$c")
  old=$(status n1 | jq -r ".Components.$c.PID // 0")
  pids0=$(pids n1)
  rc0=$(restarts "$name")
  flood_start "$c"
  t=$(now_ms)
  kill -9 "$(container_pid "$name")"
  if [ "$c" = broker ]; then
    brk=$((brk + 1))
    ok() { broker_back "$brk"; }
  else
    ok() { back "$c" "$old"; }
  fi
  if wait_for 20 ok; then
    took=$(($(now_ms) - t))
  else
    took=-
    fail "$c: not back in 20 s after its kill"
  fi
  rc1=$(restarts "$name")
  flood_end
  printf '   %-10s back after %5s ms (podman restarts %s -> %s): pings %s/%s answered, longest gap %s ms\n' \
    "$c" "$took" "$rc0" "$rc1" "$got" "$sent" "$gap"
  [ "$rc1" -gt "$rc0" ] || fail "$c: podman's RestartCount did not grow"
  if [ "$c" = dataplane ]; then
    [ "$got" -gt 0 ] || fail "dataplane: no ping answered after its restart"
    wait_for 20 is_path n1 direct || fail "n1: not direct again after the dataplane's restart"
  else
    [ "$got" = "$sent" ] || fail "$c: $((sent - got)) of $sent pings lost on the direct path"
  fi
done
show n1
phase_done kills

echo "7. upgrade n1's disco container to a new image"
upgrade_image=localhost/msock:deploy-test-$$
printf 'FROM %s\nLABEL org.msock.deploy-test=upgrade\n' "$MSOCK_IMAGE" |
  podman build --cgroup-manager cgroupfs --runtime runc "${PODMAN_ULIMITS[@]}" -q -t "$upgrade_image" -f - "$work" >/dev/null
# The networks exist: said so to docker-compose (see the top).
cat >"$work/networks-exist.yaml" <<EOF
networks:
  internet: {external: true, name: ${proj}_internet}
  lan1: {external: true, name: ${proj}_lan1}
  lan2: {external: true, name: ${proj}_lan2}
EOF
others() {
  local n
  for n in $(podman ps -a --filter "label=com.docker.compose.project=$proj" --format '{{.Names}}' | sort); do
    [[ $n == *n1-disco* ]] || podman inspect --format "$n {{.Id}} {{.State.StartedAt}}" "$n"
  done
}
before=$(others)
old=$(status n1 | jq -r '.Components.disco.PID')
r0=$(status n1 | jq -r '.Components.disco.Restarts')
flood_start upgrade
t=$(now_ms)
MSOCK_IMAGE=$upgrade_image dc -f "$work/networks-exist.yaml" up -d --no-deps n1-disco >"$work/upgrade.log" 2>&1 ||
  fail "docker-compose up -d --no-deps n1-disco: $(tail -3 "$work/upgrade.log")"
wait_for 20 back disco "$old" || fail "disco: not running again in 20 s after the upgrade"
took=$(($(now_ms) - t))
flood_end
img=$(podman inspect --format '{{.Image}}' "$(ctr n1-disco)")
want=$(podman image inspect --format '{{.Id}}' "$upgrade_image")
echo "   docker-compose up -d --no-deps n1-disco with the new image: disco running again after $took ms," \
  "pid $old -> $(status n1 | jq -r .Components.disco.PID), broker's Restarts $r0 -> $(status n1 | jq -r .Components.disco.Restarts)," \
  "image ${img:0:12}; pings $got/$sent, longest gap $gap ms"
[ "$img" = "$want" ] || fail "the new disco container runs image ${img:0:12}, not ${want:0:12}"
[ "$got" = "$sent" ] || fail "upgrade: $((sent - got)) of $sent pings lost"
[ "$(others)" = "$before" ] || fail "the upgrade touched other containers: $(diff <(echo "$before") <(others))"
phase_done upgrade

echo "8. down"
dc down -v --timeout 5 >"$work/down.log" 2>&1 || true
left=$(podman_project_rm "$proj" | wc -l)
echo "   docker-compose down, then what it could not remove (it removes in parallel, and the holders have dependents): $left left"
[ "$left" = 0 ] || fail "$left containers, networks or volumes left"
phase_done down

phases_report deploy_compose || exit 1
