#!/usr/bin/env bash
# lab_linkchange: the dataplane's link monitor on node na (dataplane, derp,
# netcheck), with real netlink events from `ip` in na's namespace:
#  1. minor: a second LAN address -> it joins the endpoint set, and netcheck
#     runs a new report (ReSTUN);
#  2. major: the address in use goes away -> the broker rebinds the
#     dataplane (a new process on the same port), and the set drops it;
#  3. all down: the LAN link goes down -> NetworkState down, the derp
#     component closes its connection, netcheck makes no report;
#  4. back up -> network up, DERP home connected again, a new report.
# Printed: how long each reaction took.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root
lab_init

export LAB_COMPONENTS='["dataplane","derp","netcheck"]'
lab_msock_config na "$LAB_PORT" 0 nb "$(lab_node_key nb)"
lab_msock_up na
lan="${LAB_PREFIX}n2a"
st() { lab_msockctl na status --json; }
has_ep() { st | jq -e --arg a "$1" --arg k "$2" \
  '[.Self.Endpoints, .Self.EndpointTypes] | transpose | any(.[]; .[0] == $a and .[1] == $k)' >/dev/null; }
report_at() { st | jq -r '.Netcheck.AtUnixMs // 0'; }
lab_wait_for 15 lab_msock_derp_up na || lab_fail "na: DERP not up"
lab_wait_for 15 has_ep "${LAB_IP[na]}:$LAB_PORT" local || lab_fail "na: no local endpoint $(st | jq -c .Self.Endpoints)"
has_report() { [ "$(report_at)" -gt 0 ]; }
lab_wait_for 15 has_report || lab_fail "na: no first report"
sleep 0.3

# 1. minor: an address added.
r0=$(report_at)
newer_report() { [ "$(report_at)" -gt "$1" ]; }
t=$(lab_now_ms)
# Secondary addresses survive their primary's removal only with this.
lab_exec na sysctl -qw "net.ipv4.conf.$lan.promote_secondaries=1"
ip -n "$(lab_ns na)" addr add 10.0.1.50/24 dev "$lan"
lab_wait_for 10 has_ep "10.0.1.50:$LAB_PORT" local || lab_fail "10.0.1.50 did not join the endpoint set"
lab_log "1. minor: 10.0.1.50 added -> in the endpoint set after $(lab_ms_since "$t") ms"
lab_wait_for 10 newer_report "$r0" || lab_fail "no new report after a minor link change"
lab_log "1. minor: a new netcheck report after $(lab_ms_since "$t") ms"
grep -q "ReSTUN (link change (minor))" "$LAB_DIR/na/broker.log" || lab_fail "netcheck did not log the ReSTUN"

# 2. major: the address in use goes away (10.0.1.50 keeps the node online).
pid0=$(st | jq -r .Components.dataplane.PID)
port0=$(st | jq -r .Self.Dataplane.Port)
t=$(lab_now_ms)
ip -n "$(lab_ns na)" addr del "${LAB_IP[na]}/24" dev "$lan"
ip -n "$(lab_ns na)" route replace default via 10.0.1.1 dev "$lan"
new_dp() { [ "$(st | jq -r .Components.dataplane.PID)" != "$pid0" ] &&
  [ "$(st | jq -r .Components.dataplane.State)" = running ]; }
lab_wait_for 10 new_dp || lab_fail "the dataplane was not rebound after a major change"
lab_log "2. major: ${LAB_IP[na]} removed -> dataplane rebound (pid $pid0 -> $(st | jq -r .Components.dataplane.PID)) after $(lab_ms_since "$t") ms"
grep -q "link change (major): rebinding" "$LAB_DIR/na/broker.log" || lab_fail "the broker did not log the rebind"
[ "$(st | jq -r .Self.Dataplane.Port)" = "$port0" ] || lab_fail "the rebind changed the port"
gone() { ! has_ep "${LAB_IP[na]}:$LAB_PORT" local; }
lab_wait_for 10 gone || lab_fail "${LAB_IP[na]} is still in the endpoint set"
lab_wait_for 10 has_ep "10.0.1.50:$LAB_PORT" local || lab_fail "10.0.1.50 left the endpoint set"

# 3. all down.
t=$(lab_now_ms)
ip -n "$(lab_ns na)" link set "$lan" down
net_is() { [ "$(st | jq -r .Self.NetworkUp)" = "$1" ]; }
lab_wait_for 10 net_is false || lab_fail "NetworkUp stayed true with the only link down"
lab_log "3. all down: NetworkUp false after $(lab_ms_since "$t") ms"
# The dataplane's network-status health warning, in JSON and as
# `tailscale status` prints health checks.
net_warning() { [ "$(st | jq -r '[.Health[] | select(.Component == "dataplane" and .Code == "network-status")] | length')" = "$1" ]; }
lab_wait_for 10 net_warning 1 || lab_fail "no network-status warning with the network down"
lab_msockctl na status | grep -q '^#     - msock cannot connect because the network is down' ||
  lab_fail "msockctl status does not print the network-status warning"
lab_log "3. all down: health warning network-status set"
derp_closed() { [ "$(lab_msock_derp_state na)" = "" ]; }
lab_wait_for 10 derp_closed || lab_fail "derp kept region $LAB_DERP_REGION ($(lab_msock_derp_state na))"
r1=$(report_at)
lab_log "3. all down: the derp component closed its connection; waiting 2 s for no report"
sleep 2
[ "$(report_at)" = "$r1" ] || lab_fail "netcheck made a report while the network was down"

# 4. back up.
t=$(lab_now_ms)
ip -n "$(lab_ns na)" link set "$lan" up
ip -n "$(lab_ns na)" route replace default via 10.0.1.1 dev "$lan"
lab_wait_for 10 net_is true || lab_fail "NetworkUp stayed false with the link back"
lab_log "4. up again: NetworkUp true after $(lab_ms_since "$t") ms"
lab_wait_for 10 net_warning 0 || lab_fail "the network-status warning stayed with the network up"
lab_log "4. up again: health warning network-status cleared"
lab_wait_for 15 lab_msock_derp_up na || lab_fail "derp did not reconnect"
lab_log "4. up again: DERP region $LAB_DERP_REGION up after $(lab_ms_since "$t") ms"
lab_wait_for 15 newer_report "$r1" || lab_fail "no new report after the network came back"
lab_log "4. up again: a new netcheck report after $(lab_ms_since "$t") ms (link changes seen: $(st | jq -r .Self.LinkChanges))"
lab_log "PASS"
