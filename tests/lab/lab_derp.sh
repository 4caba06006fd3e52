#!/usr/bin/env bash
# lab_derp: UDP from both routers to anywhere is blocked, so the only way
# between the nodes is the derper over TCP 443. wireguard-go on each node talks to
# msock's loopback endpoint (msockctl wg-config --apply); a ping through the
# tunnel must work over DERP. Printed: time to the first reply, ping rtt,
# packets the derper relayed. Checked: the derper relayed the packets, both
# dataplanes say the path is DERP, and no UDP crossed the routers on msock's
# port (counters flat). netcheck runs on both nodes: its report says UDP is
# blocked and the DERP region's latency comes from the HTTPS probe.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root
lab_init

lab_block_udp_between_routers
for net in 198.18.1.0/24 198.18.2.0/24; do
  lab_exec inet nft add rule ip lab faults ip saddr $net meta l4proto udp counter drop
done
export LAB_COMPONENTS='["dataplane","derp","netcheck"]'
t=$(lab_now_ms)
lab_node_up na
lab_node_up nb
for n in na nb; do
  lab_wait_for 10 lab_msock_derp_up $n ||
    lab_fail "$n: DERP region $LAB_DERP_REGION not up within 10 s (state '$(lab_msock_derp_state $n)')"
done
lab_log "msock + wireguard-go up on na and nb, both on DERP $LAB_DERP_REGION, in $(lab_ms_since "$t") ms"
lab_log "na's WireGuard endpoint for nb: $(lab_wg_endpoint na); nb's for na: $(lab_wg_endpoint nb)"

# netcheck's first report sends STUN from msock's port (and retransmits it
# for ~3 s while nothing answers): wait for it to say UDP is blocked before
# the routers' counters are read, so that they count WireGuard's way only.
udp_blocked_reported() { [ "$(lab_msockctl "$1" status --json | jq -r '.Netcheck.UDP')" = false ]; }
for n in na nb; do
  lab_wait_for 15 udp_blocked_reported $n || lab_fail "$n: no netcheck report of UDP blocked"
done
relayed0=$(lab_derper_packets)
ca=$(lab_router_udp_count ra)
cb=$(lab_router_udp_count rb)

# The first reply needs a WireGuard handshake over DERP: retry for 15 s.
t=$(lab_now_ms)
lab_wait_for 15 lab_tunnel_ping na 1 0.2 1 ||
  lab_fail "no ping reply through WireGuard over DERP within 15 s"
lab_log "first ping reply na -> nb through WireGuard over DERP after $(lab_ms_since "$t") ms"
out=$(lab_tunnel_ping na 20 0.05 2) || lab_fail "ping -c 20 over DERP lost packets: $out"
lab_log "ping -c 20 na -> nb over DERP: rtt avg $(lab_ping_avg <<<"$out") ms"
out=$(lab_tunnel_ping nb 5 0.05 2) || lab_fail "ping -c 5 nb -> na over DERP failed: $out"
lab_log "ping -c 5 nb -> na over DERP: rtt avg $(lab_ping_avg <<<"$out") ms"

relayed1=$(lab_derper_packets)
[ "$((relayed1 - relayed0))" -ge 50 ] ||
  lab_fail "the derper relayed $((relayed1 - relayed0)) packets for 26 pings (want >= 50)"
{ [ "$(lab_router_udp_count ra)" = "$ca" ] && [ "$(lab_router_udp_count rb)" = "$cb" ]; } ||
  lab_fail "UDP on :$LAB_PORT crossed a router though UDP is blocked"
for n in na nb; do
  path=$(lab_msock_path $n)
  [ "$path" = derp ] || lab_fail "$n: the dataplane's path is '$path', not derp"
done
lab_log "derper relayed $((relayed1 - relayed0)) packets; routers' UDP counters flat; path: derp on both"
for n in na nb; do
  out=$(lab_msockctl $n netcheck --json) || lab_fail "$n: msockctl netcheck failed: $out"
  [ "$(jq -r .UDP <<<"$out")" = false ] || lab_fail "$n: the report says UDP works: $out"
  lat=$(jq -r ".RegionLatency[\"$LAB_DERP_REGION\"].LatencyMs // 0" <<<"$out")
  [ "$lat" != 0 ] || lab_fail "$n: no HTTPS latency for region $LAB_DERP_REGION: $out"
  lab_log "$n: netcheck: UDP false, region $LAB_DERP_REGION latency $lat ms (HTTPS)"
done
out=$(lab_tunnel_ping na 5 0.05 2) || lab_fail "ping over DERP after the netcheck runs failed: $out"
lab_log "PASS"
