#!/usr/bin/env bash
# lab: a small internet in network namespaces for msock's lab tests
# (tests/lab/lab_*.sh; ctest runs them as root, serially, with MSOCK_BIN_DIR
# and MSOCK_SOURCE_DIR set). A test sources this file, then calls
# lab_skip_unless_root and lab_init, which builds:
#
#                 derp  198.18.0.2  msock-derper: TLS :443, STUN :3478
#                   |   198.18.0.0/24
#                 inet  198.18.0.1, .1.254, .2.254, .3.1: the internet, a router
#                   |   198.18.3.0/24
#                 stun  198.18.3.2  coturn, STUN only (LAB_COTURN=1)
#            198.18.1.0/24 /          \ 198.18.2.0/24       (no NAT, no 10/8)
#       ra  WAN 198.18.1.1              rb  WAN 198.18.2.1   NAT per router:
#           LAN 10.0.1.1/24                 LAN 10.0.2.1/24  easy | one2one | hard
#                   |                           |
#       na  10.0.1.2 (via 10.0.1.1)     nb  10.0.2.2 (via 10.0.2.1)
#
# Functions take the short names (inet derp ra rb na nb). Every real name
# (namespaces ml<pid>-<short>, interfaces ml<pid>..., WireGuard interfaces)
# carries the per-run prefix $LAB_PREFIX, and every file goes to $LAB_DIR,
# so two runs never collide. lab_cleanup (on EXIT, INT and TERM) kills every
# process in the lab's namespaces, deletes them (and with them every veth
# and tun device), the WireGuard sockets and $LAB_DIR. Leftovers of a run
# that died by SIGKILL are removed by the next lab_init. Every wait is
# bounded. Needs: iproute2, nftables, wireguard-go, wireguard-tools, curl,
# jq, openssl, iputils-ping, iperf3 (lab_iperf only).

LAB_PORT=41641              # msock's UDP port: the routers count packets on it
LAB_DERP_IP=198.18.0.2
LAB_DERP_HOST=derp.lab.test
LAB_DERP_REGION=900
LAB_COTURN_IP=198.18.3.2 # coturn (STUN only) in the stun namespace, when LAB_COTURN=1
LAB_DERP2_IP=198.18.3.5  # a second msock-derper (region 902) in the stun namespace, LAB_DERP2=1
LAB_DERP2_REGION=902
LAB_DERP2_PID=
LAB_COTURN_REGION=901
LAB_COTURN_PID=
LAB_STOP_S=${LAB_STOP_S:-5} # how long a process gets after SIGTERM
declare -gA LAB_IP=([derp]=198.18.0.2 [ra]=198.18.1.1 [rb]=198.18.2.1 [na]=10.0.1.2 [nb]=10.0.2.2)
declare -gA LAB_NAT=()       # router -> its NAT mode
declare -gA LAB_WG_PID=()    # WireGuard interface -> wireguard-go pid
declare -gA LAB_BROKER_PID=() # node -> msock-broker pid
declare -ga LAB_PIDS=()      # every pid lab_bg started, in order
LAB_LAST_PID=
LAB_OUT=1                    # the script's stdout and stderr (lab_init saves them)
LAB_ERR=2
LAB_DERPER_PID=
LAB_TSDERPER_PID=            # Tailscale's derper (lab_tsderper_start), its -hostname
LAB_TSDERPER_HOST=           # and the certificate it serves
LAB_TSDERPER_CERT=
LAB_PREFIX=
LAB_DIR=
LAB_T0=

# Milliseconds since the epoch (bash's clock: no fork).
lab_now_ms() {
  local t=${EPOCHREALTIME//[!0-9]/}
  echo $((t / 1000))
}

# Milliseconds since T_MS (a lab_now_ms value).
lab_ms_since() {
  echo $(($(lab_now_ms) - $1))
}

# Narration to stdout: wall clock, seconds since lab_init, message.
lab_log() {
  local now ts
  now=$(lab_now_ms)
  printf -v ts '%(%H:%M:%S)T' $((now / 1000))
  printf '[lab %s.%03d +%d.%03ds] %s\n' "$ts" $((now % 1000)) \
    $(((now - ${LAB_T0:-$now}) / 1000)) $(((now - ${LAB_T0:-$now}) % 1000)) "$*"
}

# Prints FAIL: MSG to stderr and exits 1 (lab_cleanup runs on EXIT).
lab_fail() {
  lab_log "FAIL: $*" >&2
  exit 1
}

# Prints SKIP: MSG and exits 77, ctest's skip status.
lab_skip() {
  echo "SKIP: $*"
  exit 77
}

# Exits 77 unless root and `ip netns add` works; exits 1 if a tool is missing.
lab_skip_unless_root() {
  local c probe="ml$$-probe"
  [ "$(id -u)" = 0 ] || lab_skip "lab tests need root (network namespaces)"
  command -v ip >/dev/null || lab_skip "no ip command (Debian package: iproute2)"
  ip netns add "$probe" 2>/dev/null || lab_skip "ip netns add does not work here"
  ip netns del "$probe"
  [ -c /dev/net/tun ] || lab_skip "no /dev/net/tun (wireguard-go needs it)"
  for c in nft:nftables wireguard-go:wireguard-go wg:wireguard-tools curl:curl jq:jq \
      openssl:openssl ping:iputils-ping iperf3:iperf3 timeout:coreutils; do
    command -v "${c%%:*}" >/dev/null ||
      lab_fail "${c%%:*} is not installed (Debian package ${c#*:}; scripts/deps.sh installs it)"
  done
}

# Prints the real namespace name of a short name (na -> ml1234-na).
lab_ns() {
  case $1 in
    "$LAB_PREFIX"-*) echo "$1" ;;
    *) echo "$LAB_PREFIX-$1" ;;
  esac
}

# Runs CMD... in namespace NS (ip netns exec).
lab_exec() {
  local ns
  ns=$(lab_ns "$1")
  shift
  ip netns exec "$ns" "$@"
}

# Starts CMD... in NS in the background, output appended to LOGFILE; its pid
# goes to LAB_LAST_PID (and LAB_PIDS) as the process itself (netns exec execs).
lab_bg() {
  local ns log=$2
  ns=$(lab_ns "$1")
  shift 2
  if [ "$LAB_OUT" -gt 2 ]; then # not the script's saved stdout/stderr
    ip netns exec "$ns" "$@" >>"$log" 2>&1 </dev/null {LAB_OUT}>&- {LAB_ERR}>&- &
  else
    ip netns exec "$ns" "$@" >>"$log" 2>&1 </dev/null &
  fi
  LAB_LAST_PID=$!
  LAB_PIDS+=("$LAB_LAST_PID")
}

