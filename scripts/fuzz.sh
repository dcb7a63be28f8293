#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (+ASan/UBSan) into build-fuzz/ and runs each for SECONDS (default 60):
# the GGUF reader + model loader (seed: the tiny test model), the HTTP API in-process (seeds: fuzz/corpus/api, one
# valid request per route), the chat-template engine (seeds: the real templates in ../shared/fixtures) and dataset
# rows (seeds: fuzz/corpus/dataset), the JSON Schema compiler + matcher (seeds: fuzz/corpus/schema) and image
# decoding + preprocessing (seeds: fuzz/corpus/image and the vision fixtures' small images) and YaWL workflow documents
# (seeds: fuzz/corpus/workflow).
# Usage: scripts/fuzz.sh [SECONDS] [gguf|api|jinja|dataset|schema|image|workflow ...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf api jinja dataset schema image workflow safetensors)
scripts/install-deps.sh
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DFMSERVE_SANITIZE=ON -DFMSERVE_FUZZ=ON -DFMSERVE_TESTS=OFF
cmake --build build-fuzz -j "${FMSERVE_JOBS:-2}" --target gguf_fuzzer api_fuzzer jinja_fuzzer dataset_fuzzer schema_fuzzer image_fuzzer workflow_fuzzer safetensors_fuzzer fuzz_write_seed
export ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt"
for target in "${targets[@]}"; do
  corpus="build-fuzz/corpus/$target"
  mkdir -p "$corpus" build-fuzz/artifacts
  echo "== fuzzing $target for $seconds s =="
  case "$target" in
    gguf)
      build-fuzz/bin/fuzz_write_seed "$corpus/tiny_llama.gguf"
      build-fuzz/bin/gguf_fuzzer "$corpus" -max_total_time="$seconds" -max_len=131072 -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/ 2>&1 | tail -n 40 ;;
    api)
      cp fuzz/corpus/api/*.req "$corpus/"
      build-fuzz/bin/api_fuzzer "$corpus" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=3072 \
        -timeout=70 -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/ 2>&1 | tail -n 40 ;;
    jinja)
      for t in ../shared/fixtures/chat-templates/*.jinja; do
        { cat "$t"; printf '\n----\n{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"kwargs":{"enable_thinking":false}}'; } \
          > "$corpus/$(basename "$t").seed"
      done
      build-fuzz/bin/jinja_fuzzer "$corpus" -max_total_time="$seconds" -max_len=16384 -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/ 2>&1 | tail -n 40 ;;
    dataset)
      cp fuzz/corpus/dataset/*.row "$corpus/"
      build-fuzz/bin/dataset_fuzzer "$corpus" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/ 2>&1 | tail -n 40 ;;
    schema)
      cp fuzz/corpus/schema/*.seed "$corpus/"
      build-fuzz/bin/schema_fuzzer "$corpus" -max_total_time="$seconds" -max_len=16384 -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/ 2>&1 | tail -n 40 ;;
    image)
      cp fuzz/corpus/image/* ../shared/fixtures/vision/images/tiny64.jpg ../shared/fixtures/vision/images/tall300x1000.png "$corpus/"
      build-fuzz/bin/image_fuzzer "$corpus" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/ 2>&1 | tail -n 40 ;;
    workflow)
      cp fuzz/corpus/workflow/* "$corpus/"
      # Full unwinding: libjq has no frame pointers, and its parser's leaks (lsan-suppressions.txt) are recognised
      # by the jq_parse frame.
      ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0" build-fuzz/bin/workflow_fuzzer "$corpus" -max_total_time="$seconds" -max_len=16384 -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/ 2>&1 | tail -n 40 ;;
    safetensors)
      cp fuzz/corpus/safetensors/* "$corpus/"
      build-fuzz/bin/safetensors_fuzzer "$corpus" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/ 2>&1 | tail -n 40 ;;
    *) echo "unknown fuzz target '$target'" >&2; exit 2 ;;
  esac
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzzer $target failed" >&2; exit 1; }
done
