#!/usr/bin/env bash
# The demo: two NATed nodes run real WireGuard (wireguard-go) through msock.
# It builds msock, brings up the lab of tests/lab/lib.sh (network namespaces:
# an internet in 198.18.0.0/15, a DERP server, two home routers doing NAT,
# a node behind each) and narrates:
#   1. msock and wireguard-go start on both nodes; WireGuard is pointed at
#      msock's per-peer loopback endpoints (msockctl wg-config --apply);
#      msockctl netcheck shows the network report.
#   2. UDP between the routers is blocked: the WireGuard handshake and a
#      ping cross the DERP server (its relay counter rises).
#   3. UDP unblocked: disco (CallMeMaybe over DERP, pings both ways) punches
#      through both NATs; msockctl ping shows DERP, then direct; WireGuard's
#      endpoint never changes, the derper's counter stops, the routers'
#      counters rise. Then failover: UDP blocked during a ping flood (the
#      outage is printed) and unblocked (back to direct).
#   4. The dataplane is killed with SIGKILL during a ping flood: the broker
#      restarts it on the same port; the outage is printed.
#   5. msockctl status on both nodes.
#   6. rb becomes a hard NAT (a new port for every destination), where
#      Tailscale stays on DERP: both nodes start afresh, nb's netcheck sees
#      the hard NAT (coturn is the second STUN server), nb pings na from 256
#      probe sockets and asks na to probe random ports of rb's address; a
#      probe meets one of those mappings and the path is direct (birthday-
#      paradox punching, docs/disco.md). Then everything is torn down.
# Needs root (network namespaces). Everything it creates is removed on exit.
set -euo pipefail
# Until lab_init sets its own: a failing command is named, never a silent exit.
trap 'echo "demo.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR
cd "$(dirname "$0")/.."
./scripts/deps.sh

echo "== build"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMSOCK_TESTS=OFF >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
export MSOCK_BIN_DIR=$PWD/build/release/bin MSOCK_SOURCE_DIR=$PWD
. tests/lab/lib.sh
lab_skip_unless_root
# The components' users and groups (docs/design.md, "Users and groups"):
# made if missing, left alone if there.
echo "== users"
build/release/bin/msockctl setup-users >/dev/null
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "the lab: an internet (198.18.0.0/15), msock-derper at $LAB_DERP_IP, two NAT routers, two nodes"
cat <<EOF
    derp 198.18.0.2 (msock-derper: DERP over TLS :443, STUN :3478)
      |           stun 198.18.3.2 (coturn: a second STUN server)
      |          /
    inet (router of the internet)
     /                          \\
    ra 198.18.1.1 (easy NAT)     rb 198.18.2.1 (easy NAT)
     |                            |
    na 10.0.1.2                  nb 10.0.2.2
    WireGuard 10.99.0.1          WireGuard 10.99.0.2
EOF
export LAB_COTURN=1
lab_init

step "1. msock-broker (dataplane, derp, netcheck, disco) and wireguard-go on both nodes (easy NATs)"
export LAB_DISCO=1 LAB_COMPONENTS='["dataplane","derp","netcheck","disco"]'
t=$(lab_now_ms)
lab_node_up na
lab_node_up nb
for n in na nb; do
  lab_wait_for 10 lab_msock_derp_up $n || lab_fail "$n: DERP not up within 10 s"
done
lab_log "both nodes up and logged in to DERP region $LAB_DERP_REGION in $(lab_ms_since "$t") ms"
for n in na nb; do
  lab_log "$n: msockctl wg-config (applied to $(lab_wg_iface $n)):"
  lab_msockctl $n wg-config --iface "$(lab_wg_iface $n)" | sed 's/^/      /'
done

step "1. msockctl netcheck on na: what the internet sees of it (STUN through msock's socket)"
lab_msockctl na netcheck | sed 's/^/      /'

