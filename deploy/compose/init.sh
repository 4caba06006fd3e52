#!/bin/sh
# msock-compose-init DIR [NODES [DERPERS]]: the keys and configs of
# deploy/compose.yaml's small internet (2 nodes, 1 derper) or of the scaled
# one (deploy/scale/: NODES nodes, DERPERS meshed derpers in one region).
# Runs in the msock-net image, which has msockctl, wg and openssl:
#   podman run --rm --network none -v "$PWD/msock-deploy:/out" \
#     localhost/msock-net:dev msock-compose-init /out 2
# Keys already there are kept (run it again to change NODES: the configs
# are rewritten with every node's peers), so every node's config names the
# others' public keys, as a control server would give them.
#
# DIR/derperK/: derpK.msock.test.crt/.key (one self-signed certificate
#   for the region, which the DERP map marks InsecureForTests), mesh.psk
#   (the region's mesh key);
# DIR/nI/state/node.key, disco.key (0600): the node's keys;
# DIR/nI/msock.json: supervise external, the DERP map (region 900: the
#   derpers, node I's first being derper ((I-1) mod DERPERS)+1, which
#   spreads the nodes over them), every other node as a peer;
# DIR/nI/wg0.conf: WireGuard's: the node key (WireGuard's private key is
#   the node key), ListenPort 51820 (wg_listen_port), each peer's key and
#   tunnel address 10.99.0.J/32.
# Addresses: derper K 198.18.0.(10+K); node I's router 198.18.0.(100+I) and
# 10.77.I.2; node I 10.77.I.10; its tunnel address 10.99.0.I.
set -eu
out=${1:?usage: msock-compose-init DIR [NODES [DERPERS]]}
n=${2:-2}
k=${3:-1}
case $n in '' | *[!0-9]*) n=0 ;; esac
case $k in '' | *[!0-9]*) k=0 ;; esac
if [ "$n" -lt 2 ] || [ "$n" -gt 150 ]; then
  echo "msock-compose-init: NODES must be 2 to 150, not '${2:-}'" >&2
  exit 2
fi
if [ "$k" -lt 1 ] || [ "$k" -gt 9 ]; then
  echo "msock-compose-init: DERPERS must be 1 to 9, not '${3:-}'" >&2
  exit 2
fi
umask 077
mkdir -p "$out"

psk=$out/derper/mesh.psk
mkdir -p "$out/derper"
[ -s "$psk" ] || openssl rand -hex 32 >"$psk"
# One certificate for the region, naming every derper it may have (1 to
# 9): a derper trusts its mesh peers' certificate only when it is its own
# (or a system CA's).
crt=$out/derper/region.crt
if [ ! -s "$crt" ]; then
  san=
  d=1
  while [ "$d" -le 9 ]; do
    san="$san${san:+,}DNS:derp$d.msock.test,IP:198.18.0.$((10 + d))"
    d=$((d + 1))
  done
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=derp.msock.test" -addext "subjectAltName=$san" \
    -keyout "$out/derper/region.key" -out "$crt" 2>/dev/null
fi
d=1
while [ "$d" -le "$k" ]; do
  dir=$out/derper$d
  mkdir -p "$dir"
  cp "$crt" "$dir/derp$d.msock.test.crt"
  cp "$out/derper/region.key" "$dir/derp$d.msock.test.key"
  cp "$psk" "$dir/mesh.psk"
  d=$((d + 1))
done

i=1
while [ "$i" -le "$n" ]; do
  s=$out/n$i/state
  mkdir -p "$s"
  [ -s "$s/node.key" ] || msockctl keygen "$s/node.key" >/dev/null
  [ -s "$s/disco.key" ] || msockctl keygen --disco "$s/disco.key" >/dev/null
  i=$((i + 1))
done

# derp_map NODE: region 900 with every derper, NODE's own first.
derp_map() {
  printf '{"Regions": {"900": {"RegionID": 900, "RegionCode": "msock", "RegionName": "msock compose", "Nodes": ['
  j=0
  while [ "$j" -lt "$k" ]; do
    d=$(((($1 - 1) + j) % k + 1))
    [ "$j" -eq 0 ] || printf ', '
    printf '{"Name": "900%s", "RegionID": 900, "HostName": "derp%s.msock.test", "IPv4": "198.18.0.%s", "IPv6": "none", "STUNPort": 3478, "DERPPort": 443, "InsecureForTests": true}' \
      "$d" "$d" "$((10 + d))"
    j=$((j + 1))
  done
  printf ']}}, "omitDefaultRegions": true}'
}

i=1
while [ "$i" -le "$n" ]; do
  dir=$out/n$i
  {
    printf '{\n  "supervise": "external",\n  "state_dir": "/var/lib/msock",\n  "run_dir": "/run/msock",\n'
    printf '  "listen_port": 41641,\n  "wg_endpoint_port": 41642,\n  "wg_listen_port": 51820,\n'
    printf '  "home_derp": 900,\n  "derp_map": %s,\n  "peers": [' "$(derp_map "$i")"
    j=1
    sep=
    while [ "$j" -le "$n" ]; do
      if [ "$j" -ne "$i" ]; then
        printf '%s\n    {"name": "n%s", "node_key": "%s", "disco_key": "%s", "home_derp": 900}' "$sep" "$j" \
          "$(msockctl pubkey "$out/n$j/state/node.key")" \
          "$(msockctl pubkey --disco "$out/n$j/state/disco.key")"
        sep=,
      fi
      j=$((j + 1))
    done
    printf '\n  ]\n}\n'
  } >"$dir/msock.json.new"
  mv "$dir/msock.json.new" "$dir/msock.json"
  {
    printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n' "$(cat "$dir/state/node.key")"
    j=1
    while [ "$j" -le "$n" ]; do
      if [ "$j" -ne "$i" ]; then
        printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.99.0.%s/32\n' \
          "$(wg pubkey <"$out/n$j/state/node.key")" "$j"
      fi
      j=$((j + 1))
    done
  } >"$dir/wg0.conf"
  i=$((i + 1))
done
# The configs are read by root in each container; the directories too.
chmod 0755 "$out" "$out"/n* "$out"/derper*
chmod 0644 "$out"/n*/msock.json
echo "msock-compose-init: $n nodes, $k derper(s) in $out"
