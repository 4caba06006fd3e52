#!/usr/bin/env bash
# scale.sh up N | down N: msock scaled out on one host (docs/deploy.md,
# "Scaling out"): the internet and a region of two meshed msock-derpers
# (internet.yaml, project PREFIX-internet), and N nodes, each behind its
# own NAT router and a project of its own (node.yaml, project PREFIX-nI),
# as each would be a machine of its own. up: msock-compose-init for N nodes
# and 2 derpers (keys kept from an earlier run), then the projects, the
# internet first; prints the seconds each took. down: the projects, nodes
# first (`down -v`).
#
# Environment: MSOCK_DEPLOY_DIR (required: the keys and configs), COMPOSE
# (default "docker compose"; "docker-compose" for 1.29 against podman with
# DOCKER_HOST), ENGINE (podman or docker, runs msock-compose-init; default
# podman if there is one), MSOCK_PROJECT (the projects' prefix, default
# msock), MSOCK_IMAGE, MSOCK_NET_IMAGE, MSOCK_BLOCK_UDP, MSOCK_LOG_LEVEL
# (passed on to compose).
set -Eeuo pipefail
trap 'echo "scale.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR

here=$(cd "$(dirname "$0")" && pwd)
usage() {
  echo "usage: scale.sh up N | down N   (N: 2 to 150 nodes)" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
n=$2
case $n in '' | *[!0-9]*) usage ;; esac
{ [ "$n" -ge 2 ] && [ "$n" -le 150 ]; } || usage
: "${MSOCK_DEPLOY_DIR:?set MSOCK_DEPLOY_DIR (an absolute directory for the keys and configs)}"
read -r -a compose <<<"${COMPOSE:-docker compose}"
prefix=${MSOCK_PROJECT:-msock}
export MSOCK_INTERNET=$prefix-internet
export MSOCK_DEPLOY_DIR
engine=${ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}

# node I: compose for node I's project.
node() {
  local i=$1
  shift
  MSOCK_NODE=n$i MSOCK_LAN=10.77.$i MSOCK_ROUTER_WAN=198.18.0.$((100 + i)) \
    MSOCK_WG_ADDRESS=10.99.0.$i/24 "${compose[@]}" -p "$prefix-n$i" -f "$here/node.yaml" "$@"
}
internet() { "${compose[@]}" -p "$prefix-internet" -f "$here/internet.yaml" "$@"; }
t0=$(date +%s%N)
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

case $cmd in
  up)
    mkdir -p "$MSOCK_DEPLOY_DIR"
    "$engine" run --rm --network none -v "$MSOCK_DEPLOY_DIR:/out" \
      "${MSOCK_NET_IMAGE:-localhost/msock-net:dev}" msock-compose-init /out "$n" 2
    t=$(date +%s%N)
    internet up -d
    echo "scale.sh: the internet and 2 derpers up in $(ms "$t") ms"
    for i in $(seq 1 "$n"); do
      t=$(date +%s%N)
      node "$i" up -d
      echo "scale.sh: n$i up in $(ms "$t") ms"
    done
    echo "scale.sh: $n nodes up in $(ms "$t0") ms"
    ;;
  down)
    for i in $(seq "$n" -1 1); do node "$i" down -v --timeout 5 || true; done
    internet down -v --timeout 5 || true
    ;;
  *) usage ;;
esac
