// Splits request text into clauses (at , ; : and sentence ends . ! ? and line breaks) and
// groups them into pieces to synthesize one at a time, first piece first.
// Why: a long reply starts playing after its first piece, not after the whole text; and since
// Debian's espeak-ng 1.51 lacks the terminator-aware phonemizer call Piper uses, the clause
// punctuation is found here and appended to the phonemes as Piper does. Byte offsets into the
// original text travel with every piece (barge-in cuts the bot's message to what was played).
// Depends on nothing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace parley::tts {

struct Clause {
  std::size_t begin = 0;      ///< first byte (after leading blanks) in the original text
  std::size_t body_end = 0;   ///< end of the words (before the terminator)
  std::size_t end = 0;        ///< end including the terminator
  char terminator = 0;        ///< '.', '!', '?', ',', ';', ':' or 0 (none)
  bool end_of_sentence = false;
};

struct TextPiece {
  std::size_t begin = 0, end = 0;  ///< byte range of the original text this piece speaks
  std::vector<Clause> clauses;
  bool end_of_sentence = false;
};

struct SplitOptions {
  /// A sentence longer than this is cut at clause boundaries into several pieces.
  std::size_t max_piece_bytes = 200;
  /// The first piece is the first clause alone when that clause has at least this many words
  /// (earlier first audio); 0 disables.
  std::size_t first_piece_min_words = 3;
};

/// Clauses of `text` (empty and punctuation-only ones dropped). Periods after known abbreviations (Dr. e.g. ...) and
/// single capital initials, inside numbers (3.5) and dates do not end sentences.
std::vector<Clause> split_clauses(std::string_view text);
/// Pieces to synthesize, in order.
std::vector<TextPiece> split_pieces(std::string_view text, const SplitOptions& options = {});

}  // namespace parley::tts
