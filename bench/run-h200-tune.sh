#!/usr/bin/env bash
# run-h200-tune.sh - on the H200: `unigemm tune --backend cuda` over five
# layer shapes at M = 1, 16, 128, 512, 4096, uint4 g128 and bf16 weights
# (the table it writes and the gains it prints), and the bf16-weight
# measurements at M = 8 and 12 behind the decode family's upper bound for
# 16-bit weights (h200-schedules-dense-small-m.csv, read by test_heuristic).
# Usage: bench/run-h200-tune.sh OUTDIR [BUILD_DIR]
set -uo pipefail
out=${1:?usage: bench/run-h200-tune.sh OUTDIR [BUILD_DIR]}
build=${2:-build}
cli="$build/cli/unigemm"
[ -x "$cli" ] || { echo "run-h200-tune: $cli not found; build first" >&2; exit 1; }
mkdir -p "$out" || exit 1
exec > >(tee -a "$out/run-h200-tune.log") 2>&1
echo "== run-h200-tune $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
failed=0
for shape in "4096 14336" "14336 4096"; do
  read -r k n <<<"$shape"
  for sched in default mma-t8-w2-c1 mma-t8-w2-c4 mma-t16-w2-c1 mma-t16-w2-c4 wg-n128-t16-s1 \
               wg-n128-t16-s2 wg-n128-t32-s1 wg-n128-t32-s2; do
    cmd=("$cli" bench --backend cuda -m 8,12 -n "$n" -k "$k" --weights bfloat16 --act bfloat16
         --reps 20 --csv "$out/h200-schedules-dense-small-m.csv")
    [ "$sched" = default ] || cmd+=(--schedule "$sched")
    echo "+ ${cmd[*]}"
    "${cmd[@]}" | grep -E '^cuda ' || { echo "FAILED: ${cmd[*]}"; failed=$((failed + 1)); }
  done
done
cmd=("$cli" tune --backend cuda --reps 20
     --shapes 1x4096x14336,16x14336x4096,128x4096x14336,512x14336x4096,4096x4096x14336
     --weights uint4,group=128,method=scale_zero,scale=bfloat16 --weights bfloat16
     -o "$out/h200-tuning.json")
echo "+ ${cmd[*]}"
"${cmd[@]}" 2>"$out/run-h200-tune-progress.log" || failed=$((failed + 1))
echo "== run-h200-tune: $failed command(s) failed"
[ "$failed" -eq 0 ]
