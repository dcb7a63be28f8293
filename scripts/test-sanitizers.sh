#!/usr/bin/env bash
# Builds with clang + AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/ and runs every test there.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DFMSERVE_SANITIZE=ON
cmake --build build-asan -j "${FMSERVE_JOBS:-2}"
npm ci --prefix tests/reference --no-audit --no-fund --loglevel=error
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt"
ctest --test-dir build-asan --output-on-failure -j "${FMSERVE_JOBS:-2}"
