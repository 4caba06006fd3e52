#!/usr/bin/env bash
# lab_disco_failover: two nodes behind easy NATs on the direct path; during
# a ping flood UDP between the two routers is blocked, then unblocked.
# Printed: the outage (the longest gap between replies; Tailscale waits for
# its 6.5 s trust to run out, msock's dataplane falls back to DERP once the
# direct path has been silent for 1 s), the pings lost, and how long until
# the path is direct again after the unblock. Checked: traffic survives the
# block over DERP (replies keep coming), and the path is direct again.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root
LAB_NAT_A=easy LAB_NAT_B=easy lab_init
lab_disco_pair_up 20
lab_log "direct on both nodes"
flood=$LAB_DIR/flood.log
lab_bg na "$flood" ping -n -D -c 500 -i 0.02 -W 1 "${LAB_TUN[nb]}"
ping_pid=$LAB_LAST_PID
sleep 2
relayed0=$(lab_derper_packets)
t_block=$(lab_now_ms)
lab_block_udp_between_routers
lab_log "UDP between the routers blocked"
sleep 5
relayed1=$(lab_derper_packets)
lab_log "while blocked: derper relayed $((relayed1 - relayed0)) packets; path na: $(lab_msock_path na)"
[ $((relayed1 - relayed0)) -gt 50 ] || lab_fail "traffic did not move to DERP while UDP was blocked"
lab_faults_clear
t=$(lab_now_ms)
lab_wait_for 30 lab_msock_is_direct na || lab_fail "na: not direct again within 30 s of the unblock"
lab_log "unblocked: na direct again after $(lab_ms_since "$t") ms"
lab_wait_for 30 lab_dead "$ping_pid" || lab_fail "the flood did not end"
wait "$ping_pid" 2>/dev/null || true
read -r got gap_ms _ gap_at < <(lab_flood_gap "$flood")
sent=$(awk '/packets transmitted/ { print $1 }' "$flood")
lab_log "failover: longest gap between replies $gap_ms ms (it began $((gap_at - t_block)) ms after the block); $((sent - got)) of $sent pings lost"
[ "$got" -gt 0 ] || lab_fail "no reply at all"
out=$(lab_tunnel_ping na 10 0.05 2) || lab_fail "ping after the recovery failed: $out"
lab_log "PASS"
