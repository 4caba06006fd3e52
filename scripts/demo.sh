#!/usr/bin/env bash
# The demo: a broker with the sample config (examples/msock.json) supervises
# the test component; msockctl shows it; the component is killed with
# SIGKILL and comes back after a backoff with its state replayed from the
# broker's cache; SIGTERM then stops everything and leaves no process.
# (The NAT-traversal demo replaces this as the components land.)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh

echo "== build"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMSOCK_TESTS=OFF >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
bin=$PWD/build/release/bin
cfg=$PWD/examples/msock.json
ctl() { "$bin/msockctl" --config "$cfg" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

demo_dir=/tmp/msock-demo   # run_dir and state_dir of examples/msock.json live here
rm -rf "$demo_dir"
mkdir -p "$demo_dir"
broker_pid=
cleanup() {
  if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
    kill -TERM "$broker_pid"; wait "$broker_pid" || true
  fi
}
trap cleanup EXIT

step "start msock-broker --config examples/msock.json (its log is indented)"
"$bin/msock-broker" --config "$cfg" 2> >(sed -u 's/^/    | /' >&2) &
broker_pid=$!
for _ in $(seq 100); do ctl status --json >/dev/null 2>&1 && break; sleep 0.1; done
sleep 0.5

step "msockctl status"
ctl status

pid=$(ctl status --json | jq -r '.Components.testcomp.PID')
step "kill -9 testcomp (pid $pid): the broker restarts it after a backoff"
kill -9 "$pid"
for _ in $(seq 100); do
  new=$(ctl status --json | jq -r '.Components.testcomp | select(.State == "running") | .PID')
  [ -n "$new" ] && [ "$new" != "$pid" ] && break
  sleep 0.1
done
sleep 0.3

step "msockctl status: restarted once, with its state replayed"
ctl status
echo
echo "The restarted testcomp read its TestCounter (generation 1) back from the"
echo "broker's state cache and published generation 2 (see its log line above)."

step "msockctl status --json (stable output for scripts: docs/status-json.md)"
ctl status --json | jq '{Self, Peer: (.Peer | map_values({Name, CurAddr, Relay})), Components}'

step "SIGTERM the broker: every component stops, no process is left"
kill -TERM "$broker_pid"; wait "$broker_pid" || true
broker_pid=
sleep 0.2
if pgrep -f "$bin/msock-" >/dev/null; then
  echo "left behind:"; pgrep -af "$bin/msock-"; exit 1
fi
echo "no msock process left"
