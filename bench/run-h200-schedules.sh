#!/usr/bin/env bash
# run-h200-schedules.sh - every wgmma ("wg") schedule of the cuda backend,
# forced, on the two prefill shapes of ../shared/TARGETS.md (K x N = 4096 x
# 14336 and 14336 x 4096) with uint4 g128 and bfloat16 weights, bf16
# activations, at M = 16, 32, 64, 128, 256, 512, 1024, 4096; plus the
# library's own choice and the decode family's widest token tile. The rows (schedule column included) go to OUTDIR/h200-schedules.csv:
# the measurements the wg heuristic in src/dispatch/heuristic.c is read from
# (docs/cuda.md). A schedule that does not apply (K split finer than K) is
# reported and skipped.
#
# Usage: bench/run-h200-schedules.sh OUTDIR [BUILD_DIR]     (default build)
# Environment: REPS (timed calls per M, default 20); MS (comma-separated M
# values) and SCHEDULES (space-separated names, "default" for the library's
# choice) narrow the sweep.
set -uo pipefail

out=${1:?usage: bench/run-h200-schedules.sh OUTDIR [BUILD_DIR]}
build=${2:-build}
cli="$build/cli/unigemm"
reps=${REPS:-20}
[ -x "$cli" ] || { echo "run-h200-schedules: $cli not found; build first" >&2; exit 1; }
mkdir -p "$out" || exit 1
exec > >(tee -a "$out/run-h200-schedules.log") 2>&1

ms=${MS:-16,32,64,128,256,512,1024,4096}
default_schedules="default wg-n128-t16-s1 wg-n128-t16-s2 wg-n128-t32-s1 wg-n128-t32-s2
  wg-n128-t64-s1 wg-n128-t64-s2 wg-n128-t64-s4 wg-n128-t128-s1 wg-n128-t128-s2 wg-n128-t256-s1
  wg-n128-t256-s2 wg-n128-t128-s1-a2 wg-n128-t256-s1-a2 wg-n256-t64-s1 wg-n256-t128-s1
  mma-t16-w2-c1 mma-t16-w2-c4 mma-t64-w2-c1"
read -r -d "" -a schedules <<<"${SCHEDULES:-$default_schedules}"
echo "== run-h200-schedules $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), reps $reps"
failed=0
for weights in uint4,group=128,method=scale_zero,scale=bfloat16 bfloat16; do
  for shape in "4096 14336" "14336 4096"; do
    read -r k n <<<"$shape"
    for sched in "${schedules[@]}"; do
      cmd=("$cli" bench --backend cuda -m "$ms" -n "$n" -k "$k" --weights "$weights"
           --act bfloat16 --reps "$reps" --csv "$out/h200-schedules.csv")
      [ "$sched" = default ] || cmd+=(--schedule "$sched")
      echo "+ ${cmd[*]}"
      "${cmd[@]}" | grep -E '^cuda ' || { echo "run-h200-schedules: FAILED: ${cmd[*]}"; failed=$((failed + 1)); }
    done
  done
done
echo "== run-h200-schedules: $failed command(s) failed"
[ "$failed" -eq 0 ]
