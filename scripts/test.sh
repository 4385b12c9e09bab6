#!/usr/bin/env bash
# Builds stai and runs the whole test suite on a fresh Debian 12 machine:
#   1. installs missing Debian packages (scripts/install-deps.sh),
#   2. Release build of everything (library tests, benchmarks, programs, CUDA
#      targets when nvcc is present) and ctest,
#   3. the same tests under AddressSanitizer + UndefinedBehaviorSanitizer,
#   4. a short libFuzzer run of the file readers.
# Environment: STAI_JOBS (default: nproc), STAI_SKIP_SANITIZE=1, STAI_FUZZ_SECONDS
# (default 20; 0 skips fuzzing).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${STAI_JOBS:-$(nproc)}

STAI_WITH_CLANG=1 bash scripts/install-deps.sh

echo "== Release build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$JOBS"
(cd build && ctest --output-on-failure -j "$JOBS")

if [ "${STAI_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DSTAI_SANITIZE=ON \
    -DSTAI_BUILD_BENCHMARKS=OFF -DSTAI_BUILD_APPS=OFF -DSTAI_CUDA=OFF
  cmake --build build-asan -j "$JOBS" --target stai_tests
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS="suppressions=$PWD/../tests/lsan.supp" \
    ctest --output-on-failure -j "$JOBS" -E consumer_find_package)
fi

FUZZ_SECONDS=${STAI_FUZZ_SECONDS:-20}
if [ "$FUZZ_SECONDS" != 0 ] && [ -x scripts/fuzz.sh ]; then
  echo "== libFuzzer on the readers (${FUZZ_SECONDS}s each)"
  bash scripts/fuzz.sh "$FUZZ_SECONDS"
fi
echo "stai: all tests passed"