# Polls CMD... every 0.1 s (output discarded) until it succeeds (0) or
# TIMEOUT_S seconds (may be fractional) pass (1). CMD must not block for long.
lab_wait_for() {
  local end
  end=$(($(lab_now_ms) + $(awk -v s="$1" 'BEGIN { printf "%d", s * 1000 }')))
  shift
  while :; do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    [ "$(lab_now_ms)" -lt "$end" ] || return 1
    sleep 0.1
  done
}

# True while PID runs (a zombie counts as gone, and is reaped if ours).
lab_alive() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  if [ "${st%% *}" = Z ]; then
    wait "$1" 2>/dev/null || true
    return 1
  fi
  return 0
}

# Sends PID SIGTERM, waits up to TIMEOUT_S (default LAB_STOP_S), then SIGKILL.
lab_stop_pid() {
  local pid=$1 t=${2:-$LAB_STOP_S}
  [ -n "$pid" ] || return 0
  lab_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  if ! lab_wait_for "$t" lab_dead "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    lab_wait_for 2 lab_dead "$pid" || true
  fi
  if lab_dead "$pid"; then
    wait "$pid" 2>/dev/null || true # reaps it if ours; never blocks on a live one
  fi
}

# True when PID does not run (for lab_wait_for).
lab_dead() {
  ! lab_alive "$1"
}

# Prints the names of this run's namespaces that exist.
lab_namespaces() {
  ip netns list 2>/dev/null | awk -v p="$LAB_PREFIX-" 'index($1, p) == 1 { print $1 }'
}

# Prints the pids of every process in this run's namespaces.
lab_ns_pids() {
  local ns
  for ns in $(lab_namespaces); do
    ip netns pids "$ns" 2>/dev/null || true
  done
}

# True when no process runs in this run's namespaces (for lab_wait_for).
lab_ns_empty() {
  [ -z "$(lab_ns_pids)" ]
}

# Kills what a run with prefix P left (namespaces, processes, sockets, dir).
lab_reap_prefix() {
  local p=$1 ns pid
  for ns in $(ip netns list 2>/dev/null | awk -v p="$p-" 'index($1, p) == 1 { print $1 }'); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      kill -KILL "$pid" 2>/dev/null || true
    done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -f /var/run/wireguard/wg"${p#ml}"[a-z]*.sock
  rm -rf /tmp/msock-lab-"$p"-?????? /etc/netns/"$p"-*
}

# Removes the leftovers of lab runs whose shell is gone (killed by SIGKILL).
lab_reap_stale() {
  local p
  for p in $({
    ip netns list 2>/dev/null | awk '{ print $1 }'
    find /var/run/wireguard -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sed -n 's/^wg\([0-9]*\)[a-z].*/ml\1/p'
    find /tmp -maxdepth 1 -name 'msock-lab-ml*' ! -name '*.kept' -printf '%f\n' | sed 's/^msock-lab-//'
    find /etc/netns -maxdepth 1 -name 'ml*' -printf '%f\n' 2>/dev/null
  } | grep -oE '^ml[0-9]+' | sort -u); do
    if [ "$p" = "ml$$" ] || ! kill -0 "${p#ml}" 2>/dev/null; then
      lab_log "removing what lab run $p (gone) left behind"
      lab_reap_prefix "$p"
    fi
  done
}

# Prints the tail of every log in LAB_DIR and each broker's status (on failure).
lab_dump() {
  local f n
  for n in "${!LAB_BROKER_PID[@]}"; do
    if lab_alive "${LAB_BROKER_PID[$n]}"; then
      echo "--- msockctl status --json on $n"
      timeout --foreground 3 "$LAB_BIN/msockctl" --socket "$LAB_DIR/$n/run/control.sock" \
        status --json 2>&1 | head -n 80 || true
    fi
  done
  [ -d "$LAB_DIR" ] || return 0
  while IFS= read -r f; do
    echo "--- ${f#"$LAB_DIR"/} (last 40 lines)"
    tail -n 40 "$f"
  done < <(find "$LAB_DIR" -name '*.log' -type f | sort)
}

# Stops everything the lab started and removes it; idempotent. Argument: the
# exit status (logs are dumped to stderr unless it is 0, 77 or 130: Ctrl-C).
lab_cleanup() {
  local rc=${1:-0} t0 pid
  [ -n "$LAB_PREFIX" ] || return 0
  trap - ERR
  trap '' INT TERM
  set +e
  t0=$(lab_now_ms)
  if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ "$rc" != 130 ]; then
    lab_dump >&2
  fi
  # SIGTERM first (brokers stop their components, wireguard-go removes its
  # socket), then SIGKILL to whatever still runs in a lab namespace.
  for pid in $(lab_ns_pids); do
    kill -TERM "$pid" 2>/dev/null
  done
  if ! lab_wait_for "$LAB_STOP_S" lab_ns_empty; then
    for pid in $(lab_ns_pids); do
      kill -KILL "$pid" 2>/dev/null
    done
    lab_wait_for 2 lab_ns_empty || lab_log "cleanup: still running: $(lab_ns_pids)" >&2
  fi
  for pid in "${LAB_PIDS[@]}"; do
    lab_alive "$pid" && kill -KILL "$pid" 2>/dev/null
  done
  if [ -n "${MSOCK_TEST_KEEP:-}" ] && [ -d "$LAB_DIR" ]; then
    mv "$LAB_DIR" "$LAB_DIR.kept" && lab_log "cleanup: kept $LAB_DIR.kept"
  fi
  lab_reap_prefix "$LAB_PREFIX"
  rm -rf "$LAB_DIR"
  lab_log "cleanup done in $(lab_ms_since "$t0") ms"
  LAB_PREFIX=
  trap - INT TERM
  set -e
}

# EXIT trap: cleans up and keeps the script's exit status. Output goes to
# the script's own stdout/stderr: a signal may arrive while a command's
# output is redirected to a file (the trap runs inside that redirection).
lab_on_exit() {
  local rc=$?
  lab_cleanup "$rc" 1>&"$LAB_OUT" 2>&"$LAB_ERR"
  exit "$rc"
}

# ERR trap: names the command that failed and the call stack.
lab_on_err() {
  local rc=$? i where=
  for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
    where+=" ${BASH_SOURCE[i]##*/}:${BASH_LINENO[i - 1]}"
    [ "${FUNCNAME[i]}" = main ] || where+="(${FUNCNAME[i]})"
  done
  echo "lab: status $rc of '$BASH_COMMAND' at$where" >&2
}

