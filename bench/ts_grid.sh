#!/usr/bin/env bash
# bench/ts_grid.sh: Tailscale's NAT grid (tstest/integration/nat) in the lab
# with a real tailscaled on one side and a msock node on the other, both
# ways round (tailscaled behind the first router, then behind the second),
# one line per pairing. Pairings: easy x easy, one2one x easy, easy x
# one2one, hard x hardPMP (the second node's router runs miniupnpd and its
# node maps a port: Tailscale's port mapper on when tailscaled is there,
# msock's portmapper component when msock is), easy x hard (Tailscale
# stays on DERP there: tailscaled ignores msock's ProbeMe; checked that the
# tunnel works and both stay on DERP; tailscaled's count of disco messages
# it could not parse is printed), easy x sameLAN (both behind one router).
# Each pairing starts both nodes afresh; the tunnel is pinged over DERP
# first, then every 0.1 s while we wait (LAB_GRID_WAIT_S, default 15 s)
# for both paths to be direct; timed from the first reply over DERP.
# LAB_GRID_ONLY="easy x hard,hard x hardPMP" runs only those pairings.
# Prints figures; fails only when a pairing ends other than expected or the
# tunnel does not work. Needs root, a release build (MSOCK_BIN_DIR, else
# build/release/bin) and the interop programs (MSOCK_INTEROP_BIN, else
# build/interop/bin; built if missing).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
export MSOCK_SOURCE_DIR=$src MSOCK_BIN_DIR=${MSOCK_BIN_DIR:-$src/build/release/bin}
# shellcheck source=../tests/lab/lib.sh
. "$src/tests/lab/lib.sh"
lab_skip_unless_root
lab_ts_bench_bins
export LAB_COTURN=1 LAB_COMPONENTS='["dataplane","derp","netcheck","disco","portmapper"]'
t_bench=$(lab_now_ms)
lab_init >/dev/null
lab_pair_start
WAIT_S=${LAB_GRID_WAIT_S:-15}

# Prints NODE's path as "kind via": tailscaled's CurAddr or DERP region,
# msock's direct address (and probe socket) or its path.
via() {
  local p
  p=$(lab_pair_path "$1")
  if [ "${LAB_KIND[$1]}" = msock ] && [ "$p" = direct ]; then
    p=$(lab_msock_peer_field "$1" DirectAddr)
  fi
  printf '%s %s' "$( [ "${LAB_KIND[$1]}" = ts ] && echo tailscaled || echo msock)" "$p"
}

# tailscaled's magicsock_disco_recv_bad_parse on NODE (disco messages it
# opened but could not parse, e.g. msock's ProbeMe), 0 when absent.
bad_parse() {
  lab_tailscale "$1" debug metrics 2>/dev/null |
    awk '$1 == "magicsock_disco_recv_bad_parse" { v = $2 } END { print v + 0 }'
}

declare -a results=()
# pair NAT_A NAT_B KIND_A KIND_B EXPECT: one pairing (EXPECT direct|derp).
pair() {
  local a=$1 b=$2 ka=$3 kb=$4 want=$5 t up got flood line n ts_node
  # LAB_GRID_ONLY="hard x hardPMP": run only the pairings named (by hand).
  if [ -n "${LAB_GRID_ONLY:-}" ] && [[ ",$LAB_GRID_ONLY," != *",$a x $b,"* ]]; then
    return 0
  fi
  lab_nat ra "${a%PMP}"
  [ "$b" = sameLAN ] || lab_nat rb "${b%PMP}"
  [ "${b%PMP}" = "$b" ] || lab_miniupnpd_start rb
  # Tailscale's port mapper on for a tailscaled behind the PMP router.
  if [ "${b%PMP}" != "$b" ] && [ "$kb" = ts ]; then
    LAB_TS_PORTMAPPER=1 lab_pair_up "$ka" "$kb"
  else
    lab_pair_up "$ka" "$kb"
  fi
  { lab_wait_for 10 lab_pair_derp_up na && lab_wait_for 10 lab_pair_derp_up nb; } ||
    lab_fail "$a x $b: DERP not up"
  t=$(lab_now_ms)
  lab_wait_for 15 lab_pair_ping na 1 0.2 1 || lab_fail "$a x $b ($ka x $kb): no ping over DERP"
  up=$(awk -v ms="$(lab_ms_since "$t")" 'BEGIN { printf "%.1f", ms / 1000 }')
  t=$(lab_now_ms)
  lab_bg na "$LAB_DIR/grid-$a-$b-$ka.log" ping -n -q -c $((WAIT_S * 10)) -i 0.1 "$(lab_pair_addr nb)"
  flood=$LAB_LAST_PID
  both_direct() { lab_pair_is_direct na && lab_pair_is_direct nb; }
  line=$(printf '%-16s %-18s' "$a x $b" "$ka x $kb:")
  if lab_wait_for "$WAIT_S" both_direct; then
    got=direct
    line+=" direct after $(awk -v ms="$(lab_ms_since "$t")" 'BEGIN { printf "%.2f", ms / 1000 }') s"
  else
    got=derp
    line+=" derp (no direct path within $WAIT_S s)"
  fi
  line+=" ($(via na) / $(via nb); tunnel up in $up s)"
  for n in na nb; do
    [ "${LAB_KIND[$n]}" = ts ] && ts_node=$n
  done
  line+="; tailscaled could not parse $(bad_parse "$ts_node") disco messages"
  results+=("$line")
  lab_log "$line"
  out=$(lab_pair_ping na 5 0.05 2) || lab_fail "$a x $b ($ka x $kb): the tunnel does not work ($got): $out"
  lab_stop_pid "$flood"
  lab_pair_down
  [ "${b%PMP}" = "$b" ] || lab_miniupnpd_stop rb
  [ "$got" = "$want" ] || lab_fail "$a x $b ($ka x $kb): $got, expected $want"
}

for kinds in "ts msock" "msock ts"; do
  # shellcheck disable=SC2086 # two words
  {
    pair easy easy $kinds direct
    pair one2one easy $kinds direct
    pair easy one2one $kinds direct
    pair hard hardPMP $kinds direct
    pair easy hard $kinds derp
  }
done
lab_samelan
for kinds in "ts msock" "msock ts"; do
  # shellcheck disable=SC2086 # two words
  pair easy sameLAN $kinds direct
done
lab_log "the grid with tailscaled on one side:"
for r in "${results[@]}"; do lab_log "  $r"; done
lab_log "bench ts_grid: run time $(($(lab_ms_since "$t_bench") / 1000)) s"
