#!/usr/bin/env bash
# bench/wg_iperf.sh [SECONDS] [ROUNDS]: iperf3 TCP and UDP through
# unmodified WireGuard between the lab's two nodes behind 1:1 NATs, under
# three WireGuard implementations (tests/lab/lib.sh's LAB_WG_IMPL): Debian's
# wireguard-go (2022), the newest upstream wireguard-go and boringtun (both
# installed by bench/wg_impls.sh into build/wg-impls/bin; one that is
# missing is skipped with the reason). For each, on one pair of nodes:
#   baseline      WireGuard straight to the other router's public address
#                 (WireGuard's own port; no msock in the way);
#   msock direct  WireGuard through msock (loopback endpoint -> dataplane ->
#                 UDP), disco on, path direct on both nodes;
#   msock DERP    the same with UDP between the routers blocked, path derp
#                 on both (the derper over TCP 443).
# Then the same against Tailscale (WG_IPERF_TS, default "ts mixed"):
#   tailscaled    tailscaled <-> tailscaled (tests/lab/tailscale.sh, through
#                 tscontrol): direct, and DERP (UDP blocked);
#   ts-msock      tailscaled on na <-> msock under Debian's wireguard-go on
#                 nb: direct and DERP.
# Each round measures every path (the order alternates between rounds, so
# that one UDP block / unblock serves two rounds): TCP (na -> nb, SECONDS),
# then UDP (-u -b 500M, see UDP_ARGS: the receiver's Gbit/s and the loss).
# Default 3 rounds of 3 s (about 4.5 minutes in all). One table at the
# end: medians, and each row's ratio to its implementation's baseline; then
# the total run time. Prints figures; fails only when the lab does (a run
# that fails is shown as "-" and listed under the table).
# Needs root (the lab of tests/lab/lib.sh), iperf3 and a build: MSOCK_BIN_DIR,
# else build/release/bin.
set -euo pipefail
secs=${1:-3}
rounds=${2:-3}
src=$(cd "$(dirname "$0")/.." && pwd)
export MSOCK_SOURCE_DIR=$src MSOCK_BIN_DIR=${MSOCK_BIN_DIR:-$src/build/release/bin}
. "$src/tests/lab/lib.sh"
t_start=$(lab_now_ms)
lab_skip_unless_root
LAB_NAT_A=one2one LAB_NAT_B=one2one lab_init >/dev/null

# UDP's iperf3 flags and the implementations measured; both can be set from
# the environment (WG_IPERF_UDP_ARGS, WG_IPERF_IMPLS). 500 Mbit/s is above
# what UDP gets through any of the tunnels on a 2-CPU machine (~0.4), so
# the loss tells the paths apart; with -b 0 the sender takes a CPU for
# itself and every row came out ~0.3 Gbit/s at ~90% loss. 1200: a
# datagram that fits tailscaled's tunnel MTU (1280) as well as WireGuard's
# 1420 (with 1392, tailscaled's rows fragmented: 0-0.24 Gbit/s).
UDP_ARGS=${WG_IPERF_UDP_ARGS:-"-u -b 500M -l 1200"}
IMPLS=${WG_IPERF_IMPLS-"debian upstream boringtun"}
# The Tailscale pairs (WG_IPERF_TS: "ts mixed", either, or none: "") need
# the interop programs (MSOCK_INTEROP_BIN, else build/interop/bin).
export MSOCK_INTEROP_BIN=${MSOCK_INTEROP_BIN:-$src/build/interop/bin}
declare -A RES=()   # "LABEL|PATH|tcp" (udp, loss, via) -> the rounds' figures
declare -a ROWS=()  # "LABEL|PATH" in the order measured
declare -a LABELS=() # the labels measured, in order
declare -A BASE=()  # LABEL -> the LABEL whose baseline its ratios use
declare -A ABOUT=() # LABEL -> what the driver says it runs
declare -a NOTES=() # skipped pairs, failed runs, path surprises

