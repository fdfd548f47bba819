// Encoder: the convenience facade most callers want — texts in, sentence embeddings out — over a
// shared EncoderModel, the model's WordPiece tokenizer (shared/text) and a pool of sessions.
// Why: NLU and QA embed text from many threads; they should not each re-implement tokenize ->
// batch -> encode -> pool. Depends on session.h, shared/text/wordpiece.h.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"
#include "shared/models/encoder/session.h"
#include "shared/text/wordpiece.h"

namespace parley::encoder {

struct EncoderOptions {
  LoadOptions load;
  SessionOptions session;
  /// Texts are packed into batches of at most this many tokens (bounds scratch memory).
  std::int64_t max_batch_tokens = 8192;
  /// A session whose scratch grew past this many bytes is freed when its call ends instead of
  /// kept for the next one (0 = keep every session). For encoders a process holds many of (one
  /// per fine-tuned bot): they keep what a parse needs, not what their largest batch took.
  std::size_t max_idle_scratch_bytes = 0;
};

/// Thread-safe: embed()/encode_texts() may be called from any number of threads at once (each
/// call borrows an idle EncoderSession or makes one; sessions are kept for reuse). Immutable
/// model and tokenizer are shared.
///
///   PARLEY_ASSIGN_OR_RETURN(auto enc, Encoder::open(model_dir));      // INT8 by default
///   PARLEY_ASSIGN_OR_RETURN(Embeddings e, enc->embed({"book a table", "cancel my order"}));
///   // e.row(i): enc->dim() floats, L2-normalized for sentence-transformers models
class Encoder {
 public:
  /// Loads model (EncoderModel::load) and tokenizer (WordPieceTokenizer::from_directory) from dir.
  static Result<std::shared_ptr<const Encoder>> open(const std::string& dir, EncoderOptions options = {});
  /// From parts already loaded (tests, services that share a model between facades).
  static std::shared_ptr<const Encoder> create(std::shared_ptr<const EncoderModel> model,
                                               std::shared_ptr<const text::WordPieceTokenizer> tokenizer,
                                               EncoderOptions options = {});

  /// Sentence embeddings with the model's pooling/normalization, one row per text (texts longer
  /// than model().max_length() tokens are truncated, as sentence-transformers does).
  Result<Embeddings> embed(std::span<const std::string> texts) const;
  Result<Embeddings> embed(const std::vector<std::string>& texts) const {
    return embed(std::span<const std::string>(texts));
  }

  /// Token-level output: the tokenizer's encodings (ids, byte offsets, word ids) and the hidden
  /// states, packed (out.token(i, t) is token t of text i; encodings[i].size() == out.lengths[i]).
  Status encode_texts(std::span<const std::string> texts, std::vector<text::Encoding>& encodings,
                      EncoderOutput& out) const;

  /// Runs an already tokenized batch on a pooled session.
  Status encode(const TokenBatch& batch, EncoderOutput& out) const;

  int dim() const { return static_cast<int>(model_->hidden_size()); }
  const EncoderModel& model() const { return *model_; }
  std::shared_ptr<const EncoderModel> shared_model() const { return model_; }
  const text::WordPieceTokenizer& tokenizer() const { return *tokenizer_; }
  std::shared_ptr<const text::WordPieceTokenizer> shared_tokenizer() const { return tokenizer_; }
  const EncoderOptions& options() const { return options_; }
  /// Scratch held by the sessions kept for reuse (see max_idle_scratch_bytes).
  std::size_t idle_scratch_bytes() const;

  Encoder(std::shared_ptr<const EncoderModel> model, std::shared_ptr<const text::WordPieceTokenizer> tokenizer,
          EncoderOptions options);

 private:
  std::unique_ptr<EncoderSession> acquire() const;
  void release(std::unique_ptr<EncoderSession> s) const;
  text::Encoding tokenize(std::string_view text) const;

  std::shared_ptr<const EncoderModel> model_;
  std::shared_ptr<const text::WordPieceTokenizer> tokenizer_;
  EncoderOptions options_;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<EncoderSession>> idle_;
};

}  // namespace parley::encoder
