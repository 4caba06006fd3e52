#!/usr/bin/env bash
# docs/quickstart.md, run: its ```sh blocks in network namespaces, each
# block's output compared with the ```text block after it. ctest runs it
# (label lab, serially, as root) with MSOCK_BIN_DIR and MSOCK_SOURCE_DIR.
#
# Hosts. Part 1 of the page is one host; part 2 is hosts A and B (a block
# whose first line is "# on host A" / "# on host B"). Each host is a
# network namespace of this run, and a shell in it that lives as long as
# the test, with its own pid namespace (killing its first process kills
# everything the page started there, wireguard-go's daemon included; it
# dies with this script even on SIGKILL: pdeathsig) and mount namespace:
# its own /tmp (a directory of this run's temp dir), its own /run (so
# /var/run/wireguard and `ip netns add`'s names are its own), /proc.
#
#   one   lo, eth0 192.168.1.10/24 -- gw 192.168.1.1 (a router to nowhere)
#   a     eth0 198.18.1.1/24 --+
#                              r  198.18.1.254, 198.18.2.254 (forwards)
#   b     eth0 198.18.2.1/24 --+
#
# What the page's commands get: cwd the repository's root; the literal
# $PWD/build/release/bin replaced by MSOCK_BIN_DIR; `scp` a function
# copying from/to the other host's /tmp; set -e. Output (stdout + stderr)
# is compared after normalize(): keys, digits and runs of blanks made alike.
# Blocks after <!-- quickstart-test: not run --> are skipped. At the end
# nothing may run in the namespaces but the hosts' shells (the page's
# "stop" blocks must stop all it started). Everything this run made
# (namespaces, processes, interfaces, files) is removed on exit, also on
# failure; what a SIGKILLed run left, the next run (or lab run) removes.
#
# Environment: MSOCK_QUICKSTART_DOC (default docs/quickstart.md),
# MSOCK_QUICKSTART_UPDATE=FILE (write the page with this run's outputs as
# its text blocks to FILE; blocks are still compared), MSOCK_TEST_KEEP=1
# (keep the temp dir), QS_BLOCK_TIMEOUT_S (default 120).
set -Eeuo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
SRC=${MSOCK_SOURCE_DIR:-$(cd "$(dirname "$SELF")/../.." && pwd)}
BIN=${MSOCK_BIN_DIR:-$SRC/build/test/bin}
DOC=${MSOCK_QUICKSTART_DOC:-$SRC/docs/quickstart.md}
QS_BLOCK_TIMEOUT_S=${QS_BLOCK_TIMEOUT_S:-120}
SKIP_MARK='<!-- quickstart-test: not run -->'
declare -A QS_NET=([one]=qs1 [a]=qsa [b]=qsb) # host -> namespace suffix
declare -A QS_ADDR=([a]=198.18.1.1 [b]=198.18.2.1)

# Normalizes output for comparison (stdin -> stdout): trailing blanks and
# trailing empty lines go; nodekey:/discokey:/privkey: hex -> K, base64
# keys -> B64, numbers (1, 10.5, 105: ping's 3 digits) -> N, blank runs ->
# one space; a peer's activity line (`last rx 1s ago, idle 1s`) -> `last rx
# ...`: the dataplane publishes its counters and times every few seconds,
# so a status right after traffic may not have them yet ("never, no
# traffic"), as its TX and RX columns may still read 0.
normalize() {
  sed -E -e 's/[[:space:]]+$//' \
    -e 's/^([[:space:]]*)last rx (never|[0-9.]+[smh] ago), (idle [0-9.]+[smh]|no traffic)$/\1last rx .../' \
    -e 's/(nodekey|discokey|privkey):[0-9a-fA-F]{8,}/\1:K/g' \
    -e 's#[A-Za-z0-9+/]{43}=#B64#g' \
    -e 's/[0-9]+(\.[0-9]+)?/N/g' \
    -e 's/[[:space:]]+/ /g' -e 's/^ //' |
    sed -e ':a' -e '/^\n*$/{$d;N;ba' -e '}'
}

