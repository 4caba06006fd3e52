#!/usr/bin/env bash
# lab_disco_easy: both nodes behind an easy NAT (masquerade: the mapping
# does not depend on the destination, the filtering does), no static
# endpoints: WireGuard's first packets go over DERP, disco exchanges
# CallMeMaybe over DERP and pings both ways (the simultaneous open that
# punches both NATs), and the path becomes direct. Printed: the time from
# the first ping to the direct path on each node, msockctl ping's pongs, and the ping rtt before
# and after. Checked: both dataplanes direct to the other router's WAN
# address, the derper's relay count flat while a ping runs, the routers'
# UDP counters rising.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root
LAB_NAT_A=easy LAB_NAT_B=easy lab_init
export LAB_DISCO=1 LAB_COMPONENTS='["dataplane","derp","netcheck","disco"]'

lab_node_up na
lab_node_up nb
for n in na nb; do
  lab_wait_for 10 lab_msock_derp_up $n || lab_fail "$n: DERP not up"
done
# msockctl ping, like tailscale ping: over DERP first, until direct.
t=$(lab_now_ms)
out=$(lab_msockctl na ping nb) || lab_fail "msockctl ping nb did not reach a direct path: $out"
lab_log "msockctl ping nb ($(lab_ms_since "$t") ms):"
printf '%s\n' "$out" | sed 's/^/      /'
grep -q "via DERP(lab) in" <<<"$out" || lab_fail "msockctl ping: no pong over DERP first"
tail -n 1 <<<"$out" | grep -q "via ${LAB_IP[rb]}:$LAB_PORT in" || lab_fail "msockctl ping: the last pong is not direct"
# Restart both nodes' disco state would be needed to start over from DERP:
# instead the WireGuard traffic below runs on the path ping found.
t=$(lab_now_ms)
lab_wait_for 15 lab_tunnel_ping na 1 0.2 1 || lab_fail "no ping reply through WireGuard within 15 s"
lab_log "first reply through the tunnel after $(lab_ms_since "$t") ms; path na: $(lab_msock_path na)"
lab_bg na "$LAB_DIR/ping-bg.log" ping -n -q -c 400 -i 0.05 "${LAB_TUN[nb]}"
is_direct() { [ "$(lab_msock_path "$1")" = direct ]; }
for n in na nb; do
  lab_wait_for 20 is_direct $n || lab_fail "$n: no direct path within 20 s (path $(lab_msock_path $n))"
  lab_log "$n: direct to $(lab_msock_peer_field $n DirectAddr) after $(lab_ms_since "$t") ms"
done
want_a="${LAB_IP[rb]}:$LAB_PORT" want_b="${LAB_IP[ra]}:$LAB_PORT"
[ "$(lab_msock_peer_field na DirectAddr)" = "$want_a" ] || lab_fail "na is direct to $(lab_msock_peer_field na DirectAddr), not $want_a"
[ "$(lab_msock_peer_field nb DirectAddr)" = "$want_b" ] || lab_fail "nb is direct to $(lab_msock_peer_field nb DirectAddr), not $want_b"
relayed0=$(lab_derper_packets)
ca=$(lab_router_udp_count ra)
out=$(lab_tunnel_ping na 20 0.05 2) || lab_fail "ping over the direct path lost packets: $out"
relayed1=$(lab_derper_packets)
lab_log "ping -c 20 direct: rtt avg $(lab_ping_avg <<<"$out") ms; derper relayed $((relayed1 - relayed0)) packets meanwhile; ra counted $(($(lab_router_udp_count ra) - ca)) UDP packets"
[ $((relayed1 - relayed0)) -le 4 ] || lab_fail "the derper relayed $((relayed1 - relayed0)) packets during a direct ping"
[ $(($(lab_router_udp_count ra) - ca)) -ge 40 ] || lab_fail "ra's UDP counter did not rise with the direct ping"
ch=$(lab_msockctl na status --json | jq -c '[.Peer[].EndpointChanges[] | .Path]')
jq -e --arg a "$want_a" '.[-1] == $a' <<<"$ch" >/dev/null ||
  lab_fail "na: EndpointChanges $ch does not end with $want_a"
lab_log "na: EndpointChanges (paths) $ch"
lab_log "PASS"
