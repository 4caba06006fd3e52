#!/usr/bin/env bash
# lab_miniupnpd: miniupnpd on a lab router maps UDP ports for real
# (tests/lab/miniupnpd.sh). LAB_COTURN=1 (the lab's coturn runs beside
# miniupnpd's own RFC 5780 one), ra in easy NAT.
#  1. miniupnpd starts on ra (STUN against its RFC 5780 coturn says
#     "full-cone", so port forwarding is enabled); NAT-PMP tells na the
#     public address 198.18.1.1.
#  2. na maps three UDP ports, one per protocol, each seen as a DNAT rule in
#     ra's nftables (lab_miniupnpd_mappings):
#       NAT-PMP (natpmpc)              41641 -> 10.0.1.2:41641
#       UPnP IGD (upnpc, SSDP found)   41652 -> 10.0.1.2:41642
#       PCP MAP (python3, RFC 6887)    41653 -> 10.0.1.2:41643
#  3. Datagrams from the internet (inet) to 198.18.1.1:EXTPORT arrive at
#     na:INTPORT, and one from nb through rb's NAT too; ra's counter of UDP
#     on 41641 forwarded to na rose.
#  4. Each protocol deletes its mapping (NAT-PMP and PCP lifetime 0, upnpc
#     -d): the rules are gone and a datagram no longer arrives.
#  5. A second miniupnpd on rb: nb's NAT-PMP mapping shows on rb only.
#  6. lab_miniupnpd_stop on both: no miniupnpd, no table inet miniupnpd.
# Needs miniupnpd-nftables, miniupnpc (upnpc), natpmpc, coturn, python3.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_skip_unless_root
for c in /usr/sbin/miniupnpd:miniupnpd-nftables upnpc:miniupnpc natpmpc:natpmpc \
    turnserver:coturn python3:python3; do
  command -v "${c%%:*}" >/dev/null ||
    lab_fail "${c%%:*} is not installed (Debian package ${c#*:})"
done
export LAB_COTURN=1 LAB_NAT_A=easy
lab_init

WAN=${LAB_IP[ra]}
NA=${LAB_IP[na]}
GW=10.0.1.1

# python3 in NODE: binds UDP PORT... on 0.0.0.0, prints "PORT SRC DATA" per
# datagram; exits when each port got one or after TIMEOUT_S seconds.
udp_recv() {
  local node=$1 out=$2 t=$3
  shift 3
  lab_bg "$node" "$out" python3 -c '
import select, socket, sys, time
end = time.monotonic() + float(sys.argv[1])
socks = {}
for p in sys.argv[2:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(p)))
    socks[s] = p
left = set(socks.values())
while left and time.monotonic() < end:
    r, _, _ = select.select(list(socks), [], [], max(0, end - time.monotonic()))
    for s in r:
        data, src = s.recvfrom(2048)
        print(socks[s], "%s:%d" % src, data.decode(errors="replace"), flush=True)
        left.discard(socks[s])
' "$t" "$@"
  RECV_PID=$LAB_LAST_PID
  local p
  for p in "$@"; do
    lab_wait_for 3 lab_udp_listening "$node" "$p" ||
      lab_fail "udp_recv: $node does not listen on UDP $p within 3 s"
  done
}

# Sends DATA from NODE to IP:PORT in one datagram (bash /dev/udp: a new
# source port each time, so no old conntrack entry is reused).
udp_send() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  lab_exec "$1" bash -c 'printf "%s" "$1" >"/dev/udp/$2/$3"' _ "$4" "$2" "$3"
}

# PCP MAP (RFC 6887) from na for UDP: INTPORT, suggested EXTPORT, LIFETIME,
# NONCE (24 hex digits); prints "result=R lifetime=L external=IP:PORT".
pcp_map() {
  lab_exec na python3 -c '
import socket, struct, sys
gw, client, iport, eport, life, nonce = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5]), bytes.fromhex(sys.argv[6])
v4 = lambda a: b"\0" * 10 + b"\xff\xff" + socket.inet_aton(a)
req = struct.pack("!BBHI", 2, 1, 0, life) + v4(client) \
    + nonce + struct.pack("!B3xHH", 17, iport, eport) + v4("0.0.0.0")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((gw, 5351))
