#!/usr/bin/env bash
# msockctl_cli: key files (keygen, pubkey; WireGuard's `wg` reads the same
# file and derives the same public key), --help, the choice of control
# socket ($MSOCK_SOCKET over --config over the default), and clear errors.
set -euo pipefail
bin=${MSOCK_BIN_DIR:?}
dir=$(mktemp -d /tmp/msock-test-XXXXXX)
trap 'rm -rf "$dir"' EXIT
pass=0
fail() { echo "FAIL: $*"; [ -f "$dir/out" ] && { echo "--- output:"; cat "$dir/out"; }; exit 1; }
ok() { pass=$((pass + 1)); }
ctl() { "$bin/msockctl" "$@"; }
hex_of_b64() { printf '%s' "$1" | base64 -d | od -An -tx1 -v | tr -d ' \n'; }

# keygen: 0600 file in WireGuard's base64, prints nodekey:<64 hex>
out=$(ctl keygen "$dir/node.key")
[[ "$out" =~ ^nodekey:[0-9a-f]{64}$ ]] || fail "keygen printed '$out'"
[ "$(stat -c %a "$dir/node.key")" = 600 ] || fail "key file mode $(stat -c %a "$dir/node.key")"
grep -Eq '^[A-Za-z0-9+/]{43}=$' "$dir/node.key" || fail "key file is not WireGuard base64"
[ "$(ctl pubkey "$dir/node.key")" = "$out" ] || fail "pubkey differs from keygen's"
ok
# the same file read by wireguard-tools gives the same public key
wgpub=$(wg pubkey <"$dir/node.key")
[ "nodekey:$(hex_of_b64 "$wgpub")" = "$out" ] || fail "wg pubkey $wgpub differs from $out"
ok
# and a key made by wg is read by msockctl
(umask 077 && wg genkey >"$dir/wg.key")
chmod 600 "$dir/wg.key"
want="nodekey:$(hex_of_b64 "$(wg pubkey <"$dir/wg.key")")"
[ "$(ctl pubkey "$dir/wg.key")" = "$want" ] || fail "pubkey of a wg genkey file"
ok
# --disco
out=$(ctl keygen --disco "$dir/disco.key")
[[ "$out" =~ ^discokey:[0-9a-f]{64}$ ]] || fail "keygen --disco printed '$out'"
[ "$(ctl pubkey --disco "$dir/disco.key")" = "$out" ] || fail "pubkey --disco"
ok

# refusals: overwrite, loose permissions, garbage, missing file
set +e
ctl keygen "$dir/node.key" >"$dir/out" 2>&1; rc=$?
{ [ $rc = 1 ] && grep -q "exists" "$dir/out"; } || fail "keygen over an existing file: rc $rc"
chmod 644 "$dir/wg.key"
ctl pubkey "$dir/wg.key" >"$dir/out" 2>&1; rc=$?
{ [ $rc = 1 ] && grep -q "$dir/wg.key" "$dir/out" && grep -q "group or other" "$dir/out"; } ||
  fail "0644 key file accepted: rc $rc"
echo "not a key" >"$dir/junk.key"
chmod 600 "$dir/junk.key"
ctl pubkey "$dir/junk.key" >"$dir/out" 2>&1; rc=$?
{ [ $rc = 1 ] && grep -q "$dir/junk.key" "$dir/out"; } || fail "garbage key file: rc $rc"
ctl pubkey "$dir/none.key" >"$dir/out" 2>&1; rc=$?
{ [ $rc = 1 ] && grep -q "No such file" "$dir/out"; } || fail "missing key file: rc $rc"
set -e
ok

# --help lists every command; usage errors exit 2
ctl --help >"$dir/out"
for c in "status \[--json\]" "reload \[--wait \[--timeout SEC\]\]" "restart NAME" "keygen \[--disco\] FILE" "pubkey \[--disco\] FILE"; do
  grep -q "$c" "$dir/out" || fail "--help does not list $c"
done
set +e
ctl bogus >"$dir/out" 2>&1; [ $? = 2 ] || fail "unknown command: exit status"
ctl restart >"$dir/out" 2>&1; [ $? = 2 ] || fail "restart without NAME: exit status"
# reload's arguments are checked before the broker is asked (no broker
# here: asking would be exit 3)
for args in "--timeout 5" "--wait --timeout 0" "--wait --timeout 61" "--wait --timeout 5x" \
  "--wait --timeout +5" "--wait --timeout" "--wait --wait" "now"; do
  # shellcheck disable=SC2086 # the arguments are meant to split
  ctl --socket "$dir/nothere.sock" reload $args >"$dir/out" 2>&1; rc=$?
  { [ $rc = 2 ] && grep -q "usage: msockctl reload \[--wait" "$dir/out"; } ||
    fail "reload $args: exit status $rc"
done
ctl --socket "$dir/nothere.sock" reload --wait --timeout 60 >"$dir/out" 2>&1; rc=$?
[ $rc = 3 ] || fail "reload --wait --timeout 60: exit status $rc (want 3: no broker)"
set -e
ok

# The control socket: no broker there -> exit 3 naming the path it tried
set +e
MSOCK_SOCKET='' ctl --socket "$dir/nothere.sock" status >"$dir/out" 2>&1; rc=$?
{ [ $rc = 3 ] && grep -q "$dir/nothere.sock" "$dir/out"; } || fail "no broker: rc $rc"
# --config picks its control_socket ...
printf '{"control_socket": "%s/from-config.sock", "components": []}\n' "$dir" >"$dir/c.json"
MSOCK_SOCKET='' ctl --config "$dir/c.json" status >"$dir/out" 2>&1
grep -q "$dir/from-config.sock" "$dir/out" || fail "--config did not choose control_socket"
# ... $MSOCK_SOCKET wins over it, and --socket over both
MSOCK_SOCKET="$dir/from-env.sock" ctl --config "$dir/c.json" status >"$dir/out" 2>&1
grep -q "$dir/from-env.sock" "$dir/out" || fail "\$MSOCK_SOCKET did not win over --config"
MSOCK_SOCKET="$dir/from-env.sock" ctl --socket "$dir/from-opt.sock" status >"$dir/out" 2>&1
grep -q "$dir/from-opt.sock" "$dir/out" || fail "--socket did not win"
MSOCK_SOCKET='' ctl status >"$dir/out" 2>&1
grep -q "/run/msock/control.sock" "$dir/out" || fail "default socket"
# a broken --config is reported with file:line:col, exit 2
echo '{"control_socket": 5}' >"$dir/bad.json"
MSOCK_SOCKET='' ctl --config "$dir/bad.json" status >"$dir/out" 2>&1; rc=$?
{ [ $rc = 2 ] && grep -q "bad.json:1:20: control_socket" "$dir/out"; } || fail "broken --config: rc $rc"
set -e
ok
echo "msockctl_cli: $pass passed, 0 failed"
