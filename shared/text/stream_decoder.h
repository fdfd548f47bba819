// Streaming detokenizer: token ids in, complete UTF-8 text out, for LM token streaming.
// Exists because byte-level and byte-fallback tokens can split a character across tokens; a
// client must never see half a character (or invalid UTF-8 in JSON/SSE).
// Depends on tokenizer.h.
#pragma once

#include <string>

#include "shared/text/tokenizer.h"

namespace parley::text {

/// Turns a stream of ids into text chunks that are always complete, valid UTF-8.
/// Holds a reference to the tokenizer (which must outlive it). Not thread-safe: one per stream.
///
///   StreamDecoder dec(tokenizer);
///   for (TokenId id : generated) send(dec.push(id));   // "" while a character is incomplete
///   send(dec.finish());                                  // whatever is left
///
/// Rules: the concatenation of all push() results and finish() equals decode(ids) with invalid
/// byte sequences replaced by U+FFFD; special tokens are left out when skip_special; the
/// SentencePiece/WordPiece leading space of the first text token is removed like decode() does.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, DecodeOptions options = {})
      : tokenizer_(tokenizer), options_(options) {}

  /// Adds one token; returns the text that became complete (possibly "").
  std::string push(TokenId id);
  /// Ends the stream: returns the held-back bytes, an unfinished sequence as U+FFFD.
  std::string finish();
  /// Bytes held back waiting for the rest of a character.
  std::size_t pending_bytes() const { return pending_.size(); }
  /// Starts a new stream (first-token rules apply again).
  void reset();

 private:
  const Tokenizer& tokenizer_;
  DecodeOptions options_;
  std::string pending_;
  bool first_ = true;
};

/// Replaces invalid UTF-8 sequences by U+FFFD (valid text is returned unchanged).
std::string sanitize_utf8(std::string_view bytes);

}  // namespace parley::text
