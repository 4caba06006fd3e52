#!/usr/bin/env bash
# lab_disco_hard_restart: na behind an easy NAT, nb behind a hard one; the
# path is direct by birthday punching, nb's WireGuard leaving from one of
# its dataplane's probe sockets. nb's dataplane is killed with SIGKILL
# during a ping flood. Probe sockets are the dataplane's own (not the
# broker's, docs/dataplane.md), so the restarted dataplane has new ones on
# new ports and the punched path is gone: the silence detector sends over
# DERP too within ~1 s, disco sees the dataplane's new start time, drops
# the path at once and punches again without its 3 s wait.
# Printed: the longest gap and the pings lost, and the time until the path
# is direct again (from a probe socket). Expected: the flood loses no more
# than a few seconds' worth, and the path is direct again.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root
export LAB_COTURN=1
LAB_NAT_A=easy LAB_NAT_B=hard lab_init
lab_disco_pair_up 20
sock=$(lab_msock_peer_field nb LocalSocket)
[ "${sock:-0}" != 0 ] || lab_fail "nb's path does not leave from a probe socket (LocalSocket '$sock')"
lab_log "direct: nb -> $(lab_msock_peer_field nb DirectAddr) from probe socket $sock," \
  "port $(lab_msock_peer_field nb LocalPort); na -> $(lab_msock_peer_field na DirectAddr)"

# A path in use for a while (the peer takes a ProbeMe at most every 5 s:
# right after a punch, a second one waits for that).
sleep 4
st() { lab_msockctl nb status --json; }
pid0=$(st | jq -r .Components.dataplane.PID)
port0=$(lab_msock_peer_field nb LocalPort)
flood=$LAB_DIR/flood.log
lab_bg na "$flood" ping -n -D -c 500 -i 0.02 -W 1 "${LAB_TUN[nb]}"
ping_pid=$LAB_LAST_PID
sleep 1
t=$(lab_now_ms)
kill -KILL "$pid0"
lab_log "nb's dataplane (pid $pid0) killed"
punched() {
  local port
  port=$(lab_msock_peer_field nb LocalPort)
  [ "$(st | jq -r .Components.dataplane.PID)" != "$pid0" ] && lab_msock_is_direct nb &&
    lab_msock_is_direct na && [ "$(lab_msock_peer_field nb LocalSocket)" != 0 ] &&
    [ "$port" != "$port0" ] && [ "$port" != 0 ]
}
lab_wait_for 20 punched || lab_fail "not direct through a probe socket again within 20 s" \
  "(na $(lab_msock_path na), nb $(lab_msock_path nb))"
lab_log "direct again $(lab_ms_since "$t") ms after the kill: nb -> $(lab_msock_peer_field nb DirectAddr)" \
  "from probe socket $(lab_msock_peer_field nb LocalSocket), port $(lab_msock_peer_field nb LocalPort)"
lab_wait_for 20 lab_dead "$ping_pid" || lab_fail "the flood did not end"
read -r _ gap _ _ < <(lab_flood_gap "$flood")
sent=$(awk '/packets transmitted/ { print $1 }' "$flood")
got=$(awk '/packets transmitted/ { print $4 }' "$flood")
lab_log "ping flood across the kill: longest gap $gap ms, $got of $sent replies ($((sent - got)) lost)"
{ [ "$got" -gt 0 ] && [ "$gap" -lt 5000 ]; } || lab_fail "the tunnel stopped for $gap ms"
grep -hE "dataplane restarted|hard NAT:|probing" "$LAB_DIR/na/broker.log" "$LAB_DIR/nb/broker.log" |
  sort | tail -4 | sed 's/^/    /'
out=$(lab_tunnel_ping na 10 0.05 2) || lab_fail "ping after the restart failed: $out"
lab_log "rtt avg $(lab_ping_avg <<<"$out") ms on the new path"
lab_log "PASS"
