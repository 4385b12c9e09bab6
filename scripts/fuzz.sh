#!/usr/bin/env bash
# Builds and runs stai's libFuzzer targets (fuzz/fuzz_h5ad.cpp, fuzz/fuzz_text.cpp)
# with AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   scripts/fuzz.sh [seconds-per-target]        (default 30)
#
# Environment:
#   FUZZ_DIR=...            work directory (default build-fuzz/ in the source tree)
#   STAI_FUZZ_RAW_HDF5=1    also run fuzz_h5ad on raw HDF5 file images (fuzzes libhdf5
#                           1.10.8 itself, which is known to crash on hostile metadata;
#                           a crash there is reported but is not stai's bug)
#   CXX=clang++-14          compiler
# Exits non-zero when a target crashes (the reproducer is left in FUZZ_DIR).
set -euo pipefail

SECONDS_PER_TARGET="${1:-30}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ_DIR="${FUZZ_DIR:-$ROOT/build-fuzz}"
CXX="${CXX:-clang++}"
mkdir -p "$FUZZ_DIR"

HDF5_CFLAGS="$(pkg-config --cflags hdf5)"
HDF5_LIBS="$(pkg-config --libs hdf5)"
COMMON=(-std=c++20 -g -O1 -I"$ROOT/include" -isystem /usr/include/eigen3 $HDF5_CFLAGS)
SAN=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)

echo "== building fuzz targets in $FUZZ_DIR"
"$CXX" "${COMMON[@]}" "${SAN[@]}" "$ROOT/fuzz/fuzz_h5ad.cpp" -o "$FUZZ_DIR/fuzz_h5ad" $HDF5_LIBS
"$CXX" "${COMMON[@]}" "${SAN[@]}" "$ROOT/fuzz/fuzz_text.cpp" -o "$FUZZ_DIR/fuzz_text"
"$CXX" "${COMMON[@]}" -DSTAI_FUZZ_MAKE_SEEDS "$ROOT/fuzz/fuzz_h5ad.cpp" -o "$FUZZ_DIR/fuzz_h5ad_seeds" $HDF5_LIBS

echo "== seeding corpora"
rm -rf "$FUZZ_DIR/seeds_h5ad" "$FUZZ_DIR/seeds_h5ad_raw" "$FUZZ_DIR/seeds_text"
mkdir -p "$FUZZ_DIR/seeds_h5ad" "$FUZZ_DIR/seeds_h5ad_raw" "$FUZZ_DIR/seeds_text" \
         "$FUZZ_DIR/corpus_h5ad" "$FUZZ_DIR/corpus_h5ad_raw" "$FUZZ_DIR/corpus_text"
"$FUZZ_DIR/fuzz_h5ad_seeds" "$FUZZ_DIR/seeds_h5ad" "$FUZZ_DIR/seeds_h5ad_raw" 32
# Text seeds: the first byte selects the options (see fuzz/fuzz_text.cpp).
printf '\x00"",g1,g2\nc1,1,2\nc2,3,"4"\n'            > "$FUZZ_DIR/seeds_text/csv_rownames"
printf '\x02\tcellA\tcellB\nGad2\t1\t2\r\nVip\t3\t4'  > "$FUZZ_DIR/seeds_text/tsv_genes_x_cells"
printf '\x00g1\tg2\n1\t2\n3\t4\n'                     > "$FUZZ_DIR/seeds_text/r_header"
printf '\x01"a ""q""",b\n"multi\nline",2\n'           > "$FUZZ_DIR/seeds_text/quotes"
printf '\x04X Y\n1.5 2e3\nNA -inf\n'                  > "$FUZZ_DIR/seeds_text/whitespace"
printf '\x00"","x"\n"1","Astro"\n"2","OD Mature"\n'   > "$FUZZ_DIR/seeds_text/labels"
printf '\x18cell;g1\nc1;1\n'                          > "$FUZZ_DIR/seeds_text/semicolon_noheader"

status=0
run() {  # name binary corpus seeds [env]
  local name="$1" bin="$2" corpus="$3" seeds="$4"
  echo "== fuzzing $name for ${SECONDS_PER_TARGET}s"
  if ! (cd "$FUZZ_DIR" && "$bin" "$corpus" "$seeds" -max_total_time="$SECONDS_PER_TARGET" \
          -rss_limit_mb=2048 -max_len=4096 -timeout=20 -print_final_stats=1 \
          -artifact_prefix="$FUZZ_DIR/$name-" 2>&1 | tail -n 25); then
    echo "!! $name: crash or sanitizer report (reproducer: $FUZZ_DIR/$name-*)"
    status=1
  fi
}
set +e
set -o pipefail
run text "$FUZZ_DIR/fuzz_text" "$FUZZ_DIR/corpus_text" "$FUZZ_DIR/seeds_text"
run h5ad "$FUZZ_DIR/fuzz_h5ad" "$FUZZ_DIR/corpus_h5ad" "$FUZZ_DIR/seeds_h5ad"
if [[ "${STAI_FUZZ_RAW_HDF5:-0}" == "1" ]]; then
  export STAI_FUZZ_RAW_HDF5=1
  run h5ad_raw "$FUZZ_DIR/fuzz_h5ad" "$FUZZ_DIR/corpus_h5ad_raw" "$FUZZ_DIR/seeds_h5ad_raw"
fi
if [[ $status -eq 0 ]]; then echo "== fuzzing finished: no crashes"; fi
exit $status
