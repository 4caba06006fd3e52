#!/usr/bin/env bash
# lab_netcheck: the network report through each NAT behaviour, with two STUN
# servers: msock-derper's (region 900) and coturn's (region 901, STUNOnly).
# na is behind an easy NAT (masquerade keeps the port), then a 1:1 NAT; nb
# behind a hard one (fully-random: a new port per destination). Checked on each node:
# `msockctl netcheck` runs a report; UDP works; the global IPv4 address is
# the router's WAN address (na: with msock's own port 41641); "mapping
# varies by destination" is false behind the easy NAT and true behind the
# hard one; both regions have a latency; the home region is 900 (coturn's
# region has no DERP server); the derp component followed it; and the STUN
# address joined the endpoint set. Then UDP to the internet is blocked for
# na: the next report says UDP is blocked and the latency comes from HTTPS.
# Printed: the time to the first report and each report.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root
export LAB_COTURN=1 LAB_DERP2=1
LAB_NAT_A=easy LAB_NAT_B=hard lab_init
export LAB_HOME_DERP=0 # chosen by latency: the derp component follows netcheck

export LAB_COMPONENTS='["dataplane","derp","netcheck"]'
t=$(lab_now_ms)
for n in na nb; do
  lab_msock_config $n "$LAB_PORT" 0 "$(lab_other $n)" "$(lab_node_key "$(lab_other $n)")"
  lab_msock_up $n
done
have_report() { [ "$(lab_msockctl "$1" status --json | jq -r '.Netcheck.AtUnixMs // 0')" -gt 0 ]; }
for n in na nb; do
  lab_wait_for 15 have_report $n || lab_fail "$n: no netcheck report within 15 s"
done
lab_log "first reports on na and nb within $(lab_ms_since "$t") ms of starting msock"

