#!/usr/bin/env bash
# bench/wg_impls.sh: installs the WireGuard implementations that
# bench/wg_iperf.sh runs msock under, besides Debian's wireguard-go
# (/usr/bin, what tests/lab/lib.sh uses by default), at the versions pinned
# below, into build/wg-impls/bin (WG_IMPLS_ROOT/bin; lib.sh's lab_wg_bin looks
# there):
#   wireguard-go   the newest upstream wireguard-go, module
#                  golang.zx2c4.com/wireguard from the Go module proxy (its
#                  main package is the module root), built with the local Go;
#   boringtun-cli  Cloudflare's boringtun, crate boringtun-cli from crates.io
#                  (cargo install --locked).
# Idempotent: an implementation already there at its pinned version is
# skipped. Prints what it did and how long each step took; exits 1 if one
# could not be installed (the other is still tried).
set -euo pipefail

# The proxy serves no tagged (semver) version of golang.zx2c4.com/wireguard:
# upstream tags are 0.0.YYYYMMDD, not semver. This is `go list -m
# golang.zx2c4.com/wireguard@latest` on 2026-12-05: master of 2026-05-22,
# whose version.go says 0.0.20250522.
WG_GO_MODULE=golang.zx2c4.com/wireguard
WG_GO_VERSION=v0.0.0-20260522210424-ecfc5a8d5446
BORINGTUN_VERSION=0.7.1 # boringtun-cli, the newest on crates.io on 2026-12-05

src=$(cd "$(dirname "$0")/.." && pwd)
root=${WG_IMPLS_ROOT:-$src/build/wg-impls}
bin=$root/bin
status=0

# Milliseconds since the epoch.
now_ms() {
  local t=${EPOCHREALTIME//[!0-9]/}
  echo $((t / 1000))
}

# Prints "NAME: MESSAGE (S.SSS s)" for a step that began at T0_MS.
report() {
  local name=$1 t0=$2 ms
  shift 2
  ms=$(($(now_ms) - t0))
  printf 'wg_impls: %s: %s (%d.%03d s)\n' "$name" "$*" $((ms / 1000)) $((ms % 1000))
}

# True when $bin/wireguard-go was built from WG_GO_MODULE at WG_GO_VERSION
# (the main module's version that `go version -m` reads from the binary).
wg_go_current() {
  [ -x "$bin/wireguard-go" ] &&
    go version -m "$bin/wireguard-go" 2>/dev/null |
    awk -v m="$WG_GO_MODULE" -v v="$WG_GO_VERSION" '$1 == "mod" && $2 == m && $3 == v { f = 1 } END { exit !f }'
}

# Builds upstream wireguard-go into $bin/wireguard-go (go install into a
# temporary GOBIN: the binary is named after the module, "wireguard").
install_wg_go() {
  local t0 tmp
  t0=$(now_ms)
  if ! command -v go >/dev/null; then
    report wireguard-go "$t0" "not installed: no go command"
    return 1
  fi
  if wg_go_current; then
    report wireguard-go "$t0" "$WG_GO_VERSION already in $bin, skipped"
    return 0
  fi
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/wg-impls-go.XXXXXX")
  if ! GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN=$tmp \
      go install "$WG_GO_MODULE@$WG_GO_VERSION"; then
    rm -rf "$tmp"
    report wireguard-go "$t0" "go install $WG_GO_MODULE@$WG_GO_VERSION failed"
    return 1
  fi
  mkdir -p "$bin"
  mv "$tmp/wireguard" "$bin/wireguard-go"
  rm -rf "$tmp"
  report wireguard-go "$t0" "built $WG_GO_MODULE@$WG_GO_VERSION ($("$bin/wireguard-go" --version | head -n 1), $(go env GOVERSION)) into $bin"
}

# True when $bin/boringtun-cli is BORINGTUN_VERSION.
boringtun_current() {
  [ -x "$bin/boringtun-cli" ] &&
    [ "$("$bin/boringtun-cli" --version 2>/dev/null)" = "boringtun $BORINGTUN_VERSION" ]
}

# Builds boringtun-cli into $bin with cargo install (release profile).
install_boringtun() {
  local t0
  t0=$(now_ms)
  if ! command -v cargo >/dev/null; then
    report boringtun-cli "$t0" "not installed: no cargo command"
    return 1
  fi
  if boringtun_current; then
    report boringtun-cli "$t0" "$BORINGTUN_VERSION already in $bin, skipped"
    return 0
  fi
  if ! cargo install --root "$root" boringtun-cli --version "$BORINGTUN_VERSION" --locked --force; then
    report boringtun-cli "$t0" "cargo install boringtun-cli $BORINGTUN_VERSION failed"
    return 1
  fi
  report boringtun-cli "$t0" "built boringtun-cli $BORINGTUN_VERSION ($(cargo --version)) into $bin"
}

t0=$(now_ms)
install_wg_go || status=1
install_boringtun || status=1
if [ "$status" = 0 ]; then
  report total "$t0" "all installed"
else
  report total "$t0" "some could not be installed"
fi
exit "$status"
