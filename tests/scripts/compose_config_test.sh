#!/usr/bin/env bash
# compose_config_test: deploy/compose.yaml and msock-compose-init, without
# running a container (test.sh runs it; tests/deploy/deploy_compose.sh runs
# the topology for real, opt-in).
# 1. `docker-compose config` (Debian's 1.29) and `podman-compose config`
#    accept the file (and docker-compose refuses it without
#    MSOCK_DEPLOY_DIR, naming it). podman-compose 1.6.0 from PyPI, in a venv
#    kept in ~/.cache/msock (made once; MSOCK_PODMAN_COMPOSE names another
#    program): Debian's 1.0.3 has no config command, and fails on this file
#    ("missing networks": it counts the networks of services that have
#    network_mode as none);
# 2. docker-compose's resolved config (and deploy/scale/'s two files): every msock container has cap_drop
#    ALL, only its capabilities, a read-only root, no-new-privileges and a
#    restart policy, joins its node's pid and network namespaces, and every
#    network is internal; a deliberately loosened copy fails the same check;
# 3. deploy/compose/init.sh (msock-compose-init) on this host, for 3 nodes
#    and 2 derpers: each node's config names the other two with their
#    public keys as msockctl prints them, its own derper first; wg0.conf
#    carries the node key and the peers' WireGuard keys; keys are 0600; a
#    second run keeps the keys; bad arguments are refused with a reason.
set -Eeuo pipefail
trap 'echo "compose_config_test.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR

