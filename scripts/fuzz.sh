#!/usr/bin/env bash
# fuzz.sh - builds the libFuzzer targets with clang (ASan + UBSan, build-fuzz/)
# and runs each for SECONDS (default 60) from its seed corpus in fuzz/corpus.
# fuzz/<target>.dict, where present, gives libFuzzer the format's tokens.
# New inputs go to a scratch folder, never into the repo; a crash leaves its
# input in build-fuzz/artifacts/ and fails the script.
#   scripts/fuzz.sh [SECONDS] [TARGET...]   targets: safetensors gguf npy tuning
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors gguf npy tuning)
build=build-fuzz
CC=clang cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUG_FUZZ=ON \
  -DUG_WITH_CUDA=OFF >/dev/null
cmake --build $build --target "${targets[@]/#/fuzz_}" >/dev/null
mkdir -p $build/artifacts
for t in "${targets[@]}"; do
  scratch=$(mktemp -d)
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  echo "fuzz_$t: ${seconds}s from fuzz/corpus/$t"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    $build/fuzz/fuzz_$t -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
    -artifact_prefix=$build/artifacts/fuzz_$t- -print_final_stats=1 "${dict[@]}" \
    "$scratch" "fuzz/corpus/$t" 2>&1 | grep -E "^(#[0-9]+ +DONE|stat::|==[0-9]+==ERROR|SUMMARY|Done)" || true
  status=${PIPESTATUS[0]}
  rm -rf "$scratch"
  if [ "$status" -ne 0 ]; then
    echo "fuzz_$t FAILED (exit $status); inputs in $build/artifacts/" >&2
    exit 1
  fi
done
