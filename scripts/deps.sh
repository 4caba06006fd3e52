#!/usr/bin/env bash
# Installs what msock needs to build, test and run the demo on Debian 12.
# Idempotent and quiet; nothing is installed when everything already is.
# A temporary policy-rc.d stops packages (coturn, miniupnpd, ...) from
# starting daemons on this host while they are installed; one that is
# already there is left as it is. MSOCK_POLICY_RC_D names that file (default
# /usr/sbin/policy-rc.d) so tests/scripts/deps_test.sh can use a scratch one.
set -Eeuo pipefail
trap 'echo "deps.sh: line $LINENO: $BASH_COMMAND failed (exit $?)" >&2' ERR

PACKAGES=(
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
  libzmq3-dev protobuf-c-compiler libprotobuf-c-dev libsodium-dev
  libseccomp-dev libcmocka-dev libjansson-dev libssl-dev libhttp-parser-dev
  jq procps iproute2 passwd wireguard-tools openssl tshark
  wireguard-go nftables iperf3 iputils-ping curl
  libminiupnpc-dev coturn miniupnpd-nftables conntrack miniupnpc natpmpc python3
  shellcheck
  # the debug page in a real browser (tests/lab/lab_disco_failover.sh) and
  # /metrics checked by promtool and scraped by a real Prometheus
  # (tests/integration/debug_metrics.sh)
  chromium prometheus
  # deploy/compose.yaml checked by tests/scripts/compose_config_test.sh
  # (podman-compose, installed there with pip, runs `podman version` first)
  docker-compose python3-venv podman
  # systemd-analyze: tests/scripts/systemd_units_test.sh (no daemon starts)
  systemd
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi

policy=${MSOCK_POLICY_RC_D:-/usr/sbin/policy-rc.d}
made_policy=0
# An `if`, not `[ ] && rm`: an EXIT trap's last status becomes the script's,
# and a false test there made a successful install exit 1 (issue 12).
cleanup() {
  if [ "$made_policy" = 1 ]; then
    rm -f "$policy"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [ ! -e "$policy" ]; then
  made_policy=1
  printf '#!/bin/sh\n# msock scripts/deps.sh: no daemons start during install\nexit 101\n' >"$policy"
  chmod 755 "$policy"
fi

export DEBIAN_FRONTEND=noninteractive
echo "deps: installing ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
