#!/usr/bin/env bash
# device-dispatch-check.sh - on the GPU machine: clean builds of the whole
# spec and of a restricted one (wall time with 16 jobs, library size), the
# tests (GPU ones included: test_cuda, test_registry's every-combination
# run), and compute-sanitizer memcheck over test_registry's cuda part.
# Usage: scripts/device-dispatch-check.sh OUTDIR
set -uo pipefail
out=${1:?usage: scripts/device-dispatch-check.sh OUTDIR}
mkdir -p "$out"
. "$(dirname "$0")/device-deps.sh"
{
  echo "== $(date -u) on $(hostname), $(nproc) cores"
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  for variant in full restricted; do
    dir=build-$variant
    extra=()
    [ "$variant" = restricted ] && extra=("-DUG_SPEC_RESTRICT=activations=bfloat16;weights=uint4,bfloat16")
    rm -rf "$dir"
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${extra[@]}" >/dev/null 2>&1
    start=$(date +%s%N)
    cmake --build "$dir" -j 16 --target unigemm 2>&1 | grep -E -A12 'FAILED|error' | head -40
    end=$(date +%s%N)
    echo "== build $variant: libunigemm in $(( (end - start) / 1000000 )) ms with 16 jobs," \
      "$(stat -c %s "$dir"/libunigemm.so.0.1.0) bytes"
    cmake --build "$dir" -j 16 2>&1 | grep -E -A12 'FAILED|error' | head -40
  done
  echo "== ctest (full spec)"
  ctest --test-dir build-full --output-on-failure -j 4 2>&1 | tail -30
  echo "== test_registry on the restricted build"
  ./build-restricted/tests/test_registry 2>&1 | tail -12
  echo "== compute-sanitizer memcheck, test_registry (UG_TEST_QUICK=1)"
  UG_TEST_QUICK=1 compute-sanitizer --tool memcheck --error-exitcode 9 \
    ./build-full/tests/test_registry 2>&1 | tail -6
} 2>&1 | tee "$out/device-dispatch-check.log"