s.settimeout(1)
for _ in range(3):
    s.send(req)
    try:
        r = s.recv(1100)
        break
    except socket.timeout:
        continue
else:
    sys.exit("no PCP answer from %s:5351" % gw)
ver, op, res, lt = struct.unpack("!BBxBI", r[:8])
if ver != 2 or op != 0x81 or r[24:36] != nonce:
    sys.exit("not our MAP answer: %s" % r.hex())
proto, ip, ep = struct.unpack("!B3xHH", r[36:44])
print("result=%d lifetime=%d external=%s:%d" % (res, lt, socket.inet_ntoa(r[56:60]), ep))
' "$GW" "$NA" "$@"
}

mappings() {
  lab_miniupnpd_mappings ra
}

has_mapping() {
  mappings | grep -qx "$1"
}

# 1. miniupnpd on ra.
t=$(lab_now_ms)
lab_miniupnpd_start ra
lab_log "1. miniupnpd on ra answers (pid ${LAB_MINIUPNPD_PID[ra]}) in $(lab_ms_since "$t") ms;" \
  "$(grep -o 'STUN: ext interface.*NAT 1:1 with public IP address [0-9.]*' \
    "$LAB_DIR/ra/miniupnpd.log" | tail -n 1)"
t=$(lab_now_ms)
out=$(lab_exec na natpmpc -g "$GW" 2>&1) || lab_fail "natpmpc -g $GW failed: $out"
grep -q "Public IP address : $WAN\$" <<<"$out" ||
  lab_fail "NAT-PMP public address is not $WAN: $out"
lab_log "1. NAT-PMP public address: $WAN ($(lab_ms_since "$t") ms)"
[ -z "$(mappings)" ] || lab_fail "mappings before any request: $(mappings)"

# 2. One mapping per protocol.
t=$(lab_now_ms)
out=$(lab_exec na natpmpc -g "$GW" -a 41641 41641 udp 60 2>&1) ||
  lab_fail "natpmpc -a 41641 41641 udp 60 failed: $out"
grep -q 'Mapped public port 41641 protocol UDP to local port 41641 liftime 60' <<<"$out" ||
  lab_fail "natpmpc did not map 41641: $out"
has_mapping "udp 41641 $NA:41641" || lab_fail "no NAT-PMP rule in nftables: $(mappings)"
lab_log "2. NAT-PMP: 41641 -> $NA:41641, lifetime 60, in nftables after $(lab_ms_since "$t") ms"

t=$(lab_now_ms)
# upnpc -i: libminiupnpc 2.2.4's UPNP_GetValidIGD calls an IGD whose
# external address is reserved (198.18.1.1 is) "not connected?" (2), and
# upnpc stops there without -i. With -u URL it skips that check.
out=$(lab_exec na timeout 10 upnpc -i -s 2>&1) || lab_fail "upnpc -i -s (SSDP discovery) failed: $out"
desc=$(sed -n 's/^ *desc: //p' <<<"$out" | head -n 1)
[ "$desc" = "http://$GW:$LAB_MINIUPNPD_HTTP_PORT/rootDesc.xml" ] ||
  lab_fail "SSDP found '$desc', not http://$GW:$LAB_MINIUPNPD_HTTP_PORT/rootDesc.xml: $out"
grep -q "ExternalIPAddress = $WAN\$" <<<"$out" ||
  lab_fail "UPnP external address is not $WAN: $out"
lab_log "2. UPnP: SSDP found $desc ($(grep -o 'Found .*IGD' <<<"$out"));" \
  "$(grep -o 'Status : [A-Za-z]*' <<<"$out"), ExternalIPAddress $WAN ($(lab_ms_since "$t") ms)"
t=$(lab_now_ms)
out=$(lab_exec na timeout 10 upnpc -u "$desc" -e msock-lab -a "$NA" 41642 41652 UDP 60 2>&1) ||
  lab_fail "upnpc -a $NA 41642 41652 UDP 60 failed: $out"
