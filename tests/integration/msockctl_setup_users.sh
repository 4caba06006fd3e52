#!/usr/bin/env bash
# msockctl_setup_users: `msockctl setup-users` (tools/setup_users.c).
# Without root: --print-sysusers is deploy/sysusers.d/msock.conf byte for
# byte (the file cannot drift from lib/proctab.c), usage errors exit 2, and
# a user who is not root is refused. As root, on temporary trees only
# (never the host's /etc): every user, group and membership made with its
# number, a second run that finds them all and changes no byte, the same
# trees systemd-sysusers makes from the file, and an entry found with
# another number left alone and reported while the rest is made.
set -euo pipefail
bin=${MSOCK_BIN_DIR:?}
src=${MSOCK_SOURCE_DIR:?}
dir=$(mktemp -d /tmp/msock-test-XXXXXX)
trap 'rm -rf "$dir"' EXIT
pass=0
fail() { echo "FAIL: $*"; [ -f "$dir/out" ] && { echo "--- output:"; cat "$dir/out"; }; exit 1; }
ok() { pass=$((pass + 1)); }
ctl() { "$bin/msockctl" "$@"; }

# The sysusers file is the table's, byte for byte.
ctl setup-users --print-sysusers >"$dir/sysusers.conf"
cmp "$dir/sysusers.conf" "$src/deploy/sysusers.d/msock.conf" ||
  fail "deploy/sysusers.d/msock.conf differs from \`msockctl setup-users --print-sysusers\`" \
    "(regenerate it: msockctl setup-users --print-sysusers >deploy/sysusers.d/msock.conf)"
ok

# Usage errors exit 2 and say what is wrong.
set +e
ctl setup-users --bogus >"$dir/out" 2>&1; rc=$?
{ [ $rc = 2 ] && grep -q -- '--bogus' "$dir/out" && grep -q 'usage: msockctl setup-users' "$dir/out"; } ||
  fail "unknown option: rc $rc"
ctl setup-users --root >"$dir/out" 2>&1; rc=$?
{ [ $rc = 2 ] && grep -q -- '--root needs a directory' "$dir/out"; } || fail "--root without DIR: rc $rc"
ctl --help >"$dir/out"
grep -q 'setup-users \[--root DIR\] \[--dry-run\] \[--print-sysusers\]' "$dir/out" ||
  fail "--help does not list setup-users"
set -e
ok

# A tree as a fresh Debian's: root and nobody, shadow files 0640.
mkroot() {
  mkdir -p "$1/etc"
  printf '%s\n' 'root:x:0:0:root:/root:/bin/bash' \
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' >"$1/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$1/etc/group"
  printf '%s\n' 'root:*:19000:0:99999:7:::' 'nobody:*:19000:0:99999:7:::' >"$1/etc/shadow"
  printf '%s\n' 'root:*::' 'nogroup:*::' >"$1/etc/gshadow"
  chmod 0640 "$1/etc/shadow" "$1/etc/gshadow"
}
sums() { (cd "$1/etc" && sha256sum passwd group shadow gshadow); }

# Not root: refused, nothing written (the tree is root's).
if [ "$(id -u)" = 0 ]; then
  mkroot "$dir/ro"
  chmod 0755 "$dir"
  set +e
  setpriv --reuid=65534 --regid=65534 --clear-groups "$bin/msockctl" setup-users >"$dir/out" 2>&1
  rc=$?
  { [ $rc = 1 ] && grep -q 'must run as root' "$dir/out"; } || fail "not root, this host: rc $rc"
  setpriv --reuid=65534 --regid=65534 --clear-groups "$bin/msockctl" setup-users --root "$dir/ro" \
    >"$dir/out" 2>&1
  rc=$?
  { [ $rc = 1 ] && grep -q "cannot write $dir/ro/etc" "$dir/out"; } || fail "not root, --root: rc $rc"
  # --dry-run needs no root and writes nothing
  before=$(sums "$dir/ro")
  setpriv --reuid=65534 --regid=65534 --clear-groups "$bin/msockctl" setup-users --root "$dir/ro" \
    --dry-run >"$dir/out" 2>&1
  rc=$?
  set -e
  { [ $rc = 0 ] && grep -q ': would be created$' "$dir/out"; } || fail "--dry-run as nobody: rc $rc"
  [ "$(sums "$dir/ro")" = "$before" ] || fail "--dry-run changed the tree"
  ok
else
  echo "msockctl_setup_users: $pass passed; the rest needs root (skipped)"
  exit 77
fi

