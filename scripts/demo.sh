#!/usr/bin/env bash
# Builds the `stai` program on a fresh Debian 12 machine (installing missing
# packages first) and runs `stai demo`: a simulated tissue and reference,
# training, imputation of genes the simulated panel does not measure, and
# cell-type annotation, with a table of results against the simulation's truth.
# Extra arguments go to `stai demo` (e.g. --plot demo-figures).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j "${STAI_JOBS:-$(nproc)}" --target stai
exec ./build/stai demo "$@"
