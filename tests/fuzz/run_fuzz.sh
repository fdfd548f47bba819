#!/usr/bin/env bash
# tests/fuzz/run_fuzz.sh: replays a fuzz target's regression inputs, then fuzzes it for a while
# from its seeds (committed, generated, and real files from ../shared/testdata). A crash, leak,
# sanitizer report or timeout fails; the input is left in FUZZ_BUILD_DIR/artifacts/TARGET/ —
# fix the bug and add the input to tests/fuzz/TARGET/regressions/.
# Depends on build_fuzz.sh having run (ctest fixture fuzz_build).
#
# Usage: tests/fuzz/run_fuzz.sh FUZZ_BUILD_DIR TARGET SECONDS FUZZ_SOURCE_DIR TESTDATA_DIR
#   e.g. by hand, an hour: tests/fuzz/run_fuzz.sh build/fuzz gguf 3600 tests/fuzz ../shared/testdata
set -euo pipefail
build="$1"
target="$2"
seconds="$3"
src="$4"
testdata="$5"
bin="$build/tests/fuzz/fuzz_$target"
if [[ ! -x "$bin" ]]; then
  echo "fuzz: $bin not built (run tests/fuzz/build_fuzz.sh)" >&2
  exit 1
fi
corpus="$build/corpus/$target"
artifacts="$build/artifacts/$target/"
mkdir -p "$corpus" "$artifacts"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Real files of the format, from the shared test data (read in place).
extra=()
max_len=8192
case "$target" in
  json) extra+=("$testdata/nlu/snips_raw" "$testdata/qa"); max_len=16384 ;;
  gguf) extra+=("$testdata/models/ggml_vocab" "$testdata/models/llama2c_stories260K"); max_len=65536 ;;
  safetensors) extra+=("$testdata/models/silero_vad"); max_len=65536 ;;
  wav) extra+=("$testdata/speech" "$testdata/vad"); max_len=16384 ;;
  ct2) max_len=65536 ;;
  # Silero VAD's two graphs (truncated to max_len) and ONNX's own tiny node-test models.
  onnx) extra+=("$testdata/models/silero_vad" /usr/share/libonnx-testdata/data/node/test_conv_with_strides_padding
                /usr/share/libonnx-testdata/data/node/test_lstm_defaults); max_len=65536 ;;
  http_request) max_len=20000 ;;
  bot_yaml) max_len=32768 ;;
esac
seeds=()
for d in "$src/$target/seeds" "$build/seeds/$target" "${extra[@]}"; do
  [[ -d "$d" ]] && seeds+=("$d")
done

# 1. Every input that once broke the target must pass now.
if compgen -G "$src/$target/regressions/*" >/dev/null; then
  echo "fuzz: replaying $(ls "$src/$target/regressions" | wc -l) regression inputs of $target"
  "$bin" -runs=1 "$src/$target/regressions"/*
fi

# 2. Fuzz for a while (new inputs go to the build's corpus, kept between runs).
echo "fuzz: $target for ${seconds}s (max_len $max_len) from ${seeds[*]}"
exec "$bin" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2560 \
  -artifact_prefix="$artifacts" -print_final_stats=1 "$corpus" "${seeds[@]}"
