# shellcheck shell=bash
# What tests/deploy/deploy_*.sh share (sourced): the opt-in gate, the work
# directory and podman's service for docker-compose, waiting, and msockctl
# and ping inside a node. Sources scripts/podman-lib.sh.

# deploy_gate NAME: exits 77 (skipped) unless MSOCK_TEST_DEPLOY=1 and root.
deploy_gate() {
  if [ "${MSOCK_TEST_DEPLOY:-}" != 1 ]; then
    echo "$1: skipped (opt-in: MSOCK_TEST_DEPLOY=1, as root; installs podman, docker-compose when missing)"
    exit 77
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "$1: skipped (needs root: rootful podman)"
    exit 77
  fi
}

# shellcheck source=../../scripts/podman-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/podman-lib.sh"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_for SECONDS CMD...: true once CMD is, polling every 0.2 s.
wait_for() {
  local end=$(($(now_ms) + $1 * 1000))
  shift
  until "$@"; do
    [ "$(now_ms)" -lt "$end" ] || return 1
    sleep 0.2
  done
}

# deploy_service WORK: a `podman system service` on WORK/podman.sock for
# docker-compose (DOCKER_HOST); its pid in deploy_svc.
deploy_service() {
  podman system service --time 0 "unix://$1/podman.sock" >"$1/service.log" 2>&1 &
  # shellcheck disable=SC2034 # the caller kills it
  deploy_svc=$!
  export DOCKER_HOST=unix://$1/podman.sock
  wait_for 10 test -S "$1/podman.sock"
}

# deploy_finish WORK: the end of a test's cleanup, after its projects are
# removed: podman's service (deploy_svc), what podman added to the host
# (podman_host_restore), the work directory.
deploy_finish() {
  if [ -n "${deploy_svc:-}" ]; then
    kill "$deploy_svc" 2>/dev/null
    wait "$deploy_svc" 2>/dev/null
  fi
  podman_host_restore "$1"
  rm -rf "$1"
}

# msock_ctl BROKER_CONTAINER ARGS: msockctl in a node's broker container.
msock_ctl() {
  local c=$1
  shift
  podman exec "$c" msockctl --socket /run/msock/control.sock "$@"
}

# in_ns CONTAINER CMD...: CMD from the host in CONTAINER's network
# namespace (a ping there can be stopped and timed).
in_ns() {
  local c=$1
  shift
  nsenter -t "$(podman inspect --format '{{.State.Pid}}' "$c")" -n "$@"
}

# derper_metric CONTAINER NAME: msock-derper's metric NAME (its
# /debug/metrics answers loopback callers only: asked from inside).
derper_metric() {
  in_ns "$1" curl -sfk --max-time 3 https://127.0.0.1/debug/metrics |
    awk -v m="$2" '$1 == m { print $2; found = 1 } END { exit !found }'
}
