#!/usr/bin/env bash
# derper_probe: Tailscale's derpprobe -once against a region of two meshed
# msock-derpers (TLS, the lab's certificate): every node pair's mesh probe,
# each node's udp (STUN) and tls probe, and a bandwidth probe per node pair
# (4 x DERPHARNESS_BW bytes, 64 KiB packets, 30 in flight) all pass. While
# derpprobe runs, derpharness measures a second pair on derp1 (p -> q, 100
# packets/s): every packet must arrive (the bandwidth probe does not starve
# other clients); its latencies are printed. derpprobe's output is printed
# whole.
#
# derpprobe's tls probe dials HostName:DERPPort itself (no CertName, no
# InsecureForTests): it resolves derp1/derp2.lab.test through the client
# namespace's /etc/netns hosts file and trusts the lab's certificate
# through SSL_CERT_FILE. The map leaves IPv6 empty ("none" would fail the
# udp probe).
set -euo pipefail
. "$(dirname "$0")/derper_lib.sh"
bw=${DERPHARNESS_BW:-64000000}
dlab_init
dlab_ns d1
dlab_ns d2
t=$(lab_now_ms)
dlab_msock d1 derp1.lab.test "derp2.lab.test/${DLAB_IP[d2]}:443"
dlab_msock d2 derp2.lab.test "derp1.lab.test/${DLAB_IP[d1]}:443"
lab_wait_for 10 dlab_msock_linked d1 derp2.lab.test || lab_fail "d1: no mesh link to d2 in 10 s"
lab_wait_for 10 dlab_msock_linked d2 derp1.lab.test || lab_fail "d2: no mesh link to d1 in 10 s"
lab_log "two meshed msock-derpers up in $(lab_ms_since "$t") ms"

map=$LAB_DIR/derpmap.json
jq -n --arg ip1 "${DLAB_IP[d1]}" --arg ip2 "${DLAB_IP[d2]}" '{Regions: {"900": {
  RegionID: 900, RegionCode: "lab", RegionName: "Lab",
  Nodes: [
    {Name: "900a", RegionID: 900, HostName: "derp1.lab.test", IPv4: $ip1, STUNPort: 3478, DERPPort: 443},
    {Name: "900b", RegionID: 900, HostName: "derp2.lab.test", IPv4: $ip2, STUNPort: 3478, DERPPort: 443}
  ]}}}' >"$map"

# derpprobe's stdout is empty (it logs to stderr): the pipe closes when it
# exits, which ends derpharness's measurement.
t=$(lab_now_ms)
set +e
lab_exec c env SSL_CERT_FILE="$DLAB_CA" timeout 120 "$DLAB_IB/derpprobe" -once -spread=false \
  -derp-map "file://$map" -mesh-psk-file "$DLAB_MESH" -bw-interval 30s -bw-probe-size-bytes "$bw" \
  2>"$LAB_DIR/derpprobe.out" |
  dlab_harness load -ca "$DLAB_CA" -s1 "$(dlab_node d1 derp1.lab.test)" -load none -dur 110s \
    >"$LAB_DIR/pair.out" 2>&1
st=("${PIPESTATUS[@]}")
set -e
lab_log "derpprobe -once ran $(lab_ms_since "$t") ms (exit ${st[0]}); its output:"
sed 's/^/  derpprobe: /' "$LAB_DIR/derpprobe.out"
cat "$LAB_DIR/pair.out"
[ "${st[0]}" = 0 ] || lab_fail "derpprobe -once exited ${st[0]}: a probe failed"
grep -q ' bad: ' "$LAB_DIR/derpprobe.out" && lab_fail "derpprobe reports a bad probe"
for p in 900a/900a/mesh 900a/900b/mesh 900b/900a/mesh 900b/900b/mesh 900a/udp 900b/udp \
    900a/tls 900b/tls 900a/900b/bw 900b/900a/bw 900a/900a/bw; do
  grep -q " good: derp/lab/$p: " "$LAB_DIR/derpprobe.out" || lab_fail "derpprobe: no good derp/lab/$p"
done
[ "${st[1]}" = 0 ] || lab_fail "the pair measured during derpprobe lost packets or its connections"
lab_log "derpprobe: every probe good (mesh, udp, tls, bw of $bw bytes per node pair)"
