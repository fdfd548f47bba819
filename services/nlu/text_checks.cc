// Text helpers: case folding, word splitting.
#include "services/nlu/text_checks.h"

namespace parley::nlu {

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

namespace {
bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_punct(unsigned char c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
}
}  // namespace

std::vector<ByteSpan> split_words(std::string_view text) {
  std::vector<ByteSpan> words;
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (is_space(c)) {
      ++i;
      continue;
    }
    if (is_punct(c)) {
      words.push_back({static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(i + 1)});
      ++i;
      continue;
    }
    std::size_t b = i;
    while (i < text.size() && !is_space(static_cast<unsigned char>(text[i])) &&
           !is_punct(static_cast<unsigned char>(text[i]))) {
      ++i;
    }
    words.push_back({static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(i)});
  }
  return words;
}

}  // namespace parley::nlu