src=${MSOCK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${MSOCK_BIN_DIR:-$src/build/test/bin}
fails=0
fail() {
  echo "FAIL: $*" >&2
  fails=$((fails + 1))
}
for t in docker-compose python3 jq wg openssl; do
  command -v "$t" >/dev/null || {
    echo "compose_config_test: no $t (scripts/deps.sh installs it)" >&2
    exit 1
  }
done
[ -x "$bin/msockctl" ] || {
  echo "compose_config_test: no $bin/msockctl (build first)" >&2
  exit 1
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MSOCK_DEPLOY_DIR=$work/deploy

echo "1. docker-compose config, podman-compose config"
if ! docker-compose -f "$src/deploy/compose.yaml" config >"$work/resolved.yaml" 2>"$work/dc.err"; then
  fail "docker-compose config: $(cat "$work/dc.err")"
fi
if out=$(env -u MSOCK_DEPLOY_DIR docker-compose -f "$src/deploy/compose.yaml" config 2>&1); then
  fail "docker-compose config accepted the file without MSOCK_DEPLOY_DIR"
elif ! grep -q "MSOCK_DEPLOY_DIR" <<<"$out"; then
  fail "without MSOCK_DEPLOY_DIR, docker-compose's error does not name it: $out"
fi
pc=${MSOCK_PODMAN_COMPOSE:-}
if [ -z "$pc" ]; then
  venv=${XDG_CACHE_HOME:-$HOME/.cache}/msock/podman-compose-1.6.0
  pc=$venv/bin/podman-compose
  if [ ! -x "$pc" ]; then
    echo "   podman-compose 1.6.0 into $venv (pip, once)"
    rm -rf "$venv"
    if ! { /usr/bin/python3 -m venv "$venv" && "$venv/bin/pip" install -q podman-compose==1.6.0; } >"$work/pip.log" 2>&1; then
      tail -5 "$work/pip.log" >&2
      echo "compose_config_test: could not install podman-compose 1.6.0 (python3-venv, PyPI)" >&2
      rm -rf "$venv"
      exit 1
    fi
  fi
fi
# podman-compose's config prints the file it would run; it talks to no
# podman for that.
if ! "$pc" -f "$src/deploy/compose.yaml" config >"$work/pc.yaml" 2>"$work/pc.err"; then
  fail "podman-compose config: $(tail -3 "$work/pc.err")"
fi
echo "   both accept it: $(grep -c '^  [a-z0-9-]*:$' "$work/resolved.yaml") entries resolved"

echo "2. the resolved config's security settings"
check='
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
caps = {"broker": {"CHOWN", "FOWNER", "FSETID"}, "derper": {"SETUID", "SETGID", "SYS_CHROOT", "NET_BIND_SERVICE"}}
comp = {"SETUID", "SETGID", "SYS_CHROOT"}
bad = []
n = 0
for name, s in doc["services"].items():
    img = s.get("image", "")
    if not s.get("read_only"):
        bad.append(name + ": not read_only")
    if "no-new-privileges:true" not in s.get("security_opt", []):
        bad.append(name + ": no no-new-privileges")
    if s.get("cap_drop") != ["ALL"]:
        bad.append(name + ": cap_drop is not [ALL]")
    if "msock-net" in img:
        continue  # routers, holders, WireGuard: the test network
    n += 1
    kind = name.split("-")[-1] if "-" in name else name.rstrip("0123456789")
    want = caps.get(kind, comp)
    if set(s.get("cap_add", [])) != want:
        bad.append("%s: cap_add %s, want %s" % (name, sorted(s.get("cap_add", [])), sorted(want)))
    if s.get("restart") != "on-failure":
        bad.append(name + ": restart is not on-failure")
    if "-" in name:
        node = name.split("-")[0]
        if s.get("network_mode") != "service:" + node:
            bad.append(name + ": network_mode is not service:" + node)
        if kind != "wg" and s.get("pid") != "service:" + node:
            bad.append(name + ": pid is not service:" + node)
for name, net in doc.get("networks", {}).items():
    if not net.get("internal") and not net.get("external"):
        bad.append("network " + name + ": not internal")
print("\n".join(bad))
print("checked %d msock containers" % n, file=sys.stderr)
'
bad=$(python3 -c "$check" "$work/resolved.yaml" 2>"$work/checked")
if [ -n "$bad" ]; then fail "the resolved config: $bad"; fi
echo "   $(cat "$work/checked"): caps, read-only, no-new-privileges, restart, namespaces; networks internal"
# The scaled-out files (deploy/scale/): the same rules.
for f in internet node; do
  if ! MSOCK_NODE=n3 MSOCK_LAN=10.77.3 MSOCK_ROUTER_WAN=198.18.0.103 MSOCK_WG_ADDRESS=10.99.0.3/24 \
    docker-compose -f "$src/deploy/scale/$f.yaml" config >"$work/$f.yaml" 2>"$work/dc.err"; then
    fail "docker-compose config of deploy/scale/$f.yaml: $(cat "$work/dc.err")"
    continue
  fi
  bad=$(python3 -c "$check" "$work/$f.yaml" 2>"$work/checked")
  if [ -n "$bad" ]; then fail "deploy/scale/$f.yaml: $bad"; fi
  echo "   deploy/scale/$f.yaml: $(cat "$work/checked")"
done
# The check can fail: a copy with one container loosened and one network
# opened must be refused, naming both.
python3 - "$work/resolved.yaml" "$work/loose.yaml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
doc["services"]["n1-disco"]["cap_add"].append("NET_ADMIN")
doc["services"]["n2-derp"]["read_only"] = False
doc["networks"]["internet"]["internal"] = False
yaml.safe_dump(doc, open(sys.argv[2], "w"))
PY
bad=$(python3 -c "$check" "$work/loose.yaml" 2>/dev/null)
for want in "n1-disco: cap_add" "n2-derp: not read_only" "network internet: not internal"; do
  grep -q "$want" <<<"$bad" || fail "the loosened copy was not refused for '$want' (got: $bad)"
done

echo "3. msock-compose-init for 3 nodes, 2 derpers"
export PATH=$bin:$PATH
init=$src/deploy/compose/init.sh
sh "$init" "$MSOCK_DEPLOY_DIR" 3 2 | sed 's/^/   /'
for i in 1 2 3; do
  d=$MSOCK_DEPLOY_DIR/n$i
  for f in state/node.key state/disco.key wg0.conf; do
    [ "$(stat -c %a "$d/$f")" = 600 ] || fail "n$i/$f: mode $(stat -c %a "$d/$f"), want 600"
  done
  jq -e . "$d/msock.json" >/dev/null || fail "n$i/msock.json is not JSON"
  peers=$(jq -r '[.peers[].name] | join(" ")' "$d/msock.json")
  want=$(for j in 1 2 3; do [ "$j" = "$i" ] || printf 'n%s ' "$j"; done)
  [ "$peers " = "$want" ] || fail "n$i's peers: '$peers', want '${want% }'"
  for j in 1 2 3; do
    [ "$j" = "$i" ] && continue
    k=$(jq -r --arg n "n$j" '.peers[] | select(.name == $n) | .node_key' "$d/msock.json")
    [ "$k" = "$(msockctl pubkey "$MSOCK_DEPLOY_DIR/n$j/state/node.key")" ] || fail "n$i's node_key of n$j differs from n$j's key"
    k=$(jq -r --arg n "n$j" '.peers[] | select(.name == $n) | .disco_key' "$d/msock.json")
    [ "$k" = "$(msockctl pubkey --disco "$MSOCK_DEPLOY_DIR/n$j/state/disco.key")" ] || fail "n$i's disco_key of n$j differs"
    grep -qF "PublicKey = $(wg pubkey <"$MSOCK_DEPLOY_DIR/n$j/state/node.key")" "$d/wg0.conf" ||
      fail "n$i's wg0.conf lacks n$j's WireGuard key"
    grep -qF "AllowedIPs = 10.99.0.$j/32" "$d/wg0.conf" || fail "n$i's wg0.conf lacks 10.99.0.$j/32"
  done
  grep -qF "PrivateKey = $(cat "$d/state/node.key")" "$d/wg0.conf" || fail "n$i's wg0.conf: not its node key"
  first=$(jq -r '.derp_map.Regions["900"].Nodes[0].HostName' "$d/msock.json")
  want=derp$(((i - 1) % 2 + 1)).msock.test
  [ "$first" = "$want" ] || fail "n$i's first derper: $first, want $want"
  [ "$(jq '.derp_map.Regions["900"].Nodes | length' "$d/msock.json")" = 2 ] || fail "n$i's region lacks a derper"
done
for k in 1 2; do
  c=$MSOCK_DEPLOY_DIR/derper$k/derp$k.msock.test.crt
  openssl x509 -in "$c" -noout -ext subjectAltName 2>/dev/null | grep -q "IP Address:198.18.0.1$k" ||
    fail "derper$k's certificate does not name 198.18.0.1$k"
  cmp -s "$MSOCK_DEPLOY_DIR/derper$k/mesh.psk" "$MSOCK_DEPLOY_DIR/derper/mesh.psk" || fail "derper$k's mesh key differs"
done
before=$(cat "$MSOCK_DEPLOY_DIR"/n*/state/*.key | md5sum)
sh "$init" "$MSOCK_DEPLOY_DIR" 3 2 >/dev/null
[ "$(cat "$MSOCK_DEPLOY_DIR"/n*/state/*.key | md5sum)" = "$before" ] || fail "a second run changed the keys"
for args in "1" "151" "x" "3 0" "3 10"; do
  # shellcheck disable=SC2086 # the arguments, split
  if out=$(sh "$init" "$work/bad" $args 2>&1); then
    fail "msock-compose-init DIR $args succeeded"
  elif ! grep -qE "(NODES|DERPERS) must be" <<<"$out"; then
    fail "msock-compose-init DIR $args: no reason given: $out"
  fi
done
echo "   3 nodes: peers, keys, WireGuard configs, derper order, certificates, mesh key; keys kept on a second run; bad arguments refused"

if [ "$fails" -ne 0 ]; then
  echo "compose_config_test: $fails check(s) failed" >&2
  exit 1
fi
echo "compose_config_test: ok"
