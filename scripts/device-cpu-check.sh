#!/usr/bin/env bash
# device-cpu-check.sh - the cpu backend on the GPU machine's host CPU (an
# AVX-512 Xeon: the one place here where the avx512 kernels run). Builds
# without CUDA, runs the tests (test_cpu covers portable, avx2 and avx512)
# and the CPU benchmark set on 2 threads. The cmocka packages travel in
# .debs/ as for scripts/device-check.sh.
# Usage: scripts/device-cpu-check.sh OUTDIR
set -uo pipefail
out=${1:?usage: scripts/device-cpu-check.sh OUTDIR}
mkdir -p "$out"
. "$(dirname "$0")/device-deps.sh"
{
  echo "== $(date -u) on $(hostname): $(grep -m1 'model name' /proc/cpuinfo)"
  cmake -S . -B build-cpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DUG_WITH_CUDA=OFF 2>&1 | tail -2
  cmake --build build-cpu -j 16 2>&1 | grep -E -A12 'FAILED|error' | head -40
  echo "== unigemm info"; ./build-cpu/cli/unigemm info
  echo "== test_cpu"; ./build-cpu/tests/test_cpu 2>&1 | tail -12
  echo "== ctest"; ctest --test-dir build-cpu --output-on-failure -j 8 2>&1 | tail -6
} 2>&1 | tee "$out/device-cpu-check.log"
THREADS=2 REPS=5 bench/run-cpu.sh "$out" build-cpu >/dev/null 2>&1
echo "== bench done: $(ls "$out")" | tee -a "$out/device-cpu-check.log"
