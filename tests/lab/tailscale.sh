# shellcheck shell=bash
# Tailscale nodes in the lab (sourced by lib.sh): a real tailscaled with its
# own magicsock and wireguard-go (kernel TUN in its node's namespace),
# logged in to tscontrol (tests/interop/cmd/tscontrol: Tailscale's
# testcontrol in process, the lab's DERP map) on the lab's internet
# (198.18.3.3, HTTP :80 and TLS :443), and
# msock nodes made its peers through that control server. Programs from
# tests/interop/build.sh (lab_interop_bin: tailscaled, tailscale,
# tscontrol).
#
#   lab_tscontrol_start SPEC...   control on $LAB_CONTROL_IP (HTTP :80, TLS :443)
#   lab_ts_up NODE NAME           tailscaled in NODE, `tailscale up` as NAME
#   lab_msock_ts_up NODE TSNAME ID  msock + wireguard-go in NODE, peer TSNAME
#   lab_tailscale NODE ARGS...    the tailscale CLI against NODE's tailscaled

LAB_CONTROL_IP=198.18.3.3 # an address of the stun namespace (the derper holds :443 in derp)
LAB_CONTROL_PORT=80        # and TLS on 443 (tscontrol's -tls-listen)
LAB_CONTROL_PID=            # tscontrol's pid (lab_tscontrol_start)
LAB_TS_UP_MS=               # how long the last lab_ts_up took
declare -gA LAB_TSD_PID=()  # node -> tailscaled pid
declare -gA LAB_TS_ADDR=()  # node -> its 100.64 address (tailscaled or msock)

# For a benchmark: the interop programs a Tailscale pair needs, built by
# tests/interop/build.sh into MSOCK_INTEROP_BIN (default build/interop/bin)
# if one is missing; MSOCK_INTEROP_BIN is exported.
lab_ts_bench_bins() {
  local src=${MSOCK_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)} p
  export MSOCK_INTEROP_BIN=${MSOCK_INTEROP_BIN:-$src/build/interop/bin}
  for p in tscontrol tailscaled tailscale; do
    if [ ! -x "$MSOCK_INTEROP_BIN/$p" ]; then
      "$src/tests/interop/build.sh" "$MSOCK_INTEROP_BIN" || lab_fail "tests/interop/build.sh failed"
      break
    fi
  done
}

# Prints the msock SPEC tscontrol takes for msock node NODE as NAME with
# node ID ID (address 100.64.ID): name,nodekey:<hex>,discokey:<hex>,ID,900.
lab_tscontrol_spec() {
  printf '%s,%s,%s,%s,%s\n' "$2" "$(lab_nodekey_hex "$(lab_node_key "$1")")" \
    "$(lab_disco_key "$1")" "$3" "$LAB_DERP_REGION"
}

# Starts tscontrol in the stun namespace with the lab's DERP map and the
# msock peers SPEC... (lab_tscontrol_spec); log $LAB_DIR/control/control.log.
lab_tscontrol_start() {
  local d=$LAB_DIR/control args=() s
  lab_interop_bin tscontrol tailscaled tailscale
  mkdir -p "$d"
  # tailscaled's netcheck may pick a STUN-only region (coturn's) as its
  # preferred DERP, and then has no DERP connection (Tailscale checks
  # STUNOnly only when it measures by HTTPS): a region score keeps coturn's
  # region measured (STUN) but never home.
  lab_derp_map | jq --arg c "$LAB_COTURN_REGION" \
    'if .Regions[$c] then .HomeParams.RegionScore[$c] = 1000 else . end' >"$d/derpmap.json"
  for s in "$@"; do
    args+=(-msock "$s")
  done
  ip -n "$(lab_ns stun)" addr add "$LAB_CONTROL_IP/24" dev "${LAB_PREFIX}s2i" 2>/dev/null || true
  lab_bg stun "$d/control.log" "$LAB_IB/tscontrol" -listen "$LAB_CONTROL_IP:$LAB_CONTROL_PORT" \
    -tls-listen "$LAB_CONTROL_IP:443" -derpmap "$d/derpmap.json" -dir "$d" "${args[@]}"
  # shellcheck disable=SC2034 # for a script that stops tscontrol
  LAB_CONTROL_PID=$LAB_LAST_PID
  lab_wait_for 10 test -s "$d/url" ||
    lab_fail "tscontrol did not listen within 10 s: $(tail -n 5 "$d/control.log")"
}

