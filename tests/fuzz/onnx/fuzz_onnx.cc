// Fuzz target: an ONNX model (shared/onnx: protobuf parse, opset and op checks, initializers of
// every dtype with their byte counts, shapes, subgraphs, load-time fusions), as parley-tts and the
// smart-turn classifier load theirs. Loading only: running a graph of attacker-chosen shapes is
// bounded by the operator, not the parser. Depends on parley_onnx.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shared/onnx/model.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto model = parley::onnx::Model::load_bytes(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.onnx");
  if (!model.ok()) return 0;
  const auto& m = **model;
  (void)m.inputs();
  (void)m.outputs();
  if (m.stats().nodes < 0 || m.stats().weight_bytes < 0) __builtin_trap();
  return 0;
}
