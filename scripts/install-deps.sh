#!/usr/bin/env bash
# Installs the Debian packages stai needs, only those that are missing.
# Idempotent: when everything is present it changes nothing and prints one line.
set -euo pipefail
PKGS=(build-essential cmake pkg-config libeigen3-dev libnanoflann-dev doctest-dev
      libbenchmark-dev libhdf5-dev libcli11-dev nlohmann-json3-dev libyaml-cpp-dev
      libcairo2-dev libxxhash-dev)
if [ "${STAI_WITH_CLANG:-0}" = 1 ]; then PKGS+=(clang libclang-rt-dev); fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "stai: all build dependencies are installed"
  exit 0
fi
echo "stai: installing missing packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
