// The common tokenizer interface every engine uses (WordPiece, byte-level BPE, SentencePiece).
// Exists so services hold one `Tokenizer` whatever the model family, and so GGUF / HF files are
// adapted in one place (factory.h). Depends on shared/common/status.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"

namespace parley::text {

using TokenId = std::int32_t;
/// "No such token" (GGUF files store it as 0xFFFFFFFF, i.e. -1 as int32).
inline constexpr TokenId kNoToken = -1;

/// Token types, numbered as GGUF's tokenizer.ggml.token_type.
enum class TokenType : std::uint8_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,      ///< <s>, </s>, <|im_start|>, [CLS]: never produced from plain text
  kUserDefined = 4,  ///< added tokens: always matched in the input text as a whole
  kUnused = 5,
  kByte = 6,         ///< SentencePiece byte fallback <0xNN>
};

/// The ids a tokenizer knows as special; kNoToken where the model has none.
struct SpecialTokens {
  TokenId bos = kNoToken;
  TokenId eos = kNoToken;
  TokenId eot = kNoToken;  ///< end of turn (<|im_end|>, <|eot_id|>) when distinct from eos
  TokenId unk = kNoToken;
  TokenId pad = kNoToken;
  TokenId sep = kNoToken;  ///< BERT [SEP]
  TokenId cls = kNoToken;  ///< BERT [CLS]
  TokenId mask = kNoToken;
};

struct EncodeOptions {
  /// Add the model's framing tokens: BOS (when the model says so) / [CLS] ... [SEP].
  bool add_special = true;
  /// Match control tokens written in the text ("<|im_start|>") as their ids. Off by default:
  /// user text must not be able to forge turn markers. User-defined tokens always match.
  bool parse_special = false;
};

struct DecodeOptions {
  /// Leave control/unknown tokens (BOS, <|im_end|>, [CLS], [PAD]) out of the text.
  bool skip_special = true;
};

enum class TokenizerKind : std::uint8_t { kWordPiece, kBpe, kSentencePiece };

std::string_view tokenizer_kind_name(TokenizerKind kind);

/// A loaded tokenizer. Immutable after construction: every method is const and safe to call
/// from any number of threads at once. Owned by whoever created it (usually a model).
///
///   auto tok = parley::text::tokenizer_from_gguf(gguf);           // Result<unique_ptr<Tokenizer>>
///   auto ids = (*tok)->encode("Hello", {.add_special = true});     // Result<vector<TokenId>>
///   std::string text = (*tok)->decode(*ids);
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  virtual TokenizerKind kind() const = 0;

  /// Text to ids. Any bytes are accepted (invalid UTF-8 included; each family documents what
  /// it does with them); errors are reserved for limits (see max_input_bytes).
  virtual Result<std::vector<TokenId>> encode(std::string_view text,
                                              const EncodeOptions& options = {}) const = 0;

  /// Ids to text: the concatenation of the pieces (family rules for spaces apply: SentencePiece
  /// drops the space it prefixed, WordPiece joins words with spaces). Out-of-range ids are skipped.
  virtual std::string decode(std::span<const TokenId> ids, const DecodeOptions& options = {}) const;

  /// The bytes one token contributes to decoded text, as if it were not the first token
  /// (may be a partial UTF-8 sequence for byte-level tokens); "" for an out-of-range id.
  /// Control tokens yield their text ("<|im_end|>").
  virtual std::string token_piece(TokenId id) const = 0;

  /// The token's stored text (vocabulary form: "Ġhello", "▁hello", "##lo"); "" when out of range.
  virtual std::string_view token_text(TokenId id) const = 0;

  /// Exact vocabulary lookup of a stored token text.
  virtual std::optional<TokenId> find_token(std::string_view token_text) const = 0;

  virtual TokenType token_type(TokenId id) const = 0;
  virtual std::size_t vocab_size() const = 0;

  const SpecialTokens& special() const { return special_; }
  /// True for ids that end generation (eos, eot, and the model's other end-of-turn tokens).
  bool is_eog(TokenId id) const;
  /// Control or unknown tokens (what skip_special leaves out).
  bool is_special(TokenId id) const {
    const TokenType t = token_type(id);
    return t == TokenType::kControl || t == TokenType::kUnknown;
  }
  /// Whether encode(add_special) prepends BOS / appends EOS.
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }

  /// Largest input encode() accepts (bytes); larger inputs get RESOURCE_EXHAUSTED.
  static constexpr std::size_t kMaxInputBytes = std::size_t{64} << 20;

 protected:
  /// Whether decode() removes the first leading space (SentencePiece's add_space_prefix).
  virtual bool strips_leading_space() const { return false; }
  friend class StreamDecoder;

  SpecialTokens special_;
  std::vector<TokenId> eog_ids_;
  bool add_bos_ = false;
  bool add_eos_ = false;
};

}  // namespace parley::text
