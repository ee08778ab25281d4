#!/usr/bin/env bash
# gpu-sanitize.sh - run the GPU tests (BUILD_DIR/tests/test_cuda, short
# sample: UG_TEST_QUICK=1) under each compute-sanitizer tool: memcheck (with
# leak checking), racecheck and synccheck; initcheck too when asked through
# UG_SANITIZE_TOOLS. For each tool OUT_DIR gets <tool>.sanitizer.log (the
# tool's report) and <tool>.test.log (the tests' own output); summary.txt
# has one line per tool. Exits 1 if any tool reports an error, a test fails
# or skips (a run where every test skipped proves nothing), 2 on usage.
#
# Usage: scripts/gpu-sanitize.sh BUILD_DIR OUT_DIR
#   UG_SANITIZE_TOOLS  tools to run (default "memcheck racecheck synccheck")
#   UG_SANITIZE_TIMEOUT  seconds per tool, 0 = none (default 0)
#   UG_TEST_SEED       replay the inputs of an earlier run
set -uo pipefail

usage() {
  echo "usage: scripts/gpu-sanitize.sh BUILD_DIR OUT_DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
build=$1
out=$2
test_bin=$build/tests/test_cuda
if [ ! -x "$test_bin" ]; then
  echo "gpu-sanitize: $test_bin not found (was $build configured with CUDA and built?)" >&2
  exit 2
fi
mkdir -p "$out" || exit 2

# compute-sanitizer: on PATH, else next to nvcc or in the toolkit.
sanitizer=$(command -v compute-sanitizer || true)
if [ -z "$sanitizer" ]; then
  for dir in "$(dirname "$(command -v nvcc 2>/dev/null || echo /nonexistent/nvcc)")" \
             "${CUDA_HOME:-/usr/local/cuda}/bin" "${CUDA_HOME:-/usr/local/cuda}/compute-sanitizer" \
             /usr/local/cuda/bin /usr/local/cuda/compute-sanitizer; do
    if [ -x "$dir/compute-sanitizer" ]; then
      sanitizer=$dir/compute-sanitizer
      break
    fi
  done
fi
if [ -z "$sanitizer" ]; then
  echo "gpu-sanitize: compute-sanitizer not found (PATH, CUDA_HOME, /usr/local/cuda)" >&2
  exit 2
fi

tools=${UG_SANITIZE_TOOLS:-memcheck racecheck synccheck}
limit=${UG_SANITIZE_TIMEOUT:-0}
export UG_TEST_QUICK=1
# The tool's own errors exit with this status, distinct from the tests' counts.
tool_error=86
summary=$out/summary.txt
: > "$summary"
echo "== $(date -u) $("$sanitizer" --version | tail -1); seed ${UG_TEST_SEED:-from the clock}" \
  | tee -a "$summary"

failed=0
for tool in $tools; do
  case $tool in
    memcheck) extra=(--leak-check full) ;;
    racecheck|synccheck|initcheck) extra=() ;;
    *) echo "gpu-sanitize: unknown tool '$tool'" >&2; exit 2 ;;
  esac
  log=$out/$tool.sanitizer.log
  test_log=$out/$tool.test.log
  wrap=()
  if [ "$limit" != 0 ]; then
    wrap=(timeout "$limit")
  fi
  start=$(date +%s)
  ${wrap[@]+"${wrap[@]}"} "$sanitizer" --tool "$tool" --error-exitcode "$tool_error" \
    --log-file "$log" ${extra[@]+"${extra[@]}"} "$test_bin" > "$test_log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  errors=$(grep -Eo 'ERROR SUMMARY: [0-9]+' "$log" 2>/dev/null | tail -1 | grep -Eo '[0-9]+$')
  hazards=$(grep -Eo 'RACECHECK SUMMARY: [0-9]+ hazards?' "$log" 2>/dev/null | tail -1)
  if [ "$rc" -eq "$tool_error" ]; then
    verdict="FAIL: $tool reported ${errors:-some} error(s)${hazards:+ ($hazards)}"
  elif [ "$rc" -eq 124 ] && [ "$limit" != 0 ]; then
    verdict="FAIL: timed out after ${limit}s"
  elif [ "$rc" -ne 0 ]; then
    verdict="FAIL: test_cuda exited $rc (failed tests; see $tool.test.log)"
  elif grep -q '^\[  SKIPPED \]' "$test_log"; then
    verdict="FAIL: tests skipped, nothing was checked ($(grep -m1 '^skipped:' "$test_log"))"
  else
    verdict="ok: ${errors:-0} errors${hazards:+, $hazards}"
  fi
  case $verdict in FAIL*) failed=1 ;; esac
  echo "$tool: $verdict (${secs}s)" | tee -a "$summary"
done
exit $failed
