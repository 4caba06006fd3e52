#!/usr/bin/env bash
# derper_load: bad input from real Tailscale clients (derp/derphttp) does not
# starve the other clients of an msock-derper (TLS, the lab's certificate).
# For each load, derpharness measures a second pair on the same server
# (p -> q, 1200-byte packets, 100 a second, over the whole load) and fails
# unless every packet of it arrives and neither of its connections drops:
#   flood   a client sends 64 KiB packets to another as fast as derphttp
#           writes (3 s); the receiver reads
#   noread  a client connects and never reads while another floods it
#           (4 s); a mesh watcher must see the server give up on it
#           (PeerGone), as Tailscale's 2 s write timeout does
# and a client that vanishes (its namespace's link goes down: no FIN)
# while another sends to it: the server must drop it once data to it goes
# unacknowledged for -tcp-user-timeout (2 s here; 15 s by default, as
# Tailscale's), which a mesh watcher sees as PeerGone.
# (derpprobe's bandwidth probe is the third load: derper_probe_test.sh.)
# Then the same against Tailscale's derper, the reference: the same
# expectations must hold there, and its figures are printed beside ours.
# Printed: the pair's latencies (p50, p99, max), the flood's throughput,
# when the server closed the client that never reads.
set -euo pipefail
. "$(dirname "$0")/derper_lib.sh"
dlab_init
DLAB_SERVER_FLAGS=(-tcp-user-timeout 2s)
dlab_ns d1
dlab_ns t1
dlab_ns v
dlab_msock d1 derp1.lab.test
dlab_ts t1 derp1.lab.test

for server in "d1:msock-derper" "t1:Tailscale's derper (reference)"; do
  node=$(dlab_node "${server%%:*}" derp1.lab.test)
  for load in flood:3s noread:4s; do
    t=$(lab_now_ms)
    lab_log "${server#*:}: ${load%%:*} for ${load#*:}"
    dlab_harness load -ca "$DLAB_CA" -mesh-key "$DLAB_MESH" -s1 "$node" -load "${load%%:*}" \
      -dur "${load#*:}" || lab_fail "${server#*:}: the ${load%%:*} load starved the measured pair"
    lab_log "${server#*:}: ${load%%:*} done in $(lab_ms_since "$t") ms"
  done
  t=$(lab_now_ms)
  dlab_vanish "${server%%:*}" "$node"
  lab_log "${server#*:}: vanish done in $(lab_ms_since "$t") ms"
done
