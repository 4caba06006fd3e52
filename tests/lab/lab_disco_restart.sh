#!/usr/bin/env bash
# lab_disco_restart: two nodes behind easy NATs on the direct path disco
# found; disco on na is killed with SIGKILL during a ping flood. The
# dataplane keeps forwarding from its own table (no bus round trip on the
# packet path), so no ping is lost; the broker restarts disco, which adopts
# the path it had published (the broker's cache) and keeps it confirmed.
# Printed: pings lost, the time until disco runs again, the path after.
# Then `msockctl rotate-disco-key`: the new key is published, the peer is
# told (its config) and disco works with the new key.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root
LAB_NAT_A=easy LAB_NAT_B=easy lab_init
lab_disco_pair_up 20
lab_log "direct on both nodes"
st() { lab_msockctl na status --json; }
pid0=$(st | jq -r .Components.disco.PID)
flood=$LAB_DIR/flood.log
lab_bg na "$flood" ping -n -c 300 -i 0.02 -W 1 "${LAB_TUN[nb]}"
ping_pid=$LAB_LAST_PID
sleep 1
relayed0=$(lab_derper_packets)
t=$(lab_now_ms)
kill -KILL "$pid0"
back() { [ "$(st | jq -r .Components.disco.State)" = running ] &&
  [ "$(st | jq -r .Components.disco.PID)" != "$pid0" ]; }
lab_wait_for 15 back || lab_fail "disco did not come back within 15 s"
lab_log "disco killed (pid $pid0) and running again after $(lab_ms_since "$t") ms"
lab_flood_end "$ping_pid" "$flood"
sent=$LAB_FLOOD_SENT got=$LAB_FLOOD_GOT
lab_log "ping flood across the kill: $got of $sent replies ($((sent - got)) lost); derper relayed $(($(lab_derper_packets) - relayed0)) packets meanwhile"
[ "$got" = "$sent" ] || lab_fail "$((sent - got)) pings lost while disco restarted"
lab_msock_is_direct na || lab_fail "na's path is $(lab_msock_path na) after the restart"
grep -q "path derp" <(sed -n "/started disco (pid $(st | jq -r .Components.disco.PID)/,\$p" "$LAB_DIR/na/broker.log") &&
  lab_fail "the restarted disco downgraded the path to DERP"
# Still direct after the first trust period: heartbeats confirm it.
sleep 7
out=$(lab_tunnel_ping na 10 0.05 2) || lab_fail "ping after the restart failed: $out"
lab_msock_is_direct na || lab_fail "na's path is $(lab_msock_path na) 7 s after the restart"
lab_log "7 s later: still direct, rtt avg $(lab_ping_avg <<<"$out") ms"

# msockctl rotate-disco-key: a new key, published; nb is told (its config,
# reloaded) and disco finds the path with the new key.
old=$(st | jq -r .Self.DiscoKey)
new=$(lab_msockctl na rotate-disco-key) || lab_fail "rotate-disco-key failed: $new"
{ [ "$new" != "$old" ] && [[ $new == discokey:* ]]; } || lab_fail "rotate-disco-key printed '$new' (old $old)"
published() { [ "$(st | jq -r .Self.DiscoKey)" = "$new" ]; }
lab_wait_for 10 published || lab_fail "the new disco key was not published"
lab_msock_config nb "$LAB_PORT" "$LAB_WG_PORT" na "$(lab_node_key na)" "" "$new"
# --wait: nb's disco has the new key when it returns, so the time below is
# the path's, not the reload's.
lab_msockctl nb reload --wait >/dev/null || lab_fail "nb: reload --wait failed"
t=$(lab_now_ms)
out=$(lab_msockctl na ping -c 15 nb) || lab_fail "no direct pong after the key rotation: $out"
lab_log "disco key rotated ($old -> $new); nb told by a reload; direct pong after $(lab_ms_since "$t") ms"
lab_log "PASS"
