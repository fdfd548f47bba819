// Encoder facade: tokenize -> pack into token-bounded batches -> encode -> pool (see encoder.h).
// Why: one tested path from text to embeddings for every service. Depends on encoder.h.
#include "shared/models/encoder/encoder.h"

#include <algorithm>
#include <cstring>

namespace parley::encoder {

Encoder::Encoder(std::shared_ptr<const EncoderModel> model, std::shared_ptr<const text::WordPieceTokenizer> tokenizer,
                 EncoderOptions options)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)), options_(std::move(options)) {}

Result<std::shared_ptr<const Encoder>> Encoder::open(const std::string& dir, EncoderOptions options) {
  auto tok = text::WordPieceTokenizer::from_directory(dir);
  if (!tok.ok()) return tok.status().with_context("encoder tokenizer in " + dir);
  PARLEY_ASSIGN_OR_RETURN(auto model, EncoderModel::load(dir, options.load));
  if (static_cast<std::int64_t>((*tok)->vocab_size()) > model->config().vocab_size) {
    return invalid_argument("encoder: tokenizer in " + dir + " has " + std::to_string((*tok)->vocab_size()) +
                            " tokens, the model's vocabulary only " + std::to_string(model->config().vocab_size));
  }
  return create(std::move(model), std::shared_ptr<const text::WordPieceTokenizer>(std::move(*tok)), std::move(options));
}

std::shared_ptr<const Encoder> Encoder::create(std::shared_ptr<const EncoderModel> model,
                                               std::shared_ptr<const text::WordPieceTokenizer> tokenizer,
                                               EncoderOptions options) {
  return std::make_shared<const Encoder>(std::move(model), std::move(tokenizer), std::move(options));
}

std::unique_ptr<EncoderSession> Encoder::acquire() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      auto s = std::move(idle_.back());
      idle_.pop_back();
      return s;
    }
  }
  return std::make_unique<EncoderSession>(model_, options_.session);
}

void Encoder::release(std::unique_ptr<EncoderSession> s) const {
  if (options_.max_idle_scratch_bytes > 0 && s->scratch_bytes() > options_.max_idle_scratch_bytes) return;
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(std::move(s));
}

std::size_t Encoder::idle_scratch_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::size_t n = 0;
  for (const auto& s : idle_) n += s->scratch_bytes();
  return n;
}

text::Encoding Encoder::tokenize(std::string_view text) const {
  text::WordPieceEncodeOptions o;
  o.max_length = static_cast<std::size_t>(model_->max_length());
  return tokenizer_->encode_with_offsets(text, o);
}

Status Encoder::encode(const TokenBatch& batch, EncoderOutput& out) const {
  auto s = acquire();
  Status st = s->encode(batch, out);
  release(std::move(s));
  return st;
}

Status Encoder::encode_texts(std::span<const std::string> texts, std::vector<text::Encoding>& encodings,
                             EncoderOutput& out) const {
  encodings.clear();
  TokenBatch batch;
  for (const std::string& t : texts) {
    encodings.push_back(tokenize(t));
    const text::Encoding& e = encodings.back();
    std::vector<std::int32_t> types(e.type_ids.begin(), e.type_ids.end());
    batch.add(e.ids, types);
  }
  return encode(batch, out);
}

Result<Embeddings> Encoder::embed(std::span<const std::string> texts) const {
  Embeddings result;
  result.dim = dim();
  result.data.resize(texts.size() * static_cast<std::size_t>(result.dim));
  auto session = acquire();
  TokenBatch batch;
  EncoderOutput out;
  std::size_t first = 0;  // index of the batch's first text
  auto flush = [&]() -> Status {
    if (batch.size() == 0) return Status::ok();
    PARLEY_RETURN_IF_ERROR(session->encode(batch, out));
    Embeddings e = pool(out, model_->sentence().pooling, model_->sentence().normalize);
    std::memcpy(result.data.data() + first * static_cast<std::size_t>(result.dim), e.data.data(),
                e.data.size() * sizeof(float));
    first += batch.size();
    batch.clear();
    return Status::ok();
  };
  Status st;
  for (const std::string& t : texts) {
    text::Encoding e = tokenize(t);
    if (batch.size() > 0 && batch.total_tokens() + static_cast<std::int64_t>(e.size()) > options_.max_batch_tokens) {
      st = flush();
      if (!st.is_ok()) break;
    }
    std::vector<std::int32_t> types(e.type_ids.begin(), e.type_ids.end());
    batch.add(e.ids, types);
  }
  if (st.is_ok()) st = flush();
  release(std::move(session));
  if (!st.is_ok()) return st;
  return result;
}

}  // namespace parley::encoder