step "2. UDP between the routers blocked: WireGuard's handshake and ping go over DERP"
lab_block_udp_between_routers
relayed0=$(lab_derper_packets)
t=$(lab_now_ms)
lab_wait_for 15 lab_tunnel_ping na 1 0.2 1 || lab_fail "no reply over DERP within 15 s"
lab_log "first reply through the tunnel after $(lab_ms_since "$t") ms (handshake included)"
hs=$(lab_exec na wg show "$(lab_wg_iface na)" latest-handshakes | awk '{ print $2 }')
lab_log "na: WireGuard's latest handshake with nb: $(($(date +%s) - hs)) s ago (wg show latest-handshakes)"
out=$(lab_tunnel_ping na 10 0.1 2) || lab_fail "ping over DERP failed: $out"
lab_log "ping -c 10 10.99.0.2: rtt avg $(lab_ping_avg <<<"$out") ms;" \
  "path on na: $(lab_msock_path na); derper relayed $(($(lab_derper_packets) - relayed0)) packets"

step "3. UDP unblocked: disco punches through both NATs (msockctl ping, like tailscale ping)"
ep_before=$(lab_wg_endpoint na)
lab_faults_clear
t=$(lab_now_ms)
lab_msockctl na ping nb | sed 's/^/      /' || lab_fail "msockctl ping found no direct path"
is_direct() { [ "$(lab_msock_path "$1")" = direct ]; }
{ lab_wait_for 15 is_direct na && lab_wait_for 15 is_direct nb; } || lab_fail "the path did not become direct"
lab_log "direct on both nodes $(lab_ms_since "$t") ms after the unblock:" \
  "na -> $(lab_msock_peer_field na DirectAddr), nb -> $(lab_msock_peer_field nb DirectAddr)"
relayed1=$(lab_derper_packets)
ca=$(lab_router_udp_count ra)
out=$(lab_tunnel_ping na 10 0.1 2) || lab_fail "ping over the direct path failed: $out"
lab_log "ping -c 10 10.99.0.2: rtt avg $(lab_ping_avg <<<"$out") ms; derper relayed" \
  "$(($(lab_derper_packets) - relayed1)) packets; router ra counted $(($(lab_router_udp_count ra) - ca)) UDP packets"
lab_log "WireGuard's endpoint for nb: $ep_before before, $(lab_wg_endpoint na) after: it never noticed"

step "3. failover: UDP blocked again during a ping flood, then unblocked"
flood=$LAB_DIR/failover.log
lab_bg na "$flood" ping -n -D -c 400 -i 0.02 -W 1 "${LAB_TUN[nb]}"
ping_pid=$LAB_LAST_PID
sleep 1.5
lab_block_udp_between_routers
lab_log "UDP blocked"
sleep 3
path=$(lab_msock_path na)
case $path in
  direct+derp) what="the direct path went silent, so each packet goes both ways, direct and over DERP, until disco's pongs say which works" ;;
  derp) what="disco gave up on the direct path: everything goes over DERP" ;;
  *) what="" ;;
esac
lab_log "path on na while blocked: $path${what:+ ($what)}"
lab_faults_clear
t=$(lab_now_ms)
lab_wait_for 15 is_direct na || lab_fail "not direct again after the unblock"
lab_log "UDP unblocked: direct again after $(lab_ms_since "$t") ms"
lab_wait_for 20 lab_dead "$ping_pid" || true
gap=$(awk '/bytes from/ { gsub(/[\[\]]/, "", $1); t = $1 * 1000
  if (n++ && t - p > g) g = t - p; p = t } END { printf "%.0f", g }' "$flood")
lab_log "failover outage: longest gap between replies $gap ms (Tailscale: up to ~6.5 s);" \
  "$(grep -E 'packets transmitted' "$flood")"

step "4. kill -9 na's dataplane during a ping flood: the broker restarts it on the same port"
pid=$(lab_msockctl na status --json | jq -r .Components.dataplane.PID)
flood=$LAB_DIR/kill.log
lab_bg na "$flood" ping -n -D -c 300 -i 0.01 -W 1 "${LAB_TUN[nb]}"
ping_pid=$LAB_LAST_PID
sleep 1
kill -KILL "$pid"
lab_log "killed dataplane pid $pid"
lab_wait_for 20 lab_dead "$ping_pid" || true
gap=$(awk '/bytes from/ { gsub(/[\[\]]/, "", $1); t = $1 * 1000
  if (n++ && t - p > g) g = t - p; p = t } END { printf "%.0f", g }' "$flood")
