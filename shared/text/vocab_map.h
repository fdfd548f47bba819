// Internal: a string -> token id hash map that looks up by string_view without allocating.
// Exists because every tokenizer probes its vocabulary with substrings of the input.
// Depends on tokenizer.h for TokenId.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "shared/text/tokenizer.h"

namespace parley::text::detail {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

using TokenMap = std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>>;

inline TokenId lookup(const TokenMap& map, std::string_view key) {
  const auto it = map.find(key);
  return it == map.end() ? kNoToken : it->second;
}

}  // namespace parley::text::detail
