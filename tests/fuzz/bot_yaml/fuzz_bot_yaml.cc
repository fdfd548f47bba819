// Fuzz target: a bot definition as PUT /v1/bots/{id} uploads it — the pre-parse limit scan
// (aliases, expanded bytes, depth), yaml-cpp, the loader's validation (annotations, references,
// slot patterns compiled on RE2) and the NLU training request built from it. Depends on
// services/dialog/bot (parley_dialog_bot).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "services/dialog/bot/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  parley::dialog::BotLimits limits;
  limits.max_bytes = 256 << 10;
  limits.max_expanded_bytes = 1 << 20;
  parley::dialog::LoadResult r = parley::dialog::parse_bot(yaml, "fuzz.yaml", "", limits);
  if (!r.ok()) {
    (void)r.status();
    return 0;
  }
  auto train = r.bot->train_request();
  (void)train.ByteSizeLong();
  for (const auto& s : r.bot->slots) {
    if (s.regex) (void)s.regex->search("book 4 rooms for AB1234 at 7pm");
  }
  return 0;
}
