// WordPiece (BERT) tokenizer with HF BertNormalizer + BertPreTokenizer rules and byte offsets.
// Exists for the encoder services (NLU intent/slot tagging, QA retrieval): slot tagging needs every
// token's [begin, end) byte span in the ORIGINAL text and the index of the word it came from.
// Depends on tokenizer.h, unicode.h, shared/common/json_document.h (HF tokenizer.json / tokenizer_config.json).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/text/special_split.h"
#include "shared/text/tokenizer.h"
#include "shared/text/vocab_map.h"

namespace parley::text {

/// What HF calls BertNormalizer + WordPiece model settings. Defaults are bert-base-uncased's.
struct WordPieceConfig {
  bool lowercase = true;                ///< do_lower_case
  std::optional<bool> strip_accents;    ///< NFD + drop Mn; unset: follows `lowercase` (as HF)
  bool clean_text = true;               ///< drop NUL, U+FFFD, controls; whitespace -> ' '
  bool handle_chinese_chars = true;     ///< tokenize_chinese_chars: each CJK ideograph is a word
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  std::string mask_token = "[MASK]";
  std::string continuing_subword_prefix = "##";
  std::size_t max_input_chars_per_word = 100;  ///< longer words become [UNK]
  std::size_t model_max_length = 512;          ///< default truncation length (tokens, with specials)

  bool strips_accents() const { return strip_accents.value_or(lowercase); }
};

/// A byte range [begin, end) in the text given to encode (for pairs: in that sequence's text).
struct TokenSpan {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  friend bool operator==(const TokenSpan&, const TokenSpan&) = default;
};

/// The result of encoding with alignment, one entry per token in every vector.
struct Encoding {
  std::vector<TokenId> ids;
  std::vector<TokenSpan> offsets;      ///< into the original text; {0,0} for [CLS]/[SEP]/[PAD]
  std::vector<std::int32_t> word_ids;  ///< pre-tokenizer word index; -1 for added specials
  std::vector<std::uint8_t> type_ids;  ///< segment: 0 for the first text, 1 for the second
  std::vector<std::uint8_t> special_mask;  ///< 1 for tokens added by add_special
  std::size_t truncated_tokens = 0;    ///< content tokens dropped by truncation

  std::size_t size() const { return ids.size(); }
};

struct WordPieceEncodeOptions {
  bool add_special = true;     ///< [CLS] text [SEP] (pairs: [CLS] a [SEP] b [SEP])
  bool parse_special = false;  ///< match "[SEP]", "[MASK]", ... written in the text
  /// Maximum total length including specials; 0 = config().model_max_length. Longer inputs are
  /// truncated at the end (pairs: longest first, ties from the second text), never an error.
  std::size_t max_length = 0;
  bool truncate = true;        ///< false: keep everything
};

/// A loaded WordPiece tokenizer. Immutable; all methods are const and thread-safe.
///
///   auto tok = WordPieceTokenizer::from_directory(dir);   // tokenizer.json or vocab.txt
///   Encoding e = (*tok)->encode_with_offsets("Book a table for 4", {.max_length = 128});
///   // e.ids = [CLS] book a table for 4 [SEP]; e.offsets[1] = {0, 4} ("Book")
class WordPieceTokenizer final : public Tokenizer {
 public:
  /// `vocab[i]` is token i in HF form ("hello", "##lo", "[CLS]").
  static Result<std::unique_ptr<WordPieceTokenizer>> create(std::vector<std::string> vocab,
                                                            WordPieceConfig config = {});
  /// vocab.txt: one token per line, id = line number.
  static Result<std::unique_ptr<WordPieceTokenizer>> from_vocab_txt(const std::string& path,
                                                                    WordPieceConfig config = {});
  /// HF tokenizer.json with model.type WordPiece (normalizer settings and vocab from the file);
  /// `tokenizer_config_path` (optional, "" = none) supplies model_max_length.
  static Result<std::unique_ptr<WordPieceTokenizer>> from_tokenizer_json(
      const std::string& path, const std::string& tokenizer_config_path = "");
  /// A model directory: tokenizer.json if present, else vocab.txt, plus tokenizer_config.json.
  static Result<std::unique_ptr<WordPieceTokenizer>> from_directory(const std::string& dir);
  /// Applies an HF tokenizer_config.json (do_lower_case, strip_accents, tokenize_chinese_chars,
  /// model_max_length, *_token) on top of `base`.
  static Result<WordPieceConfig> read_tokenizer_config(const std::string& path, WordPieceConfig base);

  /// Encodes with offsets and word ids; see WordPieceEncodeOptions for truncation.
  Encoding encode_with_offsets(std::string_view text, const WordPieceEncodeOptions& options = {}) const;
  /// Encodes a pair (question, passage) with segment ids 0/1.
  Encoding encode_pair(std::string_view first, std::string_view second,
                       const WordPieceEncodeOptions& options = {}) const;

  /// The words the pre-tokenizer sees (normalized text and original byte span), in order; the
  /// word_ids of an Encoding index this list.
  struct Word {
    std::string normalized;
    TokenSpan span;
  };
  std::vector<Word> pre_tokenize(std::string_view text) const;

  const WordPieceConfig& config() const { return config_; }

  // Tokenizer
  TokenizerKind kind() const override { return TokenizerKind::kWordPiece; }
  /// Same as encode_with_offsets(text, {add_special, parse_special, truncate = false}).ids.
  /// Invalid UTF-8 bytes are dropped (like the U+FFFD they decode to under clean_text).
  Result<std::vector<TokenId>> encode(std::string_view text, const EncodeOptions& options = {}) const override;
  /// Joins words with spaces, glues "##" pieces, and applies HF's clean-up (" ." -> ".").
  std::string decode(std::span<const TokenId> ids, const DecodeOptions& options = {}) const override;
  /// "##lo" -> "lo"; "hello" -> " hello"; specials -> their text.
  std::string token_piece(TokenId id) const override;
  std::string_view token_text(TokenId id) const override;
  std::optional<TokenId> find_token(std::string_view token_text) const override;
  TokenType token_type(TokenId id) const override;
  std::size_t vocab_size() const override { return vocab_.size(); }

 protected:
  bool strips_leading_space() const override { return true; }

 private:
  struct NormChar;
  WordPieceTokenizer() = default;
  Status init(std::vector<std::string> vocab, WordPieceConfig config);
  // Appends the tokens of one text to `out` (no specials, no truncation).
  void encode_text(std::string_view text, bool parse_special, Encoding& out) const;
  void normalize_fragment(std::string_view text, std::size_t begin, std::size_t end,
                          std::vector<std::vector<NormChar>>& words) const;
  void word_to_tokens(const std::vector<NormChar>& word, std::int32_t word_index, Encoding& out) const;

  WordPieceConfig config_;
  std::vector<std::string> vocab_;
  std::vector<TokenType> types_;
  detail::TokenMap token_to_id_;
  std::size_t max_token_bytes_ = 0;
  std::vector<detail::SpecialEntry> specials_;
};

}  // namespace parley::text
