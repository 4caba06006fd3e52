#!/usr/bin/env bash
# portmap.sh PROTOCOL: msock's portmapper against a real gateway, miniupnpd
# on ra (tests/lab/miniupnpd.sh), with PROTOCOL (nat-pmp, pcp, upnp) forced
# by --protocol; run by lab_portmap_natpmp.sh, lab_portmap_pcp.sh and
# lab_portmap_upnp.sh, one ctest test each. msock (dataplane, netcheck, portmapper
# asking for 6 s mappings so renewal shows) maps na's UDP port 41641; the
# DNAT rule appears in ra's nftables; the mapped address joins na's endpoint
# set as "portmap"; the netcheck report names the protocol; the mapping is
# renewed; a datagram from the internet to the mapped address reaches msock's
# socket on na; disable_portmapper (config reload) deletes the mapping and
# clearing it maps again; and when msock stops, the mapping is gone from the
# router. Printed: the time to the mapping and to its removal.
set -euo pipefail
proto=${1:?usage: portmap.sh nat-pmp|pcp|upnp}
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root
for c in /usr/sbin/miniupnpd:miniupnpd-nftables turnserver:coturn; do
  command -v "${c%%:*}" >/dev/null || lab_fail "${c%%:*} is not installed (Debian package ${c#*:})"
done
LAB_NAT_A=easy lab_init
t=$(lab_now_ms)
lab_miniupnpd_start ra
lab_log "miniupnpd on ra answers after $(lab_ms_since "$t") ms"

st() { lab_msockctl na status --json; }
export LAB_COMPONENTS="[\"dataplane\",\"netcheck\",{\"name\":\"portmapper\",\"program\":\"portmapper\",\"args\":[\"--protocol\",\"$proto\",\"--lifetime\",\"6\"]}]"
lab_msock_config na "$LAB_PORT" 0 nb "$(lab_node_key nb)"
t=$(lab_now_ms)
lab_msock_up na
mapping() { st | jq -er --arg p "$proto" '.Self.PortMappings[] | select(.Protocol == $p) | .External'; }
lab_wait_for 15 mapping || lab_fail "$proto: no mapping within 15 s ($(st | jq -c .Self.PortMappings))"
ext=$(mapping)
lab_log "$proto: na's port $LAB_PORT mapped to $ext after $(lab_ms_since "$t") ms"
[ "${ext%:*}" = "${LAB_IP[ra]}" ] || lab_fail "$proto: external address $ext is not ra's ${LAB_IP[ra]}"
rule="udp ${ext##*:} ${LAB_IP[na]}:$LAB_PORT"
in_router() { lab_miniupnpd_mappings ra | grep -qx "$1"; }
in_router "$rule" || lab_fail "$proto: ra's nftables lack '$rule': $(lab_miniupnpd_mappings ra)"
has_ep() { st | jq -e --arg a "$ext" '[.Self.Endpoints, .Self.EndpointTypes] | transpose
  | any(.[]; .[0] == $a and .[1] == "portmap")' >/dev/null; }
lab_wait_for 5 has_ep || lab_fail "$proto: $ext is not in the endpoint set: $(st | jq -c .Self.Endpoints)"
# The report names the protocol that answered.
field=$(case $proto in nat-pmp) echo PMP ;; pcp) echo PCP ;; upnp) echo UPnP ;; esac)
out=$(lab_msockctl na netcheck --json) || lab_fail "msockctl netcheck failed"
[ "$(jq -r ".$field" <<<"$out")" = true ] || lab_fail "$proto: the report's $field is not true: $out"
# The text report lists it as `tailscale netcheck` does: names joined by
# ", ", no trailing comma (only this protocol answered the forced probe).
name=$(case $proto in nat-pmp) echo NAT-PMP ;; pcp) echo PCP ;; upnp) echo UPnP ;; esac)
line=$(lab_msockctl na netcheck | grep 'PortMapping:') || lab_fail "msockctl netcheck: no PortMapping line"
[ "${line#"${line%%[![:space:]]*}"}" = "* PortMapping: $name" ] ||
  lab_fail "$proto: msockctl netcheck printed '$line', not '* PortMapping: $name'"
# Renewal: a 6 s mapping is renewed after 3 s.
renewed() { [ "$(grep -c "$proto: port $LAB_PORT mapped" "$LAB_DIR/na/broker.log")" -ge 2 ]; }
lab_wait_for 10 renewed || lab_fail "$proto: the mapping was not renewed within 10 s"
in_router "$rule" || lab_fail "$proto: the rule left the router after the renewal"
lab_log "$proto: endpoint set has $ext (portmap); netcheck $field=true; renewed"
# A datagram from the internet through the mapping reaches msock's socket.
unknown() { st | jq -r .Self.Dataplane.Counters.RxUnknownSource; }
u0=$(unknown)
arrived() { [ "$(unknown)" -gt "$u0" ]; }
lab_exec inet bash -c "printf '\\x04hello' >/dev/udp/${ext%:*}/${ext##*:}"
lab_wait_for 5 arrived || lab_fail "$proto: a datagram to $ext did not reach na's dataplane"
lab_log "$proto: a datagram from the internet to $ext reached na's dataplane"
# disable_portmapper: a reload deletes the mapping; clearing it maps again.
# --wait: the portmapper has taken the pref when it returns; deleting the
# mapping on the router is a round trip more, waited for below.
gone() { ! in_router "$rule"; }
t=$(lab_now_ms)
LAB_PREFS='{"disable_portmapper": true}' lab_msock_config na "$LAB_PORT" 0 nb "$(lab_node_key nb)"
lab_msockctl na reload --wait >/dev/null || lab_fail "$proto: reload --wait (disable_portmapper) failed"
lab_wait_for 5 gone || lab_fail "$proto: disable_portmapper left the mapping on the router"
no_mapping() { ! mapping >/dev/null; }
lab_wait_for 5 no_mapping || lab_fail "$proto: disable_portmapper left the PortMapping state"
lab_log "$proto: disable_portmapper: mapping deleted $(lab_ms_since "$t") ms after the reload"
lab_msock_config na "$LAB_PORT" 0 nb "$(lab_node_key nb)"
lab_msockctl na reload --wait >/dev/null || lab_fail "$proto: reload --wait (portmapper back) failed"
lab_wait_for 10 mapping || lab_fail "$proto: no mapping after disable_portmapper was cleared"
ext=$(mapping)
rule="udp ${ext##*:} ${LAB_IP[na]}:$LAB_PORT"
lab_wait_for 5 in_router "$rule" || lab_fail "$proto: '$rule' is not back on the router"
lab_log "$proto: disable_portmapper cleared: mapped again to $ext"
t=$(lab_now_ms)
lab_msock_down na
lab_wait_for 5 gone || lab_fail "$proto: the mapping stayed on the router after msock stopped"
lab_log "$proto: mapping removed from ra $(lab_ms_since "$t") ms after msock was told to stop"
lab_miniupnpd_stop ra
lab_log "PASS"
