#!/usr/bin/env bash
# deploy_scale (ctest label deploy): deploy/scale/ for real under rootful
# podman: N nodes (MSOCK_SCALE_NODES, default 6), each a project of its own
# behind its NAT router, and a region of two meshed msock-derpers. Opt-in:
#   MSOCK_TEST_DEPLOY=1 bash tests/deploy/deploy_scale.sh
# 1. the images (scripts/image.sh); scale.sh up N with the routers dropping
#    UDP; every node's broker shows its five components running;
# 2. DERP across the mesh: the nodes' homes are split over the two derpers
#    (msock-compose-init lists node I's derper first), so n1 (derper1) ->
#    n2 (derper2) over DERP goes through the mesh: a ping answered, the
#    derpers' client counts printed;
# 3. UDP let through on every router, a netcheck on each node, and every
#    node pings every other through WireGuard: the time until every pair
#    is direct (both ways) is printed, and the memory of each node's
#    containers;
# 4. everything removed, also on failure.
# Prints the seconds of each phase.
set -Eeuo pipefail
trap 'echo "deploy_scale.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR

src=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
. "$src/tests/deploy/lib.sh"
deploy_gate deploy_scale
n=${MSOCK_SCALE_NODES:-6}
export MSOCK_IMAGE=${MSOCK_IMAGE:-localhost/msock:dev}
export MSOCK_NET_IMAGE=${MSOCK_NET_IMAGE:-localhost/msock-net:dev}
podman_need docker-compose:docker-compose jq:jq curl:curl nsenter:util-linux
export MSOCK_PROJECT=mss$$ COMPOSE=docker-compose ENGINE=podman
work=$(mktemp -d /var/tmp/msock-scale.XXXXXX)
podman_conf "$work"
podman_host_snapshot "$work"
export MSOCK_DEPLOY_DIR=$work/deploy
deploy_svc=
bg=()
cleanup() {
  trap - ERR
  set +e
  local p i
  for p in "${bg[@]}"; do kill "$p" 2>/dev/null; done
  for i in $(seq "$n" -1 1); do podman_project_rm "$MSOCK_PROJECT-n$i" >/dev/null; done
  podman_project_rm "$MSOCK_PROJECT-internet" >/dev/null
  podman network rm -f "$MSOCK_PROJECT-internet" >/dev/null 2>&1
  deploy_finish "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ctr() { echo "$MSOCK_PROJECT-$1_$2_1"; } # ctr n3 node-broker; ctr internet derper1
status() { msock_ctl "$(ctr "n$1" node-broker)" status --json 2>/dev/null; }
running() {
  [ "$(status "$1" | jq '[.Components[] | select(.State == "running")] | length')" = 5 ]
}
# direct_count I: how many of node I's peers it reaches directly.
direct_count() { status "$1" | jq '[.Peer[] | select(.Path == "direct")] | length'; }
all_direct() {
  local i
  for i in $(seq 1 "$n"); do [ "$(direct_count "$i")" = $((n - 1)) ] || return 1; done
}
clients() {
  local d
  for d in 1 2; do
    printf 'derper%s: %s clients (%s home), %s packets relayed; ' "$d" \
      "$(derper_metric "$(ctr internet derper$d)" derp_current_clients)" \
      "$(derper_metric "$(ctr internet derper$d)" derp_current_home_connections)" \
      "$(derper_metric "$(ctr internet derper$d)" derp_packets_relayed_total)"
  done
  echo
}

phases_start
echo "1. the images; scale.sh up $n with the routers dropping UDP"
"$src/scripts/image.sh" >"$work/image.log" 2>&1 || {
  tail -30 "$work/image.log" >&2
  echo "deploy_scale: scripts/image.sh failed" >&2
  exit 1
}
deploy_service "$work"
t=$(now_ms)
MSOCK_BLOCK_UDP=1 "$src/deploy/scale/scale.sh" up "$n" >"$work/up.log" 2>&1 || {
  tail -20 "$work/up.log" >&2
  echo "deploy_scale: scale.sh up $n failed" >&2
  exit 1
}
echo "   $(grep -cE '^scale.sh: n[0-9]+ up in' "$work/up.log") nodes up in $(($(now_ms) - t)) ms," \
  "$(podman ps -q --filter "name=^$MSOCK_PROJECT-" | wc -l) containers running"
for i in $(seq 1 "$n"); do
  wait_for 60 running "$i" || {
    fail "n$i: its five components not running in 60 s"
    exit 1
  }
done
echo "   every node's five components running after $(($(now_ms) - t)) ms"
phase_done up

echo "2. DERP across the mesh: n1 (home derper1) -> n2 (home derper2)"
derp_up() { [ "$(status "$1" | jq -r '.Self.DERP["900"].State // ""')" = up ]; }
for i in $(seq 1 "$n"); do wait_for 30 derp_up "$i" || fail "n$i: DERP not up in 30 s"; done
# The node a derper says is home there: half each (derpers list node I's first).
echo "   $(clients)"
ping1() { in_ns "$(ctr n1 node)" ping -n -q -c 1 -W 1 10.99.0.2 >/dev/null; }
t=$(now_ms)
if wait_for 20 ping1; then
  echo "   first reply over DERP through the mesh after $(($(now_ms) - t)) ms"
else
  fail "n1 -> n2 over DERP through the derpers' mesh: no reply in 20 s"
fi
m0=$(derper_metric "$(ctr internet derper1)" derp_packets_forwarded_out_total 2>/dev/null || echo 0)
out=$(in_ns "$(ctr n1 node)" ping -n -q -c 10 -i 0.05 -W 1 10.99.0.2) || fail "ping n1 -> n2 over the mesh lost packets: $out"
m1=$(derper_metric "$(ctr internet derper1)" derp_packets_forwarded_out_total 2>/dev/null || echo 0)
echo "   ping -c 10: rtt avg $(awk -F/ '/^rtt/ {print $5}' <<<"$out") ms; derper1 forwarded $((m1 - m0)) packets to its mesh peer"
[ $((m1 - m0)) -ge 10 ] || fail "derper1 forwarded $((m1 - m0)) packets over the mesh (want >= 10)"
phase_done "derp mesh"

echo "3. UDP let through: every pair direct"
for i in $(seq 1 "$n"); do
  podman exec "$(ctr "n$i" router)" nft flush chain ip msock_router faults
done
t=$(now_ms)
nc=()
for i in $(seq 1 "$n"); do
  msock_ctl "$(ctr "n$i" node-broker)" netcheck >/dev/null &
  nc+=($!)
done
wait "${nc[@]}" || fail "a netcheck failed"
# Traffic between every pair (disco looks for a path while WireGuard sends).
for i in $(seq 1 "$n"); do
  for j in $(seq 1 "$n"); do
    [ "$i" = "$j" ] && continue
    in_ns "$(ctr "n$i" node)" ping -n -q -c 400 -i 0.3 -W 1 "10.99.0.$j" >/dev/null 2>&1 &
    bg+=($!)
  done
done
if wait_for 120 all_direct; then
  echo "   all $((n * (n - 1) / 2)) pairs direct both ways after $(($(now_ms) - t)) ms"
else
  fail "not every pair direct in 120 s: $(for i in $(seq 1 "$n"); do printf 'n%s %s/%s ' "$i" "$(direct_count "$i")" $((n - 1)); done)"
fi
for p in "${bg[@]}"; do kill "$p" 2>/dev/null; done
bg=()
echo "   $(clients)"
# Memory: each container's cgroup, as podman stats reads it.
podman stats --no-stream --format '{{.Name}} {{.MemUsage}}' >"$work/stats" 2>/dev/null || true
if [ -s "$work/stats" ]; then
  awk -v p="$MSOCK_PROJECT-" '
    function bytes(v) { u = v; sub(/[0-9.]+/, "", u); sub(/[a-zA-Z]+$/, "", v)
      m = (u == "kB" || u == "KiB") ? 1e3 : (u == "MB" || u == "MiB") ? 1e6 : (u == "GB" || u == "GiB") ? 1e9 : 1
      return v * m }
    index($1, p) == 1 && $1 ~ /-n[0-9]+_/ { split($1, a, "_"); node[a[1]] += bytes($2); c[a[1]]++ }
    END { for (k in node) { s += node[k]; nn++ } if (nn) printf "   memory: %.1f MB per node (%d containers each, cgroup usage)\n", s / nn / 1e6, c[k] }' "$work/stats"
fi
phase_done direct

echo "4. down"
MSOCK_PROJECT=$MSOCK_PROJECT "$src/deploy/scale/scale.sh" down "$n" >"$work/down.log" 2>&1 || true
left=0
for i in $(seq "$n" -1 1); do left=$((left + $(podman_project_rm "$MSOCK_PROJECT-n$i" | wc -l))); done
left=$((left + $(podman_project_rm "$MSOCK_PROJECT-internet" | wc -l)))
podman network rm -f "$MSOCK_PROJECT-internet" >/dev/null 2>&1 || true
[ "$left" = 0 ] || fail "$left containers, networks or volumes left"
phase_done down

phases_report deploy_scale || exit 1
