#!/usr/bin/env bash
# lab_wg_impls: msockctl wg-config --apply with every WireGuard
# implementation there is: Debian's wireguard-go always, the newest
# wireguard-go (upstream) and boringtun when bench/wg_impls.sh installed
# them (lab_wg_bin finds them; else a line says they are skipped).
# boringtun panics on a `wg set` that modifies a peer it has, so --apply
# re-creates a peer whose endpoint changes. Per implementation, the lab
# pair as lab_direct has it (1:1 NAT, static endpoints), brought up by
# lab_node_up (whose --apply re-creates the peer it added without an
# endpoint), then on both nodes the peer replaced by one with a preshared
# key, keepalive 25 and a stale endpoint. Checked: --apply re-creates it
# ("1 re-created"), the WireGuard process survives, `wg show dump` then
# has msock's endpoint with the allowed-ips, keepalive and preshared key
# kept, a second --apply changes nothing ("0 re-created, 1 unchanged"),
# and ping through the tunnel works before and after (a new handshake,
# with the preshared key on both sides).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root

impls=(debian)
for impl in upstream boringtun; do
  if lab_wg_bin "$impl" >/dev/null; then
    impls+=("$impl")
  else
    echo "lab_wg_impls: no $impl WireGuard (bench/wg_impls.sh installs it in build/wg-impls/bin): skipped"
  fi
done

LAB_NAT_A=one2one LAB_NAT_B=one2one lab_init
psk=$LAB_DIR/psk
(umask 077 && wg genpsk >"$psk")
stale=192.0.2.1:51820 # TEST-NET-1: an endpoint msock never gives

# The peer line of NODE's `wg show IFACE dump` (its one peer).
peer_dump() {
  lab_exec "$1" wg show "$(lab_wg_iface "$1")" dump | sed -n 2p
}

# NODE's peer removed, then added back with the preshared key, keepalive 25
# and the stale endpoint: two calls, as boringtun needs.
replace_peer() {
  local node=$1 peer ifc key
  peer=$(lab_other "$node")
  ifc=$(lab_wg_iface "$node")
  key=$(lab_node_key "$peer")
  lab_exec "$node" wg set "$ifc" peer "$key" remove
  lab_exec "$node" wg set "$ifc" peer "$key" allowed-ips "${LAB_TUN[$peer]}/32" \
    endpoint "$stale" persistent-keepalive 25 preshared-key "$psk"
}

# --apply on NODE; fails unless it printed WANT (the part in parentheses).
apply_expect() {
  local node=$1 want=$2 ifc out
  ifc=$(lab_wg_iface "$node")
  out=$(lab_msockctl "$node" wg-config --apply "$ifc" 2>&1) ||
    lab_fail "$impl: $node: msockctl wg-config --apply $ifc failed: $out"
  [ "$out" = "set the endpoints of 1 peer on $ifc ($want)" ] ||
    lab_fail "$impl: $node: --apply printed '$out', expected '... ($want)'"
}

for impl in "${impls[@]}"; do
  export LAB_WG_IMPL=$impl
  t=$(lab_now_ms)
  lab_node_up na "${LAB_IP[rb]}:$LAB_PORT"
  lab_node_up nb "${LAB_IP[ra]}:$LAB_PORT"
  lab_wait_for 15 lab_tunnel_ping na 1 0.2 1 ||
    lab_fail "$impl: no ping reply through WireGuard within 15 s of lab_node_up's --apply"
  lab_log "$impl: up, --apply done and a ping through the tunnel in $(lab_ms_since "$t") ms"

  t=$(lab_now_ms)
  for n in na nb; do
    replace_peer $n
    apply_expect $n "1 re-created, 0 unchanged"
  done
  for n in na nb; do
    ifc=$(lab_wg_iface $n)
    lab_alive "${LAB_WG_PID[$ifc]}" ||
      lab_fail "$impl: $n's WireGuard exited after --apply (its log follows)"
    ep=$(lab_msockctl $n wg-config --iface "$ifc" | awk '{ print $7 }')
    IFS=$'\t' read -r key got_psk got_ep ips _ _ _ ka < <(peer_dump $n)
    [ "$key" = "$(lab_node_key "$(lab_other $n)")" ] || lab_fail "$impl: $n: peer $key in wg's dump"
    [ "$got_ep" = "$ep" ] || lab_fail "$impl: $n: endpoint $got_ep after --apply, not msock's $ep"
    [ "$ips" = "${LAB_TUN[$(lab_other $n)]}/32" ] ||
      lab_fail "$impl: $n: allowed-ips '$ips' after the re-creation"
    [ "$ka" = 25 ] || lab_fail "$impl: $n: persistent keepalive '$ka' after the re-creation"
    [ "$got_psk" = "$(cat "$psk")" ] || lab_fail "$impl: $n: the preshared key was not kept"
    apply_expect $n "0 re-created, 1 unchanged"
  done
  lab_log "$impl: the peer re-created on both nodes in $(lab_ms_since "$t") ms, with its" \
    "allowed-ips, keepalive 25 and preshared key; a second --apply changed nothing"
  t=$(lab_now_ms)
  lab_wait_for 15 lab_tunnel_ping na 1 0.2 1 ||
    lab_fail "$impl: no ping reply through WireGuard within 15 s of the re-creation"
  lab_log "$impl: first ping reply after the re-creation (a new handshake) in $(lab_ms_since "$t") ms"
  out=$(lab_tunnel_ping na 10 0.02 2) || lab_fail "$impl: ping -c 10 lost packets: $out"

  for n in na nb; do
    lab_msock_down $n
    lab_wg_down $n "$(lab_wg_iface $n)"
  done
done
lab_log "PASS (${impls[*]})"