grep -q "external $WAN:41652 UDP is redirected to internal $NA:41642" <<<"$out" ||
  lab_fail "upnpc did not map 41652: $out"
has_mapping "udp 41652 $NA:41642" || lab_fail "no UPnP rule in nftables: $(mappings)"
lab_log "2. UPnP AddPortMapping: 41652 -> $NA:41642, in nftables after $(lab_ms_since "$t") ms"

t=$(lab_now_ms)
nonce=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
out=$(pcp_map 41643 41653 60 "$nonce" 2>&1) || lab_fail "PCP MAP failed: $out"
[ "$out" = "result=0 lifetime=60 external=$WAN:41653" ] ||
  lab_fail "PCP MAP answered '$out', not result=0 lifetime=60 external=$WAN:41653"
has_mapping "udp 41653 $NA:41643" || lab_fail "no PCP rule in nftables: $(mappings)"
lab_log "2. PCP MAP: $out -> $NA:41643, in nftables after $(lab_ms_since "$t") ms"
lab_log "2. ra's mappings: $(mappings | paste -sd ',' | sed 's/,/, /g')"
[ "$(mappings | wc -l)" = 3 ] || lab_fail "not 3 mappings: $(mappings)"

# 3. The internet reaches na through each mapping.
c0=$(lab_router_udp_count ra)
t=$(lab_now_ms)
udp_recv na "$LAB_DIR/recv-1.log" 5 41641 41642 41643
for e in 41641 41652 41653; do
  udp_send inet "$WAN" "$e" "hello $e"
done
lab_wait_for 5 lab_dead "$RECV_PID" || true
lab_stop_pid "$RECV_PID"
for pair in 41641:41641 41652:41642 41653:41643; do
  grep -q "^${pair#*:} 198.18.1.254:[0-9]* hello ${pair%:*}\$" "$LAB_DIR/recv-1.log" ||
    lab_fail "na did not get inet's datagram to $WAN:${pair%:*} on ${pair#*:}:" \
      "$(cat "$LAB_DIR/recv-1.log")"
done
lab_log "3. inet -> $WAN:{41641,41652,41653} arrived at na:{41641,41642,41643}" \
  "in $(lab_ms_since "$t") ms"
t=$(lab_now_ms)
udp_recv na "$LAB_DIR/recv-2.log" 5 41641
udp_send nb "$WAN" 41641 "from nb"
lab_wait_for 5 lab_dead "$RECV_PID" || true
lab_stop_pid "$RECV_PID"
grep -q "^41641 ${LAB_IP[rb]}:[0-9]* from nb\$" "$LAB_DIR/recv-2.log" ||
  lab_fail "na did not get nb's datagram (via rb's NAT) to $WAN:41641: $(cat "$LAB_DIR/recv-2.log")"
c1=$(lab_router_udp_count ra)
[ "$c1" -ge $((c0 + 2)) ] || lab_fail "ra's UDP :41641 counter went $c0 -> $c1, not +2"
lab_log "3. nb -> $WAN:41641 (through rb's NAT, from ${LAB_IP[rb]}) arrived at na:41641" \
  "in $(lab_ms_since "$t") ms; ra's UDP :41641 counter $c0 -> $c1"

# 4. Each protocol deletes its mapping.
t=$(lab_now_ms)
out=$(lab_exec na natpmpc -g "$GW" -a 41641 41641 udp 0 2>&1) ||
  lab_fail "natpmpc -a 41641 41641 udp 0 failed: $out"
! has_mapping "udp 41641 $NA:41641" || lab_fail "NAT-PMP rule still there: $(mappings)"
lab_log "4. NAT-PMP lifetime 0: 41641 gone from nftables after $(lab_ms_since "$t") ms"
t=$(lab_now_ms)
out=$(lab_exec na timeout 10 upnpc -u "$desc" -d 41652 UDP 2>&1) ||
  lab_fail "upnpc -d 41652 UDP failed: $out"
