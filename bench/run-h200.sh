#!/usr/bin/env bash
# run-h200.sh - the H200 benchmark set of the cuda backend (see
# ../shared/TARGETS.md): `unigemm bench --backend cuda` with bf16 activations
# for uint4 and uint8 weights (group 128, scale_zero, bf16 scales) and
# full-precision bf16 weights, at M = 1, 4, 16, 32 (decode kernels) and 64,
# 128, 256, 512, 1024, 4096 (the wgmma kernel) on five Llama layer shapes
# (K x N), each against cuBLAS bf16 in the same run. Rows are appended to OUTDIR/h200-uint4.csv, h200-uint8.csv
# and h200-bf16.csv; everything printed also goes to OUTDIR/run-h200.log.
# Each command is printed before it runs; a failing one is reported and the
# rest still run (exit 1 at the end if any failed).
#
# Usage: bench/run-h200.sh OUTDIR [BUILD_DIR]     (BUILD_DIR: default build)
# Environment: REPS (timed calls per M, default 50), CMD_TIMEOUT (seconds
# per command, default 150), DEADLINE (seconds after which commands not yet
# started are skipped, default 420).
# Takes about 2-3 minutes on one H200, most of it making the random weights
# on the CPU (the largest layers hold 235 M weights).
set -uo pipefail

out=${1:?usage: bench/run-h200.sh OUTDIR [BUILD_DIR]}
build=${2:-build}
cli="$build/cli/unigemm"
reps=${REPS:-50}
cmd_timeout=${CMD_TIMEOUT:-150}
deadline=${DEADLINE:-420}

if [ ! -x "$cli" ]; then
  echo "run-h200: $cli not found; build first (cmake -S . -B $build -G Ninja && cmake --build $build)" >&2
  exit 1
fi
mkdir -p "$out" || exit 1
log="$out/run-h200.log"
exec > >(tee -a "$log") 2>&1

# K N pairs: -k is K (in features), -n is N (out features)
shapes=("4096 14336" "14336 4096" "8192 28672" "28672 8192" "4096 4096")
ms=1,4,16,32,64,128,256,512,1024,4096
uint4=uint4,group=128,method=scale_zero,scale=bfloat16
uint8=uint8,group=128,method=scale_zero,scale=bfloat16

start=$(date +%s)
failed=0
skipped=0

# run CSV_NAME M_LIST K N SPEC: one bench command, printed first
run() {
  local csv=$1 ms=$2 k=$3 n=$4 spec=$5
  local cmd=("$cli" bench --backend cuda -m "$ms" -n "$n" -k "$k" --weights "$spec"
             --act bfloat16 --reps "$reps" --csv "$out/h200-$csv.csv")
  local elapsed=$(($(date +%s) - start))
  if [ "$elapsed" -ge "$deadline" ]; then
    echo "run-h200: skipped after ${elapsed} s (DEADLINE=$deadline): ${cmd[*]}"
    skipped=$((skipped + 1))
    return
  fi
  echo
  echo "+ ${cmd[*]}"
  timeout "$cmd_timeout" "${cmd[@]}"
  local rc=$?
  if [ "$rc" -eq 124 ]; then
    echo "run-h200: FAILED: timed out after ${cmd_timeout} s: ${cmd[*]}"
    failed=$((failed + 1))
  elif [ "$rc" -ne 0 ]; then
    echo "run-h200: FAILED with exit status $rc: ${cmd[*]}"
    failed=$((failed + 1))
  fi
}

echo "== run-h200 $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), reps $reps"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader \
  2>/dev/null || echo "(nvidia-smi not found)"
info=$("$cli" info)
sed -n '/^backends:/,$p' <<<"$info"
if ! grep -q '^  cuda  available' <<<"$info"; then
  echo "run-h200: the cuda backend is not available here (see above); nothing run"
  exit 1
fi

for shape in "${shapes[@]}"; do
  read -r k n <<<"$shape"
  run uint4 "$ms" "$k" "$n" "$uint4"
  run uint8 "$ms" "$k" "$n" "$uint8"
  run bf16 "$ms" "$k" "$n" bfloat16
done

echo
echo "== run-h200: $(($(date +%s) - start)) s, $failed command(s) failed, $skipped skipped;" \
     "CSV files in $out"
[ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ]
