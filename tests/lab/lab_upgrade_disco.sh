#!/usr/bin/env bash
# lab_upgrade_disco: upgrading one component without touching the others
# (docs/deploy.md). Two nodes behind easy NATs on the direct path, run from
# a copy of the programs; during a ping flood, na's msock-disco is replaced
# by a new build (installed as a package manager does: a new file renamed
# over the old one) and only disco is restarted (`msockctl restart disco`).
# Checked: no ping lost, the new disco runs the new file, every other
# component keeps its pid, the path stays direct. Printed: pings lost, how
# long disco took to come back.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root
LAB_NAT_A=easy LAB_NAT_B=easy lab_init
mkdir -p "$LAB_DIR/bin"
cp -a "$LAB_BIN"/msock-* "$LAB_BIN"/msockctl "$LAB_DIR/bin/"
LAB_BIN=$LAB_DIR/bin
lab_disco_pair_up 20
lab_log "direct on both nodes, running from $LAB_BIN"
st() { lab_msockctl na status --json; }
others() { st | jq -c '[.Components | to_entries[] | select(.key != "disco") | [.key, .value.PID]] | sort'; }
others0=$(others)
disco0=$(st | jq -r .Components.disco.PID)

# The "new version": the same program with bytes appended (an ELF file runs
# the same with a tail), so that its digest differs from the running one.
new=$LAB_BIN/.msock-disco.new
cp "$LAB_BIN/msock-disco" "$new"
printf 'msock upgrade test %s\n' "$(lab_now_ms)" >>"$new"
sum_new=$(sha256sum "$new" | cut -d' ' -f1)
sum_old=$(sha256sum "$LAB_BIN/msock-disco" | cut -d' ' -f1)
[ "$sum_new" != "$sum_old" ] || lab_fail "the new build is the old one"

flood=$LAB_DIR/flood.log
lab_bg na "$flood" ping -n -c 300 -i 0.02 -W 1 "${LAB_TUN[nb]}"
ping_pid=$LAB_LAST_PID
sleep 1
mv -f "$new" "$LAB_BIN/msock-disco"
t=$(lab_now_ms)
lab_msockctl na restart disco >/dev/null
back() {
  local s
  s=$(st)
  [ "$(jq -r .Components.disco.State <<<"$s")" = running ] &&
    [ "$(jq -r .Components.disco.PID <<<"$s")" != "$disco0" ]
}
lab_wait_for 15 back || lab_fail "disco did not come back after the upgrade"
disco1=$(st | jq -r .Components.disco.PID)
lab_log "msock-disco replaced and restarted: running again after $(lab_ms_since "$t") ms (pid $disco0 -> $disco1)"
sum_run=$(sha256sum "/proc/$disco1/exe" | cut -d' ' -f1)
[ "$sum_run" = "$sum_new" ] || lab_fail "pid $disco1 runs $sum_run, not the new build $sum_new"
[ "$(others)" = "$others0" ] || lab_fail "other components changed: $(others), was $others0"
lab_log "the new disco runs the new file (sha256 ${sum_new:0:16}...); the other components kept their pids: $others0"

lab_flood_end "$ping_pid" "$flood"
sent=$LAB_FLOOD_SENT got=$LAB_FLOOD_GOT
lab_log "ping flood across the upgrade: $got of $sent replies ($((sent - got)) lost)"
[ "$got" = "$sent" ] || lab_fail "$((sent - got)) pings lost during the upgrade"
lab_msock_is_direct na || lab_fail "na's path is $(lab_msock_path na) after the upgrade"
out=$(lab_tunnel_ping na 10 0.05 2) || lab_fail "ping after the upgrade failed: $out"
lab_log "after the upgrade: still direct, rtt avg $(lab_ping_avg <<<"$out") ms"
lab_log "PASS"