grep -q 'UPNP_DeletePortMapping() returned : 0' <<<"$out" ||
  lab_fail "upnpc -d 41652 UDP: $out"
! has_mapping "udp 41652 $NA:41642" || lab_fail "UPnP rule still there: $(mappings)"
lab_log "4. UPnP DeletePortMapping: 41652 gone from nftables after $(lab_ms_since "$t") ms"
t=$(lab_now_ms)
out=$(pcp_map 41643 41653 0 "$nonce" 2>&1) || lab_fail "PCP MAP (lifetime 0) failed: $out"
[[ $out == "result=0 lifetime=0 "* ]] || lab_fail "PCP delete answered '$out'"
! has_mapping "udp 41653 $NA:41643" || lab_fail "PCP rule still there: $(mappings)"
lab_log "4. PCP MAP lifetime 0 ($out): 41653 gone from nftables after $(lab_ms_since "$t") ms"
[ -z "$(mappings)" ] || lab_fail "mappings left: $(mappings)"
t=$(lab_now_ms)
udp_recv na "$LAB_DIR/recv-3.log" 1 41641 41642 41643
for e in 41641 41652 41653; do
  udp_send inet "$WAN" "$e" "late $e"
done
lab_wait_for 3 lab_dead "$RECV_PID" || true
lab_stop_pid "$RECV_PID"
[ ! -s "$LAB_DIR/recv-3.log" ] ||
  lab_fail "na still got datagrams after the deletes: $(cat "$LAB_DIR/recv-3.log")"
lab_log "4. no mapping left; inet -> $WAN:{41641,41652,41653} no longer reaches na" \
  "($(lab_ms_since "$t") ms)"

# 5. A second instance on rb beside ra's: its own config, pid file and
# mappings; NAT-PMP from nb maps on rb only.
t=$(lab_now_ms)
lab_miniupnpd_start rb
out=$(lab_exec nb natpmpc -g 10.0.2.1 -a 41641 41641 udp 60 2>&1) ||
  lab_fail "natpmpc on nb failed: $out"
[ "$(lab_miniupnpd_mappings rb)" = "udp 41641 ${LAB_IP[nb]}:41641" ] ||
  lab_fail "rb's mappings: '$(lab_miniupnpd_mappings rb)', not udp 41641 ${LAB_IP[nb]}:41641"
[ -z "$(mappings)" ] || lab_fail "nb's mapping shows on ra: $(mappings)"
for r in ra rb; do
  [ "$(cat "$LAB_DIR/$r/miniupnpd.pid" 2>/dev/null)" = "${LAB_MINIUPNPD_PID[$r]}" ] ||
    lab_fail "$LAB_DIR/$r/miniupnpd.pid does not hold ${LAB_MINIUPNPD_PID[$r]}"
done
lab_log "5. miniupnpd on rb too (pid ${LAB_MINIUPNPD_PID[rb]}); nb's NAT-PMP mapping" \
  "$(lab_miniupnpd_mappings rb) on rb only ($(lab_ms_since "$t") ms)"

# 6. Stop both: no process, no table (miniupnpd leaves its rules behind;
# lab_miniupnpd_stop removes the table).
t=$(lab_now_ms)
for r in ra rb; do
  pid=${LAB_MINIUPNPD_PID[$r]}
  lab_miniupnpd_stop $r
  lab_dead "$pid" || lab_fail "miniupnpd on $r (pid $pid) still runs after lab_miniupnpd_stop"
  if lab_exec $r nft list table inet "$LAB_MINIUPNPD_TABLE" >/dev/null 2>&1; then
    lab_fail "table inet $LAB_MINIUPNPD_TABLE still on $r after lab_miniupnpd_stop"
  fi
done
lab_dead "$LAB_MINIUPNPD_STUN_PID" 2>/dev/null || [ -z "$LAB_MINIUPNPD_STUN_PID" ] ||
  lab_fail "miniupnpd's STUN server still runs"
lab_log "6. both miniupnpd stopped, their tables and STUN server gone in $(lab_ms_since "$t") ms"
lab_log "PASS"