# Creates veth IF1 in NS1 (ADDR1) and IF2 in NS2 (ADDR2), both up.
lab_veth() {
  local n1 n2
  n1=$(lab_ns "$1")
  n2=$(lab_ns "$4")
  ip link add "$2" netns "$n1" type veth peer name "$5" netns "$n2"
  ip -n "$n1" addr add "$3" dev "$2"
  ip -n "$n2" addr add "$6" dev "$5"
  ip -n "$n1" link set "$2" up
  ip -n "$n2" link set "$5" up
}

# Builds the namespaces, links, routes and nftables tables (no NAT rules).
lab_topology() {
  local ns p=$LAB_PREFIX x
  for ns in inet derp stun ra rb na nb; do
    ip netns add "$(lab_ns $ns)"
    ip -n "$(lab_ns $ns)" link set lo up
    # Loose reverse-path filtering whatever the host has (IPv4 settings of a
    # new namespace are copied from the host's).
    lab_exec $ns sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  done
  for ns in inet ra rb; do
    lab_exec $ns sysctl -qw net.ipv4.ip_forward=1
  done
  # msock's and WireGuard's ports are in the ephemeral range (32768-60999):
  # a socket bound to port 0 first (netcheck's, the portmapper's, ...) could
  # take one, and wireguard-go then failed "Address already in use" (a rare
  # failure of lab_disco_easy). Not handed out to port 0 here.
  for ns in na nb; do
    lab_exec $ns sysctl -qw "net.ipv4.ip_local_reserved_ports=$LAB_PORT,$LAB_WG_PORT"
  done
  lab_veth inet "${p}i2d" 198.18.0.1/24 derp "${p}d2i" 198.18.0.2/24
  ip -n "$(lab_ns derp)" route add default via 198.18.0.1
  lab_veth inet "${p}i2s" 198.18.3.1/24 stun "${p}s2i" "$LAB_COTURN_IP/24"
  ip -n "$(lab_ns stun)" route add default via 198.18.3.1
  for x in a b; do
    local n=1
    [ $x = b ] && n=2
    lab_veth inet "${p}i2$x" "198.18.$n.254/24" "r$x" "${p}${x}2i" "198.18.$n.1/24"
    lab_veth "r$x" "${p}${x}2n" "10.0.$n.1/24" "n$x" "${p}n2$x" "10.0.$n.2/24"
    ip -n "$(lab_ns "r$x")" route add default via "198.18.$n.254"
    ip -n "$(lab_ns "n$x")" route add default via "10.0.$n.1"
    # The router's table: NAT chains (filled by lab_nat) and the counter of
    # UDP on LAB_PORT forwarded between the WAN and the node, both ways.
    lab_exec "r$x" nft -f - <<EOF
table ip lab {
  counter msock_udp { }
  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }
  # A home router's firewall: new UDP flows from the internet to the
  # router itself are dropped. Besides being what routers do, this keeps
  # an unsolicited packet (a peer's first hole-punching ping) from leaving
  # a conntrack entry that would make masquerade pick another port for the
  # node's own packets to that peer (a dropped packet's entry is never
  # confirmed).
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "${p}${x}2i" meta l4proto udp ct state new drop
  }
  chain postrouting { type nat hook postrouting priority srcnat; policy accept; }
  # easyAF (lab_nat): the remote addresses the node sent to from msock's
  # port, and the rule that remembers them.
  set contacted { type ipv4_addr; flags dynamic,timeout; timeout 60s; }
  chain af { }
  chain forward {
    type filter hook forward priority filter; policy accept;
    jump af
    iifname "${p}${x}2i" oifname "${p}${x}2n" ip daddr 10.0.$n.2 udp dport $LAB_PORT \
      counter name "msock_udp"
    iifname "${p}${x}2n" oifname "${p}${x}2i" ip saddr 10.0.$n.2 udp sport $LAB_PORT \
      counter name "msock_udp"
  }
}
EOF
  done
  # The internet's table: a chain for injected faults.
  lab_exec inet nft -f - <<EOF
table ip lab {
  chain faults { }
  chain forward { type filter hook forward priority filter; policy accept; jump faults; }
}
EOF
}

# Sets ROUTER's (ra, rb) NAT: easy (masquerade: the source port is kept
# when free, replies only from where the node sent), easyAF (the same
# mapping, but msock's port open to any port of an address the node sent
# to: address-dependent filtering), one2one (node <-> WAN
# address for all traffic, any port reachable from anyone) or hard
# (masquerade fully-random: a new random port per destination). Existing
# conntrack entries keep their mapping: set modes before traffic flows.
lab_nat() {
  local r=$1 mode=$2 x wan node rules
  x=${r#r}
  wan="${LAB_PREFIX}${x}2i"
  node=${LAB_IP[n$x]}
  case $mode in
    easy) rules="add rule ip lab postrouting oifname \"$wan\" masquerade" ;;
    hard) rules="add rule ip lab postrouting oifname \"$wan\" masquerade fully-random" ;;
    one2one)
      rules="add rule ip lab prerouting iifname \"$wan\" ip daddr ${LAB_IP[$r]} dnat to $node
add rule ip lab postrouting oifname \"$wan\" ip saddr $node snat to ${LAB_IP[$r]}"
      ;;
    easyAF)
      # Endpoint-independent mapping (masquerade keeps the port) with
      # address-dependent filtering: a new flow from the internet to msock's
      # port is let in if the node has sent to that address, any port.
      rules="add rule ip lab af oifname \"$wan\" ip saddr $node udp sport $LAB_PORT update @contacted { ip daddr }
add rule ip lab prerouting iifname \"$wan\" udp dport $LAB_PORT ip saddr @contacted dnat to $node:$LAB_PORT
add rule ip lab postrouting oifname \"$wan\" masquerade"
      ;;
    *) lab_fail "lab_nat: unknown mode '$mode' (easy, easyAF, one2one, hard)" ;;
  esac
  lab_exec "$r" nft -f - <<EOF
flush chain ip lab prerouting
flush chain ip lab postrouting
flush chain ip lab af
flush set ip lab contacted
$rules
EOF
  if command -v conntrack >/dev/null; then
    lab_exec "$r" conntrack -F >/dev/null 2>&1 || true
  fi
  LAB_NAT[$r]=$mode
}

# Prints ROUTER's count of UDP packets on LAB_PORT forwarded WAN <-> node.
lab_router_udp_count() {
  lab_exec "$1" nft -j list counter ip lab msock_udp |
    jq -e '.nftables[] | select(.counter) | .counter.packets'
}

