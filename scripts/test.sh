#!/usr/bin/env bash
# Builds (if needed) and runs the whole test suite with ctest. Fixtures are read from ../shared/fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
ctest --test-dir build --output-on-failure -j "${FMSERVE_JOBS:-2}"
