#!/usr/bin/env bash
# derper_wire: the DERP login on the wire, as tshark sees it (Tailscale's
# derp.go: ServerKey = type 0x01, length 40, "DERP🔑", the server's key;
# ClientInfo = type 0x02, length, the client's key, nonce, box).
# msock-derper runs in plain HTTP mode; `itest-derper_limits --wire-client`
# logs in and relays one packet to itself while tshark captures loopback.
# Needs tshark (Debian package: tshark) and the right to capture on lo;
# without either it exits 77 (skipped).
set -u -o pipefail

skip() {
	echo "SKIP: $*"
	exit 77
}
fail() {
	echo "FAIL: $*"
	exit 1
}

command -v tshark >/dev/null 2>&1 || skip "tshark is not installed (Debian package: tshark)"
bin=${MSOCK_BIN_DIR:-}
if ! [ -x "$bin/msock-derper" ] || ! [ -x "$bin/itest-derper_limits" ]; then
	fail "MSOCK_BIN_DIR ($bin) has no msock-derper or itest-derper_limits"
fi

tmp=$(mktemp -d /tmp/msock-wire-XXXXXX) || fail "mktemp"
derper_pid=
tshark_pid=
cleanup() {
	for p in $tshark_pid $derper_pid; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

# Every wait is bounded: 150 steps of 0.1 s, like the C tests' TH_WAIT_MS.
STEPS=150

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

# A random port; the server exits if it is taken, then another one.
start_derper() {
	port=$((20000 + RANDOM % 40000))
	"$bin/msock-derper" -a "127.0.0.1:$port" -c "$tmp/derper.key" -http-port -1 -stun=false \
		2>>"$tmp/derper.log" &
	derper_pid=$!
	for ((i = 0; i < STEPS; i++)); do
		listening && return 0
		if ! kill -0 "$derper_pid" 2>/dev/null; then
			wait "$derper_pid" 2>/dev/null
			derper_pid=
			return 1
		fi
		sleep 0.1
	done
	return 1
}
for _ in 1 2 3 4 5; do
	start_derper && break
done
if [ -z "$derper_pid" ] || ! listening; then
	fail "msock-derper did not start: $(cat "$tmp/derper.log")"
fi
grep -q "(plain HTTP)" "$tmp/derper.log" || fail "not in plain HTTP mode: $(cat "$tmp/derper.log")"

# -P prints a line per packet once it is in the file, so the summary says
# what the capture holds.
tshark -i lo -f "tcp port $port" -w "$tmp/wire.pcapng" -P -l >"$tmp/summary.txt" \
	2>"$tmp/tshark.err" &
tshark_pid=$!
syns() { grep -c '\[SYN\]' "$tmp/summary.txt"; }
# Live once a connection made now shows up in the capture.
live=
for ((i = 0; i < STEPS; i++)); do
	kill -0 "$tshark_pid" 2>/dev/null ||
		skip "cannot capture on lo here: $(grep -v 'Running as user' "$tmp/tshark.err")"
	listening
	if [ "$(syns)" -gt 0 ]; then
		live=1
		break
	fi
	sleep 0.1
done
[ -n "$live" ] || fail "tshark captured nothing on lo: $(cat "$tmp/tshark.err")"

"$bin/itest-derper_limits" --wire-client 127.0.0.1 "$port" >"$tmp/client.out" 2>&1 ||
	fail "wire client: $(cat "$tmp/client.out")"
client_key=$(sed -n 's/^client-key \([0-9a-f]\{64\}\)$/\1/p' "$tmp/client.out")
[ ${#client_key} -eq 64 ] || fail "wire client printed no key: $(cat "$tmp/client.out")"

# One more connection after the client's: once its SYN is in the file,
# so is everything the client sent and received before it.
n0=$(syns)
listening
for ((i = 0; i < STEPS; i++)); do
	[ "$(syns)" -gt "$n0" ] && break
	sleep 0.1
done
[ "$(syns)" -gt "$n0" ] || fail "the capture did not catch up"
kill -INT "$tshark_pid"
wait "$tshark_pid" 2>/dev/null
tshark_pid=

# stream, destination port, payload (hex) of every segment with data.
tshark -r "$tmp/wire.pcapng" -T fields -E separator=' ' -e tcp.stream -e tcp.dstport \
	-e tcp.payload -Y 'tcp.len > 0' >"$tmp/payloads.txt" 2>/dev/null ||
	fail "tshark cannot read the capture"
# The client's connection: the one that sent "GET /derp".
stream=$(awk -v p="$port" '$2 == p && $3 ~ /^474554202f64657270/ { print $1; exit }' \
	"$tmp/payloads.txt")
[ -n "$stream" ] || fail "no GET /derp in the capture: $(cat "$tmp/summary.txt")"
c2s=$(awk -v s="$stream" -v p="$port" '$1 == s && $2 == p { printf "%s", $3 }' "$tmp/payloads.txt")
s2c=$(awk -v s="$stream" -v p="$port" '$1 == s && $2 != p { printf "%s", $3 }' "$tmp/payloads.txt")

# Hex digits up to and including the first CRLFCRLF at a byte boundary.
head_len() {
	awk -v h="$1" 'BEGIN {
		for (i = 1; i + 7 <= length(h); i += 2)
			if (substr(h, i, 8) == "0d0a0d0a") { print i + 7; exit }
		print 0
	}'
}
# shellcheck disable=SC2001 # each pair of digits becomes \xHH
hex_text() { printf '%b' "$(sed 's/../\\x&/g' <<<"$1")"; }

# Server: 101, then ServerKey with the key of Derp-Public-Key.
n=$(head_len "$s2c")
[ "$n" -gt 0 ] || fail "no HTTP head from the server"
head=$(hex_text "${s2c:0:n}")
case "$head" in
"HTTP/1.1 101 "*) ;;
*) fail "the server's answer is not a 101: ${head%%$'\r'*}" ;;
esac
server_key=$(sed -n 's/^Derp-Public-Key: \([0-9a-f]\{64\}\)\r$/\1/p' <<<"$head")
[ ${#server_key} -eq 64 ] || fail "no Derp-Public-Key in: $head"
after=${s2c:n}
want="010000002844455250f09f9491"
[ "${after:0:26}" = "$want" ] ||
	fail "ServerKey frame starts ${after:0:26}, want $want (01, length 40, DERP🔑)"
[ "${after:26:64}" = "$server_key" ] ||
	fail "ServerKey carries ${after:26:64}, Derp-Public-Key says $server_key"
grep -q "nodekey:$server_key" "$tmp/derper.log" || fail "the log names another key"

# Client: its request head, then ClientInfo: 02, length, its key.
n=$(head_len "$c2s")
[ "$n" -gt 0 ] || fail "no HTTP request head from the client"
ci=${c2s:n}
[ "${ci:0:2}" = "02" ] || fail "the client's first frame is type ${ci:0:2}, want 02 (ClientInfo)"
len=$((16#${ci:2:8}))
# key 32 + nonce 24 + box overhead 16 + JSON
if [ "$len" -le 72 ] || [ "$len" -gt 262144 ]; then
	fail "ClientInfo length $len"
fi
[ $((${#ci} / 2)) -ge $((5 + len)) ] || fail "ClientInfo cut short in the capture"
[ "${ci:10:64}" = "$client_key" ] ||
	fail "ClientInfo carries key ${ci:10:64}, the client's is $client_key"

echo "ServerKey: ${after:0:10} ${after:10:16} ${after:26:64} (= Derp-Public-Key)"
echo "ClientInfo: ${ci:0:2} ${ci:2:8} (length $len) ${ci:10:64} (= the client's key)"
echo "PASS"