# In inet: drops UDP between 198.18.1.0/24 and 198.18.2.0/24 (both ways).
lab_block_udp_between_routers() {
  lab_exec inet nft -f - <<EOF
add rule ip lab faults ip saddr 198.18.1.0/24 ip daddr 198.18.2.0/24 meta l4proto udp counter drop
add rule ip lab faults ip saddr 198.18.2.0/24 ip daddr 198.18.1.0/24 meta l4proto udp counter drop
EOF
}

# Removes every fault rule of inet (lab_block_udp_between_routers, ...).
lab_faults_clear() {
  lab_exec inet nft flush chain ip lab faults
}

# Makes the derper's self-signed certificate (once) and starts msock-derper
# in derp: TLS on :443, STUN on :3478. It listens on every address of its
# namespace so that /debug/metrics (loopback callers only) answers on
# 127.0.0.1; 198.18.0.2 is the only other one.
lab_derper_start() {
  local d=$LAB_DIR/derp err
  mkdir -p "$d"
  if [ ! -f "$d/$LAB_DERP_HOST.crt" ]; then
    err=$(openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj "/CN=$LAB_DERP_HOST" -addext "subjectAltName=DNS:$LAB_DERP_HOST,IP:$LAB_DERP_IP" \
      -keyout "$d/$LAB_DERP_HOST.key" -out "$d/$LAB_DERP_HOST.crt" 2>&1) ||
      lab_fail "openssl could not make the derper's certificate: $err"
  fi
  lab_bg derp "$d/derper.log" "$LAB_BIN/msock-derper" -a :443 -certmode manual \
    -certdir "$d" -hostname "$LAB_DERP_HOST" -c "$d/derper.key" -http-port -1 -stun-port 3478
  LAB_DERPER_PID=$LAB_LAST_PID
  if ! lab_wait_for 10 lab_exec derp curl -sfk --max-time 1 -o /dev/null \
      "https://127.0.0.1/derp/probe"; then
    lab_fail "msock-derper did not answer on 127.0.0.1:443 in its namespace within 10 s"
  fi
}

# Stops msock-derper (SIGTERM, bounded); lab_derper_start starts it again.
lab_derper_stop() {
  lab_stop_pid "$LAB_DERPER_PID"
  LAB_DERPER_PID=
}

# Prints the derper's metric NAME (Prometheus text of /debug/metrics).
lab_derper_metric() {
  lab_exec derp curl -sfk --max-time 3 https://127.0.0.1/debug/metrics |
    awk -v m="$1" '$1 == m { print $2; found = 1 } END { exit !found }'
}

# Prints the number of packets the derper forwarded (derp_packets_relayed_total).
lab_derper_packets() {
  lab_derper_metric derp_packets_relayed_total
}

# Starts Tailscale's own derper (cmd/derper, built by tests/interop/build.sh
# into $MSOCK_INTEROP_BIN) in derp, in msock-derper's place: stop that one
# first (lab_derper_stop). TLS on :443, STUN on :3478, no port 80
# (-http-port -1); never -dev (it forces :3340). HOSTNAME (default
# $LAB_DERP_HOST) is its -hostname in -certmode manual: a DNS name loads
# $LAB_DIR/derp/HOSTNAME.crt and .key (the lab's certificate; it refuses any
# other SNI), so the nodes' DERP map is unchanged; an IP address makes it
# create a self-signed certificate in $LAB_DIR/derp/ip/ and log the DERP
# node entry that pins it (lab_tsderper_cert_name prints its CertName).
# Log $LAB_DIR/derp/tsderper.log; pid in LAB_TSDERPER_PID.
lab_tsderper_start() {
  local d=$LAB_DIR/derp host=${1:-$LAB_DERP_HOST} bin dir
  lab_interop_bin derper
  bin=$LAB_IB/derper
  [ -z "$LAB_DERPER_PID" ] || lab_fail "lab_tsderper_start: msock-derper still runs (lab_derper_stop first)"
  dir=$d
  if [[ $host =~ ^[0-9.]+$ ]]; then
    dir=$d/ip
    mkdir -p "$dir"
  fi
  LAB_TSDERPER_HOST=$host
  LAB_TSDERPER_CERT=$dir/$host.crt
  lab_bg derp "$d/tsderper.log" "$bin" -a :443 -certmode manual -certdir "$dir" \
    -hostname "$host" -c "$d/tsderper.key" -http-port -1 -stun-port 3478
  LAB_TSDERPER_PID=$LAB_LAST_PID
  if ! lab_wait_for 15 lab_tsderper_curl /derp/probe; then
    lab_fail "Tailscale's derper did not answer on 127.0.0.1:443 within 15 s: $(tail -n 5 "$d/tsderper.log")"
  fi
  lab_wait_for 5 lab_udp_listening derp 3478 ||
    lab_fail "Tailscale's derper does not listen for STUN on :3478"
}

# Prints the CertName ("sha256-raw:<hex>") Tailscale's derper logged for
# its self-signed IP certificate (lab_tsderper_start with an IP).
lab_tsderper_cert_name() {
  grep -o '"CertName":"sha256-raw:[0-9a-f]*"' "$LAB_DIR/derp/tsderper.log" | tail -n 1 |
    sed 's/^"CertName":"//; s/"$//'
}

# GETs PATH from Tailscale's derper inside derp, connecting to 127.0.0.1
# (its /debug/ answers loopback callers only) with the URL's host and SNI
# its -hostname, the certificate verified; prints the body.
lab_tsderper_curl() {
  lab_exec derp curl -sf --max-time 3 --cacert "$LAB_TSDERPER_CERT" \
    --connect-to "::127.0.0.1:443" "https://$LAB_TSDERPER_HOST$1"
}

# Prints Tailscale's derper's metric NAME (Prometheus text of /debug/varz).
lab_tsderper_metric() {
  lab_tsderper_curl /debug/varz | awk -v m="$1" '$1 == m { print $2; f = 1 } END { exit !f }'
}

# Prints how many packets Tailscale's derper has sent to its clients.
lab_tsderper_packets() {
  lab_tsderper_metric derp_packets_sent
}

# Stops Tailscale's derper (SIGTERM, bounded).
lab_tsderper_stop() {
  lab_stop_pid "$LAB_TSDERPER_PID"
  LAB_TSDERPER_PID=
}


