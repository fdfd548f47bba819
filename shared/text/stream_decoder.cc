// StreamDecoder (see stream_decoder.h): buffers the tail of the byte stream until it is a
// complete UTF-8 sequence. Depends on tokenizer.h and unicode.h.
#include "shared/text/stream_decoder.h"

#include "shared/text/unicode.h"

namespace parley::text {

std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const unicode::Decoded d = unicode::decode_utf8(bytes, pos);
    if (d.valid) out.append(bytes.substr(pos, d.len));
    else out.append("\xEF\xBF\xBD");
    pos += d.len;
  }
  return out;
}

std::string StreamDecoder::push(TokenId id) {
  if (id < 0 || static_cast<std::size_t>(id) >= tokenizer_.vocab_size()) return {};
  if (options_.skip_special && tokenizer_.is_special(id)) return {};
  std::string piece = tokenizer_.token_piece(id);
  if (first_ && tokenizer_.strips_leading_space() && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
  first_ = false;
  pending_ += piece;
  const std::size_t complete = unicode::complete_utf8_prefix(pending_);
  std::string out = sanitize_utf8(std::string_view(pending_).substr(0, complete));
  pending_.erase(0, complete);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out = sanitize_utf8(pending_);
  pending_.clear();
  return out;
}

void StreamDecoder::reset() {
  pending_.clear();
  first_ = true;
}

}  // namespace parley::text