# ---------------------------------------------------------------------------
# Host mode: `quickstart_test.sh --host NAME DIR SRC`, started by
# start_host inside the host's namespaces (pid 1 of its pid namespace).
# Prints @@ready, then runs "run N" lines from stdin: block DIR/blocks/N.sh
# with output to DIR/out/N.txt, answering "@@done N".
host_main() {
  local h=$1 dir=$2 src=$3
  # /run of our own; the old /tmp stays reachable under /run/tmp0.
  mount -t tmpfs -o mode=755 "qs-run-$h" /run
  mkdir /run/tmp0
  mount --rbind /tmp /run/tmp0
  outside() { case $1 in /tmp/*) echo "/run/tmp0/${1#/tmp/}" ;; *) echo "$1" ;; esac; }
  dir=$(outside "$dir")
  mount --bind "$dir/$h" /tmp
  QS_DIR=$dir
  cd "$(outside "$src")"
  # scp [-r] SRC... DST with HOST:PATH naming a host by its address: cp
  # between the hosts' /tmp directories (remote globs expanded here). Called
  # by the page's blocks.
  # shellcheck disable=SC2317
  scp() {
    local a p x args=()
    for a in "$@"; do
      case $a in
        -*) continue ;;
        *@*:* | [0-9]*:*)
          p=${a#*:}
          a=${a%%:*}
          a=${a#*@}
          for x in "${!QS_ADDR[@]}"; do
            [ "${QS_ADDR[$x]}" = "$a" ] && a=$x
          done
          [ -d "$QS_DIR/$a" ] || {
            echo "scp (quickstart test): no host with address $a" >&2
            return 1
          }
          case $p in
            /tmp/*) p=$QS_DIR/$a/${p#/tmp/} ;;
            *)
              echo "scp (quickstart test): only /tmp paths are mapped: $p" >&2
              return 1
              ;;
          esac
          # shellcheck disable=SC2206 # a remote glob: expanded here, as sshd's shell would
          args+=($p)
          ;;
        *) args+=("$a") ;;
      esac
    done
    cp -r -- "${args[@]}"
  }
  trap 'echo "quickstart test: status $? of: $BASH_COMMAND" >&2' ERR
  set -eE +u +o pipefail
  echo @@ready
  # The page's blocks run in this function: its variables must not be
  # ones a block may set (n, h, dir, ...), hence QS_ names.
  while IFS= read -r QS_LINE; do
    QS_N=${QS_LINE#run }
    # shellcheck disable=SC1090 # the page's block
    source "$QS_DIR/blocks/$QS_N.sh" >"$QS_DIR/out/$QS_N.txt" 2>&1 </dev/null
    echo "@@done $QS_N"
  done
}

if [ "${1:-}" = --host ]; then
  shift
  host_main "$@"
  exit 0
fi

# ---------------------------------------------------------------------------
# Test mode.
. "$SRC/tests/lab/lib.sh" # lab_log, lab_wait_for, lab_alive, lab_reap_stale, ...

QS_T=
declare -A HOST_PID=() HOST_IN=() HOST_OUT=()
declare -a BLK_HOST=() BLK_LINE=() BLK_HASWANT=()
NBLK=0
QS_DIFFERS=

qs_fail() {
  lab_log "FAIL: $*" >&2
  exit 1
}

# Pids of the processes in this run's namespaces.
qs_ns_pids() {
  local s
  for s in qs1 qsgw qsa qsb qsr; do
    ip netns pids "$LAB_PREFIX-$s" 2>/dev/null || true
  done
}

qs_ns_empty() {
  [ -z "$(qs_ns_pids)" ]
}

# Prints the logs the page's programs wrote (on failure).
qs_dump() {
  local f
  [ -d "$QS_T" ] || return 0
  while IFS= read -r f; do
    echo "--- ${f#"$QS_T"/} (last 30 lines)"
    tail -n 30 "$f"
  done < <(find "$QS_T" -name '*.log' -type f | sort)
}

# EXIT trap: kills every host (their pid namespaces go with them), deletes
# the namespaces and the temp dir.
qs_cleanup() {
  local rc=$? h pid t0
  trap - ERR
  set +e
  [ -n "$LAB_PREFIX" ] || exit "$rc"
  t0=$(lab_now_ms)
  [ "$rc" = 0 ] || [ "$rc" = 77 ] || qs_dump >&2
  for h in "${!HOST_PID[@]}"; do
    kill -KILL "${HOST_PID[$h]}" 2>/dev/null
  done
  if ! lab_wait_for 5 qs_ns_empty; then
    for pid in $(qs_ns_pids); do
      kill -KILL "$pid" 2>/dev/null
    done
    lab_wait_for 2 qs_ns_empty || lab_log "cleanup: still running: $(qs_ns_pids)" >&2
  fi
  for h in "${!HOST_PID[@]}"; do
    wait "${HOST_PID[$h]}" 2>/dev/null
  done
  if [ -n "${MSOCK_TEST_KEEP:-}" ] && [ -d "$QS_T" ]; then
    mv "$QS_T" "$QS_T.kept" && lab_log "cleanup: kept $QS_T.kept"
  fi
  lab_reap_prefix "$LAB_PREFIX"
  rm -rf "$QS_T"
  lab_log "cleanup done in $(lab_ms_since "$t0") ms"
  exit "$rc"
}

# Checks what the test needs; exits 77 (skip) without root or namespaces.
qs_preflight() {
  local c
  [ "$(id -u)" = 0 ] || lab_skip "the quickstart test needs root (network namespaces, WireGuard)"
  command -v ip >/dev/null || lab_skip "no ip command (Debian package: iproute2)"
  ip netns add "ml$$-probe" 2>/dev/null || lab_skip "ip netns add does not work here"
  ip netns del "ml$$-probe"
  [ -c /dev/net/tun ] || lab_skip "no /dev/net/tun (wireguard-go needs it)"
  for c in wireguard-go:wireguard-go wg:wireguard-tools curl:curl openssl:openssl \
      jq:jq ping:iputils-ping unshare:util-linux nsenter:util-linux setpriv:util-linux; do
    command -v "${c%%:*}" >/dev/null ||
      qs_fail "${c%%:*} is not installed (Debian package ${c#*:}; scripts/deps.sh installs it)"
  done
  for c in msock-broker msock-derper msockctl; do
    [ -x "$BIN/$c" ] || qs_fail "no $c in $BIN: set MSOCK_BIN_DIR to a build's bin/"
  done
  [ -f "$DOC" ] || qs_fail "no $DOC"
}

# Splits the page into $QS_T/blocks/N.sh (N from 1), N.want (the text block
# after it, if any) and N.info ("HOST LINE"), the path of the binaries
# replaced. Sets NBLK, BLK_HOST, BLK_LINE, BLK_HASWANT.
qs_parse() {
  local n info host line
  mkdir -p "$QS_T/blocks" "$QS_T/out"
  awk -v dir="$QS_T/blocks" -v skipmark="$SKIP_MARK" '
    function fname(ext) { return dir "/" n "." ext }
    !infence && /^```/ {
      infence = 1; lang = substr($0, 4); sub(/[ \t].*/, "", lang); start = NR; body = ""
      next
    }
    infence && /^```[ \t]*$/ {
      infence = 0
      if (lang == "sh" && !skip) {
        n++; printf "%s", body > fname("sh"); close(fname("sh"))
        host = "one"
        if (match(body, /^# on host [AB]/)) host = tolower(substr(body, 11, 1))
        print host, start > fname("info"); close(fname("info"))
        pending = 1
      } else if (lang == "text" && pending) {
        printf "%s", body > fname("want"); close(fname("want"))
        pending = 0
      } else {
        pending = 0
      }
      skip = 0
      next
    }
    infence { body = body $0 "\n"; next }
    index($0, skipmark) { skip = 1 }
    END { if (infence) { print "unterminated code block from line " start > "/dev/stderr"; exit 1 } }
  ' "$DOC" || qs_fail "cannot parse $DOC"
  # The hosts' /tmp is their own (host_main): a build under /tmp (a clone
  # there, as CI may make) is reached under /run/tmp0 inside them.
  case $BIN in
    /tmp/*) BIN_IN_HOST=/run/tmp0/${BIN#/tmp/} ;;
    *) BIN_IN_HOST=$BIN ;;
  esac
  NBLK=0
  for ((n = 1; ; n++)); do
    [ -f "$QS_T/blocks/$n.sh" ] || break
    read -r host line <"$QS_T/blocks/$n.info"
    BLK_HOST[n]=$host
    BLK_LINE[n]=$line
    BLK_HASWANT[n]=0
    [ -f "$QS_T/blocks/$n.want" ] && BLK_HASWANT[n]=1
    info=$(<"$QS_T/blocks/$n.sh")
    info=${info//\$PWD\/build\/release\/bin/$BIN_IN_HOST}
    case $info in
      *build/release*)
        qs_fail "$DOC:$line: names build/release in a form this test does not map" \
          "(it maps \$PWD/build/release/bin)"
        ;;
    esac
    printf '%s\n' "$info" >"$QS_T/blocks/$n.sh"
    NBLK=$n
  done
  [ "$NBLK" -gt 0 ] || qs_fail "$DOC has no sh blocks"
}

# Creates veth IF1 in namespace suffix NS1 with ADDR1, IF2 in NS2 with ADDR2.
qs_veth() {
  ip link add "$2" netns "$LAB_PREFIX-$1" type veth peer name "$5" netns "$LAB_PREFIX-$4"
  ip -n "$LAB_PREFIX-$1" addr add "$3" dev "$2"
  ip -n "$LAB_PREFIX-$4" addr add "$6" dev "$5"
  ip -n "$LAB_PREFIX-$1" link set "$2" up
  ip -n "$LAB_PREFIX-$4" link set "$5" up
}

qs_topology() {
  local s
  for s in qs1 qsgw qsa qsb qsr; do
    ip netns add "$LAB_PREFIX-$s"
    ip -n "$LAB_PREFIX-$s" link set lo up
  done
  qs_veth qs1 eth0 192.168.1.10/24 qsgw eth0 192.168.1.1/24
  ip -n "$LAB_PREFIX-qs1" route add default via 192.168.1.1
  qs_veth qsa eth0 "${QS_ADDR[a]}/24" qsr ra 198.18.1.254/24
  qs_veth qsb eth0 "${QS_ADDR[b]}/24" qsr rb 198.18.2.254/24
  ip -n "$LAB_PREFIX-qsa" route add default via 198.18.1.254
  ip -n "$LAB_PREFIX-qsb" route add default via 198.18.2.254
  ip netns exec "$LAB_PREFIX-qsr" sysctl -qw net.ipv4.ip_forward=1
}

# Starts host H's shell (see host_main) and waits for it to be ready.
qs_start_host() {
  local h=$1 fd line
  mkdir -p "$QS_T/$h"
  chmod 1777 "$QS_T/$h"
  mkfifo "$QS_T/$h.in" "$QS_T/$h.out"
  setpriv --pdeathsig KILL -- \
    nsenter --net="/run/netns/$LAB_PREFIX-${QS_NET[$h]}" -- \
    unshare --pid --fork --kill-child --mount-proc -- \
    bash "$SELF" --host "$h" "$QS_T" "$SRC" \
    <"$QS_T/$h.in" >"$QS_T/$h.out" 2>"$QS_T/$h.err" &
  HOST_PID[$h]=$!
  disown "${HOST_PID[$h]}" # no "Killed" notice when cleanup kills it
  exec {fd}<>"$QS_T/$h.in"
  HOST_IN[$h]=$fd
  exec {fd}<>"$QS_T/$h.out"
  HOST_OUT[$h]=$fd
  qs_read_line "$h" 30 line || qs_fail "host $h: its shell did not start: $(cat "$QS_T/$h.err")"
  [ "$line" = @@ready ] || qs_fail "host $h: unexpected '$line' from its shell"
}

# Reads a line from host H's shell into VAR within TIMEOUT_S; fails (1)
# when the shell exits or time runs out.
qs_read_line() {
  local h=$1 end l part=
  end=$(($(lab_now_ms) + $2 * 1000))
  while :; do
    if IFS= read -r -t 1 l <&"${HOST_OUT[$h]}"; then
      printf -v "$3" '%s' "$part$l"
      return 0
    fi
    part+=$l # a read that timed out keeps what it had read
    lab_alive "${HOST_PID[$h]}" || return 1
    [ "$(lab_now_ms)" -lt "$end" ] || return 1
  done
}

# Runs block N in its host's shell and compares its output.
qs_run_block() {
  local n=$1 h=${BLK_HOST[$1]} t0 line want=/dev/null
  [ -n "${HOST_PID[$h]:-}" ] || qs_start_host "$h"
  t0=$(lab_now_ms)
  echo "run $n" >&"${HOST_IN[$h]}"
  if ! qs_read_line "$h" "$QS_BLOCK_TIMEOUT_S" line || [ "$line" != "@@done $n" ]; then
    echo "--- block $n ($DOC:${BLK_LINE[n]}, host $h):" >&2
    cat "$QS_T/blocks/$n.sh" >&2
    echo "--- its output:" >&2
    cat "$QS_T/out/$n.txt" >&2 2>/dev/null
    if lab_alive "${HOST_PID[$h]}"; then
      qs_fail "block $n ($DOC:${BLK_LINE[n]}, host $h) did not finish within" \
        "${QS_BLOCK_TIMEOUT_S} s (output above)"
    fi
    qs_fail "block $n ($DOC:${BLK_LINE[n]}, host $h): a command failed (set -e; output above)"
  fi
  [ "${BLK_HASWANT[n]}" = 0 ] || want=$QS_T/blocks/$n.want
  if ! diff -u --label "expected ($DOC, the text block after line ${BLK_LINE[n]})" \
      --label "got (block $n, host $h)" <(normalize <"$want") \
      <(normalize <"$QS_T/out/$n.txt") >"$QS_T/out/$n.diff"; then
    echo "--- block $n ($DOC:${BLK_LINE[n]}, host $h), normalized output differs:" >&2
    cat "$QS_T/out/$n.diff" >&2
    echo "--- its output as printed:" >&2
    cat "$QS_T/out/$n.txt" >&2
    if [ -z "${MSOCK_QUICKSTART_UPDATE:-}" ]; then
      qs_fail "block $n ($DOC:${BLK_LINE[n]}) printed what the page does not show"
    fi
    lab_log "block $n ($DOC:${BLK_LINE[n]}, host $h): differs (going on: MSOCK_QUICKSTART_UPDATE)"
    QS_DIFFERS+=" $n"
    return 0
  fi
  lab_log "block $n ($DOC:${BLK_LINE[n]}, host $h): ok in $(lab_ms_since "$t0") ms"
}

# Writes the page with each run block's output as its text block to FILE: a
# block's text block is replaced, or one is added right after the block
# when it had none and printed something.
qs_update() {
  local n nowant=" "
  for ((n = 1; n <= NBLK; n++)); do
    [ "${BLK_HASWANT[n]}" = 1 ] || nowant+="$n "
  done
  awk -v dir="$QS_T/out" -v skipmark="$SKIP_MARK" -v nowant="$nowant" '
    function out(file,   l) {
      print "```text"
      while ((getline l < file) > 0) print l
      close(file)
      print "```"
    }
    !infence && /^```/ {
      infence = 1; lang = substr($0, 4); sub(/[ \t].*/, "", lang)
      if (lang == "text" && pending) { replacing = 1; next }
      pending = 0
      print; next
    }
    infence && /^```[ \t]*$/ {
      infence = 0
      if (replacing) { out(dir "/" n ".txt"); replacing = 0; pending = 0; skip = 0; next }
      print
      pending = 0
      if (lang == "sh" && !skip) {
        n++
        pending = 1
        if (index(nowant, " " n " ")) {
          pending = 0
          if ((getline l < (dir "/" n ".txt")) > 0) { close(dir "/" n ".txt"); print ""; out(dir "/" n ".txt") }
        }
      }
      skip = 0
      next
    }
    replacing { next }
    { print }
    index($0, skipmark) { skip = 1 }
  ' "$DOC" >"$1"
}

