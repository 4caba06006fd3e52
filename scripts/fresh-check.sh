#!/usr/bin/env bash
# msock on a fresh Debian 12 (issue 12): in a `debootstrap --variant=minbase
# bookworm` root, under chroot, a clone of this checkout's HEAD runs
# scripts/deps.sh (first with a policy-rc.d already there, as Docker images
# have; then, after coturn is removed, without one: it makes one and removes
# it; then again with nothing to install), the release build, `msockctl
# setup-users` (twice: made, then all there), the test build,
# and the unit and scripts tests. Opt-in (not in scripts/test.sh); root.
#   scripts/fresh-check.sh [--fresh] [--keep] [--worktree]
#     --fresh     debootstrap again (and forget the cached .debs)
#     --keep      leave the run's root in /var/tmp for a look inside
#     --worktree  check the working tree as it is (HEAD plus uncommitted
#                 changes and files git does not ignore), not HEAD
# The debootstrap root is cached in /var/cache/msock-fresh/; every run works
# on a new copy of it. The mirror is the one this host's apt uses.
set -Eeuo pipefail
trap 'echo "fresh-check.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR
cd "$(dirname "$0")/.."
src=$PWD
cache=/var/cache/msock-fresh
base=$cache/bookworm-minbase
debs=$cache/apt-archives # .debs kept between runs: only the download is saved
fresh=0
keep=0
worktree=0
for arg; do
  case $arg in
  --fresh) fresh=1 ;;
  --keep) keep=1 ;;
  --worktree) worktree=1 ;;
  *)
    echo "usage: scripts/fresh-check.sh [--fresh] [--keep] [--worktree]" >&2
    exit 2
    ;;
  esac
done
if [ "$(id -u)" -ne 0 ]; then
  echo "fresh-check.sh: needs root (debootstrap, chroot, bind mounts)" >&2
  exit 1
fi

t_start=${EPOCHREALTIME/./}
t_last=$t_start
steps=()
# Records how long the step since the last call took.
step_done() {
  local now=${EPOCHREALTIME/./} t
  t=$(((now - t_last + 50000) / 100000))
  steps+=("$(printf '  %-52s %5d.%d s' "$1" $((t / 10)) $((t % 10)))")
  echo "fresh-check: $1: ok ($((t / 10)).$((t % 10)) s)"
  t_last=$now
}

# The Debian mirror of this host's apt (deb822 .sources or sources.list).
mirror() {
  local f m=
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    # The URIs of the first stanza whose Suites has plain "bookworm".
    m=$(awk 'BEGIN { RS = ""; FS = "\n" }
      { uri = ""; ok = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { split($i, w, /[ \t]+/); uri = w[2] }
          if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) ok = 1
        }
        if (ok && uri != "") { print uri; exit } }' "$f")
    [ -z "$m" ] || break
  done
  if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) while ($i !~ /\]$/) i++; if ($i ~ /^\[/ || $i ~ /\]$/) i++
      if ($(i + 1) == "bookworm") { print $i; exit } }' /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

if ! command -v debootstrap >/dev/null; then
  echo "fresh-check: installing debootstrap on this host"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

url=$(mirror)
mkdir -p "$cache" "$debs/partial"
if [ "$fresh" = 1 ]; then
  rm -rf "$base" "$base.tmp"
  find "$debs" -name '*.deb' -delete
fi
if [ ! -e "$base/.msock-complete" ]; then
  echo "fresh-check: debootstrap --variant=minbase bookworm from $url"
  rm -rf "$base" "$base.tmp"
  if ! debootstrap --variant=minbase bookworm "$base.tmp" "$url" >"$cache/debootstrap.log" 2>&1; then
    echo "fresh-check.sh: debootstrap failed; the end of $cache/debootstrap.log:" >&2
    tail -n 20 "$cache/debootstrap.log" >&2
    exit 1
  fi
  touch "$base.tmp/.msock-complete"
  mv "$base.tmp" "$base"
  step_done "debootstrap (cached in $cache)"
else
  echo "fresh-check: using the cached root $base (--fresh makes a new one)"
fi

