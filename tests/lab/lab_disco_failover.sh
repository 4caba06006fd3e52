#!/usr/bin/env bash
# lab_disco_failover: two nodes behind easy NATs on the direct path; during
# a ping flood UDP between the two routers is blocked, then unblocked.
# Printed: the outage (the longest gap between replies; Tailscale waits for
# its 6.5 s trust to run out, msock's dataplane falls back to DERP once the
# direct path has been silent for 1 s), the pings lost, and how long until
# the path is direct again after the unblock. Checked: traffic survives the
# block over DERP (replies keep coming), and the path is direct again.
# Then the debug page of na (msock-debug runs beside the others), through
# `msockctl debug page --serve`, in headless Chromium: the DOM it dumps
# has the peer's lanes and its path marks in order, direct -> failover ->
# direct (debug_dom_check.py), and a screenshot is saved in
# <build>/test-output/lab_disco_failover/ (its path is printed).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root
command -v chromium >/dev/null || lab_skip "no chromium (scripts/deps.sh installs it)"
LAB_DISCO_COMPONENTS='["dataplane","derp","netcheck","disco","debug"]'
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

# The debug page, as a person would open it: msockctl forwards a loopback
# port in na to the unix socket, Chromium (in na's namespace) loads it.
sleep 2 # the dataplane's counters of the recovery (published every 2 s)
outdir=$(dirname "$LAB_BIN")/test-output/lab_disco_failover
mkdir -p "$outdir"
lab_bg na "$LAB_DIR/debug-page.log" "$LAB_BIN/msockctl" --config "$LAB_DIR/na/msock.json" \
  debug page --serve 0
page_url() { grep -m1 -o 'http://127.0.0.1:[0-9]*/debug/magicsock' "$LAB_DIR/debug-page.log"; }
lab_wait_for 10 page_url >/dev/null || lab_fail "msockctl debug page --serve printed no URL"
url=$(page_url)
lab_log "debug page at $url (in na)"
chrome=(chromium --headless --no-sandbox --disable-gpu --disable-background-networking
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$LAB_DIR/chromium")
lab_exec na timeout 60 "${chrome[@]}" --dump-dom "$url" >"$outdir/debug-magicsock.dom.html" \
  2>"$LAB_DIR/chromium-dom.log" || lab_fail "chromium --dump-dom failed: $(tail -3 "$LAB_DIR/chromium-dom.log")"
python3 "$(dirname "$0")/debug_dom_check.py" "$outdir/debug-magicsock.dom.html" ||
  lab_fail "the debug page's DOM is not as expected ($outdir/debug-magicsock.dom.html)"
lab_exec na timeout 60 "${chrome[@]}" --hide-scrollbars --window-size=1280,2400 \
  --screenshot="$outdir/debug-magicsock.png" "$url" >"$LAB_DIR/chromium-shot.log" 2>&1 ||
  lab_fail "chromium --screenshot failed: $(tail -3 "$LAB_DIR/chromium-shot.log")"
[ -s "$outdir/debug-magicsock.png" ] || lab_fail "no screenshot"
lab_log "screenshot: $outdir/debug-magicsock.png"
lab_log "PASS"
