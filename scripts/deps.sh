#!/usr/bin/env bash
# Installs what msock needs to build, test and run the demo on Debian 12.
# Idempotent and quiet; nothing is installed when everything already is.
# A temporary policy-rc.d stops packages (coturn, miniupnpd, ...) from
# starting daemons on this host while they are installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
  libzmq3-dev protobuf-c-compiler libprotobuf-c-dev libsodium-dev
  libseccomp-dev libcmocka-dev libjansson-dev libssl-dev libhttp-parser-dev
  jq procps iproute2 passwd wireguard-tools openssl tshark
  wireguard-go nftables iperf3 iputils-ping curl
  libminiupnpc-dev coturn miniupnpd-nftables conntrack miniupnpc natpmpc python3
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi

policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# msock scripts/deps.sh: no daemons start during install\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  made_policy=1
fi
cleanup() { [ "$made_policy" = 1 ] && rm -f "$policy"; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
echo "deps: installing ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
