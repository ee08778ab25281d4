#!/usr/bin/env bash
# run-cpu.sh - the CPU benchmark set of the cpu backend (the CPU issue and
# ../shared/TARGETS.md), `unigemm bench --backend cpu --threads 2`:
#   cpu-decode.csv   M = 1, K = 8192, N = 28672 (weights >> L3): uint4 g128
#                    scale_zero (AWQ), uint8 g128 scale_zero, bfloat16, f32 act
#   cpu-prefill.csv  M = 512, K = 4096, N = 14336: uint4 g128 and float32
#                    weights, f32 activations (baseline: OpenBLAS sgemm)
#   cpu-sweep-<family>.csv  uint4 g128 on K = 4096, N = 14336 with the decode
#                    and the prefill family forced, M in 1..512, and
#                    cpu-sweep-auto.csv with the library's choice
# Rows go to OUTDIR/<file>; everything printed also to OUTDIR/run-cpu.log.
# Usage: bench/run-cpu.sh OUTDIR [BUILD_DIR]     (BUILD_DIR: default build)
# Environment: THREADS (default 2), REPS (default 5). Takes about 5 minutes
# on two cores, most of it making the random weights.
set -uo pipefail

out=${1:?usage: bench/run-cpu.sh OUTDIR [BUILD_DIR]}
build=${2:-build}
cli="$build/cli/unigemm"
threads=${THREADS:-2}
reps=${REPS:-5}
if [ ! -x "$cli" ]; then
  echo "run-cpu: $cli not found; build first (make, or cmake --build $build)" >&2
  exit 1
fi
mkdir -p "$out"
log="$out/run-cpu.log"
: >"$log"
failed=0

run() {
  echo "+ $*" | tee -a "$log"
  if ! "$@" 2>&1 | tee -a "$log"; then
    echo "run-cpu: FAILED: $*" | tee -a "$log"
    failed=1
  fi
}

bench() { run "$cli" bench --backend cpu --threads "$threads" --reps "$reps" --act float32 "$@"; }

for w in uint4,group=128,method=scale_zero uint8,group=128,method=scale_zero bfloat16; do
  bench -m 1 -n 28672 -k 8192 --weights "$w" --csv "$out/cpu-decode.csv"
done
for w in uint4,group=128,method=scale_zero float32; do
  bench -m 512 -n 14336 -k 4096 --weights "$w" --csv "$out/cpu-prefill.csv"
done
prefix=$("$cli" info | sed -n 's/^  cpu .*kernels: \([a-z0-9]*\).*/\1/p' | head -1)
prefix=${prefix:-avx2}
declare -A forced=([decode]="$prefix-decode" [prefill]="$(case $prefix in
  avx512) echo avx512-prefill-12x32 ;; avx2) echo avx2-prefill-6x16 ;; *) echo portable-prefill-4x16 ;;
  esac)")
for family in decode prefill; do
  bench -m 1,2,4,8,16,32,64,256,512 -n 14336 -k 4096 --weights uint4,group=128,method=scale_zero \
    --schedule "${forced[$family]}" --csv "$out/cpu-sweep-$family.csv"
done
bench -m 1,2,4,8,16,32,64,256,512 -n 14336 -k 4096 --weights uint4,group=128,method=scale_zero \
  --csv "$out/cpu-sweep-auto.csv"
exit $failed
