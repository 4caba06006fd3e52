#!/usr/bin/env bash
# lab_dataplane_restart: during a ping flood through WireGuard over msock's
# direct path (1:1 NAT, static endpoints), the dataplane of node na is
# killed with SIGKILL. The broker restarts it with the sockets it kept, so
# it comes back on the same UDP port with the same loopback endpoint, and
# traffic resumes without touching WireGuard. Printed: the outage (the
# longest gap between replies) and the pings lost. Checked: a new dataplane
# process, the same port and endpoint, replies after the restart, and the
# path again the static endpoint (Path "static": the peer has no disco key).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root
LAB_NAT_A=one2one LAB_NAT_B=one2one lab_init

lab_node_up na "${LAB_IP[rb]}:$LAB_PORT"
lab_node_up nb "${LAB_IP[ra]}:$LAB_PORT"
lab_wait_for 15 lab_tunnel_ping na 1 0.2 1 ||
  lab_fail "no ping reply through WireGuard over the direct path within 15 s"

st=$(lab_msockctl na status --json)
pid0=$(jq -r .Components.dataplane.PID <<<"$st")
port0=$(jq -r .Self.Dataplane.Port <<<"$st")
ep0=$(lab_wg_endpoint na)
restarts0=$(jq -r .Components.dataplane.Restarts <<<"$st")
lab_log "na's dataplane: pid $pid0, UDP port $port0; WireGuard's endpoint for nb: $ep0"

# 800 pings 10 ms apart (~8 s), timestamps on; the kill comes after ~2 s.
interval=0.01
flood=$LAB_DIR/flood.log
lab_bg na "$flood" ping -n -D -c 800 -i "$interval" -W 1 "${LAB_TUN[nb]}"
ping_pid=$LAB_LAST_PID
sleep 2
t=$(lab_now_ms)
kill -KILL "$pid0"
lab_log "kill -9 $pid0 (na's dataplane) during the flood"
dp_back() {
  local s
  s=$(lab_msockctl na status --json)
  [ "$(jq -r .Components.dataplane.State <<<"$s")" = running ] &&
    [ "$(jq -r .Components.dataplane.PID <<<"$s")" != "$pid0" ] &&
    [ "$(jq -r .Self.Dataplane.Port <<<"$s")" = "$port0" ]
}
lab_wait_for 15 dp_back || lab_fail "na's dataplane did not come back on port $port0 within 15 s" \
  "($(lab_msockctl na status --json | jq -c '.Components.dataplane'))"
lab_log "dataplane running again after $(lab_ms_since "$t") ms (broker's backoff included)"
lab_wait_for 20 lab_dead "$ping_pid" || lab_fail "the ping flood did not end within 20 s"
wait "$ping_pid" 2>/dev/null || true

# Outage: the longest time between two consecutive replies (ping -D stamps).
read -r got outage_ms last_ms _ < <(lab_flood_gap "$flood")
lost=$((800 - got))
lab_log "outage: ${outage_ms} ms without replies; $lost of 800 pings lost (interval ${interval}s)"

st=$(lab_msockctl na status --json)
pid1=$(jq -r .Components.dataplane.PID <<<"$st")
ep1=$(lab_wg_endpoint na)
[ "$pid1" != "$pid0" ] || lab_fail "the dataplane's pid did not change"
[ "$(jq -r .Components.dataplane.Restarts <<<"$st")" -gt "$restarts0" ] ||
  lab_fail "the broker counted no restart of the dataplane"
jq -r .Components.dataplane.LastExit <<<"$st" | grep -q "signal 9" ||
  lab_fail "LastExit is '$(jq -r .Components.dataplane.LastExit <<<"$st")', not killed by signal 9"
[ "$(jq -r .Self.Dataplane.Port <<<"$st")" = "$port0" ] || lab_fail "the UDP port changed"
[ "$ep1" = "$ep0" ] || lab_fail "WireGuard's endpoint moved from $ep0 to $ep1"
{ [ "$got" -gt 0 ] && [ "$last_ms" -gt "$t" ]; } ||
  lab_fail "the flood got no reply after the kill: $(tail -n 3 "$flood")"
out=$(lab_tunnel_ping na 10 0.05 2) || lab_fail "ping after the restart failed: $out"
lab_log "after the restart: pid $pid1, port $port0, endpoint $ep1 unchanged;" \
  "ping -c 10 rtt avg $(lab_ping_avg <<<"$out") ms; path $(lab_msock_path na)"
# The peer has no disco key: its path is the static endpoint ("static").
[ "$(lab_msock_path na)" = static ] || lab_fail "na's path is '$(lab_msock_path na)', not static"
lab_log "PASS"
