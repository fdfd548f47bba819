// Featurizers: the encoder-backed one and the deterministic hash stand-in (see featurizer.h).
#include "services/nlu/featurizer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "kernels/cpu/thread_pool.h"
#include "shared/common/check.h"
#include "shared/common/hash.h"
#include "shared/models/encoder/encoder.h"

namespace parley::nlu {

namespace {

// splitmix64: a cheap, well-mixed stream of pseudo-random numbers from one seed.
float next_uniform(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(static_cast<double>(z >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

void normalize(std::span<float> v) {
  double n = 0;
  for (float x : v) n += static_cast<double>(x) * x;
  if (n <= 0) return;
  auto inv = static_cast<float>(1.0 / std::sqrt(n));
  for (float& x : v) x *= inv;
}

}  // namespace

Status HashFeaturizer::featurize(std::span<const std::string> texts, std::vector<TextFeatures>& out) const {
  out.clear();
  out.resize(texts.size());
  const auto d = static_cast<std::size_t>(dim_);
  for (std::size_t t = 0; t < texts.size(); ++t) {
    TextFeatures& f = out[t];
    f.context_dim = f.lexical_dim = dim_;
    f.words = split_words(texts[t]);
    const std::size_t n = f.words.size();
    f.lexical.assign(n * d, 0.0f);
    f.contextual.assign(n * d, 0.0f);
    f.sentence.assign(d, 0.0f);
    for (std::size_t i = 0; i < n; ++i) {
      f.word_text.push_back(
          ascii_lower(std::string_view(texts[t]).substr(f.words[i].begin, f.words[i].end - f.words[i].begin)));
      std::uint64_t state = fnv1a_seeded(f.word_text.back(), 17);
      for (std::size_t k = 0; k < d; ++k) f.lexical[i * d + k] = next_uniform(state);
    }
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t k = 0; k < d; ++k) {
        float v = f.lexical[i * d + k];
        if (i > 0) v += 0.3f * f.lexical[(i - 1) * d + k];
        if (i + 1 < n) v += 0.3f * f.lexical[(i + 1) * d + k];
        f.contextual[i * d + k] = v;
        f.sentence[k] += f.lexical[i * d + k];
      }
    }
    normalize(f.sentence);
  }
  return Status::ok();
}

EncoderFeaturizer::EncoderFeaturizer(std::shared_ptr<const encoder::Encoder> encoder, std::size_t max_texts_per_call,
                                     bool thread_alone, std::shared_ptr<const JointHeads> heads)
    : encoder_(std::move(encoder)),
      max_texts_per_call_(max_texts_per_call == 0 ? 1 : max_texts_per_call),
      thread_alone_(thread_alone),
      heads_(std::move(heads)) {
  PARLEY_CHECK(!heads_ || heads_->hidden == encoder_->dim()) << "joint heads read H=" << heads_->hidden
                                                             << ", the encoder has " << encoder_->dim();
}

Status EncoderFeaturizer::encode(std::span<const std::string> texts, std::vector<text::Encoding>& encodings,
                                 encoder::EncoderOutput& hidden) const {
  if (!thread_alone_) return encoder_->encode_texts(texts, encodings, hidden);
  // One session per (thread, model), computing on this thread only.
  struct Local {
    kernels::ThreadPool pool{1};
    const encoder::EncoderModel* model = nullptr;
    std::unique_ptr<encoder::EncoderSession> session;
  };
  thread_local Local local;
  if (local.model != &encoder_->model()) {
    encoder::SessionOptions so;
    so.threads = &local.pool;
    local.session = std::make_unique<encoder::EncoderSession>(encoder_->shared_model(), so);
    local.model = &encoder_->model();
  }
  text::WordPieceEncodeOptions o;
  o.max_length = static_cast<std::size_t>(encoder_->model().max_length());
  encoder::TokenBatch batch;
  encodings.clear();
  for (const std::string& t : texts) {
    encodings.push_back(encoder_->tokenizer().encode_with_offsets(t, o));
    const text::Encoding& e = encodings.back();
    std::vector<std::int32_t> types(e.type_ids.begin(), e.type_ids.end());
    batch.add(e.ids, types);
  }
  return local.session->encode(batch, hidden);
}

Result<std::unique_ptr<EncoderFeaturizer>> EncoderFeaturizer::open(const std::string& dir, bool fp32,
                                                                   bool thread_alone, engine::Device device) {
  PARLEY_RETURN_IF_ERROR(encoder::check_model_dir(
      dir, "or point nlu.encoder_dir / PARLEY_MODEL_DIR at a directory holding all-MiniLM-L6-v2"));
  encoder::EncoderOptions options;
  if (fp32) options.load.precision = encoder::Precision::kFp32;
  options.load.device = device;
  auto enc = encoder::Encoder::open(dir, options);
  if (!enc.ok()) return enc.status().with_context("loading the NLU encoder");
  return std::make_unique<EncoderFeaturizer>(std::move(*enc), 128, thread_alone);
}

int EncoderFeaturizer::context_dim() const { return encoder_->dim() + (heads_ ? heads_->tags : 0); }
int EncoderFeaturizer::lexical_dim() const { return encoder_->dim(); }
int EncoderFeaturizer::sentence_dim() const { return encoder_->dim(); }
std::string EncoderFeaturizer::name() const {
  const encoder::EncoderConfig& c = encoder_->model().config();
  return "encoder-L" + std::to_string(c.layers) + "-H" + std::to_string(c.hidden) + "-" +
         std::string(encoder::precision_name(encoder_->model().precision()));
}

std::size_t EncoderFeaturizer::weight_bytes() const {
  std::size_t n = encoder_->model().weight_bytes();
  if (heads_) n += (heads_->label_w.size() + heads_->label_b.size() + heads_->tag_w.size() + heads_->tag_b.size()) * sizeof(float);
  return n;
}

Status EncoderFeaturizer::featurize(std::span<const std::string> texts, std::vector<TextFeatures>& out) const {
  out.clear();
  out.resize(texts.size());
  const auto h = static_cast<std::size_t>(encoder_->dim());
  const std::size_t tags = heads_ ? static_cast<std::size_t>(heads_->tags) : 0;
  const std::size_t cd = h + tags;  // contextual row: mean hidden state, then the tag logits
  const encoder::EncoderModel& model = encoder_->model();
  const std::vector<float>& table = model.weights().word_table();
  std::vector<text::Encoding> encodings;
  encoder::EncoderOutput hidden;
  for (std::size_t first = 0; first < texts.size(); first += max_texts_per_call_) {
    std::size_t count = std::min(max_texts_per_call_, texts.size() - first);
    PARLEY_RETURN_IF_ERROR(encode(texts.subspan(first, count), encodings, hidden));
    encoder::Embeddings pooled = encoder::pool(hidden, model.sentence().pooling, model.sentence().normalize);
    for (std::size_t b = 0; b < count; ++b) {
      const std::string& text = texts[first + b];
      const text::Encoding& e = encodings[b];
      TextFeatures& f = out[first + b];
      f.context_dim = static_cast<int>(cd);
      f.lexical_dim = static_cast<int>(h);
      f.truncated = e.truncated_tokens > 0;
      f.sentence.assign(pooled.row(b).begin(), pooled.row(b).end());
      normalize(f.sentence);
      if (heads_) {
        f.intent_logits.resize(static_cast<std::size_t>(heads_->labels));
        JointHeads::apply(heads_->label_w, heads_->label_b, hidden.token(b, 0).data(), heads_->hidden,
                          f.intent_logits.data());
      }
      std::vector<int> token_count;
      std::int32_t current = -1;
      for (std::size_t t = 0; t < e.size(); ++t) {
        if (e.special_mask[t] != 0 || e.word_ids[t] < 0) continue;
        if (e.word_ids[t] != current) {
          current = e.word_ids[t];
          f.words.push_back({e.offsets[t].begin, e.offsets[t].end});
          token_count.push_back(0);
          f.contextual.resize(f.contextual.size() + cd, 0.0f);
          f.lexical.resize(f.lexical.size() + h, 0.0f);
          if (heads_) {  // the tag head was trained on each word's first sub-word
            JointHeads::apply(heads_->tag_w, heads_->tag_b, hidden.token(b, static_cast<std::int64_t>(t)).data(),
                              heads_->hidden, f.contextual.data() + (f.words.size() - 1) * cd + h);
          }
        }
        ByteSpan& w = f.words.back();
        w.begin = std::min(w.begin, e.offsets[t].begin);
        w.end = std::max(w.end, e.offsets[t].end);
        ++token_count.back();
        float* ctx = f.contextual.data() + (f.words.size() - 1) * cd;
        float* lex = f.lexical.data() + (f.words.size() - 1) * h;
        auto hs = hidden.token(b, static_cast<std::int64_t>(t));
        const float* emb = table.data() + static_cast<std::size_t>(e.ids[t]) * h;
        for (std::size_t k = 0; k < h; ++k) {
          ctx[k] += hs[k];
          lex[k] += emb[k];
        }
      }
      for (std::size_t i = 0; i < f.words.size(); ++i) {
        float inv = 1.0f / static_cast<float>(token_count[i]);
        for (std::size_t k = 0; k < h; ++k) {
          f.contextual[i * cd + k] *= inv;
          f.lexical[i * h + k] *= inv;
        }
        f.word_text.push_back(
            ascii_lower(std::string_view(text).substr(f.words[i].begin, f.words[i].end - f.words[i].begin)));
      }
      // A NaN in one text's features would make every weight the heads learn NaN (a gradient of
      // NaN * 0 is NaN): refuse it here, naming the text, instead of training a tagger that tags O.
      auto finite = [](const std::vector<float>& v) {
        return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
      };
      if (!finite(f.contextual) || !finite(f.lexical) || !finite(f.sentence) || !finite(f.intent_logits)) {
        return internal_error("the encoder (" + name() + ") gave non-finite features for text " +
                              std::to_string(first + b) + ": \"" + text.substr(0, 80) + "\"");
      }
    }
  }
  return Status::ok();
}

}  // namespace parley::nlu
