#!/usr/bin/env bash
# Exits 0 when `go` on PATH is at least 1.26.8 (what tailscale.com v1.102.5
# needs here), else prints why to stderr and exits 1. Never a silent skip:
# MSOCK_SKIP_INTEROP=1 is how a run leaves the interop tests out.
set -euo pipefail
need=1.26.8
msg="interop: need go >= $need (MSOCK_SKIP_INTEROP=1 runs the rest)"
if ! command -v go >/dev/null 2>&1; then
  echo "$msg; no go on PATH" >&2
  exit 1
fi
have=$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n 1)" != "$need" ]; then
  echo "$msg; PATH has go $have ($(command -v go))" >&2
  exit 1
fi