# ---------------------------------------------------------------------------
# Pair drivers. A driver is a function called as DRIVER VERB [ARG]:
#   check      prints what runs (implementation, version) and succeeds, or
#              prints why the pair cannot run here and fails (skipped);
#   up         brings the pair up in the lab and sets BENCH_PATHS (the paths
#              it offers, from: baseline direct derp), BENCH_SERVER and
#              BENCH_CLIENT (iperf3's server and client nodes), BENCH_ADDR
#              (the server's address inside the tunnel) and BENCH_BASE (the
#              label whose baseline this pair's ratios use; default itself);
#   use PATH   moves the traffic to PATH; returns once packets flow on it;
#   down       stops what up started (the lab itself stays; UDP unblocked).
# bench_pair LABEL DRIVER measures one pair and adds its rows.
#
# Tailscale pairs: ts_pair (tailscaled <-> tailscaled: Tailscale's
# magicsock and its own wireguard-go, kernel TUN) and mixed_pair (tailscaled
# on na <-> msock under Debian's wireguard-go on nb), through tscontrol
# (tests/lab/tailscale.sh). They offer "direct derp"; their ratios use the
# upstream wireguard-go baseline (Tailscale embeds a fork of it) and
# Debian's.
# ---------------------------------------------------------------------------

declare -A MSOCK_WG_EP=() # node -> where its WireGuard sends: msock | public
MSOCK_BLOCKED=0

# msock + WireGuard ($LAB_WG_IMPL) on both nodes with disco (dataplane,
# derp, netcheck, disco; no static endpoints): WireGuard's peer endpoint is
# msock's loopback endpoint (or, for the baseline, the other router).
msock_pair() {
  case $1 in
    check) msock_check ;;
    up) msock_up ;;
    use) msock_use "$2" ;;
    down) msock_down ;;
    *) lab_fail "msock_pair: unknown verb '$1'" ;;
  esac
}

# Prints LAB_WG_IMPL's binary and version, or why it cannot run (fails).
msock_check() {
  local bin v
  if ! bin=$(lab_wg_bin "$LAB_WG_IMPL"); then
    echo "no $LAB_WG_IMPL WireGuard binary (run bench/wg_impls.sh)"
    return 1
  fi
  v=$("$bin" --version 2>&1 | head -n 1) || true
  echo "$bin ($v)"
}

# Brings NODE's msock and WireGuard up as lab_node_up does. boringtun
# cannot change a peer it has (a `wg set` of one panics its UAPI thread and
# leaves it hung: found here), so `msockctl wg-config --apply`, which sets
# the endpoint of the peer lab_node_up added, cannot be used with it:
# there the peer is added once, with the endpoint msockctl prints.
msock_node_up() {
  local node=$1 peer ifc ep
  if [ "$LAB_WG_IMPL" != boringtun ]; then
    lab_node_up "$node"
    MSOCK_WG_EP[$node]=msock
    return 0
  fi
  peer=$(lab_other "$node")
  ifc=$(lab_wg_iface "$node")
  lab_msock_config "$node" "$LAB_PORT" "$LAB_WG_PORT" "$peer" "$(lab_node_key "$peer")" "" \
    "$(lab_disco_key "$peer")"
  lab_msock_up "$node"
  lab_wg_up "$node" "$ifc" "$LAB_DIR/$node/state/node.key" "$LAB_WG_PORT" "${LAB_TUN[$node]}/24"
  lab_wait_for 10 lab_msockctl "$node" wg-config ||
    lab_fail "$node: msockctl wg-config has no endpoint within 10 s"
  ep=$(lab_msockctl "$node" wg-config | awk '{ print $NF; exit }')
  lab_wg_peer "$node" "$ifc" "$(lab_node_key "$peer")" "${LAB_TUN[$peer]}/32" "$ep"
  MSOCK_WG_EP[$node]=msock
}

# Starts both nodes and waits for the direct path (msock_use direct).
msock_up() {
  export LAB_DISCO=1 LAB_COMPONENTS='["dataplane","derp","netcheck","disco"]'
  msock_node_up na
  msock_node_up nb
  BENCH_PATHS="baseline direct derp" BENCH_SERVER=nb BENCH_CLIENT=na
  BENCH_ADDR=${LAB_TUN[nb]} BENCH_BASE=
  MSOCK_BLOCKED=0
  lab_wait_for 15 lab_tunnel_ping na 1 0.2 1 || lab_fail "no ping through the tunnel after up"
  msock_use direct
}

