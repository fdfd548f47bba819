// Featurizer: text -> words (byte spans) + per-word vectors + one sentence vector, the only view
// of the encoder the intent and slot heads have. Why: the heads train and run the same way on the
// real encoder (all-MiniLM-L6-v2 via shared/models/encoder) and on a deterministic fake for unit tests.
// Depends on shared/models/encoder (EncoderFeaturizer), text_checks.h.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "services/nlu/joint_heads.h"
#include "services/nlu/text_checks.h"
#include "shared/common/status.h"
#include "shared/engine/device.h"
#include "shared/models/encoder/model_dir.h"

namespace parley::encoder {
class Encoder;
struct EncoderOutput;
}  // namespace parley::encoder
namespace parley::text {
struct Encoding;
}

namespace parley::nlu {

/// The features of one text. Word i has contextual(i) (context_dim floats: the encoder's last
/// hidden states averaged over the word's sub-word tokens) and lexical(i) (lexical_dim floats:
/// the static input embeddings of its tokens, averaged); words past the encoder's length limit
/// are not listed (`truncated` says so).
struct TextFeatures {
  std::vector<ByteSpan> words;
  std::vector<std::string> word_text;  ///< lower-cased text of each word (for lexical features)
  int context_dim = 0;
  int lexical_dim = 0;
  std::vector<float> contextual;  ///< [words, context_dim]
  std::vector<float> lexical;     ///< [words, lexical_dim]
  std::vector<float> sentence;    ///< pooled sentence embedding, L2-normalized
  /// A fine-tuned bot's joint intent head on [CLS] (JointHeads::labels floats); empty otherwise.
  std::vector<float> intent_logits;
  bool truncated = false;

  std::size_t size() const { return words.size(); }
  const float* context_row(std::size_t i) const {
    return contextual.data() + i * static_cast<std::size_t>(context_dim);
  }
  const float* lexical_row(std::size_t i) const { return lexical.data() + i * static_cast<std::size_t>(lexical_dim); }
};

/// Threading: featurize() is const and thread-safe (many handler/batch threads call it at once).
/// It blocks until done; a batch of texts costs about one encoder call.
class Featurizer {
 public:
  virtual ~Featurizer() = default;
  /// One TextFeatures per text, in order (`out` is overwritten).
  virtual Status featurize(std::span<const std::string> texts, std::vector<TextFeatures>& out) const = 0;
  virtual int context_dim() const = 0;
  virtual int lexical_dim() const = 0;
  virtual int sentence_dim() const = 0;
  /// Shown in logs and the eval output ("minilm-int8", "hash-64").
  virtual std::string name() const = 0;
  /// Bytes of model weights this featurizer holds (a bot's fine-tuned encoder and its heads: what
  /// parley_nlu_model_bytes and nlu.finetune.max_models are about); 0 for the stand-in.
  virtual std::size_t weight_bytes() const { return 0; }
};

/// Deterministic stand-in for tests: every word gets a pseudo-random vector seeded by its
/// lower-cased text; the contextual vector mixes in the neighbours' vectors, the sentence vector
/// is the normalized mean. Same splitter as BERT's pre-tokenizer (split_words).
class HashFeaturizer final : public Featurizer {
 public:
  explicit HashFeaturizer(int dim = 32) : dim_(dim) {}
  Status featurize(std::span<const std::string> texts, std::vector<TextFeatures>& out) const override;
  int context_dim() const override { return dim_; }
  int lexical_dim() const override { return dim_; }
  int sentence_dim() const override { return dim_; }
  std::string name() const override { return "hash-" + std::to_string(dim_); }

 private:
  int dim_;
};

/// The real one: a shared encoder::Encoder (tokenizer with byte offsets + BERT-family model).
class EncoderFeaturizer final : public Featurizer {
 public:
  /// `max_texts_per_call` bounds the scratch of one encoder call (texts are chunked).
  /// `thread_alone`: each calling thread runs the encoder on its own (a per-thread session with
  /// a one-thread kernel pool) instead of splitting every op over the shared pool; pair it with
  /// as many batch workers as cores (no per-op synchronization, no idle core in serial parts).
  /// `heads` (a fine-tuned encoder's JointHeads, optional): each word's contextual vector gets
  /// the tag head's logits on its first sub-word appended (context_dim = H + tags), and each text
  /// the intent head's logits on [CLS] (`intent_logits`).
  explicit EncoderFeaturizer(std::shared_ptr<const encoder::Encoder> encoder, std::size_t max_texts_per_call = 128,
                             bool thread_alone = false, std::shared_ptr<const JointHeads> heads = nullptr);
  /// Opens the model directory (model.safetensors, config.json, vocab.txt / tokenizer.json) and
  /// places the encoder on `device` (nlu.device). FailedPrecondition naming tools/models/fetch
  /// when files are missing; UNAVAILABLE for a device that is not there.
  static Result<std::unique_ptr<EncoderFeaturizer>> open(const std::string& dir, bool fp32 = false,
                                                         bool thread_alone = false,
                                                         engine::Device device = engine::Device::cpu());

  Status featurize(std::span<const std::string> texts, std::vector<TextFeatures>& out) const override;
  int context_dim() const override;
  int lexical_dim() const override;
  int sentence_dim() const override;
  std::string name() const override;
  std::size_t weight_bytes() const override;
  const std::shared_ptr<const encoder::Encoder>& encoder() const { return encoder_; }

 private:
  Status encode(std::span<const std::string> texts, std::vector<text::Encoding>& encodings,
                encoder::EncoderOutput& hidden) const;

  std::shared_ptr<const encoder::Encoder> encoder_;
  std::size_t max_texts_per_call_;
  bool thread_alone_;
  std::shared_ptr<const JointHeads> heads_;
};

}  // namespace parley::nlu
