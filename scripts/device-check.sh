#!/usr/bin/env bash
# device-check.sh - build and test on the GPU machine, recording what ran.
# Used through the device tool (the machine has no network): the cmocka
# packages travel in .debs/ (fetched here with `apt-get download libcmocka-dev
# libcmocka0`) and are unpacked into a private prefix.
# Usage: scripts/device-check.sh OUTDIR
set -uo pipefail
out=${1:?usage: scripts/device-check.sh OUTDIR}
mkdir -p "$out"
. "$(dirname "$0")/device-deps.sh"
{
  echo "== $(date -u) on $(hostname)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release 2>&1 | tail -3
  cmake --build build-gpu -j 16 2>&1 | grep -E -A12 'FAILED|error' | head -40
  echo "== unigemm info"; ./build-gpu/cli/unigemm info
  echo "== ctest"; ctest --test-dir build-gpu --output-on-failure -j 8 2>&1 | tail -25
  echo "== unigemm verify --quick"; ./build-gpu/cli/unigemm verify --quick | tail -3
} 2>&1 | tee "$out/device-check.log"