run=$(mktemp -d /var/tmp/msock-fresh-run.XXXXXX)
mounts=() # mounted, in order; unmounted in reverse
# EXIT trap: unmounts what was mounted, then removes the run's root, but
# never while anything is still mounted under it (rm -rf would reach /dev).
cleanup() {
  local rc=$? i left
  trap - ERR
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" ||
      echo "fresh-check.sh: cannot unmount ${mounts[i]}" >&2
  done
  left=$(findmnt -rn -o TARGET | grep -F "$run/" || true)
  if [ -n "$left" ]; then
    echo "fresh-check.sh: still mounted, $run left in place: $left" >&2
    rc=1
  elif [ "$keep" = 1 ] || [ "$rc" -ne 0 ]; then
    echo "fresh-check: the run's root is kept in $run (rm -rf it when done)" >&2
  else
    rm -rf "$run"
    step_done "remove the run's root"
  fi
  if [ "$rc" -eq 0 ]; then
    echo "fresh-check: all passed"
  else
    echo "fresh-check.sh: FAILED (exit $rc)" >&2
  fi
  printf '%s\n' "${steps[@]}"
  printf '  %-52s %5d s\n' total $(((${EPOCHREALTIME/./} - t_start) / 1000000))
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cp -a "$base/." "$run/"
rm -f "$run/.msock-complete"
cp -L /etc/resolv.conf "$run/etc/resolv.conf"
# This machine's way to PyPI, as a fresh machine here has it: pip's site
# configuration and the CA bundle it names (the package index is reached
# through a proxy with a CA of its own; compose_config_test installs
# podman-compose with pip). Nothing when the host has none.
if [ -r /etc/pip.conf ]; then
  cp -L /etc/pip.conf "$run/etc/pip.conf"
  ca=$(sed -n 's/^[[:space:]]*cert[[:space:]]*=[[:space:]]*//p' /etc/pip.conf | head -1)
  if [ -n "$ca" ] && [ -r "$ca" ]; then
    cp -L "$ca" "$run/etc/msock-fresh-pip-ca.crt"
    sed -i "s#^\([[:space:]]*cert[[:space:]]*=[[:space:]]*\).*#\1/etc/msock-fresh-pip-ca.crt#" "$run/etc/pip.conf"
  fi
fi
# The clone: what HEAD has, not the working tree's uncommitted changes
# (unless --worktree: then those are copied over it).
git clone -q --no-hardlinks "$src" "$run/root/msock"
echo "fresh-check: cloned $(git -C "$run/root/msock" log -1 --format='%h %s')"
if [ "$worktree" = 1 ]; then
  git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$run/root/msock"
  git ls-files -z -d | (cd "$run/root/msock" && xargs -0 -r rm -f)
  echo "fresh-check: with the working tree's changes: $(git status --short | wc -l) files"
fi
bind() {
  mkdir -p "$run$2"
  mount --bind "$1" "$run$2"
  mounts+=("$run$2")
}
bind /proc /proc
bind /sys /sys
bind /dev /dev
bind /dev/pts /dev/pts
bind "$debs" /var/cache/apt/archives
step_done "a new root with a clone of HEAD$([ "$worktree" = 0 ] || echo " + worktree")"

# Runs a bash command line inside the root, as on a fresh login. A failure
# is named once, by the ERR trap at the caller's line.
in_root() {
  chroot "$run" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "set -euo pipefail; cd /root/msock; $1" || return
}

# 1. The bug of issue 12: a policy-rc.d already there made a successful
#    install exit 1. deps.sh must exit 0 and leave that file as it was.
policy=$run/usr/sbin/policy-rc.d
printf '#!/bin/sh\n# like the one in Docker images\nexit 101\n' >"$policy"
chmod 755 "$policy"
cp -p "$policy" "$cache/policy-rc.d.expected"
echo "fresh-check: deps.sh with a policy-rc.d already there (installs everything)"
in_root ./scripts/deps.sh
cmp -s "$policy" "$cache/policy-rc.d.expected" || {
  echo "fresh-check.sh: deps.sh changed the policy-rc.d that was there" >&2
  exit 1
}
step_done "deps.sh, policy-rc.d present: exit 0, kept"

# 2. No policy-rc.d: deps.sh makes one for the install and removes it. One
#    package (coturn, whose postinst would start a daemon) is removed so
#    there is something to install.
rm -f "$policy"
in_root 'DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq coturn >/dev/null'
echo "fresh-check: deps.sh without a policy-rc.d (installs coturn again)"
out=$(in_root ./scripts/deps.sh)
echo "$out"
[ "$out" = "deps: installing coturn" ] || {
  echo "fresh-check.sh: deps.sh did not say it installs coturn" >&2
  exit 1
}
[ ! -e "$policy" ] || {
  echo "fresh-check.sh: deps.sh left its policy-rc.d behind" >&2
  exit 1
}
step_done "deps.sh, no policy-rc.d: made, removed"

# 3. Nothing to install: silent, exit 0.
out=$(in_root ./scripts/deps.sh)
[ -z "$out" ] || {
  echo "fresh-check.sh: deps.sh with nothing missing printed: $out" >&2
  exit 1
}
step_done "deps.sh, nothing missing: silent"

jobs=$(nproc)
echo "fresh-check: release build"
in_root "cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMSOCK_TESTS=OFF >/dev/null &&
  cmake --build build/release -j$jobs >/dev/null"
step_done "release build"

# 4. The components' users (issue 15): made on a fresh system by the
#    release build's msockctl, as test.sh and demo.sh do; a second run
#    finds them all and changes nothing.
echo "fresh-check: msockctl setup-users, twice"
in_root "build/release/bin/msockctl setup-users | grep -v ': exists\$' || true"
in_root "id msock-disco; getent group msock-ch-disco"
out=$(in_root "build/release/bin/msockctl setup-users | grep -cv ': exists\$' || true")
[ "$out" = 0 ] || {
  echo "fresh-check.sh: a second msockctl setup-users made $out entries" >&2
  exit 1
}
step_done "msockctl setup-users: made, then all there"

echo "fresh-check: test build (ASan+UBSan)"
in_root "cmake -S . -B build/test -DCMAKE_BUILD_TYPE=Debug -DMSOCK_SANITIZE=ON -DMSOCK_TEST_BUILD=ON >/dev/null &&
  cmake --build build/test -j$jobs >/dev/null"
step_done "test build"

echo "fresh-check: ctest -L 'unit|scripts'"
in_root "cd build/test && ctest -L 'unit|scripts' --output-on-failure -j$jobs"
step_done "ctest -L 'unit|scripts'"
