#!/usr/bin/env bash
# lab_broker_restart: two nodes behind easy NATs on the direct path disco
# found; na's broker is killed with SIGKILL during a ping flood and started
# again by the test, as systemd would. The dataplane never waits on the
# control plane, so no ping is lost; the components run on (no parent-death
# signal) and reconnect; the new broker adopts them (same pids, from its
# record in run/children), rebuilds its cache from the config and from
# each owner setting its state again (a new epoch), and takes the
# dataplane's sockets back (pidfd_getfd). Then: a crash of disco is
# restarted by the new broker, and so is a crash of the dataplane, which
# comes back on the same port and the same WireGuard endpoint (the sockets
# the new broker took back). Printed: pings lost, how long the node ran
# without a broker, how long until the new broker's status matched.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root
LAB_NAT_A=easy LAB_NAT_B=easy lab_init
lab_disco_pair_up 20
lab_log "direct on both nodes"
st() { lab_msockctl na status --json; }
pids() { st | jq -c '[.Components | to_entries[] | [.key, .value.PID, .value.State]] | sort'; }
s0=$(st)
pids0=$(pids)
port0=$(jq -r .Self.Dataplane.Port <<<"$s0")
ep0=$(lab_wg_endpoint na)
keys0=$(jq -c '[.Self.NodeKey, .Self.DiscoKey]' <<<"$s0")
lab_log "na's components: $pids0; UDP port $port0; WireGuard's endpoint for nb $ep0"

flood=$LAB_DIR/flood.log
lab_bg na "$flood" ping -n -c 400 -i 0.02 -W 1 "${LAB_TUN[nb]}"
ping_pid=$LAB_LAST_PID
sleep 1
old=${LAB_BROKER_PID[na]}
t=$(lab_now_ms)
kill -KILL "$old"
wait "$old" 2>/dev/null || true # ours (lab_bg): reaped without bash's "Killed" line
lab_wait_for 5 lab_dead "$old" || lab_fail "the broker (pid $old) did not die of SIGKILL"
# A second without a broker: packets still flow (the flood shows it).
sleep 1
alive=$(jq -r '.[] | .[1]' <<<"$pids0" | while read -r p; do lab_alive "$p" && echo "$p"; done | wc -l)
[ "$alive" = "$(jq length <<<"$pids0")" ] ||
  lab_fail "only $alive of $(jq length <<<"$pids0") components outlived the broker"
lab_msock_up na
adopted() { [ "$(pids)" = "$pids0" ]; }
lab_wait_for 10 adopted || lab_fail "the new broker's components $(pids), not $pids0"
lab_log "broker killed; $(lab_ms_since "$t") ms later (1 s of it without a broker) the new broker's status showed the same components, pids and states"
grep -q "adopted dataplane (pid .*) and its sockets" "$LAB_DIR/na/broker.log" ||
  lab_fail "the new broker did not take the dataplane's sockets back: $(grep -i 'adopt\|socket' "$LAB_DIR/na/broker.log" | tail -n 5)"
# The owners set their state again in the new broker's cache.
refilled() {
  local s
  s=$(st)
  [ "$(jq -c '[.Self.NodeKey, .Self.DiscoKey]' <<<"$s")" = "$keys0" ] &&
    [ "$(jq -r .Self.Dataplane.Port <<<"$s")" = "$port0" ] &&
    [ "$(jq '.Self.Endpoints | length' <<<"$s")" -gt 0 ] &&
    [ "$(jq -r '.Netcheck != null' <<<"$s")" = true ] &&
    [ "$(jq -r '[.Components[] | .Bus.BrokerRestarts // 0] | min' <<<"$s")" -ge 1 ]
}
lab_wait_for 15 refilled || lab_fail "the new broker's cache was not filled again: $(st | jq -c '{Self: .Self | {NodeKey, DiscoKey, Endpoints}, Netcheck: (.Netcheck != null), Bus: [.Components | to_entries[] | {(.key): .value.Bus.BrokerRestarts}]}')"
lab_msock_is_direct na || lab_fail "na's path is $(lab_msock_path na) in the new broker's status"
lab_log "the new broker's cache has the keys, endpoints, netcheck report and direct path again"

lab_flood_end "$ping_pid" "$flood"
sent=$LAB_FLOOD_SENT got=$LAB_FLOOD_GOT
lab_log "ping flood across the broker's death and restart: $got of $sent replies ($((sent - got)) lost)"
[ "$got" = "$sent" ] || lab_fail "$((sent - got)) pings lost while the broker was down"

# A later crash is still restarted, by the new broker.
restarted() {
  local s
  s=$(st)
  [ "$(jq -r ".Components.$1.State" <<<"$s")" = running ] &&
    [ "$(jq -r ".Components.$1.PID" <<<"$s")" != "$2" ]
}
disco0=$(st | jq -r .Components.disco.PID)
kill -KILL "$disco0"
lab_wait_for 15 restarted disco "$disco0" || lab_fail "disco (pid $disco0) was not restarted by the new broker"
st | jq -r .Components.disco.LastExit | grep -q "earlier broker" ||
  lab_fail "disco's LastExit: $(st | jq -r .Components.disco.LastExit)"
lab_log "disco killed: restarted by the new broker (pid $(st | jq -r .Components.disco.PID))"
dp0=$(st | jq -r .Components.dataplane.PID)
kill -KILL "$dp0"
lab_wait_for 15 restarted dataplane "$dp0" || lab_fail "the dataplane (pid $dp0) was not restarted"
[ "$(st | jq -r .Self.Dataplane.Port)" = "$port0" ] || lab_fail "the dataplane's port changed"
[ "$(lab_wg_endpoint na)" = "$ep0" ] || lab_fail "WireGuard's endpoint moved from $ep0 to $(lab_wg_endpoint na)"
lab_log "dataplane killed: restarted by the new broker on port $port0, WireGuard endpoint $ep0 (the sockets it took back)"
lab_wait_for 20 lab_tunnel_ping na 5 0.05 2 || lab_fail "no ping through the tunnel after the restarts"
lab_wait_for 20 lab_msock_is_direct na || lab_fail "na's path is $(lab_msock_path na) after the restarts"
lab_log "ping through the tunnel, path direct"
lab_log "PASS"
