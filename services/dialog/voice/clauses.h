// Cuts a bot reply, as its text streams from the LM, into pieces to synthesize, so speech starts
// with the first clause instead of after the whole reply. Exists apart from the session so the
// cutting rule is tested on its own. Depends on nothing but the standard library.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace parley::dialog::voice {

/// A piece ends after clause punctuation (. ! ? ; : , or a newline) followed by whitespace, once
/// it is at least `first_min_chars` long (the first piece: speech starts early) or `min_chars`
/// (the rest: fewer, more natural pieces); a piece that reaches `max_chars` without such an end
/// is cut at its last space. "7.30" or "e.g.," do not end a piece mid-token (no whitespace after).
class ClauseSplitter {
 public:
  explicit ClauseSplitter(std::size_t first_min_chars = 4, std::size_t min_chars = 30, std::size_t max_chars = 240);

  /// Adds streamed text; returns the pieces it completed (trimmed, never empty).
  std::vector<std::string> push(std::string_view text);
  /// The rest, at the end of the reply (trimmed; "" when nothing is left).
  std::string flush();
  /// Pieces returned so far.
  std::size_t pieces() const { return pieces_; }

 private:
  std::string buf_;
  std::size_t first_min_, min_, max_;
  std::size_t pieces_ = 0;
  std::size_t scanned_ = 0;  // buf_ before this has no piece end
};

}  // namespace parley::dialog::voice
