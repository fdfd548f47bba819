// Fuzz target: a GGUF model file (shared/engine/gguf): header, metadata key/values of every type,
// tensor infos, offsets and sizes checked against the bytes; then the typed getters and tensor
// lookups a loader uses. Depends on parley_gguf.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "shared/engine/gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto file = parley::engine::gguf::GgufFile::from_bytes(std::vector<std::uint8_t>(data, data + size), "fuzz.gguf");
  if (!file.ok()) return 0;
  const auto& f = **file;
  (void)f.get_string("general.architecture");
  (void)f.get_u32("llama.context_length");
  for (const auto& t : f.tensors()) {
    (void)f.find_tensor(t.name);
  }
  return 0;
}
