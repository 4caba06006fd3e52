#!/usr/bin/env bash
# derper_clients: Tailscale's DERP client (derp/derphttp, through
# derpharness relay) against a region of two meshed msock-derpers (TLS, the
# lab's certificate, verified): ServerInfo first; packets of 1 B to 64 KiB
# both ways on one server and across the mesh, whole and in order;
# Ping/Pong; NotePreferred (the home-connections gauge goes up and down);
# PeerGone(not here) for a disco packet only; PeerGone(disconnected) to a
# client a sender left, on one server and across the mesh; mesh watchers
# (WatchConnectionChanges with the mesh key) on both servers: the initial
# dump (clients, the watcher itself, the other server's link, with their
# flags), then PeerPresent (regular, prober, not-ideal flags, the client's
# address) and PeerGone as clients come and go; ClosePeer closes the named
# client only with the mesh key, and the asker without it.
#
# Then the same checks against two meshed Tailscale derpers: the reference
# that keeps the harness's expectations Tailscale's own.
set -euo pipefail
. "$(dirname "$0")/derper_lib.sh"
dlab_init
for ns in d1 d2 t1 t2; do dlab_ns "$ns"; done

t=$(lab_now_ms)
dlab_msock d1 derp1.lab.test "derp2.lab.test/${DLAB_IP[d2]}:443"
dlab_msock d2 derp2.lab.test "derp1.lab.test/${DLAB_IP[d1]}:443"
lab_wait_for 10 dlab_msock_linked d1 derp2.lab.test || lab_fail "d1: no mesh link to d2 in 10 s"
lab_wait_for 10 dlab_msock_linked d2 derp1.lab.test || lab_fail "d2: no mesh link to d1 in 10 s"
lab_log "two meshed msock-derpers up in $(lab_ms_since "$t") ms"
# relay_checks NS1 NS2 KIND WHAT: every derpharness relay check against the
# region of servers NS1 (derp1.lab.test) and NS2 (derp2.lab.test); KIND is
# dlab_metrics_cmd's (msock or ts).
relay_checks() {
  local t
  t=$(lab_now_ms)
  dlab_harness relay -ca "$DLAB_CA" -mesh-key "$DLAB_MESH" \
    -s1 "$(dlab_node "$1" derp1.lab.test)" -s2 "$(dlab_node "$2" derp2.lab.test)" \
    -metrics1 "$(dlab_metrics_cmd "$1" derp1.lab.test "$3")" ||
    lab_fail "derpharness relay against $4 failed"
  lab_log "$4: every check passed in $(lab_ms_since "$t") ms"
}

relay_checks d1 d2 msock msock-derper

t=$(lab_now_ms)
dlab_ts t1 derp1.lab.test "derp2.lab.test/${DLAB_IP[t2]}"
dlab_ts t2 derp2.lab.test "derp1.lab.test/${DLAB_IP[t1]}"
lab_log "reference: two meshed Tailscale derpers up in $(lab_ms_since "$t") ms"
relay_checks t1 t2 ts "Tailscale's derper (the reference; a failure here: the harness expects what Tailscale does not)"
