// Text helpers: UTF-8 checks, case folding, word splitting, excerpts.
#include "services/nlu/text_checks.h"

#include "shared/common/json.h"

namespace parley::nlu {

std::optional<std::size_t> find_invalid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = utf8_length(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::nullopt;
}

bool on_utf8_boundary(std::string_view s, std::size_t pos) {
  if (pos == 0 || pos >= s.size()) return pos <= s.size();
  return (static_cast<unsigned char>(s[pos]) & 0xC0) != 0x80;
}

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

std::string excerpt(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t cut = max_bytes;
  while (cut > 0 && !on_utf8_boundary(text, cut)) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

}  // namespace parley::nlu
