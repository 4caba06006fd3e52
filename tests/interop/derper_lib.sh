#!/usr/bin/env bash
# derper_lib: a small lab for the derper_*_test.sh interop tests: DERP
# servers (msock-derper, Tailscale's derper) each in a namespace of its own,
# one namespace for the clients (derpharness, derpprobe), all on one bridge:
#
#   c   198.18.0.1   bridge; derpharness, derpprobe; /etc/netns/<c>/hosts
#   v   198.18.0.3   a client whose link the test takes down (vanish)
#   d1  198.18.0.11  msock-derper derp1.lab.test   (TLS :443, STUN :3478)
#   d2  198.18.0.12  msock-derper derp2.lab.test
#   t   198.18.0.13  Tailscale's derper (mixed mesh)
#   t1  198.18.0.21  Tailscale's derper derp1.lab.test (reference runs)
#   t2  198.18.0.22  Tailscale's derper derp2.lab.test
#
# One self-signed certificate (the lab's CA: it is its own root) names
# derp.lab.test, derp1.lab.test and derp2.lab.test; every server serves it
# for its -hostname, every client trusts it. One mesh key for the region.
# Built on tests/lab/lib.sh's helpers (lab_exec, lab_bg, lab_wait_for,
# lab_cleanup, ...) with its own prefix (mi<pid>), so lab runs and these
# never reap each other. Everything is removed on exit, failed or not:
# processes, namespaces, /etc/netns/<prefix>-*, $LAB_DIR; a run killed by
# SIGKILL is reaped by the next one.
src=${MSOCK_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=../lab/lib.sh
. "$src/tests/lab/lib.sh"

DLAB_IB=${MSOCK_INTEROP_BIN:-$src/build/interop/bin}
DLAB_NET=198.18.0
declare -gA DLAB_IP=([c]=$DLAB_NET.1 [v]=$DLAB_NET.3 [d1]=$DLAB_NET.11 [d2]=$DLAB_NET.12
  [t]=$DLAB_NET.13 [t1]=$DLAB_NET.21 [t2]=$DLAB_NET.22)
declare -ga DLAB_SERVER_FLAGS=() # more flags for every server (both kinds take them)
declare -gA DLAB_PID=()  # server namespace -> its derper's pid
declare -gA DLAB_ARGS=() # server namespace -> how it was started (for a restart)
DLAB_CA= # the lab's certificate (PEM), also every server's .crt
DLAB_MESH= # the region's mesh key file
DLAB_SAVED_PREFIX=

# Exits 77 unless root with working namespaces; exits 1 if a program is
# missing (msock's or the interop build's).
dlab_require() {
  local p
  [ "$(id -u)" = 0 ] || lab_skip "derper interop tests need root (network namespaces)"
  ip netns add "mi$$-probe" 2>/dev/null || lab_skip "ip netns add does not work here"
  ip netns del "mi$$-probe"
  for p in curl openssl jq timeout; do
    command -v $p >/dev/null || lab_fail "$p is not installed (scripts/deps.sh installs it)"
  done
  LAB_BIN=${MSOCK_BIN_DIR:-$src/build/test/bin}
  [ -x "$LAB_BIN/msock-derper" ] || lab_fail "no $LAB_BIN/msock-derper: set MSOCK_BIN_DIR"
  for p in derper derpprobe derpharness; do
    [ -x "$DLAB_IB/$p" ] || lab_fail "no $DLAB_IB/$p: run tests/interop/build.sh (MSOCK_INTEROP_BIN)"
  done
}

# Removes what runs with prefix mi<pid> left behind when that pid is gone.
dlab_reap_stale() {
  local p
  for p in $({
    ip netns list 2>/dev/null | awk '{ print $1 }'
    find /etc/netns -maxdepth 1 -name 'mi[0-9]*-*' -printf '%f\n' 2>/dev/null
    find /tmp -maxdepth 1 -name 'msock-lab-mi[0-9]*' -printf '%f\n' | sed 's/^msock-lab-//'
  } | grep -oE '^mi[0-9]+' | sort -u); do
    if [ "$p" = "mi$$" ] || ! kill -0 "${p#mi}" 2>/dev/null; then
      lab_log "removing what derper interop run $p (gone) left behind"
      lab_reap_prefix "$p"
      rm -rf /etc/netns/"$p"-*
    fi
  done
}

dlab_on_exit() {
  local rc=$?
  DLAB_SAVED_PREFIX=$LAB_PREFIX
  lab_cleanup "$rc" 1>&"$LAB_OUT" 2>&"$LAB_ERR"
  [ -z "$DLAB_SAVED_PREFIX" ] || rm -rf /etc/netns/"$DLAB_SAVED_PREFIX"-*
  exit "$rc"
}

# Prefix, directory, traps, the client namespace with its bridge, the
# certificate and the mesh key. Servers come with dlab_ns.
dlab_init() {
  local err
  dlab_require
  LAB_T0=$(lab_now_ms)
  dlab_reap_stale
  LAB_PREFIX="mi$$"
  exec {LAB_OUT}>&1 {LAB_ERR}>&2
  trap dlab_on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  set -E
  trap lab_on_err ERR
  LAB_DIR=$(mktemp -d "/tmp/msock-lab-$LAB_PREFIX-XXXXXX")
  ip netns add "$(lab_ns c)"
  lab_exec c ip link set lo up
  lab_exec c ip link add br0 type bridge
  lab_exec c ip addr add "${DLAB_IP[c]}/24" dev br0
  lab_exec c ip link set br0 up
  mkdir -p "/etc/netns/$(lab_ns c)"
  printf '%s derp1.lab.test\n%s derp2.lab.test\n127.0.0.1 localhost\n' \
    "${DLAB_IP[d1]}" "${DLAB_IP[d2]}" >"/etc/netns/$(lab_ns c)/hosts"
  DLAB_CA=$LAB_DIR/lab-ca.crt
  err=$(openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=derp.lab.test \
    -addext "subjectAltName=DNS:derp.lab.test,DNS:derp1.lab.test,DNS:derp2.lab.test" \
    -keyout "$LAB_DIR/lab-ca.key" -out "$DLAB_CA" 2>&1) ||
    lab_fail "openssl could not make the lab's certificate: $err"
  DLAB_MESH=$LAB_DIR/mesh.key
  openssl rand -hex 32 >"$DLAB_MESH"
}

# Adds namespace NS (d1, d2, t, t1, t2; v) on the bridge.
dlab_ns() {
  local ns=$1 p=$LAB_PREFIX
  ip netns add "$(lab_ns "$ns")"
  lab_exec "$ns" ip link set lo up
  ip link add "${p}$ns" netns "$(lab_ns c)" type veth peer name eth0 netns "$(lab_ns "$ns")"
  lab_exec c ip link set "${p}$ns" master br0 up
  lab_exec "$ns" ip addr add "${DLAB_IP[$ns]}/24" dev eth0
  lab_exec "$ns" ip link set eth0 up
}

# A certificate directory for HOSTNAME in NS's directory: the lab's
# certificate and key under the names -certmode manual looks for.
dlab_certdir() {
  local d=$LAB_DIR/$1
  mkdir -p "$d/certs"
  cp "$DLAB_CA" "$d/certs/$2.crt"
  cp "$LAB_DIR/lab-ca.key" "$d/certs/$2.key"
  echo "$d/certs"
}

# True when NS's server answers /derp/probe over TLS for HOSTNAME.
dlab_up() {
  lab_exec "$1" curl -sf --max-time 1 --cacert "$DLAB_CA" --resolve "$2:443:127.0.0.1" \
    -o /dev/null "https://$2/derp/probe"
}

# Starts msock-derper in NS as HOSTNAME (TLS :443, STUN :3478, the mesh
# key), with -mesh-with MESH_WITH if given; waits for it to answer.
dlab_msock() {
  local ns=$1 host=$2 mesh=${3:-} d certs
  d=$LAB_DIR/$ns
  certs=$(dlab_certdir "$ns" "$host")
  DLAB_ARGS[$ns]="msock $host $mesh"
  lab_bg "$ns" "$d/msock-derper.log" "$LAB_BIN/msock-derper" -a :443 -certmode manual \
    -certdir "$certs" -hostname "$host" -c "$d/derper.key" -http-port -1 -stun-port 3478 \
    -mesh-psk-file "$DLAB_MESH" ${mesh:+-mesh-with "$mesh"} "${DLAB_SERVER_FLAGS[@]}"
  DLAB_PID[$ns]=$LAB_LAST_PID
  lab_wait_for 10 dlab_up "$ns" "$host" ||
    lab_fail "msock-derper in $ns did not answer within 10 s: $(tail -n 5 "$d/msock-derper.log")"
}

# Starts Tailscale's derper in NS as HOSTNAME, the same way (SSL_CERT_FILE
# is the lab's certificate, which its mesh client must trust).
dlab_ts() {
  local ns=$1 host=$2 mesh=${3:-} d certs
  d=$LAB_DIR/$ns
  certs=$(dlab_certdir "$ns" "$host")
  DLAB_ARGS[$ns]="ts $host $mesh"
  lab_bg "$ns" "$d/ts-derper.log" env SSL_CERT_FILE="$DLAB_CA" "$DLAB_IB/derper" -a :443 \
    -certmode manual -certdir "$certs" -hostname "$host" -c "$d/derper.key" -http-port -1 \
    -stun-port 3478 -mesh-psk-file "$DLAB_MESH" ${mesh:+-mesh-with "$mesh"} "${DLAB_SERVER_FLAGS[@]}"
  DLAB_PID[$ns]=$LAB_LAST_PID
  lab_wait_for 15 dlab_up "$ns" "$host" ||
    lab_fail "Tailscale's derper in $ns did not answer within 15 s: $(tail -n 5 "$d/ts-derper.log")"
}

# Kills NS's derper with SIGKILL (no goodbye to its clients or mesh).
dlab_kill() {
  kill -KILL "${DLAB_PID[$1]}" 2>/dev/null || true
  lab_wait_for 5 lab_dead "${DLAB_PID[$1]}" || lab_fail "$1: derper still alive after SIGKILL"
}

# Starts NS's derper again as it was started (same key file).
dlab_restart() {
  local kind host mesh
  read -r kind host mesh <<<"${DLAB_ARGS[$1]}"
  if [ "$kind" = msock ]; then dlab_msock "$1" "$host" "$mesh"; else dlab_ts "$1" "$host" "$mesh"; fi
}

# True when msock-derper in NS has logged a mesh link to HOSTNAME up.
dlab_msock_linked() {
  grep -q "mesh: linked to $2" "$LAB_DIR/$1/msock-derper.log"
}

# derpharness's node argument for NS's server: hostname,ip,443.
dlab_node() {
  echo "$2,${DLAB_IP[$1]},443"
}

# The command printing NS's metrics (Prometheus text), for derpharness
# -metrics1: msock-derper's /debug/metrics, Tailscale's /debug/varz; both
# answer loopback callers only.
dlab_metrics_cmd() {
  local path=/debug/metrics
  [ "$3" = msock ] || path=/debug/varz
  echo "ip netns exec $(lab_ns "$1") curl -sf --max-time 3 --cacert $DLAB_CA" \
    "--resolve $2:443:127.0.0.1 https://$2$path"
}

# Runs derpharness in the client namespace.
dlab_harness() {
  lab_exec c "$DLAB_IB/derpharness" "$@"
}

# A client in namespace v that vanishes: it logs in to NODE (derpharness
# idle), then v's link goes down, so the server hears nothing more from
# it, not even a FIN. derpharness vanish in c (a watcher and a sender)
# prints how long NS's server takes to drop it; fails past its bound.
dlab_vanish() {
  local ns=$1 node=$2 log=$LAB_DIR/idle-$1.log key line vpid
  lab_bg v "$log" "$DLAB_IB/derpharness" idle -ca "$DLAB_CA" -s1 "$node"
  vpid=$LAB_LAST_PID
  lab_wait_for 10 grep -q '^ok nodekey:' "$log" || lab_fail "derpharness idle: $(cat "$log")"
  key=$(sed -n 's/^ok \(nodekey:[0-9a-f]*\)$/\1/p' "$log")
  coproc VANISH { dlab_harness vanish -ca "$DLAB_CA" -mesh-key "$DLAB_MESH" -s1 "$node" \
    -peer "$key" 2>&1; }
  # shellcheck disable=SC2153 # set by coproc
  local hpid=$VANISH_PID
  read -r -t 20 line <&"${VANISH[0]}" || lab_fail "derpharness vanish: no answer within 20 s"
  [ "$line" = ready ] || lab_fail "derpharness vanish: $line"
  lab_exec v ip link set eth0 down
  echo go >&"${VANISH[1]}"
  read -r -t 90 line <&"${VANISH[0]}" || lab_fail "derpharness vanish: no answer within 90 s"
  lab_log "vanish on $ns: $line"
  [[ $line == ok* ]] || lab_fail "$ns: $line"
  lab_exec v ip link set eth0 up
  lab_stop_pid "$vpid"
  wait "$hpid" 2>/dev/null || true # the harness has answered: it is exiting
}
