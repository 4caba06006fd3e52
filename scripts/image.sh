#!/usr/bin/env bash
# Builds msock's container image (deploy/Dockerfile) with podman, as root:
#   ./scripts/image.sh        -> localhost/msock:dev, localhost/msock-net:dev
# Here, not in tests/scripts/: it makes the image one deploys, and the
# smoke test (tests/scripts/image_smoke.sh) runs it first.
# 1. podman, runc and debootstrap, when missing (apt-get);
# 2. the base image localhost/debian:12-slim, when missing: debootstrap
#    --variant=minbase bookworm from this machine's mirror, slimmed as
#    Debian's slim image is (no docs, man pages or locales), imported. It
#    stays in podman's store: the next run starts at step 3;
# 3. podman build of deploy/Dockerfile on it; unchanged sources reuse
#    every layer, so a second run builds nothing. The image it replaces
#    is removed. Then its net stage (--target net, every layer but its
#    own reused): the test network's routers and WireGuard of
#    deploy/compose.yaml.
# Prints the seconds of each step and the image's size. Idempotent.
#
# Environment:
#   MSOCK_IMAGE           the tag (default localhost/msock:dev)
#   MSOCK_NET_IMAGE       the net stage's (default localhost/msock-net:dev)
#   MSOCK_BASE_IMAGE      the base (default localhost/debian:12-slim)
#   MSOCK_DEBIAN_MIRROR   default: the first .../debian of /etc/apt/sources.list*
set -Eeuo pipefail
trap 'echo "image.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR

[ "$(id -u)" = 0 ] || {
  echo "image.sh: run as root (rootful podman, debootstrap, apt-get)" >&2
  exit 1
}
src=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=podman-lib.sh
. "$src/scripts/podman-lib.sh"
image=${MSOCK_IMAGE:-localhost/msock:dev}
net_image=${MSOCK_NET_IMAGE:-localhost/msock-net:dev}
base=${MSOCK_BASE_IMAGE:-localhost/debian:12-slim}
work=$(mktemp -d /var/tmp/msock-image.XXXXXX)
steps=()
t0=$(date +%s)
tp=$t0
step_done() {
  local now
  now=$(date +%s)
  steps+=("$(printf '  %-22s %4d s' "$1" $((now - tp)))")
  tp=$now
}
cleanup() {
  rm -rf "$work"
  if [ "${#steps[@]}" -ne 0 ]; then
    echo "seconds per step:"
    printf '%s\n' "${steps[@]}"
    printf '  %-22s %4d s\n' total $(($(date +%s) - t0))
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "1. podman, runc, debootstrap"
podman_need
podman_conf "$work"
step_done packages

echo "2. the base image $base"
if podman image exists "$base"; then
  echo "   there already"
else
  mirror=$(podman_mirror)
  r=$work/rootfs
  echo "   debootstrap --variant=minbase bookworm ($mirror)"
  if ! debootstrap --variant=minbase bookworm "$r" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -20 "$work/debootstrap.log" >&2
    echo "FAIL: debootstrap" >&2
    exit 1
  fi
  # Debian's slim image: packages installed later leave out docs (but the
  # copyright files), man pages and locales; apt keeps no .debs.
  cat >"$r/etc/dpkg/dpkg.cfg.d/msock-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
CFG
  printf 'APT::Keep-Downloaded-Packages "false";\nAPT::Install-Recommends "false";\n' \
    >"$r/etc/apt/apt.conf.d/msock-slim"
  find "$r/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$r"/usr/share/{man,info,lintian}/* "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin \
    "$r"/var/cache/apt/archives/*.deb "$r"/var/log/*.log "$r"/var/log/apt/*
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  # The updates and, when this machine has one, the security mirror, as
  # the debian image has them (debootstrap writes bookworm only).
  security=$({ grep -rhoE '(URIs:|^deb)[[:space:]]+[^[:space:]]+/debian-security/?([[:space:]]|$)' \
    /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null || true; } | awk '{print $2; exit}')
  {
    echo "deb $mirror bookworm main"
    echo "deb $mirror bookworm-updates main"
    if [ -n "$security" ]; then echo "deb $security bookworm-security main"; fi
  } >"$r/etc/apt/sources.list"
  tar -C "$r" -c . | podman import --change 'CMD ["bash"]' - "$base" >/dev/null
  echo "   imported: $(podman image inspect --format '{{.Size}}' "$base" | numfmt --to=si --suffix=B) "
fi
step_done "base image"

# build TAG [ARGS]: podman build of deploy/Dockerfile as TAG; the image it
# replaces (untagged now) is removed, unless a container uses it.
# --network host: apt-get reaches the mirror through this machine's
# network, and podman makes no bridge or firewall rules for the build.
build() {
  local tag=$1 old new
  shift
  old=$(podman image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  podman --cgroup-manager cgroupfs build --runtime runc "${PODMAN_ULIMITS[@]}" --network host \
    --build-arg "BASE=$base" -f "$src/deploy/Dockerfile" -t "$tag" "$@" "$src"
  new=$(podman image inspect --format '{{.Id}}' "$tag")
  if [ -n "$old" ] && [ "$old" != "$new" ]; then
    podman rmi "$old" >/dev/null 2>&1 || true
  fi
}
echo "3. podman build -f deploy/Dockerfile -t $image"
build "$image"
echo "   the net stage: -t $net_image --target net"
build "$net_image" --target net >"$work/net-build.log" 2>&1 || {
  tail -20 "$work/net-build.log" >&2
  echo "FAIL: podman build --target net" >&2
  exit 1
}
new=$(podman image inspect --format '{{.Id}}' "$image")
# Each change of the sources leaves the last build stage (~650 MB, kept as
# the cache) untagged: those older than a day go.
podman image prune -f --filter until=24h >/dev/null 2>&1 || true
step_done build
echo "$image: $(podman image inspect --format '{{.Size}}' "$image" | numfmt --to=si --suffix=B)" \
  "(${new:0:12}; base $(podman image inspect --format '{{.Size}}' "$base" | numfmt --to=si --suffix=B))"