# Prints the file tscontrol keeps for the real node NAME (lab_ts_up).
lab_ts_file() {
  echo "$LAB_DIR/control/nodes/$1.json"
}

# True when tscontrol has NAME's disco key, home DERP and an endpoint.
lab_ts_reported() {
  jq -e '.disco_key != "" and .home_derp != 0 and (.endpoints | length) > 0' \
    "$(lab_ts_file "$1")"
}

# Runs Tailscale's CLI against NODE's tailscaled: lab_tailscale na status.
lab_tailscale() {
  local node=$1
  shift
  lab_exec "$node" "$LAB_IB/tailscale" --socket="$LAB_DIR/$node/ts/ts.sock" "$@"
}

# Starts tailscaled in NODE (kernel TUN tailscale0 in its namespace,
# UDP port $LAB_PORT, state in $LAB_DIR/NODE/ts, log tailscaled.log there)
# as tailscale/tstest/integration does (TS_ASSUME_NETWORK_UP_FOR_TEST,
# TS_PANIC_IF_HIT_MAIN_CONTROL, --no-logs-no-support), its port mapper off
# unless LAB_TS_PORTMAPPER=1, then `tailscale up` against tscontrol as
# NAME with --accept-dns=false --netfilter-mode=off (the namespace gets its
# own /etc/netns resolv.conf all the same: nothing of the host's is
# edited). Waits until tscontrol has its disco key, home DERP and
# endpoints; the milliseconds that took go to LAB_TS_UP_MS. Extra
# tailscaled flags in LAB_TSD_ARGS (a list of words, e.g. --verbose=2).
lab_ts_up() {
  local node=$1 name=$2 d t0 ns env=(TS_ASSUME_NETWORK_UP_FOR_TEST=1 TS_PANIC_IF_HIT_MAIN_CONTROL=1)
  [ -n "${LAB_TS_PORTMAPPER:-}" ] || env+=(TS_DISABLE_PORTMAPPER=1)
  d=$LAB_DIR/$node/ts
  ns=$(lab_ns "$node")
  t0=$(lab_now_ms)
  mkdir -p "$d" "/etc/netns/$ns"
  : >"/etc/netns/$ns/resolv.conf"
  # shellcheck disable=SC2086 # LAB_TSD_ARGS is a list of flags
  lab_bg "$node" "$d/tailscaled.log" env "${env[@]}" "$LAB_IB/tailscaled" --statedir="$d" --socket="$d/ts.sock" --tun=tailscale0 \
    --port="$LAB_PORT" --no-logs-no-support ${LAB_TSD_ARGS:-}
  LAB_TSD_PID[$node]=$LAB_LAST_PID
  lab_wait_for 15 test -S "$d/ts.sock" ||
    lab_fail "$node: tailscaled did not open its socket within 15 s: $(tail -n 5 "$d/tailscaled.log")"
  lab_tailscale "$node" up --login-server="$(cat "$LAB_DIR/control/url")" --hostname="$name" \
    --accept-dns=false --netfilter-mode=off --timeout=30s >"$d/up.log" 2>&1 ||
    lab_fail "$node: tailscale up failed: $(tail -n 5 "$d/up.log")"
  lab_wait_for 20 lab_ts_reported "$name" ||
    lab_fail "$node: tscontrol has no disco key, home DERP and endpoint of $name within 20 s"
  LAB_TS_ADDR[$node]=$(jq -r .address "$(lab_ts_file "$name")")
  # shellcheck disable=SC2034 # the caller prints it
  LAB_TS_UP_MS=$(lab_ms_since "$t0")
}

# Stops NODE's tailscaled (SIGTERM, bounded).
lab_ts_down() {
  lab_stop_pid "${LAB_TSD_PID[$1]:-}" 10
  unset "LAB_TSD_PID[$1]"
}

