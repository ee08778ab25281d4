#!/usr/bin/env bash
# device-wg-check.sh - on the GPU machine, after a change to the cuda
# kernels: build, ctest (GPU tests included), compute-sanitizer (memcheck,
# racecheck, synccheck over test_cuda, scripts/gpu-sanitize.sh), the HGMMA
# count of every wgmma instantiation, then bench/run-h200.sh. Writes
# OUTDIR/h200-final-check.log, OUTDIR/h200-sass-hgmma.txt and run-h200.sh's
# files (at most eight files, what the device tool returns).
# Usage: scripts/device-wg-check.sh OUTDIR
set -o pipefail
out=${1:?usage: scripts/device-wg-check.sh OUTDIR}
mkdir -p "$out"
. "$(dirname "$0")/device-deps.sh" >/dev/null 2>&1
log=$out/h200-final-check.log
{
  echo "== $(date -u) $(nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader)"
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null 2>&1
  cmake --build build-gpu -j 16 2>&1 | grep -E -A12 'FAILED|error' | head -40
  echo "== ctest"; ctest --test-dir build-gpu -j 4 2>&1 | grep -E "tests passed|FAILED|Failed|Skipped|\*\*\*"
  echo "== sanitize"; scripts/gpu-sanitize.sh build-gpu /tmp/sanitize >/dev/null 2>&1
  echo "rc $?"; cat /tmp/sanitize/summary.txt
} 2>&1 | tee "$log"
for b in 4 8 16 32; do
  o=$(find build-gpu -name "cuda_gemm_${b}bit.cu.o" | head -1)
  cuobjdump --dump-sass "$o" |
    awk -v b="$b" '/Function :/{f=$3} /HGMMA/{n[f]++} END{for (k in n) print b "-bit", k, n[k] " HGMMA"}'
done > "$out/h200-sass-hgmma.txt"
echo "== sass: $(wc -l < "$out/h200-sass-hgmma.txt") functions with HGMMA" | tee -a "$log"
REPS=50 bench/run-h200.sh "$out" build-gpu > /dev/null 2>&1
echo "== run-h200 rc $?" | tee -a "$log"
