#!/usr/bin/env bash
# run-h200-schedules.sh - the cuda backend's schedules, forced, on the five
# layer shapes of bench/run-h200.sh with uint4 g128, uint8 g128 and bfloat16
# weights, bf16 activations, plus the library's own choice ("default"):
#   - M = 16, 32, 64: the narrow wgmma token tiles and the decode family;
#   - M = 128, 256, 512, 1024, 4096: the wgmma tiles of 64 tokens and more
#     (narrower ones lost everywhere from M = 64 on, docs/heuristics.md).
# The rows (schedule column included) go to OUTDIR/h200-schedules.csv: the
# measurements the heuristic in src/dispatch/heuristic.c is read from and
# that tests/test_heuristic.c replays. A schedule that does not apply (K
# split finer than K) is reported and skipped.
#
# Usage: bench/run-h200-schedules.sh OUTDIR [BUILD_DIR]     (default build)
# Environment: REPS (timed calls per M, default 20); WEIGHTS (space-separated
# formats) and SHAPES (space-separated KxN) narrow the sweep, e.g. to split
# it over several runs of the device's ten-minute limit.
set -uo pipefail

out=${1:?usage: bench/run-h200-schedules.sh OUTDIR [BUILD_DIR]}
build=${2:-build}
cli="$build/cli/unigemm"
reps=${REPS:-20}
[ -x "$cli" ] || { echo "run-h200-schedules: $cli not found; build first" >&2; exit 1; }
mkdir -p "$out" || exit 1
exec > >(tee -a "$out/run-h200-schedules.log") 2>&1

default_weights="uint4,group=128,method=scale_zero,scale=bfloat16
  uint8,group=128,method=scale_zero,scale=bfloat16 bfloat16"
read -r -d "" -a weight_list <<<"${WEIGHTS:-$default_weights}"
read -r -d "" -a shape_list <<<"${SHAPES:-4096x14336 14336x4096 8192x28672 28672x8192 4096x4096}"
small="default wg-n128-t16-s1 wg-n128-t16-s2 wg-n128-t32-s1 wg-n128-t32-s2 wg-n128-t64-s1
  wg-n128-t64-s2 wg-n256-t64-s1 mma-t16-w2-c1 mma-t16-w2-c4 mma-t64-w2-c1"
large="default wg-n128-t64-s1 wg-n128-t64-s2 wg-n128-t128-s1 wg-n128-t128-s2 wg-n128-t256-s1
  wg-n128-t256-s2 wg-n128-t128-s1-a2 wg-n128-t256-s1-a2 wg-n256-t64-s1 wg-n256-t128-s1"
echo "== run-h200-schedules $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), reps $reps"
failed=0
for weights in "${weight_list[@]}"; do
  for shape in "${shape_list[@]}"; do
    k=${shape%x*} n=${shape#*x}
    for part in small large; do
      if [ $part = small ]; then ms=16,32,64; list=$small; else ms=128,256,512,1024,4096; list=$large; fi
      for sched in $list; do
        cmd=("$cli" bench --backend cuda -m "$ms" -n "$n" -k "$k" --weights "$weights"
             --act bfloat16 --reps "$reps" --csv "$out/h200-schedules.csv")
        [ "$sched" = default ] || cmd+=(--schedule "$sched")
        echo "+ ${cmd[*]}"
        "${cmd[@]}" | grep -E '^cuda ' || { echo "run-h200-schedules: FAILED: ${cmd[*]}"; failed=$((failed + 1)); }
      done
    done
  done
done
echo "== run-h200-schedules $(date -u +%Y-%m-%dT%H:%M:%SZ): $failed command(s) failed"
[ "$failed" -eq 0 ]
