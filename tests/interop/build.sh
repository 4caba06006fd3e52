#!/usr/bin/env bash
# Builds the interop tests' Go programs into OUT (default build/interop/bin):
# Tailscale's own commands (derper, derpprobe, stunc, tailscaled, tailscale) from the module
# tailscale.com pinned in go.mod (v1.102.5), and our harness programs under
# tests/interop/cmd/. Go's module and build caches stay in their default
# per-user places, so a second clone on the same machine only relinks.
# Needs Go >= 1.26.8 on PATH; never fetches another toolchain.
set -euo pipefail
trap 'echo "interop/build.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../build/interop/bin}
case $out in /*) ;; *) out=$PWD/$out ;; esac # it builds from $here
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
"$here/check-go.sh"
mkdir -p "$out"
cd "$here"
pkgs=(tailscale.com/cmd/derper tailscale.com/cmd/derpprobe tailscale.com/cmd/stunc
  tailscale.com/cmd/tailscaled tailscale.com/cmd/tailscale)
if compgen -G "cmd/*/main.go" >/dev/null; then
  pkgs+=(./cmd/...)
fi
t0=${EPOCHREALTIME/./}
go build -o "$out/" "${pkgs[@]}"
echo "interop: built ${pkgs[*]} into $out in $(((${EPOCHREALTIME/./} - t0) / 1000)) ms"
