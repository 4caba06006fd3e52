#!/bin/sh
# msock-wg-up: a node's WireGuard in deploy/compose.yaml (the msock-net
# image): unmodified wireguard-go on wg0 in the node's network namespace,
# configured from /etc/wireguard/wg0.conf (`wg setconf` format: the node
# key, ListenPort = msock's wg_listen_port, each peer's key and
# AllowedIPs; msock-compose-init writes it), MSOCK_WG_ADDRESS on wg0 (e.g.
# 10.99.0.1/24). Then `msockctl wg-config --apply wg0` points each peer at
# its local msock endpoint, so WireGuard talks only to msock: retried until
# the broker answers with every peer's endpoint. Runs until wireguard-go
# exits; SIGTERM stops it.
set -eu
ifc=wg0
sock=${MSOCK_SOCKET:-/run/msock/control.sock}
: "${MSOCK_WG_ADDRESS:?set MSOCK_WG_ADDRESS, e.g. 10.99.0.1/24}"

# A restarted container finds the interface of its predecessor gone with
# its process, but maybe the socket file in a kept /run/wireguard.
rm -f "/run/wireguard/$ifc.sock"
WG_PROCESS_FOREGROUND=1 wireguard-go -f "$ifc" &
wg=$!
trap 'kill "$wg" 2>/dev/null; wait "$wg"; exit 0' TERM INT
i=0
until [ -S "/run/wireguard/$ifc.sock" ]; do
  i=$((i + 1))
  if [ "$i" -gt 100 ] || ! kill -0 "$wg" 2>/dev/null; then
    echo "msock-wg-up: wireguard-go did not open /run/wireguard/$ifc.sock in 10 s" >&2
    exit 1
  fi
  sleep 0.1
done
wg setconf "$ifc" /etc/wireguard/wg0.conf
ip addr add "$MSOCK_WG_ADDRESS" dev "$ifc"
ip link set "$ifc" up
i=0
until out=$(msockctl --socket "$sock" wg-config --apply "$ifc" 2>&1); do
  i=$((i + 1))
  [ $((i % 10)) -ne 1 ] || echo "msock-wg-up: waiting for msock's endpoints: $out" >&2
  sleep 1
done
echo "msock-wg-up: $ifc up, $MSOCK_WG_ADDRESS; peers pointed at msock:"
msockctl --socket "$sock" wg-config --iface "$ifc"
wait "$wg"
