#!/usr/bin/env bash
# lab_capture: msockctl capture during a known exchange (docs/capture.md).
# Both nodes behind an easy NAT, as lab_disco_easy. On na two captures run
# at once: every packet to a pcapng file, and --peer nb to another; then,
# with both running, msockctl netcheck (STUN to the derper), msockctl ping
# nb (disco over DERP, then direct) and pings through WireGuard (its first
# handshake, then data). The second capture is killed (SIGKILL) midway,
# the first ended with SIGINT. tshark reads the files. Checked: the STUN
# binding request to the derper's :3478 and its response; WireGuard's
# handshake initiation and response and transport data, direct to nb's
# router and over DERP (127.3.3.40:900); disco (the TS💬 magic) both ways
# and over both paths; each packet's path comment; the --peer file holds
# nb's packets only and no STUN; the killed client is dropped by the broker
# while the other goes on; after the last, the dataplane closes the channel
# and its record counter stands still.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root
command -v tshark >/dev/null || lab_fail "no tshark (scripts/deps.sh installs it)"
LAB_NAT_A=easy LAB_NAT_B=easy lab_init
export LAB_DISCO=1 LAB_COMPONENTS='["dataplane","derp","netcheck","disco"]'

lab_node_up na
lab_node_up nb
for n in na nb; do
  lab_wait_for 10 lab_msock_derp_up $n || lab_fail "$n: DERP not up"
done

all=$LAB_DIR/all.pcapng
only=$LAB_DIR/nb.pcapng
capture_state() {
  lab_msockctl na status --json | jq -r '"\(.Self.Dataplane.CaptureOpen) \(.Capture.Clients | length)"'
}
state_is() { [ "$(capture_state)" = "$1" ]; }

lab_bg na "$LAB_DIR/cap-all.err" "$LAB_BIN/msockctl" --socket "$LAB_DIR/na/run/control.sock" \
  capture -o "$all"
pid_all=$LAB_LAST_PID
lab_bg na "$LAB_DIR/cap-nb.err" "$LAB_BIN/msockctl" --socket "$LAB_DIR/na/run/control.sock" \
  capture --peer nb -o "$only"
pid_nb=$LAB_LAST_PID
lab_wait_for 10 state_is "true 2" || lab_fail "two captures not running: $(capture_state)"
lab_log "two captures run on na (every packet; --peer nb)"

out=$(lab_msockctl na netcheck) || lab_fail "msockctl netcheck failed: $out"
out=$(lab_msockctl na ping nb) || lab_fail "msockctl ping nb did not reach a direct path: $out"
lab_log "msockctl ping nb: $(tail -n 1 <<<"$out")"
lab_wait_for 15 lab_tunnel_ping na 1 0.2 1 || lab_fail "no ping reply through WireGuard within 15 s"
out=$(lab_tunnel_ping na 10 0.05 2) || lab_fail "ping through WireGuard lost packets: $out"

kill -KILL "$pid_nb"
lab_wait_for 10 state_is "true 1" || lab_fail "the killed client is still counted: $(capture_state)"
lab_log "the killed capture was dropped; the other runs on: $(capture_state)"
out=$(lab_tunnel_ping na 5 0.05 2) || lab_fail "ping through WireGuard lost packets: $out"
kill -INT "$pid_all"
lab_wait_for 10 lab_dead "$pid_all" || lab_fail "msockctl capture did not end on SIGINT"
wait "$pid_all" || lab_fail "msockctl capture exited $? on SIGINT: $(cat "$LAB_DIR/cap-all.err")"
lab_wait_for 10 state_is "false 0" || lab_fail "capture still open after the last client: $(capture_state)"
lab_log "$(tail -n 1 "$LAB_DIR/cap-all.err")"

# Off: the dataplane's record counter stands still (published every 2 s).
records() { lab_msockctl na status --json | jq -r '.Self.Dataplane.Counters.CaptureRecords'; }
r0=$(records)
lab_tunnel_ping na 5 0.05 2 >/dev/null || lab_fail "ping through WireGuard lost packets"
sleep 2.5
[ "$(records)" = "$r0" ] || lab_fail "records built after the capture ended: $r0 -> $(records)"
lab_log "capture off: CaptureRecords stays at $r0"

ts() {
  tshark -o udp.try_heuristic_first:TRUE -r "$1" -T fields -E separator=, "${@:3}" -Y "$2" 2>/dev/null
}
count() { ts "$@" -e frame.number | wc -l; }
derp=${LAB_IP[derp]}
rb=${LAB_IP[rb]}:$LAB_PORT
magic=54:53:f0:9f:92:ac

n=$(count "$all" "stun.type == 0x0001 && ip.dst == $derp && udp.dstport == 3478")
[ "$n" -ge 1 ] || lab_fail "no STUN binding request to $derp:3478"
n=$(count "$all" "stun.type == 0x0101 && ip.src == $derp && udp.srcport == 3478")
[ "$n" -ge 1 ] || lab_fail "no STUN binding response from $derp:3478"
lab_log "STUN: binding requests to and responses from $derp:3478"

for t in 1 2; do
  n=$(count "$all" "wg.type == $t")
  [ "$n" -ge 1 ] || lab_fail "no WireGuard message of type $t (handshake) in the capture"
done
n=$(count "$all" "wg.type == 4 && ip.dst == ${LAB_IP[rb]} && udp.dstport == $LAB_PORT")
[ "$n" -ge 10 ] || lab_fail "only $n WireGuard transport packets sent direct to $rb"
n=$(count "$all" "wg.type == 4 && ip.src == ${LAB_IP[rb]} && udp.srcport == $LAB_PORT")
[ "$n" -ge 10 ] || lab_fail "only $n WireGuard transport packets from $rb"
lab_log "WireGuard: handshake initiation and response, data both ways direct to $rb"

for f in "ip.dst == 127.3.3.40 && udp.dstport == 900" "ip.src == 127.3.3.40 && udp.srcport == 900" \
  "ip.dst == ${LAB_IP[rb]}" "ip.src == ${LAB_IP[rb]}"; do
  n=$(count "$all" "udp contains $magic && $f")
  [ "$n" -ge 1 ] || lab_fail "no disco packet with $f"
done
lab_log "disco: both ways over DERP (127.3.3.40:900) and direct"

n=$(count "$all" "frame.comment contains \"DERP region 900 (127.3.3.40:900) disco peer nb\"")
[ "$n" -ge 1 ] || lab_fail "no disco packet commented as DERP region 900 for nb"
n=$(count "$all" "frame.comment contains \"direct $rb wireguard peer nb\"")
[ "$n" -ge 10 ] || lab_fail "WireGuard's direct packets lack their path comment"
lab_log "comments: e.g. '$(ts "$all" "udp contains $magic" -e frame.comment | head -n 1)'"

total=$(count "$all" "frame")
mine=$(count "$only" "frame")
others=$(count "$only" "!(frame.comment contains \"peer nb\")")
stun=$(count "$only" "stun")
{ [ "$mine" -ge 10 ] && [ "$others" = 0 ] && [ "$stun" = 0 ]; } ||
  lab_fail "--peer nb: $mine packets, $others not nb's, $stun STUN"
lab_log "files: every packet $total, --peer nb $mine (killed midway; nb's only, no STUN)"
lab_log "PASS"
