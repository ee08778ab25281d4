#!/usr/bin/env bash
# install-deps.sh - installs the Debian/Ubuntu packages unigemm builds with,
# when any is missing: make and a C compiler (build-essential), cmake, ninja,
# pkg-config, jansson (the JSON of safetensors headers and config files),
# OpenBLAS (the CPU baseline of `unigemm bench`), cmocka (the unit tests) and
# python3 (the generators of src/generated/, whose freshness a test checks).
# nvcc is optional and never installed here: with it the CUDA backend is
# built, without it the library builds for the CPU alone.
set -euo pipefail

packages=(build-essential cmake ninja-build pkg-config libjansson-dev libopenblas-dev libcmocka-dev
  python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
