// Fuzz target: a CTranslate2 model.bin (shared/engine/ctranslate2: header, spec, variables with
// shapes, dtypes and byte counts, aliases), then what the Whisper loader does with it: look up
// names through aliases, read scalars, convert small variables to f32. Depends on parley_ctranslate2.
#include <cstddef>
#include <cstdint>
#include <string>

#include "shared/engine/ctranslate2/ct2_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto file = parley::engine::ct2::File::from_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.bin");
  if (!file.ok()) return 0;
  const auto& f = **file;
  for (const auto& v : f.variables()) {
    (void)f.find(v.name);
    (void)f.to_f32(v);
  }
  for (const auto& [alias, target] : f.aliases()) (void)f.find(alias);
  (void)f.scalar_int("encoder/num_heads");
  (void)f.scalar_int("decoder/num_heads");
  return 0;
}
