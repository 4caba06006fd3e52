#!/usr/bin/env bash
# lab: miniupnpd (Debian 12's miniupnpd-nftables 2.3.1) on a lab router, so
# that NAT-PMP, PCP and UPnP IGD map ports for real. Sourced by lib.sh.
#
#   lab_miniupnpd_start ROUTER     ra or rb: config, nftables, daemon, wait
#   lab_miniupnpd_stop ROUTER      SIGTERM (bounded), then its table goes
#   lab_miniupnpd_mappings ROUTER  "udp EXTPORT IP:PORT" per UDP mapping
#
# miniupnpd refuses to map anything while its external address is in a
# reserved block, and 198.18.0.0/15 (the lab's internet) is one: it logs
# "Reserved / private IP address ... Port forwarding is impossible" (NAT-PMP
# then answers "network failure"), and it rejects ext_ip= with such an
# address at start. What works is STUN (ext_perform_stun=yes): miniupnpd
# sends four binding requests from four ports of the router (plain, change
# port, change IP, change both: RFC 3489's CHANGE-REQUEST) and, when all
# four are answered with the router's own address and ports, it takes that
# address as its external one and enables port forwarding. So the STUN
# server must support CHANGE-REQUEST (RFC 5780), which needs two addresses:
# the lab's coturn (one address) answers three of the four with "420 Unknown
# attribute", the derper's STUN not at all. lab_miniupnpd_start therefore
# starts (once) a second coturn, STUN only, on 198.18.3.3 and 198.18.3.4
# (ports 3478 and 3479) in the stun namespace; LAB_COTURN is not needed.
# LAB_MINIUPNPD_STUN=IPV4[:PORT] makes miniupnpd use another server instead.
#
# nftables: miniupnpd-nftables 2.3.1 only adds and deletes rules in chains
# that must exist, all in family inet. Its own table `inet miniupnpd` holds
#   prerouting  nat hook, priority dstnat - 10 (before `ip lab prerouting`,
#               so its DNAT wins over a one2one DNAT) -> prerouting_miniupnpd
#               (one `iif WAN udp dport EXT dnat to IP:PORT` per mapping)
#   postrouting nat hook, priority srcnat - 10 -> postrouting_miniupnpd
#               (PCP PEER snat rules)
#   forward     filter hook, policy accept -> miniupnpd (an accept per
#               mapping; the lab's forward chain accepts everything anyway)
#   stun_in, stun_out  raw priority: notrack for the router's own UDP with
#               the STUN server, so no NAT mode of the lab rewrites it
# The DNAT needs no daddr: it matches every packet that comes in on the WAN.

declare -gA LAB_MINIUPNPD_PID=() # router -> miniupnpd pid
LAB_MINIUPNPD_HTTP_PORT=${LAB_MINIUPNPD_HTTP_PORT:-5000} # UPnP HTTP (rootDesc.xml, SOAP)
LAB_MINIUPNPD_TABLE=miniupnpd # table inet miniupnpd in the router's namespace
LAB_MINIUPNPD_STUN_IPS="198.18.3.3 198.18.3.4" # its RFC 5780 STUN server (stun namespace)
LAB_MINIUPNPD_STUN_PID=

# Prints the router number (ra 1, rb 2) or fails.
lab_miniupnpd_n() {
  case $1 in
    ra) echo 1 ;;
    rb) echo 2 ;;
    *) lab_fail "miniupnpd: '$1' is not a router (ra, rb)" ;;
  esac
}

# Prints the STUN server miniupnpd asks (HOST:PORT).
lab_miniupnpd_stun() {
  case ${LAB_MINIUPNPD_STUN:-} in
    "") echo "${LAB_MINIUPNPD_STUN_IPS%% *}:3478" ;;
    *:*) echo "$LAB_MINIUPNPD_STUN" ;;
    *) echo "$LAB_MINIUPNPD_STUN:3478" ;;
  esac
}