# Prints the pids in this run's namespaces other than the hosts' shells
# (the unshare process and its child, the shell).
qs_leftovers() {
  local h left
  left=$(qs_ns_pids | sort -n)
  for h in "${!HOST_PID[@]}"; do
    left=$(grep -vxF -e "${HOST_PID[$h]}" -e "$(pgrep -P "${HOST_PID[$h]}" || echo none)" \
      <<<"$left" || true)
  done
  echo "$left"
}

qs_no_leftovers() {
  [ -z "$(qs_leftovers)" ]
}

qs_preflight
LAB_PREFIX="ml$$"
lab_reap_stale
LAB_T0=$(lab_now_ms)
QS_T=$(mktemp -d "/tmp/msock-lab-$LAB_PREFIX-XXXXXX")
chmod 755 "$QS_T"
trap qs_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
qs_parse
lab_log "$DOC: $NBLK blocks to run; binaries from $BIN"
qs_topology
for ((i = 1; i <= NBLK; i++)); do
  qs_run_block "$i"
done
# The page's stop blocks stopped everything (wireguard-go goes a moment
# after its interface): only the hosts' shells are left in the namespaces.
if ! lab_wait_for 10 qs_no_leftovers; then
  ps -o pid=,args= -p "$(qs_leftovers | paste -sd,)" >&2 || true
  qs_fail "after the page's stop blocks these still run in the hosts' namespaces (above)"
fi
if [ -n "${MSOCK_QUICKSTART_UPDATE:-}" ]; then
  qs_update "$MSOCK_QUICKSTART_UPDATE"
  lab_log "wrote $MSOCK_QUICKSTART_UPDATE: $DOC with this run's outputs"
  [ -z "$QS_DIFFERS" ] || qs_fail "blocks$QS_DIFFERS differ from the page"
fi
lab_log "PASS: $NBLK blocks of $DOC ran as shown, in $(lab_ms_since "$LAB_T0") ms"
