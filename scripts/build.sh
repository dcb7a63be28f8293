#!/usr/bin/env bash
# Installs missing build dependencies, then builds the release binary build/bin/fmserve and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "${FMSERVE_JOBS:-2}"
