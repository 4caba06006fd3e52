#!/usr/bin/env bash
# lab_disco_grid: Tailscale's NAT grid (tstest/integration/nat) in the lab:
# every pairing of the routers' behaviours, one line each, e.g.
#   hard x hard: derp (no direct path within 15 s)
#   easy x easy: direct after 2.13 s (addresses; tunnel up in 0.3 s)
# timed from the tunnel's first reply over DERP.
# easy: masquerade (endpoint-independent mapping, address-and-port-
# dependent filtering); hard: masquerade fully-random (a new port per
# destination); easyAF: easy's mapping with address-dependent filtering
# (msock's port open to any port of an address the node sent to); one2one:
# 1:1 NAT. For each pairing both nodes start afresh (new NAT state, msock
# and wireguard-go restarted), WireGuard pings over DERP, and we wait for
# the path. Expected: direct for easy x easy and one2one x anything, DERP
# for hard x hard (no NAT traversal through two endpoint-dependent
# mappings without port prediction). easy x hard (both ways round): direct
# by birthday-paradox punching (docs/disco.md, "Hard NATs"; Tailscale
# stays on DERP there): the hard side pings from 256 probe sockets, the
# easy side probes 1,024 random ports of its address; ~98 % per round,
# a second round 5.5 s later; the line says which round found the path.
# hardPMP: a hard NAT with miniupnpd, so the node behind it maps its port
# (NAT-PMP) and advertises the mapped address; sameLAN: both nodes behind one router (nb moved to a second LAN
# of ra), expected direct over the LAN addresses. coturn is a second STUN
# server, so that netcheck can tell a hard NAT.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root
export LAB_DISCO=1 LAB_COTURN=1 LAB_COMPONENTS='["dataplane","derp","netcheck","disco","portmapper"]'
lab_init
WAIT_S=${LAB_GRID_WAIT_S:-15}

# via NODE: the node's direct address, and the probe socket it leaves from
# when birthday punching found it.
via() {
  local sock
  sock=$(lab_msock_peer_field "$1" LocalSocket)
  printf '%s' "$(lab_msock_peer_field "$1" DirectAddr)"
  [ "${sock:-0}" = 0 ] || printf ' from probe socket %s, port %s' "$sock" \
    "$(lab_msock_peer_field "$1" LocalPort)"
}

# pair A B EXPECT: one pairing; EXPECT is direct, derp or any.
declare -a results=()
pair() {
  local a=$1 b=$2 want=$3 t got
  # LAB_GRID_ONLY="easy x hard": run only the pairings named (by hand).
  if [ -n "${LAB_GRID_ONLY:-}" ] && [[ ",$LAB_GRID_ONLY," != *",$a x $b,"* ]]; then
    return 0
  fi
  local ma mb round
  ma=$(lab_log_lines na)
  mb=$(lab_log_lines nb)
  lab_nat ra "${a%PMP}"
  [ "$b" = sameLAN ] || lab_nat rb "${b%PMP}"
  if [ "${b%PMP}" != "$b" ]; then
    lab_miniupnpd_start rb
  fi
  lab_node_up na
  lab_node_up nb
  { lab_wait_for 10 lab_msock_derp_up na && lab_wait_for 10 lab_msock_derp_up nb; } ||
    lab_fail "$a x $b: DERP not up"
  # Timed from the tunnel's first reply (over DERP), so that WireGuard's
  # handshake (a lost one waits 5 s) is not counted as disco's time.
  t=$(lab_now_ms)
  lab_wait_for 15 lab_tunnel_ping na 1 0.2 1 || lab_fail "$a x $b: no ping over DERP"
  local up
  up=$(awk -v ms="$(lab_ms_since "$t")" 'BEGIN { printf "%.1f", ms / 1000 }')
  t=$(lab_now_ms)
  lab_bg na "$LAB_DIR/grid-$a-$b.log" ping -n -q -c $((WAIT_S * 10)) -i 0.1 "${LAB_TUN[nb]}"
  local flood=$LAB_LAST_PID
  both_direct() { [ "$(lab_msock_path na)" = direct ] && [ "$(lab_msock_path nb)" = direct ]; }
  if lab_wait_for "$WAIT_S" both_direct; then
    got=direct
    local secs
    secs=$(awk -v ms="$(lab_ms_since "$t")" 'BEGIN { printf "%.2f", ms / 1000 }')
    round=$(lab_bday_round na "$ma" nb "$mb")
    results+=("$a x $b: direct after $secs s ($(via na) / $(via nb); tunnel up in $up s${round:+; birthday punching, $round})")
  else
    got=derp
    results+=("$a x $b: derp (no direct path within $WAIT_S s; na $(lab_msock_path na), nb $(lab_msock_path nb))")
  fi
  lab_log "${results[-1]}"
  out=$(lab_tunnel_ping na 5 0.05 2) || lab_fail "$a x $b: the tunnel does not work ($got): $out"
  # The flood stops here: left running, it would start the next pairing's
  # WireGuard handshake before the peer is up (then WireGuard waits 5 s).
  lab_stop_pid "$flood"
  lab_msock_down na
  lab_msock_down nb
  lab_wg_down na "$(lab_wg_iface na)"
  lab_wg_down nb "$(lab_wg_iface nb)"
  for n in na nb; do rm -rf "$LAB_DIR/$n/run"; done
  [ "${b%PMP}" = "$b" ] || lab_miniupnpd_stop rb
  [ "$want" = any ] || [ "$got" = "$want" ] || lab_fail "$a x $b: $got, expected $want"
}

pair easy easy direct
pair easy hard direct
pair hard easy direct
pair hard hard derp
pair one2one easy direct
pair one2one hard direct
pair one2one one2one direct
pair hard hardPMP direct
pair easyAF hard direct
lab_samelan
pair easy sameLAN direct
lab_log "the grid:"
for r in "${results[@]}"; do lab_log "  $r"; done
lab_log "PASS"
