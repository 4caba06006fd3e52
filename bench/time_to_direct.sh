#!/usr/bin/env bash
# bench/time_to_direct.sh [ROUNDS]: time to the direct path, Tailscale and
# msock side by side in one run, in the NAT lab (tests/lab/lib.sh): for
# easy x easy and one2one x easy, the pairs tailscaled <-> tailscaled,
# msock <-> msock, and tailscaled <-> msock with each side starting. Both
# nodes start afresh for every round (tailscaled with its own magicsock and
# wireguard-go; msock with dataplane, derp, netcheck, disco under Debian's
# wireguard-go), log in to the lab's DERP, and settle for a second; then
# the starting node pings the other every 50 ms. Timed from the first ping:
# the first reply (the WireGuard handshake, over DERP) and the moment each
# node's path is direct (tailscaled: `tailscale status --json` CurAddr;
# msock: `msockctl status` Path "direct"), polled every 50 ms, so figures
# are +- 0.1 s. Rounds alternate the pairs; medians in one table at the
# end. Prints figures; never fails on them. Needs root, a release build
# (MSOCK_BIN_DIR, else build/release/bin) and the interop programs
# (MSOCK_INTEROP_BIN, else build/interop/bin; built if missing).
set -euo pipefail
rounds=${1:-3}
wait_s=${TTD_WAIT_S:-15}
src=$(cd "$(dirname "$0")/.." && pwd)
export MSOCK_SOURCE_DIR=$src MSOCK_BIN_DIR=${MSOCK_BIN_DIR:-$src/build/release/bin}
# shellcheck source=../tests/lab/lib.sh
. "$src/tests/lab/lib.sh"
lab_skip_unless_root
lab_ts_bench_bins
t_bench=$(lab_now_ms)
lab_init >/dev/null
lab_pair_start

# Seconds (2 decimals) of MS milliseconds, or "-" when empty or "-".
secs() {
  if [ -n "$1" ] && [ "$1" != - ]; then awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; else echo -; fi
}

declare -A res=() # "NAT|PAIR|what" -> newline-separated ms figures

# The table key of NAT_A NAT_B KIND_A KIND_B STARTER: "easy x easy|ts (starts) <-> msock".
keyof() {
  local s1="" s2=""
  if [ "$5" = na ]; then s1=" (starts)"; else s2=" (starts)"; fi
  printf '%s x %s|%s%s <-> %s%s' "$1" "$2" "$3" "$s1" "$4" "$s2"
}

# One round: NAT_A NAT_B KIND_A KIND_B STARTER. Adds to res.
round() {
  local nat_a=$1 nat_b=$2 ka=$3 kb=$4 starter=$5 t0 ta="" tb="" first="" end flood key
  key=$(keyof "$@")
  lab_nat ra "$nat_a"
  lab_nat rb "$nat_b"
  lab_pair_up "$ka" "$kb"
  { lab_wait_for 10 lab_pair_derp_up na && lab_wait_for 10 lab_pair_derp_up nb; } ||
    lab_fail "$key: DERP not up"
  sleep 1
  flood=$LAB_DIR/ttd-$(lab_now_ms).log
  t0=$(lab_now_ms)
  lab_bg "$starter" "$flood" ping -n -D -c $((wait_s * 20)) -i 0.05 -W 1 \
    "$(lab_pair_addr "$(lab_other "$starter")")"
  local fpid=$LAB_LAST_PID
  end=$((t0 + wait_s * 1000))
  while { [ -z "$ta" ] || [ -z "$tb" ]; } && [ "$(lab_now_ms)" -lt "$end" ]; do
    [ -n "$ta" ] || ! lab_pair_is_direct na || ta=$(lab_ms_since "$t0")
    [ -n "$tb" ] || ! lab_pair_is_direct nb || tb=$(lab_ms_since "$t0")
    sleep 0.05
  done
  lab_stop_pid "$fpid"
  first=$(awk -v t0="$t0" '/bytes from/ { gsub(/[\[\]]/, "", $1); printf "%d\n", $1 * 1000 - t0; exit }' "$flood")
  printf '  %-22s %-36s first reply %5s s; direct: na %5s s (%s), nb %5s s (%s)\n' \
    "${key%%|*}" "${key#*|}" "$(secs "$first")" "$(secs "$ta")" "$(lab_pair_path na)" \
    "$(secs "$tb")" "$(lab_pair_path nb)"
  res[$key|first]+="$first"$'\n'
  res[$key|na]+="${ta:-}"$'\n'
  res[$key|nb]+="${tb:-}"$'\n'
  lab_pair_down
}

pairs=("ts ts na" "msock msock na" "ts msock na" "ts msock nb")
nats=("easy easy" "one2one easy")
echo "bench time_to_direct: $rounds rounds, each pair started afresh; figures in seconds from the first ping"
for ((r = 1; r <= rounds; r++)); do
  echo " round $r"
  for nat in "${nats[@]}"; do
    for p in "${pairs[@]}"; do
      # shellcheck disable=SC2086 # two and three words
      round $nat $p
    done
  done
done
echo
printf '%-14s %-36s %12s %12s %12s\n' NAT "pair (na <-> nb)" "first reply" "direct na" "direct nb"
for nat in "${nats[@]}"; do
  for p in "${pairs[@]}"; do
    # shellcheck disable=SC2086 # two and three words
    key=$(keyof $nat $p)
    row=()
    for w in first na nb; do
      m=$(printf '%s' "${res[$key|$w]}" | grep -v '^$' | lab_median)
      n=$(printf '%s' "${res[$key|$w]}" | grep -c . || true)
      row+=("$(secs "$m") ($n/$rounds)")
    done
    printf '%-14s %-36s %12s %12s %12s\n' "${key%%|*}" "${key#*|}" "${row[@]}"
  done
done
echo "(median seconds; (n/rounds): rounds that got there within ${wait_s} s)"
echo "bench time_to_direct: run time $(secs "$(lab_ms_since "$t_bench")") s"
