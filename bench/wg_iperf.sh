#!/usr/bin/env bash
# bench/wg_iperf.sh [SECONDS] [ROUNDS]: iperf3 TCP through WireGuard
# (wireguard-go) between the lab's two nodes behind 1:1 NATs, two ways in
# the same run: the baseline, WireGuard straight to the other router's
# public address (no msock); and WireGuard through msock's direct path
# (loopback endpoint -> dataplane -> UDP). The same two wireguard-go
# processes serve both: only the peer's endpoint changes between runs.
# Rounds alternate baseline / msock (default 3 rounds of 5 s) and the
# medians and their ratio are printed. Prints figures; never fails on them.
# Needs root (the lab of tests/lab/lib.sh) and a build: MSOCK_BIN_DIR, else
# build/release/bin.
set -euo pipefail
secs=${1:-5}
rounds=${2:-3}
src=$(cd "$(dirname "$0")/.." && pwd)
export MSOCK_SOURCE_DIR=$src MSOCK_BIN_DIR=${MSOCK_BIN_DIR:-$src/build/release/bin}
. "$src/tests/lab/lib.sh"
lab_skip_unless_root
LAB_NAT_A=one2one LAB_NAT_B=one2one lab_init >/dev/null

lab_node_up na "${LAB_IP[rb]}:$LAB_PORT"
lab_node_up nb "${LAB_IP[ra]}:$LAB_PORT"
ka=$(lab_node_key na)
kb=$(lab_node_key nb)
msock_ep_a=$(lab_wg_endpoint na)
msock_ep_b=$(lab_wg_endpoint nb)

# Points both WireGuards at MODE's endpoints: direct (the routers' public
# address, WireGuard's own port) or msock (the loopback endpoints).
use() {
  if [ "$1" = direct ]; then
    lab_wg_peer na "$(lab_wg_iface na)" "$kb" "${LAB_TUN[nb]}/32" "${LAB_IP[rb]}:$LAB_WG_PORT"
    lab_wg_peer nb "$(lab_wg_iface nb)" "$ka" "${LAB_TUN[na]}/32" "${LAB_IP[ra]}:$LAB_WG_PORT"
  else
    lab_wg_peer na "$(lab_wg_iface na)" "$kb" "${LAB_TUN[nb]}/32" "$msock_ep_a"
    lab_wg_peer nb "$(lab_wg_iface nb)" "$ka" "${LAB_TUN[na]}/32" "$msock_ep_b"
  fi
  lab_wait_for 10 lab_tunnel_ping na 1 0.2 1 || lab_fail "no ping through the tunnel ($1)"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
direct=() via=()
echo "bench wg_iperf: iperf3 TCP na -> nb through wireguard-go, $rounds rounds of $secs s"
for ((r = 1; r <= rounds; r++)); do
  use direct
  d=$(lab_iperf nb "${LAB_TUN[nb]}" na "$secs") || lab_fail "iperf3 (direct) failed"
  use msock
  m=$(lab_iperf nb "${LAB_TUN[nb]}" na "$secs") || lab_fail "iperf3 (msock) failed"
  direct+=("$d")
  via+=("$m")
  printf '  round %d: WireGuard direct %5.2f Gbit/s, through msock %5.2f Gbit/s\n' "$r" "$d" "$m"
done
dm=$(printf '%s\n' "${direct[@]}" | median)
mm=$(printf '%s\n' "${via[@]}" | median)
printf '  median:  WireGuard direct %5.2f Gbit/s (baseline), through msock %5.2f Gbit/s: %.2fx\n' \
  "$dm" "$mm" "$(awk -v a="$mm" -v b="$dm" 'BEGIN { print (b > 0) ? a / b : 0 }')"
[ "$(lab_msock_path na)" = direct ] || echo "  note: na's msock path was $(lab_msock_path na), not direct"
