#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer build with clang, the test suite under it, and
# the libFuzzer harnesses for a bounded time each. Called by scripts/test.sh (and so by CI).
#
# Usage: scripts/sanitize.sh [fuzz-seconds-per-harness]   (default 20)
#
# - Build: build-san/ (clang, -O1 with line tables, -fsanitize=address,undefined,
#   -fno-sanitize-recover, every library instrumented for libFuzzer coverage). A unity build
#   (16 sources per unit): it generates the code of the header-only CLI11 and doctest once per
#   unit instead of once per source, which takes the build from about 370 s to 145 s on 2 cores.
#   Separate from build/, so both can coexist.
# - Tests: every test except the few long network studies listed in $slow below (under ASan they
#   take minutes; the same code paths run in the shorter tests). Any sanitizer report fails the
#   test because recovery is off and ASan aborts.
# - Fuzzing: fuzz_config, fuzz_dataset, fuzz_model and fuzz_onnx, each on a scratch copy of its committed
#   seed corpus in tests/fuzz/corpus/, so the repository is not modified. libFuzzer's random
#   generator is seeded (-seed=1, or $LUMAC_FUZZ_SEED), so a run tries the same inputs in the same
#   order on every machine and CI does not fail at random; the time bound only decides how far it
#   gets. Explore with other seeds and longer times by hand (LUMAC_FUZZ_SEED=7 scripts/sanitize.sh
#   600). A crash leaves its input in build-san/fuzz/<harness>/crash-*; add it to the corpus and as
#   a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds="${1:-20}"
[[ "$fuzz_seconds" =~ ^[0-9]+$ ]] || { echo "sanitize: fuzz seconds must be a whole number" >&2; exit 2; }
fuzz_seed="${LUMAC_FUZZ_SEED:-1}"
[[ "$fuzz_seed" =~ ^[1-9][0-9]{0,8}$ ]] || { echo "sanitize: LUMAC_FUZZ_SEED must be a whole number from 1 to 999999999" >&2; exit 2; }

packages=(clang libclang-rt-14-dev libomp-14-dev ninja-build)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "sanitize: installing ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build_dir=build-san
mkdir -p "$build_dir"
log="$build_dir/build.log"
start=$(date +%s)
if ! { CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
         -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" -DLUMAC_FUZZ=ON \
         -DLUMAC_WERROR=ON -DLUMAC_PYTHON=OFF -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 \
       && cmake --build "$build_dir" -j2; } >"$log" 2>&1; then
  grep -E "error|Error" "$log" | head -n 40 >&2
  echo "sanitize: build failed (full log: $log)" >&2
  exit 1
fi
echo "sanitize: built in $(($(date +%s) - start)) s" >&2

# The long network studies: full-test-set accuracies, CNN training, learned precision, the
# benchmark smoke run, the bad-input tables that load the full datasets once per row, and the
# thread-count determinism checks (the Release suite runs them; ASan does not look for races).
slow='bundled models|120 steps train a CNN|precision learning|lumac bench|bad precision|absurd sizes|NaN, infinity|thread count and batch|identical results with 1 and 2 threads|stop on Ctrl-C within a second|stops on Ctrl-C within a second'
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# OpenMPI keeps some allocations until exit: suppressed by library (the MPI tests also ask for
# full stacks, which the suppressions need; tests/mpi/test_mpi.cpp).
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
start=$(date +%s)
ctest --test-dir "$build_dir" -j2 --output-on-failure --timeout 600 -E "$slow"
echo "sanitize: tests under ASan+UBSan in $(($(date +%s) - start)) s" >&2

for harness in fuzz_config fuzz_dataset fuzz_model fuzz_onnx; do
  work="$build_dir/fuzz/$harness"
  rm -rf "$work"
  mkdir -p "$work/corpus"
  name="${harness#fuzz_}"
  cp tests/fuzz/corpus/"$name"/* "$work/corpus/"
  echo "sanitize: $harness for $fuzz_seconds s (seed $fuzz_seed)" >&2
  (cd "$work" && "../../tests/fuzz/$harness" -seed="$fuzz_seed" -max_total_time="$fuzz_seconds" -rss_limit_mb=4096 \
     -timeout=10 -print_final_stats=1 corpus >"fuzz.log" 2>&1) || {
    tail -n 40 "$work/fuzz.log" >&2
    echo "sanitize: $harness found a failure (input in $work/crash-* or $work/timeout-*)" >&2
    exit 1
  }
  grep -E "stat::number_of_executed_units|Done" "$work/fuzz.log" | tail -n 1 >&2 || true
done
echo "sanitize: clean" >&2
