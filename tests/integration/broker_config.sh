#!/usr/bin/env bash
# broker_config: a broken config, or one naming a program that does not
# exist, starts nothing: exit 2 and every error printed with file:line:col
# and field.
set -euo pipefail
bin=${MSOCK_BIN_DIR:?}
dir=$(mktemp -d /tmp/msock-test-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; echo "--- output:"; cat "$dir/out"; exit 1; }

cat >"$dir/bad.json" <<JSON
{
  "run_dir": "$dir/run",
  "peers": [
    {"name": "a", "node_key": "nodekey:1234"}
  ],
  "listen_port": 70000,
  "peer": 1
}
JSON
set +e; "$bin/msock-broker" --config "$dir/bad.json" >"$dir/out" 2>&1; rc=$?; set -e
[ "$rc" = 2 ] || fail "exit status $rc, want 2"
grep -q "bad.json:4:31: peers\[0\].node_key: expected nodekey:<64 hex> or a base64 WireGuard key" "$dir/out" || fail "node_key error"
grep -q "bad.json:6:18: listen_port: expected an integer from 0 to 65535, got 70000" "$dir/out" || fail "listen_port error"
grep -q 'bad.json:7:3: peer: unknown field; did you mean "peers"?' "$dir/out" || fail "unknown field error"
grep -q "3 errors; nothing started" "$dir/out" || fail "summary"
[ ! -e "$dir/run" ] || fail "run_dir was created although nothing may start"

cat >"$dir/missing.json" <<JSON
{"run_dir": "$dir/run", "state_dir": "$dir/state", "control_socket": "$dir/c.sock",
 "components": ["testcomp", "nosuchprogram"]}
JSON
set +e; "$bin/msock-broker" --config "$dir/missing.json" >"$dir/out" 2>&1; rc=$?; set -e
[ "$rc" = 2 ] || fail "missing program: exit status $rc, want 2"
grep -q "component nosuchprogram: program $bin/msock-nosuchprogram: No such file or directory" "$dir/out" || fail "missing program message"

set +e; "$bin/msock-broker" --config "$dir/nonexistent.json" >"$dir/out" 2>&1; rc=$?; set -e
[ "$rc" = 2 ] || fail "missing file: exit status $rc, want 2"
grep -q "nonexistent.json: No such file or directory" "$dir/out" || fail "missing file message"
echo "broker_config: 3 passed, 0 failed"
