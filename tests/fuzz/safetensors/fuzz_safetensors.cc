// Fuzz target: a safetensors file (shared/engine/safetensors): the 8-byte header length, the JSON
// header (through the strict JSON parser), dtypes, shapes and data offsets checked against the
// bytes; then tensor lookups. Depends on parley_safetensors.
#include <cstddef>
#include <cstdint>
#include <string>

#include "shared/engine/safetensors/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto file = parley::safetensors::File::from_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.safetensors");
  if (!file.ok()) return 0;
  const auto& f = **file;
  std::size_t converted = 0;
  for (const auto& t : f.tensors()) {
    if (f.find(t.name) == nullptr) __builtin_trap();  // every listed tensor can be found
    // Converting reads the data the header points at: it must lie inside the file. Bounded so a
    // big (valid) seed does not slow the fuzzer down.
    if (converted < (1 << 20) && t.nbytes() < (1 << 18)) {
      auto v = f.to_f32(t);
      if (v.ok()) converted += v->size();
    }
  }
  return 0;
}