# Points NODE's WireGuard at WHERE: msock (its loopback endpoint for the
# peer, from msockctl wg-config) or public (the other router's address,
# WireGuard's own port). The peer is removed and added again: boringtun
# cannot change one (and cannot take both in one `wg set`: it keeps a
# section's remove=true for the next).
msock_wg_point() {
  local node=$1 where=$2 peer ifc key ep
  [ "${MSOCK_WG_EP[$node]:-}" != "$where" ] || return 0
  peer=$(lab_other "$node")
  ifc=$(lab_wg_iface "$node")
  key=$(lab_node_key "$peer")
  if [ "$where" = msock ]; then
    ep=$(lab_msockctl "$node" wg-config | awk '{ print $NF; exit }')
  else
    ep=${LAB_IP[r${peer#n}]}:$LAB_WG_PORT
  fi
  lab_exec "$node" wg set "$ifc" peer "$key" remove
  lab_wg_peer "$node" "$ifc" "$key" "${LAB_TUN[$peer]}/32" "$ep"
  MSOCK_WG_EP[$node]=$where
}

# True when both dataplanes' path to the peer is PATH; a ping through the
# tunnel first gives them traffic to decide on.
msock_both_on() {
  lab_tunnel_ping na 1 0.2 0.5 >/dev/null 2>&1 || true
  [ "$(lab_msock_path na)" = "$1" ] && [ "$(lab_msock_path nb)" = "$1" ]
}

# Moves the traffic to PATH (baseline, direct, derp); waits for it.
msock_use() {
  local path=$1 want wg=msock t0
  t0=$(lab_now_ms)
  case $path in
    baseline) want='' wg=public ;;
    direct) want=direct ;;
    derp) want=derp ;;
    *) lab_fail "msock_use: unknown path '$path'" ;;
  esac
  if [ "$path" = derp ] && [ "$MSOCK_BLOCKED" = 0 ]; then
    lab_block_udp_between_routers
    MSOCK_BLOCKED=1
  elif [ "$path" != derp ] && [ "$MSOCK_BLOCKED" = 1 ]; then
    lab_faults_clear
    MSOCK_BLOCKED=0
  fi
  msock_wg_point na "$wg"
  msock_wg_point nb "$wg"
  if [ -n "$want" ] && ! lab_wait_for 30 msock_both_on "$want"; then
    NOTES+=("$LAB_WG_IMPL: path not $want on both within 30 s (na $(lab_msock_path na), nb $(lab_msock_path nb)); measured anyway")
  fi
  lab_wait_for 15 lab_tunnel_ping na 1 0.2 1 || lab_fail "$LAB_WG_IMPL $path: no ping through the tunnel"
  lab_log "$LAB_WG_IMPL: on $path in $(lab_ms_since "$t0") ms (path na $(lab_msock_path na), nb $(lab_msock_path nb))"
}

# Stops both nodes' WireGuard and msock; unblocks UDP.
msock_down() {
  local n
  for n in na nb; do
    lab_wg_down "$n" "$(lab_wg_iface "$n")"
    lab_msock_down "$n"
    unset "MSOCK_WG_EP[$n]"
  done
  lab_faults_clear
  MSOCK_BLOCKED=0
}

TS_CONTROL=0 # tscontrol started (lab_pair_start, once)

ts_pair() { ts_driver "$1" ts ts upstream "${2:-}"; }
mixed_pair() { ts_driver "$1" ts msock debian "${2:-}"; }

# The Tailscale drivers: VERB KIND_A KIND_B BASE [PATH] (see above).
ts_driver() {
  local verb=$1 ka=$2 kb=$3 base=$4 path=${5:-}
  case $verb in
    check)
      lab_interop_bin tscontrol tailscaled tailscale >/dev/null 2>&1 ||
        { echo "no tailscaled in ${MSOCK_INTEROP_BIN:-build/interop/bin} (tests/interop/build.sh)"; return 1; }
      echo "$ka <-> $kb: tailscaled $("$LAB_IB/tailscaled" --version | head -n 1)"
      ;;
    up)
      if [ "$TS_CONTROL" = 0 ]; then
        lab_pair_start
        TS_CONTROL=1
      fi
      lab_pair_up "$ka" "$kb"
      BENCH_PATHS="direct derp" BENCH_SERVER=nb BENCH_CLIENT=na
      BENCH_ADDR=$(lab_pair_addr nb) BENCH_BASE=$base
      MSOCK_BLOCKED=0
      lab_wait_for 15 lab_pair_ping na 1 0.2 1 || lab_fail "$ka <-> $kb: no ping through the tunnel"
      ;;
    use) ts_use "$path" ;;
    down)
      lab_pair_down
      lab_faults_clear
      MSOCK_BLOCKED=0
      ;;
    *) lab_fail "ts_driver: unknown verb '$verb'" ;;
  esac
}