# Starts coturn's turnserver as a plain STUN server (no TURN, no auth, no
# TLS, no CLI, no database) on $LAB_COTURN_IP:3478 in the derp namespace:
# the second STUN server a node sees, as region $LAB_COTURN_REGION
# (STUNOnly) of the lab's DERP map. Log $LAB_DIR/stun/coturn.log.
lab_coturn_start() {
  local d=$LAB_DIR/stun
  mkdir -p "$d"
  lab_bg stun "$d/coturn.log" turnserver -n --stun-only --no-cli --no-tls --no-dtls \
    --listening-ip="$LAB_COTURN_IP" --listening-port=3478 --no-auth --simple-log \
    --log-file=stdout --pidfile="$d/coturn.pid" --userdb="$d/turndb" --no-software-attribute
  # shellcheck disable=SC2034 # for a lab script that stops coturn
  LAB_COTURN_PID=$LAB_LAST_PID
  lab_wait_for 5 lab_udp_listening stun 3478 "$LAB_COTURN_IP" ||
    lab_fail "coturn did not listen on $LAB_COTURN_IP:3478 within 5 s: $(tail -n 5 "$d/coturn.log")"
}

# Starts a second msock-derper, region $LAB_DERP2_REGION, on $LAB_DERP2_IP
# (TLS :443, STUN :3479 on that address: coturn holds 3478) in the stun namespace, with the
# first derper's certificate; a second region a node can home on.
lab_derper2_start() {
  local d=$LAB_DIR/derp
  ip -n "$(lab_ns stun)" addr add "$LAB_DERP2_IP/24" dev "${LAB_PREFIX}s2i" 2>/dev/null || true
  lab_bg stun "$d/derper2.log" "$LAB_BIN/msock-derper" -a "$LAB_DERP2_IP:443" -certmode manual \
    -certdir "$d" -hostname "$LAB_DERP_HOST" -c "$d/derper2.key" -http-port -1 -stun-port 3479
  # shellcheck disable=SC2034 # for a lab script that stops the second derper
  LAB_DERP2_PID=$LAB_LAST_PID
  if ! lab_wait_for 10 lab_exec stun curl -sfk --max-time 1 -o /dev/null \
      "https://$LAB_DERP2_IP/derp/probe"; then
    lab_fail "the second msock-derper did not answer on $LAB_DERP2_IP:443 within 10 s"
  fi
}

# True when something listens on UDP PORT (at ADDR if given) in NS.
lab_udp_listening() {
  lab_exec "$1" ss -Hlun "sport = :$2" | grep -q "${3:-}"
}

# Creates the lab: per-run prefix, LAB_DIR, traps, topology, NAT of each
# router (env LAB_NAT_A / LAB_NAT_B, default easy), the derper.
lab_init() {
  local t0
  local src
  src=${MSOCK_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
  LAB_BIN=${MSOCK_BIN_DIR:-$src/build/test/bin}
  { [ -x "$LAB_BIN/msock-derper" ] && [ -x "$LAB_BIN/msock-broker" ]; } ||
    lab_fail "no msock-derper / msock-broker in $LAB_BIN: set MSOCK_BIN_DIR to a build's bin/"
  LAB_T0=$(lab_now_ms)
  t0=$LAB_T0
  lab_reap_stale
  LAB_PREFIX="ml$$"
  exec {LAB_OUT}>&1 {LAB_ERR}>&2 # the script's own output, for lab_on_exit
  trap lab_on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  set -E
  trap lab_on_err ERR
  LAB_DIR=$(mktemp -d "/tmp/msock-lab-$LAB_PREFIX-XXXXXX")
  chmod 755 "$LAB_DIR" # components run as nobody and must reach <node>/run
  lab_topology
  lab_nat ra "${LAB_NAT_A:-easy}"
  lab_nat rb "${LAB_NAT_B:-easy}"
  lab_derper_start
  [ -z "${LAB_COTURN:-}" ] || lab_coturn_start
  [ -z "${LAB_DERP2:-}" ] || lab_derper2_start
  lab_log "lab $LAB_PREFIX up in $(lab_ms_since "$t0") ms" \
    "(NAT ra ${LAB_NAT[ra]}, rb ${LAB_NAT[rb]}; $LAB_DIR)"
}

# Makes NODE's node key $LAB_DIR/NODE/state/node.key (0600) if missing and
# prints its public key (base64: WireGuard's public key is the node key).
lab_node_key() {
  local d=$LAB_DIR/$1
  mkdir -p "$d/state"
  chmod 755 "$d"
  chmod 700 "$d/state"
  if [ ! -s "$d/state/node.key" ]; then
    (umask 077 && wg genkey >"$d/state/node.key")
  fi
  wg pubkey <"$d/state/node.key"
}

# Prints the nodekey:<hex> form of a base64 public key.
lab_nodekey_hex() {
  printf 'nodekey:%s\n' "$(printf '%s' "$1" | base64 -d | od -An -v -tx1 | tr -d ' \n')"
}

# Prints the binary of WireGuard implementation IMPL (default $LAB_WG_IMPL,
# else debian): debian = Debian's wireguard-go from PATH; upstream (the
# newest wireguard-go) and boringtun (boringtun-cli) = those bench/wg_impls.sh
# installs in $LAB_WG_IMPLS_BIN (default build/wg-impls/bin). Fails (1,
# nothing printed) when it is not there or IMPL is unknown.
lab_wg_bin() {
  local impl=${1:-${LAB_WG_IMPL:-debian}} dir
  dir=${LAB_WG_IMPLS_BIN:-${MSOCK_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/build/wg-impls/bin}
  case $impl in
    debian) command -v wireguard-go ;;
    upstream) [ -x "$dir/wireguard-go" ] && echo "$dir/wireguard-go" ;;
    boringtun) [ -x "$dir/boringtun-cli" ] && echo "$dir/boringtun-cli" ;;
    *) return 1 ;;
  esac
}