# Starts (once) the RFC 5780 STUN server miniupnpd's test needs: coturn,
# STUN only, on the two addresses LAB_MINIUPNPD_STUN_IPS (added to the stun
# namespace's interface) port 3478 and its alternative port 3479, log
# $LAB_DIR/stun/coturn-rfc5780.log. Nothing to do if LAB_MINIUPNPD_STUN is set.
lab_miniupnpd_stun_start() {
  local d=$LAB_DIR/stun a port listen=()
  [ -z "${LAB_MINIUPNPD_STUN:-}" ] || return 0
  if [ -n "$LAB_MINIUPNPD_STUN_PID" ] && lab_alive "$LAB_MINIUPNPD_STUN_PID"; then
    return 0
  fi
  command -v turnserver >/dev/null || lab_fail "turnserver is not installed (Debian package coturn)"
  mkdir -p "$d"
  for a in $LAB_MINIUPNPD_STUN_IPS; do
    ip -n "$(lab_ns stun)" addr replace "$a/24" dev "${LAB_PREFIX}s2i"
    listen+=("--listening-ip=$a")
  done
  lab_bg stun "$d/coturn-rfc5780.log" turnserver -n --stun-only --no-cli --no-tls --no-dtls \
    "${listen[@]}" --listening-port=3478 --no-auth --simple-log --log-file=stdout \
    --pidfile="$d/coturn-rfc5780.pid" --userdb="$d/turndb-rfc5780" --no-software-attribute
  LAB_MINIUPNPD_STUN_PID=$LAB_LAST_PID
  for a in $LAB_MINIUPNPD_STUN_IPS; do
    for port in 3478 3479; do
      lab_wait_for 5 lab_udp_listening stun "$port" "$a:" ||
        lab_fail "coturn (RFC 5780) did not listen on $a:$port within 5 s:" \
          "$(tail -n 5 "$d/coturn-rfc5780.log")"
    done
  done
}

