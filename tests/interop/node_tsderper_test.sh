#!/usr/bin/env bash
# node_tsderper: msock nodes use Tailscale's own derper (cmd/derper of
# tailscale.com v1.102.5) in the lab, in msock-derper's place (same address,
# same certificate for derp.lab.test, which the nodes verify through
# derp_ca_file: InsecureForTests is off).
#
# 1. UDP from both routers is blocked. Two msock nodes (dataplane, derp,
#    netcheck, disco) log in to Tailscale's derper, which counts both as
#    home connections (NotePreferred). netcheck says UDP is blocked and
#    measures the derper's HTTPS latency (/derp/latency-check). WireGuard
#    pings between the nodes go over the derper: its packets_sent rises,
#    both dataplanes say derp and disco has no direct address.
# 2. A Tailscale peer (tsdiscopeer: derphttp + Tailscale's disco package)
#    that na lists as a peer sends disco pings to na over the derper: na
#    answers each with a pong that opens with Tailscale's code, carries the
#    ping's tx id and the DERP source magicsock gives (127.3.3.40:900).
#    `msockctl ping tsgo` on na gets the Go peer's pong via DERP(lab).
# 3. UDP is let through again (still blocked between the routers): msock's
#    netcheck gets STUN answers from Tailscale's derper (UDP true, the
#    router's address and msock's port, a latency for region 900).
# 4. Tailscale's derper restarted with -hostname 198.18.0.2: its own
#    self-signed certificate, pinned by the CertName "sha256-raw:<hex>" it
#    logs. The nodes take that entry (msockctl reload): both log in through
#    the pin alone, WireGuard pings go over it, and netcheck's HTTPS probe
#    (UDP blocked again for na) measures it through the pin.
# Printed: timings, the derper's counts, the reports.
set -euo pipefail
src=${MSOCK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../lab/lib.sh
. "$src/tests/lab/lib.sh"
lab_skip_unless_root
lab_interop_bin derper tsdiscopeer
IB=$LAB_IB
lab_init
lab_derper_stop
t=$(lab_now_ms)
lab_tsderper_start
lab_log "Tailscale's derper ($("$IB/derper" -version | head -n 1)) up in $(lab_ms_since "$t") ms"
ca=$LAB_DIR/derp/$LAB_DERP_HOST.crt

# The Go peer's keys, named in na's config as peer "tsgo".
mkdir -p "$LAB_DIR/tsgo"
read -r go_nk go_dk < <("$IB/tsdiscopeer" keygen "$LAB_DIR/tsgo/keys.json")
verify_jq=".derp_ca_file = \"$ca\" | .derp_map.Regions[].Nodes[].InsecureForTests = false"

# 1. All UDP from the routers dropped in inet: DERP (TCP 443) is the only way.
for net in 198.18.1.0/24 198.18.2.0/24; do
  lab_exec inet nft add rule ip lab faults ip saddr $net meta l4proto udp counter drop
done
export LAB_DISCO=1 LAB_COMPONENTS='["dataplane","derp","netcheck","disco"]'
t=$(lab_now_ms)
LAB_MSOCK_JQ="$verify_jq | .peers += [{name: \"tsgo\", node_key: \"$go_nk\", disco_key: \"$go_dk\", home_derp: $LAB_DERP_REGION}]" \
  lab_node_up na
LAB_MSOCK_JQ=$verify_jq lab_node_up nb
for n in na nb; do
  lab_wait_for 10 lab_msock_derp_up $n ||
    lab_fail "$n: not logged in to Tailscale's derper within 10 s (state '$(lab_msock_derp_state $n)')"
done
lab_log "na and nb logged in to Tailscale's derper (certificate verified) in $(lab_ms_since "$t") ms"
# Both said NotePreferred (their home region): the derper counts them so.
home_conns() { [ "$(lab_tsderper_metric derp_current_home_connections)" = 2 ]; }
lab_wait_for 5 home_conns ||
  lab_fail "Tailscale's derper counts $(lab_tsderper_metric derp_current_home_connections) home connections, not 2"

udp_blocked_reported() { [ "$(lab_msockctl "$1" status --json | jq -r '.Netcheck.UDP')" = false ]; }
for n in na nb; do
  lab_wait_for 15 udp_blocked_reported $n || lab_fail "$n: no netcheck report of UDP blocked"
  lat=$(lab_msockctl $n status --json | jq -r ".Netcheck.RegionLatency[\"$LAB_DERP_REGION\"].LatencyMs // 0")
  [ "$lat" != 0 ] || lab_fail "$n: no HTTPS latency to Tailscale's derper"
  lab_log "$n: netcheck: UDP false, HTTPS latency to Tailscale's derper $lat ms"
done

sent0=$(lab_tsderper_packets)
t=$(lab_now_ms)
lab_wait_for 15 lab_tunnel_ping na 1 0.2 1 ||
  lab_fail "no ping reply through WireGuard over Tailscale's derper within 15 s"
lab_log "first WireGuard ping reply na -> nb over Tailscale's derper after $(lab_ms_since "$t") ms"
out=$(lab_tunnel_ping na 20 0.05 2) || lab_fail "ping -c 20 over Tailscale's derper lost packets: $out"
lab_log "ping -c 20 na -> nb: rtt avg $(lab_ping_avg <<<"$out") ms"
out=$(lab_tunnel_ping nb 5 0.05 2) || lab_fail "ping -c 5 nb -> na over Tailscale's derper failed: $out"
sent1=$(lab_tsderper_packets)
[ $((sent1 - sent0)) -ge 50 ] ||
  lab_fail "Tailscale's derper sent $((sent1 - sent0)) packets for 26 pings (want >= 50)"
# disco keeps trying the direct way (its pings are dropped in inet, so the
# routers' counters rise): the proof is the path and the derper's count.
for n in na nb; do
  peer=$(lab_msockctl $n status --json |
    jq -c --arg k "$(lab_nodekey_hex "$(lab_node_key "$(lab_other $n)")")" '.Peer[$k] | {Path, CurAddr}')
  [ "$peer" = '{"Path":"derp","CurAddr":""}' ] ||
    lab_fail "$n: the path to $(lab_other $n) is $peer, not derp alone"
done
lab_log "Tailscale's derper sent $((sent1 - sent0)) packets; path derp on both;" \
  "UDP dropped in inet: $(lab_exec inet nft list chain ip lab faults | grep -o 'packets [0-9]*' | paste -sd,)"

# 2. The Go peer (in nb's namespace, another client of the derper) and na.
na_nk=$(lab_nodekey_hex "$(lab_node_key na)")
na_dk=$(lab_disco_key na)
golog=$LAB_DIR/tsgo/run.log
jq .derp_map "$LAB_DIR/na/msock.json" >"$LAB_DIR/tsgo/derpmap.json"
t=$(lab_now_ms)
lab_bg nb "$golog" "$IB/tsdiscopeer" run -keys "$LAB_DIR/tsgo/keys.json" \
  -derpmap "$LAB_DIR/tsgo/derpmap.json" -region "$LAB_DERP_REGION" -ca "$ca" \
  -peer "$na_nk" -peer-disco "$na_dk" -pings 10 -for 60s
gopid=$LAB_LAST_PID
lab_wait_for 15 grep -q '^pong ' "$golog" ||
  lab_fail "the Go peer got no pong from na within 15 s: $(cat "$golog")"
pong=$(grep -m1 '^pong ' "$golog")
lab_log "Go peer -> na disco ping, na's pong opened by Tailscale's code after $(lab_ms_since "$t") ms: $pong"
[[ $pong == *" src=127.3.3.40:$LAB_DERP_REGION "* ]] ||
  lab_fail "na's pong over DERP says src ${pong#* src=}, not 127.3.3.40:$LAB_DERP_REGION (magicsock's DERP source)"

t=$(lab_now_ms)
out=$(lab_msockctl na ping -c 2 tsgo 2>&1) || true # no direct path: it ends with status 1
printf '%s\n' "$out" | sed 's/^/      /'
grep -q "^pong from tsgo .* via DERP(lab)" <<<"$out" ||
  lab_fail "msockctl ping tsgo got no pong via DERP from the Go peer"
lab_wait_for 5 grep -q '^ping-answered .* node_key=ok' "$golog" ||
  lab_fail "the Go peer answered no ping from na carrying na's node key: $(cat "$golog")"
lab_log "na -> Go peer: msockctl ping got the Go peer's pong via DERP ($(lab_ms_since "$t") ms for the command)"
lab_stop_pid "$gopid"
summary=$(grep '^summary ' "$golog") || lab_fail "the Go peer printed no summary: $(cat "$golog")"
lab_log "Go peer: $summary; other lines: $(grep -c '' "$golog")"
if grep -q '^dropped ' "$golog"; then
  lab_fail "the Go peer dropped messages from na: $(grep '^dropped ' "$golog")"
fi
if grep '^cmm ' "$golog" | head -n 1 | grep -q .; then
  lab_log "na's CallMeMaybe as Tailscale parses it: $(grep -m1 '^cmm ' "$golog")"
fi

# 3. UDP back, except between the routers: STUN from Tailscale's derper.
lab_faults_clear
lab_block_udp_between_routers
for n in na nb; do
  t=$(lab_now_ms)
  out=$(lab_msockctl $n netcheck --json) || lab_fail "$n: msockctl netcheck failed: $out"
  r=${n#n}
  { [ "$(jq -r .UDP <<<"$out")" = true ] &&
    [ "$(jq -r .GlobalV4 <<<"$out" | cut -d: -f1)" = "${LAB_IP[r$r]}" ] &&
    [ "$(jq -r ".RegionLatency[\"$LAB_DERP_REGION\"].LatencyMs // 0" <<<"$out")" != 0 ]; } ||
    lab_fail "$n: no STUN answer from Tailscale's derper: $out"
  lab_log "$n: netcheck with STUN from Tailscale's derper ($(lab_ms_since "$t") ms): UDP true," \
    "GlobalV4 $(jq -r .GlobalV4 <<<"$out"), latency $(jq -r ".RegionLatency[\"$LAB_DERP_REGION\"].LatencyMs" <<<"$out") ms"
done
g=$(lab_msockctl na status --json | jq -r .Netcheck.GlobalV4)
[ "$g" = "${LAB_IP[ra]}:$LAB_PORT" ] || lab_fail "na (easy NAT): GlobalV4 $g, not ${LAB_IP[ra]}:$LAB_PORT"
out=$(lab_tunnel_ping na 5 0.05 2) || lab_fail "ping over Tailscale's derper after the netcheck runs failed: $out"

# 4. Tailscale's derper for an IP: -hostname 198.18.0.2 makes its own
# self-signed certificate and logs the DERP node entry that pins it
# (CertName "sha256-raw:<hex>"). The nodes take HostName and CertName from
# that line (derp_ca_file does not hold this certificate, InsecureForTests
# is off: only the pin can make TLS work) and reload.
lab_tsderper_stop
t=$(lab_now_ms)
lab_tsderper_start "$LAB_DERP_IP"
pin=$(lab_tsderper_cert_name)
[ -n "$pin" ] || lab_fail "Tailscale's derper logged no CertName for -hostname $LAB_DERP_IP"
lab_log "Tailscale's derper restarted for $LAB_DERP_IP: $(grep -o '{"Name".*}' "$LAB_DIR/derp/tsderper.log" | tail -n 1)"
for n in na nb; do
  jq --arg ip "$LAB_DERP_IP" --arg pin "$pin" \
    '.derp_map.Regions[].Nodes[] |= (.HostName = $ip | .CertName = $pin)' \
    "$LAB_DIR/$n/msock.json" >"$LAB_DIR/$n/msock.json.new"
  mv "$LAB_DIR/$n/msock.json.new" "$LAB_DIR/$n/msock.json"
  lab_msockctl $n reload >/dev/null || lab_fail "$n: msockctl reload failed"
done
# The new derper process counts from 0: two home connections are both nodes.
lab_wait_for 15 home_conns ||
  lab_fail "the nodes did not log in to the pinned derper within 15 s (home connections" \
    "$(lab_tsderper_metric derp_current_home_connections); na: $(lab_msockctl na status --json |
      jq -c ".Self.DERP[\"$LAB_DERP_REGION\"] | {State, LastError}"))"
lab_log "na and nb logged in to Tailscale's derper through the sha256-raw pin $(lab_ms_since "$t") ms after its restart"
sent0=$(lab_tsderper_packets)
lab_wait_for 15 lab_tunnel_ping na 1 0.2 1 || lab_fail "no WireGuard reply over the pinned derper within 15 s"
out=$(lab_tunnel_ping na 10 0.05 2) || lab_fail "ping -c 10 over the pinned derper lost packets: $out"
lab_log "ping -c 10 na -> nb over the pinned derper: rtt avg $(lab_ping_avg <<<"$out") ms;" \
  "the derper sent $(($(lab_tsderper_packets) - sent0)) packets"
lab_exec inet nft add rule ip lab faults ip saddr 198.18.1.0/24 meta l4proto udp counter drop
out=$(lab_msockctl na netcheck --json) || lab_fail "na: msockctl netcheck (pinned, UDP blocked) failed: $out"
{ [ "$(jq -r .UDP <<<"$out")" = false ] &&
  [ "$(jq -r ".RegionLatency[\"$LAB_DERP_REGION\"].LatencyMs // 0" <<<"$out")" != 0 ]; } ||
  lab_fail "na: no HTTPS latency through the pinned certificate: $out"
lab_log "na: netcheck HTTPS latency through the pin $(jq -r ".RegionLatency[\"$LAB_DERP_REGION\"].LatencyMs" <<<"$out") ms"
lab_log "PASS"
