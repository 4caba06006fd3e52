#!/usr/bin/env bash
# tailscaled_pair: a real tailscaled (tailscale.com v1.102.5: its magicsock,
# its wireguard-go, kernel TUN in na's namespace) and a msock node (dataplane,
# derp, netcheck, disco; Debian's unmodified wireguard-go) in nb, peers
# through tscontrol (Tailscale's testcontrol, the lab's DERP map), behind
# easy NATs, on the lab's msock-derper. tscontrol gives nb the address
# 100.64.0.101 and writes tailscaled's node key, disco key, endpoints and
# home DERP into nb's msock config; it pushes nb's endpoints to tailscaled.
#
# 1. UDP blocked between the routers: WireGuard handshake and ping over
#    DERP, started by tailscaled (na pings first) and then by msock (nb's
#    WireGuard forgets the session and pings first; its log shows it sent
#    the handshake initiation). Both sides say DERP.
# 2. UDP unblocked: direct both ways. `tailscale ping` prints "via
#    198.18.2.1:41641" (nb's router), `msockctl ping` a pong via
#    198.18.1.1:41641, `tailscale status --json` the peer's CurAddr.
# 3. Failover: UDP blocked during ping floods from both sides; traffic goes
#    on over DERP (replies keep coming; the derper relays) and returns to
#    direct when unblocked.
# 4. msock's disco, then its dataplane, killed (SIGKILL) during floods: the
#    broker restarts each; tailscaled keeps its direct path (CurAddr
#    unchanged) and the floods go on.
# Printed: each step's time, each flood's longest gap and pings lost.
set -euo pipefail
src=${MSOCK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../lab/lib.sh
. "$src/tests/lab/lib.sh"
lab_skip_unless_root
lab_interop_bin tscontrol tailscaled tailscale
lab_init
lab_block_udp_between_routers

MS=100.64.0.101 # nb's address (node ID 101)
lab_tscontrol_start "$(lab_tscontrol_spec nb msock-nb 101)"
lab_ts_up na ts-na
TS=${LAB_TS_ADDR[na]}
lab_log "tailscaled ($("$LAB_IB/tailscaled" --version | head -n 1)) up on na as $TS:" \
  "reported to tscontrol in $LAB_TS_UP_MS ms ($(jq -c .endpoints "$(lab_ts_file ts-na)"))"
t=$(lab_now_ms)
lab_msock_ts_up nb ts-na 101
lab_log "msock up on nb as $MS in $(lab_ms_since "$t") ms (endpoints told to tscontrol)"
wgb=$(lab_wg_iface nb)
wglog=$LAB_DIR/wg-$wgb.log

# Prints how many lines of nb's WireGuard log after line MARK match RE.
wg_lines() {
  tail -n +"$(($1 + 1))" "$wglog" | grep -c "$2" || true
}

# Pings DST from NODE until one reply (20 s at most); prints the ms.
first_ping() {
  local t
  t=$(lab_now_ms)
  lab_wait_for 20 lab_exec "$1" ping -n -c 1 -W 1 "$2" ||
    lab_fail "no ping reply $1 -> $2 within 20 s"
  lab_ms_since "$t"
}

# 1a. tailscaled starts: na pings nb over DERP.
mark=$(wc -l <"$wglog")
ms=$(first_ping na "$MS")
[ "$(wg_lines "$mark" 'Received handshake initiation')" -gt 0 ] ||
  lab_fail "nb's WireGuard got no handshake initiation from tailscaled"
lab_log "over DERP, tailscaled starting: handshake + first ping reply na -> nb in $ms ms"
# 1b. msock starts: nb's WireGuard forgets the peer (and its session) and
# pings first.
lab_exec nb wg set "$wgb" peer "$(jq -r .wg_key "$(lab_ts_file ts-na)")" remove
lab_wg_peer nb "$wgb" "$(jq -r .wg_key "$(lab_ts_file ts-na)")" "$TS/32"
lab_msockctl nb wg-config --apply "$wgb" >/dev/null
mark=$(wc -l <"$wglog")
ms=$(first_ping nb "$TS")
[ "$(wg_lines "$mark" 'Sending handshake initiation')" -gt 0 ] ||
  lab_fail "nb's WireGuard did not start the handshake"
lab_log "over DERP, msock starting: handshake + first ping reply nb -> na in $ms ms"
out=$(lab_exec na ping -n -q -c 10 -i 0.1 -W 2 "$MS") || lab_fail "ping na -> nb over DERP: $out"
lab_log "ping -c 10 na -> nb over DERP: rtt avg $(lab_ping_avg <<<"$out") ms"
[ "$(lab_msock_path nb)" = derp ] || lab_fail "nb's path is '$(lab_msock_path nb)', not derp"
[ "$(lab_ts_peer_path na "$MS")" = derp:lab ] ||
  lab_fail "tailscaled's path to nb is '$(lab_ts_peer_path na "$MS")', not derp:lab"
lab_log "both on DERP: nb $(lab_msock_path nb), tailscaled $(lab_ts_peer_path na "$MS")"

# 2. Direct both ways once UDP is let through.
lab_faults_clear
t=$(lab_now_ms)
lab_bg na "$LAB_DIR/warm.log" ping -n -q -c 400 -i 0.05 "$MS"
warm=$LAB_LAST_PID
lab_wait_for 20 lab_msock_is_direct nb || lab_fail "nb: not direct within 20 s (path $(lab_msock_path nb))"
ms_nb=$(lab_ms_since "$t")
lab_wait_for 20 lab_ts_is_direct na "$MS" ||
  lab_fail "tailscaled: not direct within 20 s ($(lab_ts_peer_path na "$MS"))"
lab_log "unblocked: direct on nb (msock) after $ms_nb ms, on na (tailscaled) after $(lab_ms_since "$t") ms"
lab_stop_pid "$warm"
out=$(lab_tailscale na ping -c 5 "$MS" 2>&1) || lab_fail "tailscale ping $MS failed: $out"
grep -q "pong from msock-nb ($MS) via ${LAB_IP[rb]}:$LAB_PORT in" <<<"$out" ||
  lab_fail "tailscale ping did not say via ${LAB_IP[rb]}:$LAB_PORT: $out"
lab_log "tailscale ping: $(grep -m 1 'pong from' <<<"$out")"
out=$(lab_msockctl nb ping ts-na 2>&1) || lab_fail "msockctl ping ts-na failed: $out"
grep -q "via ${LAB_IP[ra]}:$LAB_PORT in" <<<"$out" ||
  lab_fail "msockctl ping did not get a direct pong via ${LAB_IP[ra]}:$LAB_PORT: $out"
lab_log "msockctl ping: $out"
cur=$(lab_ts_peer_path na "$MS")
[ "$cur" = "${LAB_IP[rb]}:$LAB_PORT" ] || lab_fail "tailscaled's CurAddr is '$cur'"
lab_log "tailscale status --json: CurAddr $cur"

# True when NODE's msock does not send to its peer directly only.
lab_msock_not_direct() {
  ! lab_msock_is_direct "$1"
}

# Starts ping floods both ways: COUNT pings 20 ms apart; logs flood-na/nb.log.
flood_pids=()
floods() {
  flood_pids=()
  lab_bg na "$LAB_DIR/flood-na-$2.log" ping -n -D -c "$1" -i 0.02 -W 1 "$MS"
  flood_pids+=("$LAB_LAST_PID")
  lab_bg nb "$LAB_DIR/flood-nb-$2.log" ping -n -D -c "$1" -i 0.02 -W 1 "$TS"
  flood_pids+=("$LAB_LAST_PID")
}

# Waits for the floods to end; prints each side's replies, longest gap and
# loss; fails if a side got no reply after T_MS.
floods_end() {
  local p n got gap last
  for p in "${flood_pids[@]}"; do
    lab_wait_for 60 lab_dead "$p" || lab_fail "a ping flood did not end"
    wait "$p" 2>/dev/null || true
  done
  for n in na nb; do
    read -r got gap last _ < <(lab_flood_gap "$LAB_DIR/flood-$n-$1.log")
    lab_log "  flood from $n ($( [ $n = na ] && echo tailscaled || echo msock)): longest gap" \
      "$gap ms, $(($2 - got)) of $2 pings lost"
    [ "$last" -gt "$3" ] || lab_fail "the flood from $n got no reply after the fault"
  done
}

# 3. Failover to DERP and back.
floods 900 failover
sleep 2
relayed0=$(lab_derper_packets)
t_block=$(lab_now_ms)
lab_block_udp_between_routers
lab_wait_for 15 lab_msock_not_direct nb ||
  lab_fail "nb stayed direct while UDP was blocked"
lab_log "UDP blocked: nb's path $(lab_msock_path nb) after $(lab_ms_since "$t_block") ms"
sleep 6
relayed=$(($(lab_derper_packets) - relayed0))
lab_log "while blocked: the derper relayed $relayed packets; tailscaled $(lab_ts_peer_path na "$MS")"
[ "$relayed" -gt 100 ] || lab_fail "traffic did not move to DERP while UDP was blocked"
lab_faults_clear
t=$(lab_now_ms)
lab_wait_for 30 lab_msock_is_direct nb || lab_fail "nb: not direct again within 30 s"
ms_nb=$(lab_ms_since "$t")
lab_wait_for 30 lab_ts_is_direct na "$MS" || lab_fail "tailscaled: not direct again within 30 s"
lab_log "unblocked: direct again on nb after $ms_nb ms, on na after $(lab_ms_since "$t") ms"
floods_end failover 900 "$t_block"

# 4. msock's disco, then its dataplane, killed during floods.
cur=$(lab_ts_peer_path na "$MS")
floods 600 restart
sleep 2
t_kill=$(lab_now_ms)
for comp in disco dataplane; do
  pid=$(lab_msockctl nb status --json | jq -r ".Components.$comp.PID")
  kill -KILL "$pid"
  t=$(lab_now_ms)
  comp_back() {
    local s
    s=$(lab_msockctl nb status --json)
    [ "$(jq -r ".Components.$comp.State" <<<"$s")" = running ] &&
      [ "$(jq -r ".Components.$comp.PID" <<<"$s")" != "$pid" ]
  }
  lab_wait_for 15 comp_back || lab_fail "nb's $comp did not come back within 15 s"
  lab_log "kill -9 of nb's $comp (pid $pid): running again after $(lab_ms_since "$t") ms;" \
    "tailscaled's path $(lab_ts_peer_path na "$MS")"
  sleep 2
done
floods_end restart 600 "$t_kill"
lab_wait_for 20 lab_msock_is_direct nb || lab_fail "nb: not direct after the restarts"
[ "$(lab_ts_peer_path na "$MS")" = "$cur" ] ||
  lab_fail "tailscaled's CurAddr moved from $cur to $(lab_ts_peer_path na "$MS")"
lab_log "after the restarts: tailscaled's CurAddr still $cur; nb $(lab_msock_path nb)"
lab_log "PASS"