# Writes $LAB_DIR/ROUTER/miniupnpd.conf (the daemon's whole configuration).
lab_miniupnpd_config() {
  local r=$1 n x d stun uuid
  n=$(lab_miniupnpd_n "$r")
  x=${r#r}
  d=$LAB_DIR/$r
  stun=$(lab_miniupnpd_stun)
  uuid=$(cat /proc/sys/kernel/random/uuid)
  mkdir -p "$d"
  cat >"$d/miniupnpd.conf" <<EOF
# msock lab: miniupnpd on $r (written by tests/lab/miniupnpd.sh)
ext_ifname=${LAB_PREFIX}${x}2i
listening_ip=${LAB_PREFIX}${x}2n
ipv6_disable=yes
http_port=$LAB_MINIUPNPD_HTTP_PORT
enable_upnp=yes
enable_natpmp=yes
ext_perform_stun=yes
ext_stun_host=${stun%:*}
ext_stun_port=${stun##*:}
upnp_table_name=$LAB_MINIUPNPD_TABLE
upnp_nat_table_name=$LAB_MINIUPNPD_TABLE
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
min_lifetime=1
max_lifetime=86400
lease_file=$d/miniupnpd.leases
minissdpdsocket=$d/minissdpd.sock
secure_mode=yes
system_uptime=no
notify_interval=60
clean_ruleset_interval=0
uuid=$uuid
friendly_name=msock lab $r
allow 1024-65535 10.0.$n.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
}

# (Re)creates table inet miniupnpd with its chains in ROUTER's namespace.
# Also: the router's own UDP with the STUN server is not tracked, so none of
# the lab's NAT modes touches it (hard's masquerade fully-random would change
# the router's source ports, one2one's DNAT would send the answers from the
# alternative address and port to the node): miniupnpd's test sees the
# router as it is, with its own public address.
lab_miniupnpd_nft() {
  local r=$1 t=$LAB_MINIUPNPD_TABLE x stun ips
  x=${r#r}
  stun=$(lab_miniupnpd_stun)
  if [ -n "${LAB_MINIUPNPD_STUN:-}" ]; then
    ips=${stun%:*}
  else
    ips=${LAB_MINIUPNPD_STUN_IPS// /, }
  fi
  lab_exec "$r" nft -f - <<EOF
table inet $t
delete table inet $t
table inet $t {
  chain stun_out {
    type filter hook output priority raw; policy accept;
    oifname "${LAB_PREFIX}${x}2i" ip daddr { $ips } meta l4proto udp notrack
  }
  chain stun_in {
    type filter hook prerouting priority raw; policy accept;
    iifname "${LAB_PREFIX}${x}2i" ip saddr { $ips } meta l4proto udp notrack
  }
  chain forward {
    type filter hook forward priority filter - 10; policy accept;
    jump miniupnpd
  }
  chain miniupnpd { }
  chain prerouting {
    type nat hook prerouting priority dstnat - 10; policy accept;
    jump prerouting_miniupnpd
  }
  chain prerouting_miniupnpd { }
  chain postrouting {
    type nat hook postrouting priority srcnat - 10; policy accept;
    jump postrouting_miniupnpd
  }
  chain postrouting_miniupnpd { }
}
EOF
}

# True when ROUTER's miniupnpd serves its description over HTTP.
lab_miniupnpd_answers() {
  local n
  n=$(lab_miniupnpd_n "$1")
  lab_exec "$1" curl -sf --max-time 1 -o /dev/null \
    "http://10.0.$n.1:$LAB_MINIUPNPD_HTTP_PORT/rootDesc.xml" &&
    lab_udp_listening "$1" 5351 "10.0.$n.1"
}

# Starts miniupnpd on ROUTER (ra, rb) in the foreground (-d), log
# $LAB_DIR/ROUTER/miniupnpd.log, pid file $LAB_DIR/ROUTER/miniupnpd.pid, pid
# in LAB_MINIUPNPD_PID[ROUTER]; NAT-PMP and PCP on 10.0.N.1:5351, UPnP
# (SSDP 1900, HTTP $LAB_MINIUPNPD_HTTP_PORT) on the LAN interface. Waits
# (15 s at most: the STUN test alone may take 9 s when answers are lost)
# until it answers with port forwarding enabled.
lab_miniupnpd_start() {
  local r=$1 d end log pid
  d=$LAB_DIR/$r
  lab_miniupnpd_n "$r" >/dev/null
  [ -x /usr/sbin/miniupnpd ] ||
    lab_fail "miniupnpd is not installed (Debian package miniupnpd-nftables)"
  if [ -n "${LAB_MINIUPNPD_PID[$r]:-}" ] && lab_alive "${LAB_MINIUPNPD_PID[$r]}"; then
    lab_fail "miniupnpd already runs on $r (pid ${LAB_MINIUPNPD_PID[$r]})"
  fi
  lab_miniupnpd_stun_start
  lab_miniupnpd_config "$r"
  lab_miniupnpd_nft "$r"
  log=$d/miniupnpd.log
  rm -f "$d/miniupnpd.pid"
  lab_bg "$r" "$log" /usr/sbin/miniupnpd -d -f "$d/miniupnpd.conf" -P "$d/miniupnpd.pid"
  pid=$LAB_LAST_PID
  LAB_MINIUPNPD_PID[$r]=$pid
  end=$(($(lab_now_ms) + 15000))
  until lab_miniupnpd_answers "$r" 2>/dev/null; do
    lab_alive "$pid" || lab_fail "miniupnpd on $r exited at start: $(tail -n 20 "$log")"
    [ "$(lab_now_ms)" -lt "$end" ] ||
      lab_fail "miniupnpd on $r did not answer within 15 s: $(tail -n 20 "$log")"
    sleep 0.1
  done
  if grep -qE 'Port forwarding is (impossible|now disabled)|Performing STUN failed' "$log"; then
    lab_fail "miniupnpd on $r will not map ports: $(grep -E 'STUN|[Pp]ort forwarding' "$log")"
  fi
}

# Stops ROUTER's miniupnpd (SIGTERM, bounded) and removes its table (the
# daemon leaves its rules behind); the last one stopped stops the STUN server.
# The lease file stays: a later lab_miniupnpd_start on ROUTER reloads the
# mappings that had not expired, as a restarted miniupnpd on a router does.
lab_miniupnpd_stop() {
  local r=$1
  lab_miniupnpd_n "$r" >/dev/null
  lab_stop_pid "${LAB_MINIUPNPD_PID[$r]:-}"
  unset "LAB_MINIUPNPD_PID[$r]"
  lab_exec "$r" nft delete table inet "$LAB_MINIUPNPD_TABLE" 2>/dev/null || true
  if [ ${#LAB_MINIUPNPD_PID[@]} -eq 0 ]; then
    lab_stop_pid "$LAB_MINIUPNPD_STUN_PID"
    LAB_MINIUPNPD_STUN_PID=
  fi
}

# Prints ROUTER's UDP port mappings as miniupnpd put them into nftables,
# one line per DNAT rule of its chain prerouting_miniupnpd, in rule order:
#   udp EXTPORT IP:PORT
# (nothing when there is none; fails when the table is not there).
# miniupnpd writes raw expressions (nft -j shows the protocol test as
# payload nh offset 72 len 8 == 17 and the port as th dport), so both that
# and nft's own forms (ip protocol, meta l4proto, udp dport) are read.
lab_miniupnpd_mappings() {
  lab_exec "$1" nft -j list chain inet "$LAB_MINIUPNPD_TABLE" prerouting_miniupnpd |
    jq -r '
      def pl: (.left | objects | .payload | objects) // {};
      def mt: (.left | objects | .meta | objects) // {};
      .nftables[] | .rule? // empty | .expr as $e
      | [$e[] | objects | .match? // empty] as $m
      | ([$m[] | select(pl.field == "dport") | .right][0]) as $ext
      | ([$m[] | select((pl.base == "nh" and pl.offset == 72 and pl.len == 8)
            or pl.field == "protocol" or mt.key == "l4proto") | .right][0]) as $proto
      | ([$m[] | select(pl.protocol == "udp")] | length > 0) as $udp_port
      | ([$e[] | objects | .dnat? // empty][0]) as $dnat
      | select($dnat != null and $ext != null and ($proto == 17 or $proto == "udp" or $udp_port))
      | "udp \($ext) \($dnat.addr):\($dnat.port)"'
}
