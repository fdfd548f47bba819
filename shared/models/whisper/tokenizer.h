// Whisper's tokenizer: GPT-2 byte-level BPE (shared/text BpeTokenizer) plus Whisper's special
// tokens (<|startoftranscript|>, <|notimestamps|>, <|0.00|> ... <|30.00|>) found by name.
// Why: decoding needs the special ids (prompt, suppression, timestamps) and turns text tokens
// back into UTF-8. Depends on shared/text (bpe), shared/common (json).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "shared/common/status.h"
#include "shared/text/bpe.h"

namespace parley::whisper {

/// The ids of Whisper's special tokens in one vocabulary.
struct SpecialIds {
  int eot = -1;             ///< <|endoftext|>
  int sot = -1;             ///< <|startoftranscript|>
  int translate = -1, transcribe = -1, sot_lm = -1, sot_prev = -1;
  int no_speech = -1;       ///< <|nocaptions|> (<|nospeech|> in newer vocabularies)
  int no_timestamps = -1;   ///< <|notimestamps|>
  int timestamp_begin = -1; ///< <|0.00|> = no_timestamps + 1
  int timestamp_end = -1;   ///< the last id (<|30.00|>)
  int english = -1;         ///< <|en|> (-1 when absent)
};

/// Immutable after load; thread-safe.
///
///   PARLEY_ASSIGN_OR_RETURN(auto tok, WhisperTokenizer::load(dir + "/vocabulary.txt", dir + "/tokenizer.json"));
///   std::string text = tok->decode_text(tokens);     // timestamps and specials left out
class WhisperTokenizer {
 public:
  /// vocabulary.txt: one token per line (line number = id, byte-level form). tokenizer_json:
  /// optional ("" = none), gives the BPE merges for encode(). InvalidArgument when a special
  /// token is missing or the files are malformed.
  static Result<std::unique_ptr<WhisperTokenizer>> load(const std::string& vocabulary_path,
                                                        const std::string& tokenizer_json_path = "");
  /// From in-memory tokens (tests); merges as "a b" lines.
  static Result<std::unique_ptr<WhisperTokenizer>> create(std::vector<std::string> tokens,
                                                          const std::vector<std::string>& merges);

  const SpecialIds& special() const { return special_; }
  std::size_t vocab_size() const { return size_; }
  /// True for <|0.00|> ... <|30.00|>.
  bool is_timestamp(int id) const { return id >= special_.timestamp_begin && id <= special_.timestamp_end; }
  /// Seconds of a timestamp token (0.02 s steps).
  double timestamp_seconds(int id) const { return (id - special_.timestamp_begin) * 0.02; }
  /// UTF-8 text of the text tokens (ids < eot); specials and timestamps are left out.
  std::string decode_text(std::span<const int> ids) const;
  /// The bytes of one token (may be part of a UTF-8 character); "" for specials.
  std::string piece(int id) const;
  /// Text to token ids (no specials). Unimplemented when loaded without merges.
  Result<std::vector<int>> encode(std::string_view text) const;
  /// The vocabulary form of a token ("<|en|>", "Ġthe").
  std::string_view token_text(int id) const;
  /// The language token of an ISO 639-1 code ("de" -> <|de|>), a region or script suffix ignored
  /// ("pt-BR" -> <|pt|>), case-insensitive; -1 when the vocabulary has no such language (an
  /// English-only vocabulary has none). Language tokens sit between <|startoftranscript|> and
  /// <|translate|>.
  int language_token(std::string_view code) const;

 private:
  WhisperTokenizer() = default;
  Status init(std::vector<std::string> tokens, const std::vector<std::string>& merges);

  std::unique_ptr<text::BpeTokenizer> bpe_;
  SpecialIds special_;
  std::size_t size_ = 0;
  bool has_merges_ = false;
};

}  // namespace parley::whisper
