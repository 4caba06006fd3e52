#!/usr/bin/env bash
# lab_topology: the lab itself works (tests/lab/lib.sh).
#  1. Both nodes reach the derper over TCP 443 through their NAT (the
#     internet has no route to 10/8, so an answer proves the NAT).
#  2. Both routers 1:1 NAT: WireGuard (wireguard-go, no msock) directly
#     between the nodes at the routers' WAN addresses, port 41641: ping
#     works and both routers' UDP counters rose. Also an iperf3 figure.
#  3. UDP between the routers dropped in the internet: that ping fails.
#  4. msock with only the derp component on both nodes: each logs in to the
#     derper through its NAT (UDP still blocked) with its node key.
# Cleanup (trap) then leaves no namespace, process, interface or socket.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root
lab_init

p=$LAB_PREFIX

# 1. TCP 443 to the derper through each NAT.
for n in na nb; do
  t=$(lab_now_ms)
  code=$(lab_exec $n curl -sk --max-time 5 -o /dev/null -w '%{http_code}' \
    "https://$LAB_DERP_IP/derp/probe") || true
  [ "$code" = 200 ] || lab_fail "$n: https://$LAB_DERP_IP/derp/probe answered '$code', not 200"
  lab_log "1. $n (NAT ${LAB_NAT[r${n#n}]}) -> https://$LAB_DERP_IP/derp/probe: 200" \
    "in $(lab_ms_since "$t") ms"
done

# 2. Direct WireGuard through 1:1 NATs. The WireGuard key is the node key.
t=$(lab_now_ms)
lab_nat ra one2one
lab_nat rb one2one
ka=$(lab_node_key na)
kb=$(lab_node_key nb)
lab_wg_up na "$(lab_wg_iface na)" "$LAB_DIR/na/state/node.key" "$LAB_PORT" 10.99.0.1/24
lab_wg_up nb "$(lab_wg_iface nb)" "$LAB_DIR/nb/state/node.key" "$LAB_PORT" 10.99.0.2/24
lab_wg_peer na "$(lab_wg_iface na)" "$kb" 10.99.0.2/32 "${LAB_IP[rb]}:$LAB_PORT"
lab_wg_peer nb "$(lab_wg_iface nb)" "$ka" 10.99.0.1/32 "${LAB_IP[ra]}:$LAB_PORT"
lab_log "2. wireguard-go up on na and nb in $(lab_ms_since "$t") ms"
ca=$(lab_router_udp_count ra)
cb=$(lab_router_udp_count rb)
t=$(lab_now_ms)
lab_exec na ping -c 3 -i 0.2 -W 2 10.99.0.2 >"$LAB_DIR/ping-direct.log" ||
  lab_fail "ping 10.99.0.2 over direct WireGuard failed: $(cat "$LAB_DIR/ping-direct.log")"
ca2=$(lab_router_udp_count ra)
cb2=$(lab_router_udp_count rb)
lab_log "2. ping -c 3 10.99.0.2 over direct WireGuard: ok in $(lab_ms_since "$t") ms;" \
  "UDP :$LAB_PORT counted by ra $ca -> $ca2, rb $cb -> $cb2"
{ [ "$ca2" -gt "$ca" ] && [ "$cb2" -gt "$cb" ]; } ||
  lab_fail "the routers' UDP counters did not rise (ra $ca -> $ca2, rb $cb -> $cb2)"
# 1:1 NAT keeps the source port: nb saw na's packets come from ra's WAN:41641.
ep=$(lab_exec nb wg show "$(lab_wg_iface nb)" endpoints | awk '{ print $2 }')
[ "$ep" = "${LAB_IP[ra]}:$LAB_PORT" ] ||
  lab_fail "nb sees na at $ep, not ${LAB_IP[ra]}:$LAB_PORT (1:1 NAT changed the port?)"
t=$(lab_now_ms)
gbps=$(lab_iperf nb 10.99.0.2 na 1)
lab_log "2. iperf3 na -> nb over direct WireGuard: $gbps Gbit/s ($(lab_ms_since "$t") ms)"

# 3. UDP between the routers blocked: WireGuard cannot pass.
lab_block_udp_between_routers
t=$(lab_now_ms)
if lab_exec na ping -c 2 -W 1 10.99.0.2 >"$LAB_DIR/ping-blocked.log"; then
  lab_fail "ping over WireGuard worked with UDP between the routers blocked"
fi
lab_log "3. UDP blocked between the routers: ping over WireGuard fails ($(lab_ms_since "$t") ms)"
lab_wg_down na "$(lab_wg_iface na)"
lab_wg_down nb "$(lab_wg_iface nb)"
[ ! -e "/var/run/wireguard/$(lab_wg_iface na).sock" ] || lab_fail "lab_wg_down left $(lab_wg_iface na).sock"

# 4. msock's derp component on both nodes, through the NATs, over TCP.
export LAB_COMPONENTS='["derp"]'
t=$(lab_now_ms)
lab_msock_config na "$LAB_PORT" 51820 nb "$kb" "${LAB_IP[rb]}:$LAB_PORT"
lab_msock_config nb "$LAB_PORT" 51820 na "$ka" "${LAB_IP[ra]}:$LAB_PORT"
lab_msock_up na
lab_msock_up nb
lab_log "4. msock-broker answers on na and nb in $(lab_ms_since "$t") ms"
for n in na nb; do
  lab_wait_for 10 lab_msock_derp_up $n ||
    lab_fail "$n: DERP region $LAB_DERP_REGION not up within 10 s" \
      "(state '$(lab_msock_derp_state $n)')"
done
lab_log "4. both derp components up on region $LAB_DERP_REGION in $(lab_ms_since "$t") ms"
for n in na nb; do
  want=$(lab_nodekey_hex "$(lab_node_key $n)")
  got=$(lab_msockctl $n status --json | jq -r .Self.NodeKey)
  [ "$got" = "$want" ] || lab_fail "$n: Self.NodeKey is $got, its node.key says $want"
done
clients_at_least() { [ "$(lab_derper_metric derp_current_clients)" -ge "$1" ]; }
lab_wait_for 5 clients_at_least 2 ||
  lab_fail "the derper has $(lab_derper_metric derp_current_clients) clients, not 2"
lab_log "4. node keys match node.key; derper: $(lab_derper_metric derp_current_clients) clients," \
  "$(lab_derper_packets) packets relayed"
lab_log "PASS"
