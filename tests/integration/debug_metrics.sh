#!/usr/bin/env bash
# debug_metrics: msock-debug's /metrics under a real broker beside a real
# dataplane and disco, served on a loopback TCP address (config
# debug.listen): after `msockctl ping` to a second node on loopback (its
# own broker, dataplane and disco) has made disco exchange pings and pongs,
# `promtool check metrics` accepts it and it has tailscaled's families and
# msock's, disco's message counters nonzero by type and path (and in
# `msockctl status --json`, Self.Disco);
# msock-derper's /debug/metrics goes through promtool too (its
# findings printed: see step 3); and a real
# Prometheus server (if installed) scrapes msock-debug every second and
# has `up == 1` and tailscaled_inbound_packets_total within 10 s. Temp
# directory, loopback only, everything it starts is stopped. Skips (77)
# without promtool (Debian package prometheus; scripts/deps.sh).
set -Eeuo pipefail
trap 'echo "debug_metrics.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR

bin=${MSOCK_BIN_DIR:-$(cd "$(dirname "$0")/../../build/test/bin" && pwd)}
command -v promtool >/dev/null || { echo "SKIP: no promtool (Debian package prometheus)"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }
tmp=$(mktemp -d /tmp/msock-debug-metrics-XXXXXX)
chmod 755 "$tmp" # components drop to their own users and must reach run/
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() {
  echo "FAIL: $*" >&2
  fails=$((fails + 1))
}
# Polls CMD... every 0.1 s for up to SECONDS_ seconds.
wait_for() {
  local s=$1 i
  shift
  for ((i = 0; i < s * 10; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}
free_port() { echo $((20000 + RANDOM % 40000)); }

# 1. The node: dataplane, disco and debug, one peer, /metrics on loopback
# TCP. The peer is a second node on loopback: dataplane and disco, its own
# broker, the first node its one peer.
port=$(free_port)
p1=$(free_port)
p2=$(free_port)
[ "$p2" != "$p1" ] || p2=$((p1 + 1))
mkdir -p "$tmp/state" "$tmp/n2/state"
chmod 700 "$tmp/state" "$tmp/n2/state"
n1=$("$bin/msockctl" keygen "$tmp/n1.key")
n2=$("$bin/msockctl" keygen "$tmp/n2.key")
d1=$("$bin/msockctl" keygen --disco "$tmp/state/disco.key")
d2=$("$bin/msockctl" keygen --disco "$tmp/n2/state/disco.key")
cat >"$tmp/msock.json" <<JSON
{
  "state_dir": "$tmp/state", "run_dir": "$tmp/run", "listen_port": $p1,
  "peers": [{"name": "p1", "node_key": "$n2", "disco_key": "$d2",
             "endpoints": ["127.0.0.1:$p2"]}],
  "components": ["dataplane", "disco", "debug"],
  "debug": {"listen": "127.0.0.1:$port"}
}
JSON
cat >"$tmp/n2/msock.json" <<JSON
{
  "state_dir": "$tmp/n2/state", "run_dir": "$tmp/n2/run", "listen_port": $p2,
  "peers": [{"name": "n1", "node_key": "$n1", "disco_key": "$d1",
             "endpoints": ["127.0.0.1:$p1"]}],
  "components": ["dataplane", "disco"]
}
JSON
"$bin/msock-broker" --config "$tmp/n2/msock.json" 2>"$tmp/n2/broker.log" &
pids+=($!)
"$bin/msock-broker" --config "$tmp/msock.json" 2>"$tmp/broker.log" &
pids+=($!)
scrape() { curl -sf "http://127.0.0.1:$port/metrics" -o "$tmp/metrics"; }
has_dataplane() { scrape && grep -q 'msock_component_up{component="dataplane"} 1' "$tmp/metrics"; }
if ! wait_for 15 has_dataplane; then
  tail -20 "$tmp/broker.log" >&2
  echo "FAIL: no /metrics with the dataplane up from 127.0.0.1:$port" >&2
  exit 1
fi
echo "1. /metrics: $(wc -c <"$tmp/metrics") bytes, $(grep -vc '^#' "$tmp/metrics") samples"

# Disco's counters: pings and pongs over UDP between the two nodes (and a
# ping and a CallMeMaybe over DERP, which no derp component carries here),
# seen in /metrics once disco publishes them (at most every 5 s).
echo "1b. msockctl ping p1: a disco exchange"
ctl() { "$bin/msockctl" --config "$tmp/msock.json" "$@"; }
disco_up() { [[ $(ctl status --json 2>/dev/null) == *'"disco": {'* ]]; }
wait_for 15 disco_up || fail "no disco component in status: $(tail -5 "$tmp/broker.log")"
out=$(ctl ping -c 10 p1 2>&1) || fail "msockctl ping p1: $out"
echo "   $(tail -n 1 <<<"$out")"
metric() { awk -v n="$1" '$1 == n { print $2 }' "$tmp/metrics"; }
counted() {
  scrape &&
    [ "$(metric 'msock_disco_messages_total{direction="received",type="pong",path="udp"}')" -gt 0 ] 2>/dev/null &&
    [ "$(metric 'msock_disco_messages_total{direction="received",type="ping",path="udp"}')" -gt 0 ] 2>/dev/null
}
if wait_for 15 counted; then
  for name in 'msock_disco_messages_total{direction="sent",type="ping",path="udp"}' \
    'msock_disco_messages_total{direction="sent",type="pong",path="udp"}' \
    'msock_disco_messages_total{direction="sent",type="call_me_maybe",path="derp"}'; do
    v=$(metric "$name")
    [ "${v:-0}" -gt 0 ] || fail "$name is ${v:-absent}, want > 0"
  done
  echo "   $(grep -c '^msock_disco_messages_total{' "$tmp/metrics") disco series, $(grep '^msock_disco_messages_total{' "$tmp/metrics" | awk '$2 > 0' | wc -l) nonzero"
else
  fail "no disco pong or ping counted as received within 15 s: $(grep '^msock_disco' "$tmp/metrics" | awk '$2 > 0' | tr '\n' ' ')"
fi
# The same counters in msockctl status --json (Self.Disco).
if command -v jq >/dev/null; then
  st=$(ctl status --json)
  jq -e '.Self.Disco.Received.UDP.Pong > 0 and .Self.Disco.Sent.UDP.Ping > 0 and
    .Self.Disco.Sent.DERP.CallMeMaybe > 0 and (.Self.Disco.Dropped | has("BadBox"))' \
    <<<"$st" >/dev/null || fail "status --json: Self.Disco is $(jq -c .Self.Disco <<<"$st")"
fi

echo "2. promtool check metrics"
promtool check metrics <"$tmp/metrics" >"$tmp/promtool.out" 2>&1 || fail "promtool: $(cat "$tmp/promtool.out")"
for name in 'tailscaled_inbound_packets_total{path="direct_ipv4"}' \
  'tailscaled_inbound_bytes_total{path="derp"}' 'tailscaled_outbound_packets_total{path="direct_ipv6"}' \
  'tailscaled_outbound_dropped_packets_total{reason="error"}' 'tailscaled_home_derp_region_id' \
  'tailscaled_health_messages{type="warning"}' 'msock_component_restarts_total{component="debug"}' \
  '# TYPE msock_bus_dropped_messages_total counter' 'msock_failover_gap_seconds_bucket{le="+Inf"}' \
  'msock_portmap_mapped{protocol="pcp"}' 'msock_peers 1' \
  '# TYPE msock_disco_messages_total counter' '# TYPE msock_disco_dropped_messages_total counter' \
  'msock_disco_dropped_messages_total{reason="bad_box"}'; do
  grep -qF "$name" "$tmp/metrics" || fail "no $name"
done
# A Host naming no loopback is refused on a loopback listener.
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "http://127.0.0.1:$port/metrics")
[ "$code" = 403 ] || fail "Host: evil.example got $code, not 403"

# msock-derper's counters end in _total, as promtool's lint wants (Tailscale's
# derper leaves it off: docs/interop.md).
echo "3. msock-derper's /debug/metrics through promtool"
dport=$(free_port)
"$bin/msock-derper" -a "127.0.0.1:$dport" -c "$tmp/derper.key" -http-port -1 -stun=false \
  2>"$tmp/derper.log" &
pids+=($!)
dscrape() { curl -sf "http://127.0.0.1:$dport/debug/metrics" -o "$tmp/derper.metrics"; }
if wait_for 10 dscrape; then
  if promtool check metrics <"$tmp/derper.metrics" >"$tmp/promtool.derper" 2>&1; then
    echo "   passes ($(grep -c '^# TYPE' "$tmp/derper.metrics") families)"
  else
    fail "promtool on msock-derper's /debug/metrics: $(head -5 "$tmp/promtool.derper")"
  fi
else
  fail "msock-derper's /debug/metrics did not answer: $(tail -3 "$tmp/derper.log")"
fi

echo "4. a real Prometheus scraping it every second"
if command -v prometheus >/dev/null; then
  pport=$(free_port)
  cat >"$tmp/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: msock
    static_configs:
      - targets: ["127.0.0.1:$port"]
YML
  prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prom" \
    --web.listen-address="127.0.0.1:$pport" >"$tmp/prometheus.log" 2>&1 &
  pids+=($!)
  query() { curl -sf -G "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1"; }
  scraped() {
    query 'up{job="msock"} == 1' | grep -q '"value"' &&
      query 'tailscaled_inbound_packets_total{path="derp"}' | grep -q '"value"'
  }
  if wait_for 10 scraped; then
    echo "   Prometheus: up == 1, tailscaled_inbound_packets_total scraped"
  else
    fail "Prometheus did not scrape msock-debug within 10 s: $(query 'up' || tail -5 "$tmp/prometheus.log")"
  fi
else
  echo "   no prometheus binary: skipped"
fi

if [ "$fails" -ne 0 ]; then
  echo "debug_metrics: $fails failure(s)" >&2
  exit 1
fi
echo "debug_metrics: passed"