# True when both nodes of the pair are on PATH (direct | derp); a ping
# through the tunnel first gives them traffic to decide on.
ts_both_on() {
  local n p
  lab_pair_ping na 1 0.2 0.5 >/dev/null 2>&1 || true
  for n in na nb; do
    p=$(lab_pair_path "$n")
    if [ "$1" = direct ]; then
      lab_pair_is_direct "$n" || return 1
    else
      [ "$p" = derp ] || [ "$p" = derp:lab ] || return 1
    fi
  done
}

# Moves a Tailscale pair's traffic to PATH (direct, derp); waits for it.
ts_use() {
  local t0
  t0=$(lab_now_ms)
  if [ "$1" = derp ] && [ "$MSOCK_BLOCKED" = 0 ]; then
    lab_block_udp_between_routers
    MSOCK_BLOCKED=1
  elif [ "$1" = direct ] && [ "$MSOCK_BLOCKED" = 1 ]; then
    lab_faults_clear
    MSOCK_BLOCKED=0
  fi
  lab_wait_for 30 ts_both_on "$1" ||
    NOTES+=("${LAB_KIND[na]} <-> ${LAB_KIND[nb]}: not $1 on both within 30 s (na $(lab_pair_path na), nb $(lab_pair_path nb)); measured anyway")
  lab_wait_for 15 lab_pair_ping na 1 0.2 1 || lab_fail "${LAB_KIND[na]} <-> ${LAB_KIND[nb]} $1: no ping"
  lab_log "${LAB_KIND[na]} <-> ${LAB_KIND[nb]}: on $1 in $(lab_ms_since "$t0") ms (na $(lab_pair_path na), nb $(lab_pair_path nb))"
}

# ---------------------------------------------------------------------------
# Measuring.


# Applies jq FILTER to the newest iperf3 JSON in LAB_DIR (lab_iperf's last).
last_iperf() {
  local f
  f=$(find "$LAB_DIR" -maxdepth 1 -name 'iperf-*.json' -printf '%T@ %p\n' | sort -g | tail -n 1 | cut -d' ' -f2-)
  jq -r "$1" "$f"
}

# Prints the packets the lab's derper has relayed: msock-derper's, or
# Tailscale's derper's when that one runs (0 when it cannot say).
relayed() {
  if [ -n "$LAB_TSDERPER_PID" ]; then
    lab_tsderper_packets 2>/dev/null || echo 0
  else
    lab_derper_packets 2>/dev/null || echo 0
  fi
}

# Appends VALUE to RES[KEY] (a space-separated list).
res_add() {
  RES[$1]="${RES[$1]:+${RES[$1]} }$2"
}

# Runs TCP then UDP iperf3 on LABEL's PATH; records the figures: Gbit/s,
# UDP loss %, and how much of UDP the derper relayed (its packets relayed
# during the run per datagram sent, %: ~100 over DERP, 0 on a direct path
# unless msock also sent the stream over DERP).
measure() {
  local label=$1 path=$2 tcp udp loss via r0 sent
  if ! tcp=$(lab_iperf "$BENCH_SERVER" "$BENCH_ADDR" "$BENCH_CLIENT" "$secs"); then
    tcp=-
    NOTES+=("$label $path: iperf3 TCP failed (round $r)")
  fi
  r0=$(relayed)
  if udp=$(LAB_IPERF_ARGS=$UDP_ARGS lab_iperf "$BENCH_SERVER" "$BENCH_ADDR" "$BENCH_CLIENT" "$secs"); then
    loss=$(last_iperf '(.end.sum_received // .end.sum).lost_percent * 10 | round / 10')
    sent=$(last_iperf '(.end.sum_sent // .end.sum).packets')
    via=$(awk -v a="$(($(relayed) - r0))" -v b="$sent" 'BEGIN { printf "%.0f\n", (b > 0) ? a * 100 / b : 0 }')
  else
    udp=- loss=- via=-
    NOTES+=("$label $path: iperf3 UDP failed (round $r)")
  fi
  res_add "$label|$path|tcp" "$tcp"
  res_add "$label|$path|udp" "$udp"
  res_add "$label|$path|loss" "$loss"
  res_add "$label|$path|via" "$via"
  printf '  %-10s round %d %-9s TCP %6s Gbit/s   UDP %6s Gbit/s, loss %5s %%, via DERP %4s %%\n' \
    "$label" "$r" "$path" "$tcp" "$udp" "$loss" "$via"
}

