// The clause splitter (see clauses.h). Depends on clauses.h.
#include "services/dialog/voice/clauses.h"

#include <cctype>

namespace parley::dialog::voice {
namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool ends_clause(char c) { return c == '.' || c == '!' || c == '?' || c == ';' || c == ':' || c == ',' || c == '\n'; }

std::string trimmed(std::string_view s) {
  std::size_t a = 0, b = s.size();
  while (a < b && is_space(s[a])) ++a;
  while (b > a && is_space(s[b - 1])) --b;
  return std::string(s.substr(a, b - a));
}

}  // namespace

ClauseSplitter::ClauseSplitter(std::size_t first_min_chars, std::size_t min_chars, std::size_t max_chars)
    : first_min_(first_min_chars), min_(min_chars), max_(max_chars < 16 ? 16 : max_chars) {}

std::vector<std::string> ClauseSplitter::push(std::string_view text) {
  std::vector<std::string> out;
  buf_.append(text);
  std::size_t i = scanned_;
  while (i < buf_.size()) {
    const std::size_t need = pieces_ == 0 ? first_min_ : min_;
    // A clause end: punctuation followed by whitespace (a newline ends one by itself).
    const bool boundary = (buf_[i] == '\n') || (ends_clause(buf_[i]) && i + 1 < buf_.size() && is_space(buf_[i + 1]));
    std::size_t cut = std::string::npos;
    if (boundary) {
      std::string piece = trimmed(std::string_view(buf_).substr(0, i + 1));
      if (piece.size() >= need) cut = i + 1;
    } else if (i + 1 >= max_) {
      // Too long without a clause end: cut at the last space.
      const auto space = buf_.rfind(' ', i);
      if (space != std::string::npos && space > 0) cut = space;
    }
    if (cut != std::string::npos) {
      std::string piece = trimmed(std::string_view(buf_).substr(0, cut));
      buf_.erase(0, cut);
      i = 0;
      if (!piece.empty()) {
        out.push_back(std::move(piece));
        ++pieces_;
      }
      continue;
    }
    ++i;
  }
  // Keep one character unscanned: a '.' at the end may yet be followed by a space.
  scanned_ = buf_.empty() ? 0 : buf_.size() - 1;
  return out;
}

std::string ClauseSplitter::flush() {
  std::string rest = trimmed(buf_);
  buf_.clear();
  scanned_ = 0;
  if (!rest.empty()) ++pieces_;
  return rest;
}

}  // namespace parley::dialog::voice