# Brings up msock (dataplane, derp, netcheck, disco, or LAB_COMPONENTS) and wireguard-go in
# NODE with the tailscaled TSNAME as its one peer, as tscontrol reported
# it (node key, disco key, endpoints, home DERP): WireGuard has the
# address 100.64.ID/10 that tscontrol gave NODE (lab_tscontrol_spec) and
# the peer's address /32, its endpoint msock's (wg-config --apply).
# Then tells tscontrol NODE's endpoints (lab_tscontrol_push).
lab_msock_ts_up() {
  local node=$1 ts=$2 id=$3 f ifc
  f=$(lab_ts_file "$ts")
  ifc=$(lab_wg_iface "$node")
  LAB_TS_ADDR[$node]=100.64.$((id >> 8)).$((id & 255))
  LAB_COMPONENTS=${LAB_COMPONENTS:-$LAB_DISCO_COMPONENTS} \
    LAB_MSOCK_JQ=".peers[0].endpoints = $(jq -c .endpoints "$f") | .peers[0].home_derp = $(jq .home_derp "$f")" \
    lab_msock_config "$node" "$LAB_PORT" "$LAB_WG_PORT" "$ts" "$(jq -r .node_key "$f")" "" \
    "$(jq -r .disco_key "$f")"
  lab_msock_up "$node"
  lab_wg_up "$node" "$ifc" "$LAB_DIR/$node/state/node.key" "$LAB_WG_PORT" "${LAB_TS_ADDR[$node]}/10"
  lab_wg_peer "$node" "$ifc" "$(jq -r .wg_key "$f")" "$(jq -r .address "$f")/32"
  lab_wait_for 10 lab_msockctl "$node" wg-config ||
    lab_fail "$node: msockctl wg-config has no endpoint within 10 s"
  lab_msockctl "$node" wg-config --apply "$ifc" >/dev/null ||
    lab_fail "$node: msockctl wg-config --apply $ifc failed"
  lab_wait_for 15 lab_msock_has_endpoints "$node" ||
    lab_fail "$node: msock has no endpoint within 15 s"
  lab_tscontrol_push "$node"
}

# True when NODE's msock status lists at least one of its own endpoints.
lab_msock_has_endpoints() {
  lab_msockctl "$1" status --json | jq -e '(.Self.Endpoints | length) > 0'
}

# Tells tscontrol msock node NODE's endpoints (as its status lists them),
# which it pushes to every tailscaled: what a real node's map request does.
lab_tscontrol_push() {
  local body
  body=$(lab_msockctl "$1" status --json | jq -c --arg k "$(lab_nodekey_hex "$(lab_node_key "$1")")" \
    '{node_key: $k, endpoints: .Self.Endpoints, home_derp: '"$LAB_DERP_REGION"'}')
  lab_exec stun curl -sf --max-time 5 -d "$body" \
    "http://$LAB_CONTROL_IP:$LAB_CONTROL_PORT/lab/msock" >/dev/null ||
    lab_fail "tscontrol refused msock node $1's endpoints ($body)"
}

# Prints the path tailscaled on NODE has to the peer at ADDR: the peer's
# CurAddr from `tailscale status --json` (ip:port when direct), else
# "derp:<Relay>" , else nothing.
lab_ts_peer_path() {
  lab_tailscale "$1" status --json | jq -r --arg a "$2" '
    [.Peer[] | select(.TailscaleIPs | index($a))][0] |
    if . == null then "" elif .CurAddr != "" then .CurAddr
    elif .Relay != "" then "derp:" + .Relay else "" end'
}

# True when tailscaled on NODE goes to the peer at ADDR directly.
lab_ts_is_direct() {
  [[ $(lab_ts_peer_path "$1" "$2") =~ ^[0-9.]+:[0-9]+$ ]]
}