# Measures one pair: DRIVER (see above) brought up, ROUNDS rounds over its
# paths (order reversed every other round), brought down; rows LABEL|PATH.
bench_pair() {
  local label=$1 driver=$2 about p t0 i
  local -a paths order
  t0=$(lab_now_ms)
  if ! about=$("$driver" check); then
    echo "  $label: skipped: $about"
    NOTES+=("$label: skipped: $about")
    return 0
  fi
  ABOUT[$label]=$about
  LABELS+=("$label")
  echo "  $label: $about"
  "$driver" up
  BASE[$label]=${BENCH_BASE:-$label}
  read -r -a paths <<<"$BENCH_PATHS"
  for p in "${paths[@]}"; do
    ROWS+=("$label|$p")
  done
  for ((r = 1; r <= rounds; r++)); do
    order=("${paths[@]}")
    if ((r % 2 == 0)); then
      order=()
      for ((i = ${#paths[@]} - 1; i >= 0; i--)); do order+=("${paths[i]}"); done
    fi
    for p in "${order[@]}"; do
      "$driver" use "$p"
      measure "$label" "$p"
    done
  done
  "$driver" down
  lab_log "$label: measured in $(lab_ms_since "$t0") ms"
}

# Prints the median of RES[KEY] without failed runs ("-" when none).
res_median() {
  local v
  v=$(tr ' ' '\n' <<<"${RES[$1]:-}" | grep -v '^-\?$' | lab_median || true)
  echo "${v:--}"
}

# Prints A / B with 2 decimals, "-" when either is missing or B is 0.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}

# Prints the table of medians.
print_table() {
  local row label path tcp udp loss via base name
  declare -A pname=([baseline]="baseline" [direct]="direct" [derp]="DERP")
  echo
  echo "bench wg_iperf: medians of $rounds rounds of $secs s, iperf3 na -> nb, 1:1 NATs" \
    "(UDP: $UDP_ARGS; x: ratio to the implementation's baseline; UDP via DERP: the derper's" \
    "packets relayed during the UDP run per datagram sent)"
  printf '%-11s %-13s %9s %9s %10s %7s %7s %13s\n' WireGuard path "TCP Gb/s" "UDP Gb/s" "UDP loss%" \
    "TCP x" "UDP x" "UDP via DERP%"
  for row in "${ROWS[@]}"; do
    label=${row%%|*}
    path=${row#*|}
    base=${BASE[$label]}
    tcp=$(res_median "$row|tcp")
    udp=$(res_median "$row|udp")
    loss=$(res_median "$row|loss")
    via=$(res_median "$row|via")
    name=${pname[$path]:-$path}
    printf '%-11s %-13s %9s %9s %10s %7s %7s %13s\n' "$label" "$name" "$tcp" "$udp" "$loss" \
      "$(ratio "$tcp" "$(res_median "$base|baseline|tcp")")" \
      "$(ratio "$udp" "$(res_median "$base|baseline|udp")")" "$via"
  done
  for label in "${LABELS[@]}"; do
    echo "  $label: ${ABOUT[$label]}"
  done
  for row in "${NOTES[@]}"; do
    echo "  note: $row"
  done
}

echo "bench wg_iperf: iperf3 TCP and UDP na -> nb through WireGuard ($IMPLS), with and without msock, $rounds rounds of $secs s"
for impl in $IMPLS; do
  LAB_WG_IMPL=$impl bench_pair "$impl" msock_pair
done
if [[ " ${WG_IPERF_TS-ts mixed} " == *" ts "* ]]; then bench_pair tailscaled ts_pair; fi
if [[ " ${WG_IPERF_TS-ts mixed} " == *" mixed "* ]]; then bench_pair ts-msock mixed_pair; fi
print_table
ms=$(lab_ms_since "$t_start")
printf 'bench wg_iperf: total run time %d.%d s\n' $((ms / 1000)) $((ms % 1000 / 100))
