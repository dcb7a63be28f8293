#!/usr/bin/env bash
# Builds (if needed) and runs the whole test suite with ctest. Fixtures are read from ../shared/fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
# Reference implementations for the black-box tests (exact versions from package-lock.json).
npm ci --prefix tests/reference --no-audit --no-fund --loglevel=error
ctest --test-dir build --output-on-failure -j "${FMSERVE_JOBS:-2}"
