#!/usr/bin/env bash
# tests/fuzz/build_fuzz.sh: configures and builds the fuzz targets with clang-14, libFuzzer and
# ASan+UBSan in their own build directory (only the parsers' libraries get compiled; ccache keeps
# a rebuild to seconds), then writes the generated seed corpora.
# Depends on clang-14 + libfuzzer-14-dev (tools/lib/packages.txt), cmake, ninja, ccache.
#
# Usage: tests/fuzz/build_fuzz.sh SOURCE_DIR FUZZ_BUILD_DIR
set -euo pipefail
src="$1"
out="$2"
cc="${PARLEY_FUZZ_CC:-clang-14}"
cxx="${PARLEY_FUZZ_CXX:-clang++-14}"
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "fuzz: $cxx not found (apt-get install clang-14 libfuzzer-14-dev)" >&2
  exit 77
fi
if [[ ! -f "$out/build.ninja" ]]; then
  cmake -S "$src" -B "$out" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
    -DPARLEY_FUZZ=ON -DPARLEY_CUDA=OFF -DPARLEY_WERROR=OFF \
    -DPARLEY_SANITIZE=address,undefined \
    -DCMAKE_C_FLAGS="-fno-sanitize-recover=all" -DCMAKE_CXX_FLAGS="-fno-sanitize-recover=all" \
    -DPARLEY_TESTDATA="${PARLEY_TESTDATA:-$src/../shared/testdata}" >"$out.configure.log" 2>&1 || {
      cat "$out.configure.log" >&2
      exit 1
    }
fi
cmake --build "$out" --target fuzz_all -j "${PARLEY_JOBS:-$(nproc)}"
"$out/tests/fuzz/fuzz_seeds" "$out/seeds"
# Seeds from the repo that live elsewhere: the demo bot.
mkdir -p "$out/seeds/bot_yaml"
cp "$src/services/dialog/bots/demo/bot.yaml" "$out/seeds/bot_yaml/demo.yaml"
echo "fuzz: targets built in $out/tests/fuzz"
