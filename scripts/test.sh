#!/usr/bin/env bash
# Sets up (packages, build with warnings as errors), runs the whole test suite with ctest, then
# the sanitizer build, the suite under it and the fuzzers (scripts/sanitize.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build -DLUMAC_WERROR=ON
ctest --test-dir build -j2 --output-on-failure --timeout 600
# The AddressSanitizer + UndefinedBehaviorSanitizer pass and the fuzzers, 10 s each (about 5
# minutes); LUMAC_SKIP_SANITIZE=1 leaves it out for a quick local run.
if [ "${LUMAC_SKIP_SANITIZE:-0}" != 1 ]; then
  scripts/sanitize.sh 10
fi
