#!/usr/bin/env bash
# Sets up (packages, build with warnings as errors) and runs the whole test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build -DLUMAC_WERROR=ON
ctest --test-dir build -j2 --output-on-failure --timeout 600
