#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (+ASan/UBSan) into build-fuzz/ and fuzzes the GGUF reader and model
# loader for SECONDS (default 60) from a seed of the tiny test model. Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
scripts/install-deps.sh
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DFMSERVE_SANITIZE=ON -DFMSERVE_FUZZ=ON -DFMSERVE_TESTS=OFF
cmake --build build-fuzz -j "${FMSERVE_JOBS:-2}" --target gguf_fuzzer fuzz_write_seed
corpus=build-fuzz/corpus/gguf
mkdir -p "$corpus"
build-fuzz/bin/fuzz_write_seed "$corpus/tiny_llama.gguf"
ASAN_OPTIONS=detect_leaks=1 build-fuzz/bin/gguf_fuzzer "$corpus" -max_total_time="$seconds" -max_len=131072 \
  -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