# field NODE JQ: a field of NODE's latest report.
field() { lab_msockctl "$1" status --json | jq -r ".Netcheck | $2"; }
for n in na nb; do
  t=$(lab_now_ms)
  out=$(lab_msockctl $n netcheck) || lab_fail "$n: msockctl netcheck failed: $out"
  lab_log "$n: msockctl netcheck ($(lab_ms_since "$t") ms):"
  printf '%s\n' "$out" | sed 's/^/      /'
  [ "$(field $n .UDP)" = true ] || lab_fail "$n: the report says UDP does not work"
  for r in "$LAB_DERP_REGION" "$LAB_COTURN_REGION" "$LAB_DERP2_REGION"; do
    [ "$(field $n ".RegionLatency[\"$r\"].LatencyMs // 0")" != 0 ] ||
      lab_fail "$n: no latency for region $r"
  done
  # coturn relays nothing: listed as a STUN-only server, not under DERP latency.
  if ! { [ "$(field $n ".RegionLatency[\"$LAB_COTURN_REGION\"].STUNOnly")" = true ] &&
    [ "$(field $n ".RegionLatency[\"$LAB_DERP_REGION\"].STUNOnly")" = false ]; }; then
    lab_fail "$n: STUNOnly wrong in RegionLatency: $(field $n .RegionLatency)"
  fi
  derp_part=$(sed -n '/DERP latency:/,/STUN-only servers/p' <<<"$out")
  stun_part=$(sed -n '/STUN-only servers/,$p' <<<"$out")
  if ! { grep -q -- '- coturn:' <<<"$stun_part" && ! grep -q -- '- coturn:' <<<"$derp_part" &&
    grep -q -- '- lab:' <<<"$derp_part"; }; then
    lab_fail "$n: msockctl netcheck does not list coturn apart as a STUN-only server"
  fi
  case $(field $n .PreferredDERP) in
    "$LAB_DERP_REGION" | "$LAB_DERP2_REGION") ;;
    *) lab_fail "$n: preferred DERP is $(field $n .PreferredDERP), not a DERP region (900, 902)" ;;
  esac
done
g=$(field na .GlobalV4)
[ "$g" = "${LAB_IP[ra]}:$LAB_PORT" ] || lab_fail "na (easy NAT): GlobalV4 is $g, not ${LAB_IP[ra]}:$LAB_PORT"
[ "$(field na .MappingVariesByDestIP)" = false ] || lab_fail "na (easy NAT): mapping varies by destination"
g=$(field nb .GlobalV4)
[ "${g%:*}" = "${LAB_IP[rb]}" ] || lab_fail "nb (hard NAT): GlobalV4 is $g, not at ${LAB_IP[rb]}"
[ "$(field nb .MappingVariesByDestIP)" = true ] ||
  lab_fail "nb (hard NAT): the report does not say the mapping varies by destination"
lab_log "na (easy): global $(field na .GlobalV4), varies false; nb (hard): global $(field nb .GlobalV4), varies true"

# The STUN address is in the endpoint set, and derp follows the home region.
eps=$(lab_msockctl na status --json | jq -c '[.Self.Endpoints, .Self.EndpointTypes] | transpose')
jq -e --arg a "${LAB_IP[ra]}:$LAB_PORT" 'any(.[]; .[0] == $a and .[1] == "stun")' <<<"$eps" >/dev/null ||
  lab_fail "na: the endpoint set $eps lacks ${LAB_IP[ra]}:$LAB_PORT (stun)"
jq -e --arg a "${LAB_IP[na]}:$LAB_PORT" 'any(.[]; .[0] == $a and .[1] == "local")' <<<"$eps" >/dev/null ||
  lab_fail "na: the endpoint set $eps lacks its local address ${LAB_IP[na]}:$LAB_PORT"
lab_log "na: endpoint set $eps"

# The derp component homes where netcheck says. STUN to the home region's
# server is dropped at ra: the next report cannot measure it, prefers the
# other DERP region, and the derp component moves its home there.
home_is() { [ "$(lab_msockctl na status --json | jq -r .Self.HomeDERP)" = "$1" ]; }
pref=$(field na .PreferredDERP)
lab_wait_for 5 home_is "$pref" || lab_fail "na: HomeDERP is not netcheck's $pref"
if [ "$pref" = "$LAB_DERP_REGION" ]; then
  other=$LAB_DERP2_REGION block=$LAB_DERP_IP
else
  other=$LAB_DERP_REGION block=$LAB_DERP2_IP
fi
lab_exec inet nft add rule ip lab faults ip saddr 198.18.1.0/24 ip daddr "$block" meta l4proto udp drop
t=$(lab_now_ms)
out=$(lab_msockctl na netcheck --json) || lab_fail "na: msockctl netcheck failed: $out"
[ "$(jq -r .PreferredDERP <<<"$out")" = "$other" ] ||
  lab_fail "na: STUN to region $pref blocked, yet the report prefers $(jq -r .PreferredDERP <<<"$out"): $out"
lab_wait_for 10 home_is "$other" || lab_fail "na: the derp component did not move home to $other"
up_home() { lab_msockctl na status --json | jq -e --arg r "$other" '.Self.DERP[$r] | .State == "up" and .Home' >/dev/null; }
lab_wait_for 10 up_home || lab_fail "na: region $other is not up as home"
lab_log "na: STUN to region $pref blocked -> netcheck prefers $other; derp home moved and connected in $(lab_ms_since "$t") ms"
lab_faults_clear

# ra switches to 1:1 NAT: the same global address (port kept), no variation.
lab_nat ra one2one
out=$(lab_msockctl na netcheck --json) || lab_fail "na: msockctl netcheck (one2one) failed: $out"
{ [ "$(jq -r .GlobalV4 <<<"$out")" = "${LAB_IP[ra]}:$LAB_PORT" ] &&
  [ "$(jq -r .MappingVariesByDestIP <<<"$out")" = false ]; } ||
  lab_fail "na (one2one): expected ${LAB_IP[ra]}:$LAB_PORT without variation: $out"
lab_log "na (one2one): global $(jq -r .GlobalV4 <<<"$out"), varies false"

# UDP blocked for na's router: STUN fails, HTTPS measures the latency.
lab_exec inet nft add rule ip lab faults ip saddr 198.18.1.0/24 meta l4proto udp counter drop
t=$(lab_now_ms)
out=$(lab_msockctl na netcheck) || lab_fail "na: msockctl netcheck with UDP blocked failed: $out"
lab_log "na with UDP blocked: msockctl netcheck ($(lab_ms_since "$t") ms):"
printf '%s\n' "$out" | sed 's/^/      /'
[ "$(field na .UDP)" = false ] || lab_fail "na: UDP is blocked but the report says it works"
for r in "$LAB_DERP_REGION" "$LAB_DERP2_REGION"; do
  [ "$(field na ".RegionLatency[\"$r\"].LatencyMs // 0")" != 0 ] ||
    lab_fail "na: no HTTPS latency for region $r with UDP blocked"
done
[ "$(field na ".RegionLatency[\"$LAB_COTURN_REGION\"] // empty")" = "" ] ||
  lab_fail "na: region $LAB_COTURN_REGION (STUN only) has a latency with UDP blocked"
[ "$(field na .PreferredDERP)" = "$other" ] ||
  lab_fail "na: home moved from $other to $(field na .PreferredDERP) (hysteresis should keep it)"
lab_log "PASS"