# Every entry of the sysusers file is in the tree t: its groups with their
# gids, its users with uid, gid, GECOS, home and shell, and each group's
# members exactly the file's m lines (msock-derper in no group).
check_tree() {
  local t=$1 type name id rest gecos home shell
  declare -A members=()
  while read -r type name id rest; do
    case $type in
    g) grep -qx "$name:x:$id:.*" "$t/etc/group" || fail "$t: group $name ($id) missing" ;;
    u)
      gecos=${rest#\"}
      gecos=${gecos%%\"*}
      read -r home shell <<<"${rest##*\" }"
      grep -qxF "$name:x:$id:$gecos:$home:$shell" "$t/etc/passwd" ||
        fail "$t: user $name ($id) missing or not as in the file"
      ;;
    m) members[$id]+="${members[$id]:+,}$name" ;;
    esac
  done < <(grep -v '^#' "$dir/sysusers.conf" | grep .)
  while IFS=: read -r name _ id rest; do
    case $name in msock*) ;; *) continue ;; esac
    [ "$(tr , '\n' <<<"$rest" | sort | paste -sd,)" = \
      "$(tr , '\n' <<<"${members[$name]:-}" | sort | paste -sd,)" ] ||
      fail "$t: group $name has members '$rest', the file says '${members[$name]:-}'"
  done <"$t/etc/group"
}

# A fresh tree: all made, then a second run finds all and changes no byte.
t=$dir/fresh
mkroot "$t"
ctl setup-users --root "$t" >"$dir/out" 2>&1 || fail "first run: exit $?"
cp "$dir/out" "$dir/first.out"
grep -q '^group msock (61000): created$' "$dir/out" || fail "first run: no 'group msock (61000): created'"
grep -q '^user msock-disco: added to msock-ch-disco$' "$dir/out" || fail "first run: no membership line"
check_tree "$t"
# spot checks beside the table: the derper's user is in no group, and the
# dataplane (which owns the channel directories) in no channel group
grep -q '^msock-derper:x:61006:61006:' "$t/etc/passwd" || fail "msock-derper's uid"
! grep -E '^msock(-ch-[a-z]+)?:.*msock-derper' "$t/etc/group" || fail "msock-derper in a group"
! grep -E '^msock-ch-[a-z]+:.*msock-dataplane' "$t/etc/group" || fail "dataplane in a channel group"
grep -q '^msock-ch-disco:x:61102:msock-disco$' "$t/etc/group" || fail "msock-ch-disco's members"
ok
before=$(sums "$t")
ctl setup-users --root "$t" >"$dir/out" 2>&1 || fail "second run: exit $?"
cp "$dir/out" "$dir/second.out"
! grep -v ': exists$' "$dir/out" || fail "second run did more than find what exists"
[ "$(wc -l <"$dir/out")" = "$(wc -l <"$dir/first.out")" ] || fail "second run: not one line per entry"
[ "$(sums "$t")" = "$before" ] || fail "second run changed the tree"
ok

# What systemd-sysusers makes from the file, setup-users finds complete.
if command -v systemd-sysusers >/dev/null; then
  s=$dir/sysusers
  mkdir -p "$s/etc"
  : >"$s/etc/passwd"
  : >"$s/etc/group"
  systemd-sysusers --root="$s" - <"$src/deploy/sysusers.d/msock.conf" >/dev/null 2>&1 ||
    fail "systemd-sysusers rejected deploy/sysusers.d/msock.conf"
  check_tree "$s"
  ctl setup-users --root "$s" >"$dir/out" 2>&1 || fail "setup-users on sysusers' tree: exit $?"
  ! grep -v ': exists$' "$dir/out" || fail "setup-users found sysusers' tree incomplete"
  ok
else
  echo "msockctl_setup_users: no systemd-sysusers here; its check skipped"
fi

# msock-disco with another uid: left alone and reported (name, both
# numbers), exit 1; everything else made.
t=$dir/conflict
mkroot "$t"
echo 'msock-disco:x:61050:65534::/nonexistent:/usr/sbin/nologin' >>"$t/etc/passwd"
echo 'msock-disco:*:19000:0:99999:7:::' >>"$t/etc/shadow"
set +e
ctl setup-users --root "$t" >"$dir/out" 2>"$dir/err"; rc=$?
set -e
cat "$dir/err" >>"$dir/out"
[ $rc = 1 ] || fail "conflict: exit $rc, not 1"
grep 'msock-disco' "$dir/err" | grep '61002' | grep -q '61050' ||
  fail "conflict: no error naming msock-disco, 61002 and 61050"
grep -qx 'msock-disco:x:61050:65534::/nonexistent:/usr/sbin/nologin' "$t/etc/passwd" ||
  fail "conflict: msock-disco's entry was changed"
! grep -E '^msock[^:]*:.*msock-disco' "$t/etc/group" || fail "conflict: msock-disco added to a group"
grep -q '^msock-derp:x:61003:61003:' "$t/etc/passwd" || fail "conflict: msock-derp not made"
grep -q '^msock-derper:x:61006:61006:' "$t/etc/passwd" || fail "conflict: msock-derper not made"
grep -q '^msock:x:61000:msock-dataplane,msock-derp,msock-netcheck,msock-portmapper,msock-debug$' "$t/etc/group" ||
  fail "conflict: group msock's members"
grep -q '^msock-ch-derp:x:61103:msock-derp$' "$t/etc/group" || fail "conflict: msock-ch-derp"
ok
echo "msockctl_setup_users: $pass passed, 0 failed"
