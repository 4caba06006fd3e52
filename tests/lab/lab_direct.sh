#!/usr/bin/env bash
# lab_direct: both routers do 1:1 NAT and each node's config lists the
# other's public address (router WAN:41641) as a static endpoint, so msock
# sends WireGuard's packets straight there. Printed: time to the first
# reply, ping rtt, the routers' and the derper's counters, iperf3 through
# the tunnel. Checked: the routers' UDP counters on msock's port rise by
# at least the pings, the derper's relayed count stays flat, both
# dataplanes send straight to the configured address (status: Path
# "static": the peer has no disco key, so the path is its static endpoint,
# nothing discovered), and the peer's UDP traffic arrives from that address.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root
LAB_NAT_A=one2one LAB_NAT_B=one2one lab_init

t=$(lab_now_ms)
lab_node_up na "${LAB_IP[rb]}:$LAB_PORT"
lab_node_up nb "${LAB_IP[ra]}:$LAB_PORT"
lab_log "msock + wireguard-go up on na and nb in $(lab_ms_since "$t") ms"

relayed0=$(lab_derper_packets)
ca=$(lab_router_udp_count ra)
cb=$(lab_router_udp_count rb)
t=$(lab_now_ms)
lab_wait_for 15 lab_tunnel_ping na 1 0.2 1 ||
  lab_fail "no ping reply through WireGuard over the static endpoint within 15 s"
lab_log "first ping reply na -> nb through WireGuard, direct, after $(lab_ms_since "$t") ms"
out=$(lab_tunnel_ping na 50 0.02 2) || lab_fail "ping -c 50 over the direct path lost packets: $out"
lab_log "ping -c 50 na -> nb direct: rtt avg $(lab_ping_avg <<<"$out") ms"
ca2=$(lab_router_udp_count ra)
cb2=$(lab_router_udp_count rb)
relayed1=$(lab_derper_packets)
lab_log "routers' UDP :$LAB_PORT counters: ra $ca -> $ca2, rb $cb -> $cb2;" \
  "derper relayed $relayed0 -> $relayed1"
{ [ $((ca2 - ca)) -ge 100 ] && [ $((cb2 - cb)) -ge 100 ]; } ||
  lab_fail "the routers counted too few UDP packets for 50 pings each way (ra +$((ca2 - ca)), rb +$((cb2 - cb)))"
[ "$relayed1" = "$relayed0" ] ||
  lab_fail "the derper relayed $((relayed1 - relayed0)) packets though the direct path works"
# A ping every 1.5 s: each request is the first packet after more than a
# second of quiet. It is answered at once, so it is not silence: nothing
# goes over DERP (the silence detector once sent every such request both
# ways; at `ping`'s default 1 s it did so now and then).
out=$(lab_tunnel_ping na 4 1.5 2) || lab_fail "ping -c 4 -i 1.5 over the direct path lost packets: $out"
relayed2=$(lab_derper_packets)
[ "$relayed2" = "$relayed1" ] ||
  lab_fail "ping -i 1.5: the derper relayed $((relayed2 - relayed1)) packets (silence detector fired on a working path)"
lab_log "ping -c 4 -i 1.5: derper relayed nothing (the path was never taken for silent)"

for n in na nb; do
  want="${LAB_IP[r$(lab_other $n | cut -c2)]}:$LAB_PORT"
  st=$(lab_msockctl $n status --json)
  path=$(jq -r '[.Peer[].Path][0]' <<<"$st")
  addr=$(jq -r '[.Peer[].DirectAddr][0]' <<<"$st")
  { [ "$path" = static ] && [ "$addr" = "$want" ]; } ||
    lab_fail "$n: the dataplane's path is '$path' to '$addr', not static to $want"
  unknown=$(jq -r '.Self.Dataplane.Counters.RxUnknownSource' <<<"$st")
  [ "$unknown" = 0 ] || lab_fail "$n: $unknown packets came from an address of no peer"
done
lab_log "path: static (no disco key) on both (na -> ${LAB_IP[rb]}:$LAB_PORT, nb -> ${LAB_IP[ra]}:$LAB_PORT)"

t=$(lab_now_ms)
gbps=$(lab_iperf nb "${LAB_TUN[nb]}" na 2) || lab_fail "iperf3 through the tunnel failed"
lab_log "iperf3 na -> nb through WireGuard over msock's direct path: $gbps Gbit/s"
[ "$(lab_derper_packets)" = "$relayed1" ] ||
  lab_fail "the derper relayed packets during iperf3 on the direct path"
lab_log "PASS"
