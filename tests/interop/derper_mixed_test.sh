#!/usr/bin/env bash
# derper_mixed: a mixed mesh. Tailscale's derper (t) and msock-derper (d1)
# serve the same certificate for one lab name, derp.lab.test, share one
# -mesh-psk-file and list each other in -mesh-with (Tailscale's as
# derp.lab.test/<msock-derper's IP>, trusting the lab's certificate through
# SSL_CERT_FILE). derpharness hold keeps one Tailscale client (derphttp) on
# each server: a on Tailscale's, b on msock's.
#   1. packets both ways, 1 B to 64 KiB, whole and in order
#   2. msock-derper is killed (SIGKILL): Tailscale's derper tells a that b
#      is gone (PeerGone, disconnected); msock-derper is started again: a's
#      connection never drops; the mesh heals (b reconnects, each server
#      learns the other's client again) and packets flow both ways
#   3. the same with Tailscale's derper killed: msock-derper tells b that a
#      is gone, b's connection never drops
# Printed: the time to the first delivery each way after each restart
# (Tailscale's mesh client redials after 5 s, msock-derper's after 1 s).
set -euo pipefail
. "$(dirname "$0")/derper_lib.sh"
dlab_init
dlab_ns d1
dlab_ns t
host=derp.lab.test
t0=$(lab_now_ms)
dlab_msock d1 $host "$host/${DLAB_IP[t]}:443"
dlab_ts t $host "$host/${DLAB_IP[d1]}"
lab_log "msock-derper and Tailscale's derper ($("$DLAB_IB/derper" -version | head -n 1)) up in $(lab_ms_since "$t0") ms"

# One harness for the whole test, spoken to line by line.
coproc HOLD { dlab_harness hold -ca "$DLAB_CA" -s1 "$(dlab_node t $host)" -s2 "$(dlab_node d1 $host)" \
  2>>"$LAB_DIR/hold.log"; }
# shellcheck disable=SC2153 # HOLD_PID is set by coproc; bash unsets it when the coprocess ends
hold_pid=$HOLD_PID
# Sends CMD to the harness (unless empty) and prints its answer; fails the
# test unless it starts with "ok".
hold() {
  local line t
  t=$(lab_now_ms)
  [ -z "$1" ] || echo "$1" >&"${HOLD[1]}"
  read -r -t 60 line <&"${HOLD[0]}" || lab_fail "derpharness hold: no answer to '$1' within 60 s"
  lab_log "hold ${1:-start} ($(lab_ms_since "$t") ms): $line"
  [[ $line == ok* ]] || lab_fail "derpharness hold: $1: $line"
}
hold ""
hold "xfer 20"

for victim in d1 t; do
  survivor=a
  [ "$victim" = t ] && survivor=b
  hold mark
  t0=$(lab_now_ms)
  dlab_kill $victim
  hold "gone $survivor"
  dlab_restart $victim
  lab_log "$victim killed and started again in $(lab_ms_since "$t0") ms"
  hold "xfer 30"
  hold "alive $survivor"
done
hold quit
wait "$hold_pid" || lab_fail "derpharness hold exited $?"
