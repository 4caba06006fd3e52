#!/usr/bin/env bash
# netcheck_tailscale: msock's netcheck and Tailscale's (net/netcheck of
# tailscale.com v1.102.5, run by tsnetcheck: netcheck.Client.Standalone +
# GetReport) agree on the same node, with the same DERP map of two
# msock-derpers (region 900 on 198.18.0.2, region 902 on 198.18.3.5).
# na is behind an easy NAT, nb behind a hard one (a new port per
# destination).
#
# 1. stunc (Tailscale's cmd/stunc) asks each msock-derper's STUN server
#    from na and nb: it gets a response it parses, with its own transaction
#    id, and the router's address; behind the easy NAT also stunc's own
#    port (pinned by narrowing the namespace's ephemeral port range to one
#    port for the call).
# 2. msock (dataplane, derp, netcheck; home chosen by latency) on na and
#    nb; on each, `msockctl netcheck --json` and tsnetcheck (its own socket,
#    port 41642) agree on UDP (true), the GlobalV4 address (the router's),
#    MappingVariesByDestIP (false behind easy, true behind hard) and
#    PreferredDERP. Behind the easy NAT each report's port is its own
#    socket's (41641, 41642). The map's HomeParams.RegionScore weighs
#    region 902 x10000, so which region is nearer never rests on a coin
#    flip between two equally near servers; both must apply the score.
# 3. UDP from ra blocked: both say UDP false, both measure both regions
#    (msock by HTTPS; Tailscale by HTTPS and ICMP, the lower wins) and pick
#    the same home. MappingVariesByDestIP is not compared here: Tailscale's
#    is unknown (""), msock's JSON has no unknown and says false.
# Printed: both reports side by side, timings.
set -euo pipefail
src=${MSOCK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../lab/lib.sh
. "$src/tests/lab/lib.sh"
lab_skip_unless_root
lab_interop_bin stunc tsnetcheck
IB=$LAB_IB
export LAB_DERP2=1
LAB_NAT_A=easy LAB_NAT_B=hard lab_init
TS_PORT=41642   # tsnetcheck's socket; msock's is $LAB_PORT
STUNC_PORT=40000

# 1. stunc against both msock-derpers, from behind each NAT.
stunc_addr() { # NODE HOST PORT: stunc's "stun addr", its local port pinned
  local node=$1 range out
  range=$(lab_exec "$node" sysctl -n net.ipv4.ip_local_port_range | tr '\t' ' ')
  lab_exec "$node" sysctl -qw net.ipv4.ip_local_port_range="$STUNC_PORT $STUNC_PORT"
  out=$(lab_exec "$node" timeout 10 "$IB/stunc" "$2" "$3" 2>&1) || {
    lab_exec "$node" sysctl -qw net.ipv4.ip_local_port_range="$range"
    lab_fail "$node: stunc $2 $3 failed: $out"
  }
  lab_exec "$node" sysctl -qw net.ipv4.ip_local_port_range="$range"
  sed -n 's/^stun addr: //p' <<<"$out"
}
for n in na nb; do
  for s in "$LAB_DERP_IP 3478" "$LAB_DERP2_IP 3479"; do
    # shellcheck disable=SC2086 # host and port
    a=$(stunc_addr $n $s)
    want=${LAB_IP[r${n#n}]}
    [ "$n" = na ] && want+=":$STUNC_PORT"
    case $a in
      "$want" | "$want":*) ;;
      *) lab_fail "$n: stunc ${s/ /:} says $a, want $want (port: na $STUNC_PORT, nb any)" ;;
    esac
    lab_log "$n: stunc ${s/ /:} (msock-derper) -> stun addr $a"
  done
done

# 2. msock and Tailscale's netcheck on the same node, same map.
export LAB_HOME_DERP=0 LAB_COMPONENTS='["dataplane","derp","netcheck"]'
export LAB_MSOCK_JQ=".derp_map.HomeParams = {RegionScore: {\"$LAB_DERP2_REGION\": 10000}}"
t=$(lab_now_ms)
for n in na nb; do
  lab_msock_config $n "$LAB_PORT" 0 "$(lab_other $n)" "$(lab_node_key "$(lab_other $n)")"
  lab_msock_up $n
done
jq .derp_map "$LAB_DIR/na/msock.json" >"$LAB_DIR/derpmap.json"
have_report() { [ "$(lab_msockctl "$1" status --json | jq -r '.Netcheck.AtUnixMs // 0')" -gt 0 ]; }
for n in na nb; do
  lab_wait_for 15 have_report $n || lab_fail "$n: no netcheck report within 15 s"
done
lab_log "msock up on na and nb, first reports within $(lab_ms_since "$t") ms"

# compare NODE MSOCK_JSON TS_JSON: the fields both must agree on.
compare() {
  local n=$1 m=$2 ts=$3 mv tv
  lab_log "$n: msock     $(jq -c '{UDP, GlobalV4, MappingVariesByDestIP, PreferredDERP,
    RegionLatencyMs: (.RegionLatency | map_values(.LatencyMs))}' <<<"$m")"
  lab_log "$n: Tailscale $(jq -c '{UDP, GlobalV4, MappingVariesByDestIP, PreferredDERP,
    RegionLatencyMs, ElapsedMs}' <<<"$ts")"
  [ "$(jq -r .UDP <<<"$m")" = "$(jq -r .UDP <<<"$ts")" ] || lab_fail "$n: UDP differs"
  [ "$(jq -r .PreferredDERP <<<"$m")" = "$(jq -r .PreferredDERP <<<"$ts")" ] ||
    lab_fail "$n: PreferredDERP differs"
  mv=$(jq -r .MappingVariesByDestIP <<<"$m")
  tv=$(jq -r .MappingVariesByDestIP <<<"$ts")
  [ "$(jq -r .UDP <<<"$m")" = false ] || [ "$mv" = "$tv" ] ||
    lab_fail "$n: MappingVariesByDestIP differs (msock $mv, Tailscale '$tv')"
  [ "$(jq -r .GlobalV4 <<<"$m" | sed 's/:[0-9]*$//')" = "$(jq -r .GlobalV4 <<<"$ts" | sed 's/:[0-9]*$//')" ] ||
    lab_fail "$n: the GlobalV4 address differs"
}
for n in na nb; do
  t=$(lab_now_ms)
  m=$(lab_msockctl $n netcheck --json) || lab_fail "$n: msockctl netcheck failed: $m"
  tm=$(lab_ms_since "$t")
  t=$(lab_now_ms)
  ts=$(lab_exec $n "$IB/tsnetcheck" -derpmap "$LAB_DIR/derpmap.json" -bind "0.0.0.0:$TS_PORT" \
    2>"$LAB_DIR/tsnetcheck-$n.log") || lab_fail "$n: tsnetcheck failed: $(tail -n 20 "$LAB_DIR/tsnetcheck-$n.log")"
  lab_log "$n: msockctl netcheck took $tm ms, tsnetcheck $(lab_ms_since "$t") ms"
  compare $n "$m" "$ts"
  r=${LAB_IP[r${n#n}]}
  [ "$(jq -r .UDP <<<"$m")" = true ] || lab_fail "$n: UDP false"
  [ "$(jq -r .PreferredDERP <<<"$m")" = "$LAB_DERP_REGION" ] ||
    lab_fail "$n: PreferredDERP is not $LAB_DERP_REGION (region $LAB_DERP2_REGION scores x10000)"
  case $n in
    na)
      [ "$(jq -r .GlobalV4 <<<"$m")" = "$r:$LAB_PORT" ] || lab_fail "na: msock's GlobalV4 is not $r:$LAB_PORT"
      [ "$(jq -r .GlobalV4 <<<"$ts")" = "$r:$TS_PORT" ] || lab_fail "na: Tailscale's GlobalV4 is not $r:$TS_PORT"
      [ "$(jq -r .MappingVariesByDestIP <<<"$m")" = false ] || lab_fail "na: easy NAT taken for hard"
      ;;
    nb)
      [ "$(jq -r .GlobalV4 <<<"$m" | cut -d: -f1)" = "$r" ] || lab_fail "nb: GlobalV4 is not at $r"
      [ "$(jq -r .MappingVariesByDestIP <<<"$m")" = true ] || lab_fail "nb: hard NAT not seen"
      ;;
  esac
done

# 3. UDP from ra dropped: HTTPS latency on both sides.
lab_exec inet nft add rule ip lab faults ip saddr 198.18.1.0/24 meta l4proto udp counter drop
t=$(lab_now_ms)
lab_exec na "$IB/tsnetcheck" -derpmap "$LAB_DIR/derpmap.json" -bind "0.0.0.0:$TS_PORT" \
  >"$LAB_DIR/ts-blocked.json" 2>"$LAB_DIR/tsnetcheck-blocked.log" &
tspid=$!
m=$(lab_msockctl na netcheck --json) || lab_fail "na: msockctl netcheck (UDP blocked) failed: $m"
wait $tspid || lab_fail "na: tsnetcheck (UDP blocked) failed: $(tail -n 20 "$LAB_DIR/tsnetcheck-blocked.log")"
lab_log "na with UDP blocked: both reports in $(lab_ms_since "$t") ms (run at once)"
ts=$(cat "$LAB_DIR/ts-blocked.json")
compare na "$m" "$ts"
[ "$(jq -r .UDP <<<"$m")" = false ] || lab_fail "na: UDP is blocked, yet msock says it works"
for r in "$LAB_DERP_REGION" "$LAB_DERP2_REGION"; do
  [ "$(jq -r ".RegionLatency[\"$r\"].LatencyMs // 0" <<<"$m")" != 0 ] || lab_fail "na: msock has no HTTPS latency for $r"
  [ "$(jq -r ".RegionLatencyMs[\"$r\"] // 0" <<<"$ts")" != 0 ] || lab_fail "na: Tailscale has no HTTPS latency for $r"
done
lab_log "PASS"