# Starts WireGuard ($LAB_WG_IMPL: debian, upstream or boringtun, see
# lab_wg_bin; default debian) in NODE for IFACE ($LAB_PREFIX then a letter, e.g.
# wg<pid>a as lab_wg_iface names it; at most 15 characters), log $LAB_DIR/wg-IFACE.log; sets
# the private key file and listen port, adds ADDR (10.99.0.1/24) and ups it.
# boringtun is kept from dropping privileges (it asks getlogin(), which has
# no answer in the lab) and gets MTU 1420 (wireguard-go's own, what wg-quick
# sets; boringtun leaves the tun's 1500). It panics on `wg set` of a peer it
# has (remove the peer, then add it again).
lab_wg_up() {
  local node=$1 ifc=$2 key=$3 port=$4 addr=$5 ns bin lvl impl=${LAB_WG_IMPL:-debian}
  ns=$(lab_ns "$node")
  { [[ $ifc == "wg${LAB_PREFIX#ml}"[a-z]* ]] && [ ${#ifc} -le 15 ]; } ||
    lab_fail "lab_wg_up: '$ifc' is not wg${LAB_PREFIX#ml}, a letter, ... in 15 characters"
  bin=$(lab_wg_bin "$impl") ||
    lab_fail "lab_wg_up: no WireGuard '$impl' (LAB_WG_IMPL: debian, upstream, boringtun; bench/wg_impls.sh installs the last two)"
  if [ "$impl" = boringtun ]; then # its levels: error info debug trace
    lvl=error
    [ "${LAB_WG_LOG_LEVEL:-verbose}" != verbose ] || lvl=info
    lab_bg "$node" "$LAB_DIR/wg-$ifc.log" env WG_LOG_LEVEL="$lvl" \
      "$bin" -f --disable-drop-privileges "$ifc"
  else
    lab_bg "$node" "$LAB_DIR/wg-$ifc.log" env LOG_LEVEL="${LAB_WG_LOG_LEVEL:-verbose}" \
      WG_PROCESS_FOREGROUND=1 "$bin" -f "$ifc"
  fi
  LAB_WG_PID[$ifc]=$LAB_LAST_PID
  if ! lab_wait_for 5 test -S "/var/run/wireguard/$ifc.sock"; then
    lab_fail "$impl WireGuard $ifc did not open /var/run/wireguard/$ifc.sock within 5 s"
  fi
  lab_exec "$node" wg set "$ifc" private-key "$key" listen-port "$port"
  ip -n "$ns" addr add "$addr" dev "$ifc"
  [ "$impl" != boringtun ] || ip -n "$ns" link set "$ifc" mtu 1420
  ip -n "$ns" link set "$ifc" up
}

# Adds (or updates) a peer on NODE's IFACE: PUBKEY, ALLOWED_IPS, [ENDPOINT].
lab_wg_peer() {
  local node=$1 ifc=$2 key=$3 ips=$4 ep=${5:-}
  lab_exec "$node" wg set "$ifc" peer "$key" allowed-ips "$ips" ${ep:+endpoint "$ep"}
}

# Stops IFACE's wireguard-go (its tun device goes with it) and its socket.
lab_wg_down() {
  local ifc=$2
  lab_stop_pid "${LAB_WG_PID[$ifc]:-}"
  unset "LAB_WG_PID[$ifc]"
  rm -f "/var/run/wireguard/$ifc.sock"
}

# Prints the lab's DERP map (Tailscale's JSON, what msock's derp_map and a
# control server's DERPMap hold): region 900, the lab's derper
# (InsecureForTests); coturn's STUN-only region 901 when LAB_COTURN=1; the
# second derper's region 902 when LAB_DERP2=1.
lab_derp_map() {
  jq -n --arg derp "$LAB_DERP_IP" --arg host "$LAB_DERP_HOST" \
    --argjson region "$LAB_DERP_REGION" \
    --arg coturn "${LAB_COTURN:+$LAB_COTURN_IP}" --argjson cregion "$LAB_COTURN_REGION" \
    --arg derp2 "${LAB_DERP2:+$LAB_DERP2_IP}" --argjson region2 "$LAB_DERP2_REGION" '
    {
      Regions: ({
        ($region | tostring): {
          RegionID: $region, RegionCode: "lab", RegionName: "Lab",
          Nodes: [{
            Name: "\($region)a", RegionID: $region, HostName: $host,
            IPv4: $derp, IPv6: "none", STUNPort: 3478, DERPPort: 443,
            InsecureForTests: true
          }]
        }
      } + (if $coturn == "" then {} else {
        ($cregion | tostring): {
          RegionID: $cregion, RegionCode: "coturn", RegionName: "coturn (STUN only)",
          NoMeasureNoHome: false,
          Nodes: [{
            Name: "\($cregion)a", RegionID: $cregion, HostName: $coturn,
            IPv4: $coturn, IPv6: "none", STUNPort: 3478, STUNOnly: true
          }]
        }
      } end) + (if $derp2 == "" then {} else {
        ($region2 | tostring): {
          RegionID: $region2, RegionCode: "lab2", RegionName: "Lab 2",
          Nodes: [{
            Name: "\($region2)a", RegionID: $region2, HostName: $host,
            IPv4: $derp2, IPv6: "none", STUNPort: 3479, DERPPort: 443,
            InsecureForTests: true
          }]
        }
      } end)),
      omitDefaultRegions: true
    }'
}

# Writes $LAB_DIR/NODE/msock.json: dirs under $LAB_DIR/NODE, user nobody,
# listen_port PORT, wg_listen_port WG_PORT (0: not set), home DERP
# $LAB_HOME_DERP (default 900, the lab's derper; 0 = chosen by latency),
# the DERP map of lab_derp_map,
# prefs from LAB_PREFS (a JSON object, default {}), one peer PEERNAME with PEER_NODEKEY_B64,
# home 900 and [PEER_STATIC_ENDPOINT]; components from env LAB_COMPONENTS
# (a JSON array, default ["dataplane","derp"]). LAB_MSOCK_JQ, if set, is a
# jq filter applied last (extra peers, derp_ca_file, ...). Makes the node
# key if missing.
lab_msock_config() {
  local node=$1 port=$2 wg=$3 peer=$4 key=$5 ep=${6:-} dk=${7:-} d
  d=$LAB_DIR/$node
  lab_node_key "$node" >/dev/null
  jq -n --arg d "$d" --argjson port "$port" --argjson wg "${wg:-0}" --arg peer "$peer" \
    --arg key "$key" --arg ep "$ep" --argjson region "$LAB_DERP_REGION" \
    --argjson comps "${LAB_COMPONENTS:-[\"dataplane\",\"derp\"]}" \
    --argjson dm "$(lab_derp_map)" --argjson home "${LAB_HOME_DERP:-$LAB_DERP_REGION}" \
    --argjson prefs "${LAB_PREFS:-{\}}" --arg dk "$dk" '
    {
      state_dir: ($d + "/state"),
      run_dir: ($d + "/run"),
      control_socket: ($d + "/run/control.sock"),
      listen_port: $port
    }
    + (if $wg > 0 then {wg_listen_port: $wg} else {} end)
    + {
      home_derp: $home,
      derp_map: $dm,
      prefs: $prefs,
      peers: [{name: $peer, node_key: $key, home_derp: $region}
        + (if $ep == "" then {} else {endpoints: [$ep]} end)
        + (if $dk == "" then {} else {disco_key: $dk} end)],
      components: $comps
    }' | jq "${LAB_MSOCK_JQ:-.}" >"$d/msock.json"
}

# Makes NODE's disco key $LAB_DIR/NODE/state/disco.key (0600) if missing and
# prints its discokey:<hex> (what the other node's config names).
lab_disco_key() {
  local d=$LAB_DIR/$1
  mkdir -p "$d/state"
  chmod 700 "$d/state"
  if [ ! -s "$d/state/disco.key" ]; then
    "$LAB_BIN/msockctl" keygen --disco "$d/state/disco.key" >/dev/null
  fi
  "$LAB_BIN/msockctl" pubkey --disco "$d/state/disco.key"
}

# Runs msockctl against NODE's control socket: lab_msockctl na status --json.
lab_msockctl() {
  local node=$1
  shift
  lab_exec "$node" "$LAB_BIN/msockctl" --socket "$LAB_DIR/$node/run/control.sock" "$@"
}

# Starts msock-broker with $LAB_DIR/NODE/msock.json in NODE (log
# $LAB_DIR/NODE/broker.log) and waits up to 10 s for its control socket.
lab_msock_up() {
  local node=$1 d end
  d=$LAB_DIR/$node
  [ -f "$d/msock.json" ] || lab_fail "lab_msock_up $node: no $d/msock.json (lab_msock_config first)"
  lab_node_key "$node" >/dev/null
  lab_bg "$node" "$d/broker.log" "$LAB_BIN/msock-broker" --config "$d/msock.json"
  LAB_BROKER_PID[$node]=$LAB_LAST_PID
  end=$(($(lab_now_ms) + 10000))
  until lab_msockctl "$node" status >/dev/null 2>&1; do
    if ! lab_alive "${LAB_BROKER_PID[$node]}"; then
      lab_fail "msock-broker on $node exited at start (its log follows)"
    fi
    if [ "$(lab_now_ms)" -ge "$end" ]; then
      lab_fail "msock-broker on $node did not answer on its control socket within 10 s"
    fi
    sleep 0.1
  done
}

# Stops NODE's broker (SIGTERM: it stops its components; bounded).
lab_msock_down() {
  lab_stop_pid "${LAB_BROKER_PID[$1]:-}" 10
  unset "LAB_BROKER_PID[$1]"
}

# Prints the State of NODE's connection to DERP region REGION (default 900).
lab_msock_derp_state() {
  lab_msockctl "$1" status --json |
    jq -r --arg r "${2:-$LAB_DERP_REGION}" '.Self.DERP[$r].State // ""'
}

# True when NODE's derp component is up on region REGION (default 900).
lab_msock_derp_up() {
  [ "$(lab_msock_derp_state "$@")" = up ]
}

# True when something listens on TCP PORT in NS.
lab_tcp_listening() {
  [ -n "$(lab_exec "$1" ss -Hltn "sport = :$2")" ]
}

# iperf3 from NS_CLIENT to SERVER_ADDR (server in NS_SERVER) for SECONDS;
# prints the receiver's Gbit/s. Port LAB_IPERF_PORT (5201); extra client
# flags in LAB_IPERF_ARGS (e.g. "-R", "-u -b 0"). JSON kept in LAB_DIR.
lab_iperf() {
  local srv=$1 addr=$2 cli=$3 secs=$4 port=${LAB_IPERF_PORT:-5201} pid out
  out=$LAB_DIR/iperf-$srv-$cli-$(lab_now_ms)
  lab_bg "$srv" "$out.server.log" iperf3 -s -1 -p "$port"
  pid=$LAB_LAST_PID
  if ! lab_wait_for 5 lab_tcp_listening "$srv" "$port"; then
    lab_stop_pid "$pid"
    lab_fail "iperf3 -s did not listen on $port in $srv within 5 s"
  fi
  # shellcheck disable=SC2086 # LAB_IPERF_ARGS is a list of flags
  if ! lab_exec "$cli" timeout --foreground $((secs + 10)) iperf3 -c "$addr" -p "$port" \
      -t "$secs" -J ${LAB_IPERF_ARGS:-} >"$out.json" 2>"$out.client.log"; then
    lab_stop_pid "$pid"
    lab_log "iperf3 $cli -> $addr failed: $(jq -r '.error // empty' "$out.json" 2>/dev/null)" >&2
    return 1
  fi
  lab_wait_for 5 lab_dead "$pid" || lab_stop_pid "$pid"
  jq -r '(.end.sum_received // .end.sum).bits_per_second / 1e9 * 100 | round / 100' "$out.json"
}

LAB_WG_PORT=51820 # wireguard-go's listen port on each node (msock's wg_listen_port)
declare -gA LAB_TUN=([na]=10.99.0.1 [nb]=10.99.0.2) # tunnel addresses
LAB_DISCO_COMPONENTS='["dataplane","derp","netcheck","disco"]' # a msock node with disco

# Prints the other node of NODE (na <-> nb).
lab_other() {
  [ "$1" = na ] && echo nb || echo na
}

# Prints NODE's WireGuard interface name: wg<pid of the run><node's letter>.
# It starts with "wg" as WireGuard interfaces usually do (wg0): msock's
# link monitor never takes addresses of such interfaces into the endpoint
# set (a peer reached through the tunnel itself would be a loop).
lab_wg_iface() {
  echo "wg${LAB_PREFIX#ml}${1#n}"
}

# Brings up msock and WireGuard on NODE with the other node as its one peer:
# msock (components $LAB_COMPONENTS, default dataplane + derp) with
# wg_listen_port $LAB_WG_PORT and, if given, the peer's STATIC_ENDPOINT;
# wireguard-go on $LAB_WG_PORT with the tunnel address; the peer's endpoint
# set by `msockctl wg-config --apply` (so WireGuard talks only to msock).
lab_node_up() {
  local node=$1 ep=${2:-} peer ifc
  peer=$(lab_other "$node")
  ifc=$(lab_wg_iface "$node")
  lab_node_key "$peer" >/dev/null
  lab_msock_config "$node" "$LAB_PORT" "$LAB_WG_PORT" "$peer" "$(lab_node_key "$peer")" "$ep" \
    "${LAB_DISCO:+$(lab_disco_key "$peer")}"
  lab_msock_up "$node"
  lab_wg_up "$node" "$ifc" "$LAB_DIR/$node/state/node.key" "$LAB_WG_PORT" "${LAB_TUN[$node]}/24"
  lab_wg_peer "$node" "$ifc" "$(lab_node_key "$peer")" "${LAB_TUN[$peer]}/32"
  lab_wait_for 10 lab_msockctl "$node" wg-config ||
    lab_fail "$node: msockctl wg-config has no endpoint within 10 s:" \
      "$(lab_msockctl "$node" wg-config 2>&1)"
  lab_msockctl "$node" wg-config --apply "$ifc" >/dev/null ||
    lab_fail "$node: msockctl wg-config --apply $ifc failed"
}

# Sets LAB_IB to the interop programs' directory (MSOCK_INTEROP_BIN, else
# tests/interop/build.sh's default) and fails unless each PROG is there.
lab_interop_bin() {
  local src=${MSOCK_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)} p
  LAB_IB=${MSOCK_INTEROP_BIN:-$src/build/interop/bin}
  for p in "$@"; do
    [ -x "$LAB_IB/$p" ] || lab_fail "no $LAB_IB/$p: run tests/interop/build.sh (set MSOCK_INTEROP_BIN)"
  done
}

# Lines in NODE's broker log so far (a mark for lab_bday_round).
lab_log_lines() {
  local f=$LAB_DIR/$1/broker.log
  if [ -f "$f" ]; then wc -l <"$f"; else echo 0; fi
}

# The birthday-punching round that found the path, from the broker logs'
# lines after the marks (lab_log_lines): "round N", or nothing when no
# birthday punching happened. Usage: lab_bday_round NODE MARK [NODE MARK].
lab_bday_round() {
  local lines="" n
  while [ $# -ge 2 ]; do
    lines+=$(tail -n +"$(($2 + 1))" "$LAB_DIR/$1/broker.log" 2>/dev/null)$'\n'
    shift 2
  done
  n=$(grep -o 'a pong through a new mapping after [0-9]* ms (round [0-9]*)' <<<"$lines" |
    tail -n 1 | grep -o 'round [0-9]*' || true)
  if [ -z "$n" ]; then
    n=$(grep -o 'hard NAT: pinged .* (round [0-9]*)' <<<"$lines" | tail -n 1 |
      grep -o 'round [0-9]*' || true)
  fi
  printf '%s' "$n"
}

# Prints NODE's WireGuard endpoint for its peer (what wg show reports).
lab_wg_endpoint() {
  lab_exec "$1" wg show "$(lab_wg_iface "$1")" endpoints | awk '{ print $2 }'
}

# Prints NODE's DataplanePeer path for its one peer (direct, direct+derp, derp).
lab_msock_path() {
  lab_msockctl "$1" status --json | jq -r '[.Peer[]?.Path // empty][0] // ""'
}

# Prints NODE's status --json field PATH of its one peer (e.g. TxDERPPackets).
lab_msock_peer_field() {
  lab_msockctl "$1" status --json | jq -r --arg f "$2" '[.Peer[]?[$f]][0] // ""'
}

# Pings the other node's tunnel address from NODE: COUNT pings, INTERVAL s
# apart, W s per reply; prints ping's summary lines; fails as ping does.
lab_tunnel_ping() {
  local node=$1 count=$2 interval=${3:-0.2} w=${4:-2}
  lab_exec "$node" ping -n -q -c "$count" -i "$interval" -W "$w" \
    "${LAB_TUN[$(lab_other "$node")]}"
}

# From a `ping -D` log FILE: the replies, the longest gap between two
# replies (ms), when the last reply came (ms since the epoch) and when the
# longest gap began.
lab_flood_gap() {
  awk '/bytes from/ { gsub(/[\[\]]/, "", $1); t = $1 * 1000
    if (n++ && t - p > g) { g = t - p; at = p } p = t }
    END { printf "%d %.0f %.0f %.0f\n", n, g, p, at }' "$1"
}

# Waits up to TIMEOUT_S (default 20) for the ping flood PID (started with
# lab_bg) to end, reaps it, and sets LAB_FLOOD_SENT and LAB_FLOOD_GOT from
# its log FILE (ping's summary line).
lab_flood_end() {
  local pid=$1 log=$2
  lab_wait_for "${3:-20}" lab_dead "$pid" || lab_fail "the ping flood (pid $pid) did not end"
  wait "$pid" 2>/dev/null || true
  LAB_FLOOD_SENT=$(awk '/packets transmitted/ { print $1 }' "$log")
  # shellcheck disable=SC2034 # read by the lab scripts
  LAB_FLOOD_GOT=$(awk '/packets transmitted/ { print $4 }' "$log")
  [ -n "$LAB_FLOOD_SENT" ] || lab_fail "no summary in $log: $(tail -n 3 "$log")"
}

# Prints the median of the numbers on stdin, one a line ("-" when none).
lab_median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (!NR) { print "-"; exit }
    print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Prints the average rtt (ms) from ping -q output on stdin.
lab_ping_avg() {
  awk -F/ '/^rtt|^round-trip/ { print $5 }'
}
. "$(dirname "${BASH_SOURCE[0]}")/miniupnpd.sh"
. "$(dirname "${BASH_SOURCE[0]}")/tailscale.sh"

# Brings up msock with disco (dataplane, derp, netcheck, disco) and
# wireguard-go on both nodes, pings through the tunnel, and waits up to
# TIMEOUT_S (default 20) for the direct path on both; fails otherwise. The
# routers' NAT modes are whatever lab_init / lab_nat set.
lab_disco_pair_up() {
  local timeout=${1:-20} n
  export LAB_DISCO=1 LAB_COMPONENTS=$LAB_DISCO_COMPONENTS
  lab_node_up na
  lab_node_up nb
  lab_wait_for 15 lab_tunnel_ping na 1 0.2 1 || lab_fail "no ping reply through WireGuard"
  lab_bg na "$LAB_DIR/warm.log" ping -n -q -c $((timeout * 20)) -i 0.05 "${LAB_TUN[nb]}"
  for n in na nb; do
    lab_wait_for "$timeout" lab_msock_is_direct $n ||
      lab_fail "$n: no direct path within $timeout s (path $(lab_msock_path $n))"
  done
}

# True when NODE's dataplane sends to its peer directly only.
lab_msock_is_direct() {
  [ "$(lab_msock_path "$1")" = direct ]
}

# Moves nb behind ra, on a second LAN of ra (10.0.3.2/24 via 10.0.3.1):
# both nodes behind one router (Tailscale's sameLAN), each LAN routed to the
# other inside ra without NAT. Only before nb's processes start.
lab_samelan() {
  local p=$LAB_PREFIX
  ip -n "$(lab_ns nb)" link del "${p}n2b" 2>/dev/null || true
  lab_veth ra "${p}a2m" 10.0.3.1/24 nb "${p}n2m" 10.0.3.2/24
  ip -n "$(lab_ns nb)" route add default via 10.0.3.1
  LAB_IP[nb]=10.0.3.2
}