# ---- A pair of nodes of either kind: tailscaled (ts) or msock ----
#
# lab_pair_start starts tscontrol once, with na and nb as msock peers 101
# and 102; lab_pair_up KIND_A KIND_B brings up na as KIND_A and nb as
# KIND_B (ts | msock), each the other's one peer: ts x ts through tscontrol,
# ts x msock through tscontrol (lab_msock_ts_up), msock x msock as the
# lab's own pair (lab_node_up with disco, addresses 10.99.0.x);
# lab_pair_down stops both. lab_pair_addr, lab_pair_path and
# lab_pair_is_direct speak for either kind.
declare -gA LAB_KIND=() # node -> ts | msock (lab_pair_up)

# Starts tscontrol with na and nb (their keys made now) as msock peers.
lab_pair_start() {
  lab_tscontrol_start "$(lab_tscontrol_spec na msock-na 101)" "$(lab_tscontrol_spec nb msock-nb 102)"
}

# Brings up na as KIND_A and nb as KIND_B (see above); prints nothing.
lab_pair_up() {
  local n other id
  LAB_KIND[na]=$1
  LAB_KIND[nb]=$2
  if [ "$1" = msock ] && [ "$2" = msock ]; then
    for n in na nb; do
      LAB_DISCO=1 LAB_COMPONENTS=${LAB_COMPONENTS:-$LAB_DISCO_COMPONENTS} lab_node_up "$n"
    done
    LAB_TS_ADDR[na]=${LAB_TUN[na]}
    LAB_TS_ADDR[nb]=${LAB_TUN[nb]}
    return 0
  fi
  for n in na nb; do
    if [ "${LAB_KIND[$n]}" = ts ]; then
      # A restarted tailscaled has a new disco key: wait for that file.
      rm -f "$(lab_ts_file "ts-$n")"
      lab_ts_up "$n" "ts-$n"
    fi
  done
  for n in na nb; do
    [ "${LAB_KIND[$n]}" = msock ] || continue
    other=$(lab_other "$n")
    id=101
    [ "$n" = na ] || id=102
    lab_msock_ts_up "$n" "ts-$other" "$id"
  done
}

# Stops both nodes of the pair (tailscaled, msock, wireguard-go).
lab_pair_down() {
  local n
  for n in na nb; do
    if [ "${LAB_KIND[$n]:-}" = ts ]; then
      lab_ts_down "$n"
    elif [ "${LAB_KIND[$n]:-}" = msock ]; then
      lab_msock_down "$n"
      lab_wg_down "$n" "$(lab_wg_iface "$n")"
      rm -rf "$LAB_DIR/$n/run"
    fi
    unset "LAB_KIND[$n]"
  done
}

# Prints NODE's tunnel address (100.64.x.y, or 10.99.0.x for msock x msock).
lab_pair_addr() {
  echo "${LAB_TS_ADDR[$1]}"
}

# Prints NODE's path to its peer: msock's (direct, direct+derp, derp) or
# tailscaled's (CurAddr ip:port, or derp:<region code>).
lab_pair_path() {
  if [ "${LAB_KIND[$1]}" = ts ]; then
    lab_ts_peer_path "$1" "$(lab_pair_addr "$(lab_other "$1")")"
  else
    lab_msock_path "$1"
  fi
}

# True when NODE sends to its peer directly (msock: direct only).
lab_pair_is_direct() {
  if [ "${LAB_KIND[$1]}" = ts ]; then
    lab_ts_is_direct "$1" "$(lab_pair_addr "$(lab_other "$1")")"
  else
    lab_msock_is_direct "$1"
  fi
}

# True when NODE is logged in to its home DERP region.
lab_pair_derp_up() {
  if [ "${LAB_KIND[$1]}" = ts ]; then
    lab_tailscale "$1" status --json | jq -e '.Self.Relay != ""' >/dev/null
  else
    lab_msock_derp_up "$1"
  fi
}

# Pings the peer's tunnel address from NODE: COUNT pings, INTERVAL s
# apart, W s per reply (as lab_tunnel_ping).
lab_pair_ping() {
  lab_exec "$1" ping -n -q -c "$2" -i "${3:-0.2}" -W "${4:-2}" "$(lab_pair_addr "$(lab_other "$1")")"
}
