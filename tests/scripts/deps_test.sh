#!/usr/bin/env bash
# deps_test: scripts/deps.sh's install path, on every run, though this
# machine has every package. Stub dpkg-query (says curl and coturn are
# not installed), apt-get (records its arguments and runs the policy-rc.d it
# finds) and id come first on PATH; MSOCK_POLICY_RC_D points into a scratch
# directory. Cases: no policy file (one exiting 101 exists during the
# install and is gone after), a policy file of the admin's (left byte for
# byte), nothing missing, not root, apt-get failing. Issue 12, item 1.
# MSOCK_DEPS_SH runs another deps.sh (e.g. `git show HEAD~1:scripts/deps.sh`).
set -Eeuo pipefail
trap 'echo "deps_test.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR

src=${MSOCK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
deps=${MSOCK_DEPS_SH:-$src/scripts/deps.sh}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0
fail() {
  echo "FAIL: $*" >&2
  fails=$((fails + 1))
}

mkdir "$dir/bin"
# dpkg-query -W -f='${Status}' PKG: not installed when PKG is in $dir/missing.
cat >"$dir/bin/dpkg-query" <<'STUB'
#!/bin/sh
for p; do :; done
if grep -qx "$p" "$STUB_DIR/missing"; then
  echo "dpkg-query: no packages found matching $p" >&2
  exit 1
fi
printf 'install ok installed'
STUB
# apt-get: one line of arguments per call; for install, also how the policy
# file answered "may coturn start?" (101: no) and whether it is there.
cat >"$dir/bin/apt-get" <<'STUB'
#!/bin/sh
echo "apt-get $*" >>"$STUB_DIR/apt.log"
if [ "${1:-}" = install ]; then
  if [ -x "$MSOCK_POLICY_RC_D" ]; then
    "$MSOCK_POLICY_RC_D" coturn start
    echo "policy-rc.d exit $?" >>"$STUB_DIR/apt.log"
  else
    echo "policy-rc.d absent" >>"$STUB_DIR/apt.log"
  fi
  exit "$(cat "$STUB_DIR/apt-status" 2>/dev/null || echo 0)"
fi
STUB
cat >"$dir/bin/id" <<'STUB'
#!/bin/sh
[ "$1" = -u ] && exec cat "$STUB_DIR/uid"
exec /usr/bin/id "$@"
STUB
chmod 755 "$dir/bin/"*
export STUB_DIR=$dir PATH="$dir/bin:$PATH" MSOCK_POLICY_RC_D=$dir/policy-rc.d

# Runs deps.sh with MISSING packages and UID; sets rc, out (stdout) and err.
run() {
  tr ' ' '\n' <<<"$1" >"$dir/missing"
  echo "$2" >"$dir/uid"
  rm -f "$dir/apt.log"
  touch "$dir/apt.log"
  rc=0
  bash "$deps" >"$dir/out" 2>"$dir/err" || rc=$?
  out=$(cat "$dir/out")
  err=$(cat "$dir/err")
}
want_install() {
  grep -qx "apt-get install -y -qq --no-install-recommends curl coturn" "$dir/apt.log" ||
    fail "$1: apt-get install was not asked for curl coturn: $(cat "$dir/apt.log")"
  grep -qx "policy-rc.d exit 101" "$dir/apt.log" ||
    fail "$1: during the install no policy-rc.d answered 101: $(grep policy "$dir/apt.log")"
}

echo "1. no policy-rc.d: one exiting 101 during the install, none after"
run "curl coturn" 0
[ "$rc" = 0 ] || fail "1: deps.sh exited $rc (stderr: $err)"
want_install 1
[[ $out == "deps: installing curl coturn" ]] || fail "1: stdout: $out"
grep -qx "apt-get update -qq" "$dir/apt.log" || fail "1: no apt-get update"
[ ! -e "$dir/policy-rc.d" ] || fail "1: the policy-rc.d deps.sh made is still there"

echo "2. the admin's policy-rc.d: used during the install, left byte for byte"
printf '#!/bin/sh\n# the admin'"'"'s own (like Docker'"'"'s)\nexit 101\n' >"$dir/policy-rc.d"
chmod 750 "$dir/policy-rc.d"
cp -p "$dir/policy-rc.d" "$dir/policy-rc.d.orig"
run "curl coturn" 0
[ "$rc" = 0 ] || fail "2: deps.sh exited $rc with a policy-rc.d present (stderr: $err)"
want_install 2
if [ ! -e "$dir/policy-rc.d" ]; then
  fail "2: the admin's policy-rc.d was removed"
else
  cmp -s "$dir/policy-rc.d" "$dir/policy-rc.d.orig" || fail "2: the admin's policy-rc.d changed"
  [ "$(stat -c %a "$dir/policy-rc.d")" = 750 ] || fail "2: the admin's policy-rc.d's mode changed"
fi
rm -f "$dir/policy-rc.d" "$dir/policy-rc.d.orig"

echo "3. nothing missing: no apt-get, no policy-rc.d"
run "" 0
[ "$rc" = 0 ] || fail "3: deps.sh exited $rc (stderr: $err)"
[ ! -s "$dir/apt.log" ] || fail "3: apt-get ran: $(cat "$dir/apt.log")"
[ ! -e "$dir/policy-rc.d" ] || fail "3: a policy-rc.d was made"

echo "4. missing packages, not root: exit 1 naming them, no apt-get"
run "coturn" 1000
[ "$rc" = 1 ] || fail "4: deps.sh exited $rc, want 1"
[[ $err == *"missing packages: coturn"* ]] || fail "4: stderr does not name coturn: $err"
[ ! -s "$dir/apt.log" ] || fail "4: apt-get ran: $(cat "$dir/apt.log")"

echo "5. apt-get install fails: non-zero with a message, the policy-rc.d removed"
echo 100 >"$dir/apt-status"
run "curl coturn" 0
rm -f "$dir/apt-status"
[ "$rc" != 0 ] || fail "5: deps.sh exited 0 though apt-get install failed"
[[ $err == *"apt-get install"*"failed (exit 100)"* ]] || fail "5: stderr does not say what failed: $err"
[ ! -e "$dir/policy-rc.d" ] || fail "5: the policy-rc.d deps.sh made is still there"

if [ "$fails" -ne 0 ]; then
  echo "deps_test: $fails check(s) failed" >&2
  exit 1
fi
echo "deps_test: ok"