lab_log "longest gap between replies: $gap ms; $(grep -E 'packets transmitted' "$flood")"
lab_log "dataplane now: $(lab_msockctl na status --json |
  jq -r '.Components.dataplane | "pid \(.PID), \(.State), \(.Restarts) restart(s), last exit: \(.LastExit)"')"

step "5. msockctl status on na"
lab_msockctl na status
step "5. msockctl status on nb"
lab_msockctl nb status

step "6. rb becomes a hard NAT (a new port for every destination): Tailscale stays on DERP here"
for n in na nb; do
  lab_msock_down $n
  lab_wg_down $n "$(lab_wg_iface $n)"
  rm -rf "$LAB_DIR/$n/run"
done
lab_nat rb hard
lab_log "rb: nftables masquerade fully-random; both nodes start afresh"
ma=$(lab_log_lines na)
mb=$(lab_log_lines nb)
lab_node_up na
lab_node_up nb
for n in na nb; do
  lab_wait_for 10 lab_msock_derp_up $n || lab_fail "$n: DERP not up within 10 s"
done
lab_wait_for 15 lab_tunnel_ping na 1 0.2 1 || lab_fail "no reply over DERP within 15 s"
t=$(lab_now_ms)
lab_log "the tunnel works over DERP; nb's netcheck: $(lab_msockctl nb netcheck --json |
  jq -r '"MappingVariesByDestIP \(.MappingVariesByDestIP), seen as \(.GlobalV4)"')"
flood=$LAB_DIR/hard.log
lab_bg na "$flood" ping -n -q -c 150 -i 0.1 "${LAB_TUN[nb]}"
ping_pid=$LAB_LAST_PID
{ lab_wait_for 15 is_direct na && lab_wait_for 15 is_direct nb; } ||
  lab_fail "no direct path through the hard NAT within 15 s"
lab_log "direct on both nodes $(lab_ms_since "$t") ms after the tunnel's first reply:"
lab_log "  na -> $(lab_msock_peer_field na DirectAddr) (a port rb opened for one of nb's probe sockets)"
lab_log "  nb -> $(lab_msock_peer_field nb DirectAddr) from probe socket" \
  "$(lab_msock_peer_field nb LocalSocket), local port $(lab_msock_peer_field nb LocalPort)"
hit=$(tail -n +"$((ma + 1))" "$LAB_DIR/na/broker.log" |
  grep -o 'a pong through a new mapping after [0-9]* ms' | tail -n 1 | grep -o '[0-9]* ms' || true)
lab_log "  how: nb (behind the hard NAT) pinged na from 256 probe sockets, 256 new mappings in rb," \
  "and asked over DERP for probes; na pinged 1,024 random ports of rb's address;" \
  "one met a mapping${hit:+ (its pong came back in $hit)}: birthday punching, $(lab_bday_round na "$ma" nb "$mb")"
if [ "$(lab_bday_round na "$ma" nb "$mb")" != "round 1" ]; then
  # ~2 % of first rounds meet no mapping by chance; the lines say whether
  # this was chance (both rounds sprayed and probed) or something else.
  lab_log "  round 1 found nothing; what disco logged (docs/disco.md, Hard NATs):"
  { tail -n +"$((ma + 1))" "$LAB_DIR/na/broker.log"; tail -n +"$((mb + 1))" "$LAB_DIR/nb/broker.log"; } |
    grep -E "disco .*(hard NAT|probing|birthday|dropped|refused)" | sort | sed 's/^/      /'
fi
lab_stop_pid "$ping_pid"
out=$(lab_tunnel_ping na 10 0.1 2) || lab_fail "ping over the punched path failed: $out"
lab_log "ping -c 10 10.99.0.2: rtt avg $(lab_ping_avg <<<"$out") ms; path on na: $(lab_msock_path na)," \
  "on nb: $(lab_msock_path nb)"

step "tear down: every namespace, process and file of the lab is removed"
