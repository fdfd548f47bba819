// Loads a CTranslate2 WhisperSpec model.bin into a WhisperModel (see whisper_model.h):
// f16/f32 (or CTranslate2 int8 + _scale) variables -> f32 -> our layouts (INT8 per output
// channel by default), uploaded once to the device.
// Why here: the only place that knows CTranslate2's variable names for Whisper.
// Depends on ct2_file.h, half.h, json_document.h, shared/models/runtime (ModelDevice, DeviceBuffer).
#include "shared/models/whisper/whisper_model.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "shared/common/json_document.h"
#include "shared/engine/ctranslate2/ct2_file.h"
#include "shared/engine/half.h"

namespace parley::whisper {

class WhisperLoader {
 public:
  WhisperLoader(WhisperModel& m, const engine::ct2::File& f) : m_(m), f_(f), dev_(m.device_) {}

  Result<std::vector<float>> tensor(const std::string& name, std::vector<std::int64_t> shape) {
    const engine::ct2::Variable* v = f_.find(name);
    if (v == nullptr) return invalid_argument("whisper: " + f_.name() + ": missing variable '" + name + "'");
    if (!shape.empty() && v->shape != shape) {
      engine::ct2::Variable want;
      want.shape = shape;
      return invalid_argument("whisper: " + f_.name() + ": '" + name + "' has shape " + v->shape_string() + ", expected " +
                              want.shape_string());
    }
    PARLEY_ASSIGN_OR_RETURN(std::vector<float> x, f_.to_f32(*v));
    if (v->type == engine::ct2::Ct2Type::kI8) {
      // CTranslate2 int8: w = q / scale, scale per output row.
      const engine::ct2::Variable* s = f_.find(name + "_scale");
      if (s == nullptr) return invalid_argument("whisper: '" + name + "' is int8 without '" + name + "_scale'");
      PARLEY_ASSIGN_OR_RETURN(std::vector<float> sc, f_.to_f32(*s));
      const std::size_t rows = v->shape.empty() ? 1 : static_cast<std::size_t>(v->shape[0]);
      if (sc.size() != rows && sc.size() != 1) return invalid_argument("whisper: '" + name + "_scale' size mismatch");
      const std::size_t cols = x.size() / std::max<std::size_t>(rows, 1);
      for (std::size_t r = 0; r < rows; ++r) {
        const float s_r = sc.size() == 1 ? sc[0] : sc[r];
        if (!(s_r > 0.0f)) return invalid_argument("whisper: '" + name + "_scale' has a non-positive scale");
        for (std::size_t c = 0; c < cols; ++c) x[r * cols + c] /= s_r;
      }
    }
    return x;
  }

  Result<models::DeviceBuffer> upload(const std::vector<float>& x) {
    m_.weight_bytes_ += x.size() * 4;
    return models::DeviceBuffer::upload(dev_, x.data(), x.size() * sizeof(float));
  }

  // W [n, k] (host f32) -> Linear (int8 per row, or f32). `pack`: also keep the int8 weights
  // in the backend's int8_linear layout where it has a fast one (not for the vocabulary
  // projection: it only ever sees a few rows, which gemm_int8 reads unpacked).
  Status make_linear(Linear& lin, const std::vector<float>& w, std::int64_t n, std::int64_t k, const std::vector<float>* bias,
                     bool int8, bool pack = true) {
    lin.n = n;
    lin.k = k;
    lin.int8 = int8;
    if (int8) {
      std::vector<std::int8_t> q(w.size());
      std::vector<float> scales(static_cast<std::size_t>(n));
      for (std::int64_t r = 0; r < n; ++r) {
        const float* row = w.data() + r * k;
        float amax = 0.0f;
        for (std::int64_t c = 0; c < k; ++c) amax = std::max(amax, std::abs(row[c]));
        const float scale = amax / 127.0f;
        const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
        scales[static_cast<std::size_t>(r)] = scale;
        for (std::int64_t c = 0; c < k; ++c) {
          const float v = std::nearbyint(row[c] * inv);
          q[static_cast<std::size_t>(r * k + c)] = static_cast<std::int8_t>(std::clamp(v, -127.0f, 127.0f));
        }
      }
      m_.weight_bytes_ += q.size() + scales.size() * 4;
      PARLEY_ASSIGN_OR_RETURN(lin.w, models::DeviceBuffer::upload(dev_, q.data(), q.size()));
      PARLEY_ASSIGN_OR_RETURN(lin.scales, models::DeviceBuffer::upload(dev_, scales.data(), scales.size() * sizeof(float)));
      const kernels::Backend& be = dev_.backend();
      const std::int64_t dims[3] = {kernels::kInt8LinearMinRows, n, k};
      if (pack && be.int8_linear != nullptr && be.pack_int8 != nullptr && be.int8_packed_bytes != nullptr &&
          dev_.supports(kernels::OpQuery{kernels::Op::kInt8Linear, {}, dims})) {
        const std::int64_t bytes = be.int8_packed_bytes(n, k);
        if (bytes <= 0) return internal_error("whisper: int8_packed_bytes refused " + std::to_string(n) + " x " + std::to_string(k));
        PARLEY_ASSIGN_OR_RETURN(lin.packed, models::DeviceBuffer::allocate(dev_, static_cast<std::size_t>(bytes)));
        kernels::Int8PackArgs pa;
        pa.n = n;
        pa.k = k;
        pa.w = q.data();
        pa.ldw = k;
        pa.dst = lin.packed.data();
        pa.dst_bytes = static_cast<std::size_t>(bytes);
        PARLEY_RETURN_IF_ERROR(be.pack_int8(pa, dev_.ctx()));
        m_.weight_bytes_ += static_cast<std::size_t>(bytes);
      }
    } else {
      PARLEY_ASSIGN_OR_RETURN(lin.w, upload(w));
    }
    if (bias != nullptr) {
      PARLEY_ASSIGN_OR_RETURN(lin.bias, upload(*bias));
    }
    return Status::ok();
  }

  Status linear(Linear& lin, const std::string& prefix, std::int64_t n, std::int64_t k, bool int8, bool has_bias = true) {
    PARLEY_ASSIGN_OR_RETURN(auto w, tensor(prefix + "/weight", {n, k}));
    if (has_bias) {
      PARLEY_ASSIGN_OR_RETURN(auto b, tensor(prefix + "/bias", {n}));
      return make_linear(lin, w, n, k, &b, int8);
    }
    return make_linear(lin, w, n, k, nullptr, int8);
  }

  Status norm(LayerNormW& ln, const std::string& prefix, std::int64_t d) {
    PARLEY_ASSIGN_OR_RETURN(auto g, tensor(prefix + "/gamma", {d}));
    PARLEY_ASSIGN_OR_RETURN(auto b, tensor(prefix + "/beta", {d}));
    PARLEY_ASSIGN_OR_RETURN(ln.gamma, upload(g));
    PARLEY_ASSIGN_OR_RETURN(ln.beta, upload(b));
    return Status::ok();
  }

  // Conv weight [out, in, 3] -> [out, 3 * in] with the taps outermost (matches our im2col rows).
  static std::vector<float> conv_taps_outer(const std::vector<float>& w, std::int64_t out, std::int64_t in) {
    std::vector<float> r(w.size());
    for (std::int64_t o = 0; o < out; ++o) {
      for (std::int64_t c = 0; c < in; ++c) {
        for (int t = 0; t < 3; ++t) r[static_cast<std::size_t>((o * 3 + t) * in + c)] = w[static_cast<std::size_t>((o * in + c) * 3 + t)];
      }
    }
    return r;
  }

  Status load() {
    WhisperConfig& c = m_.config_;
    const bool int8 = m_.options_.precision == WhisperPrecision::kInt8;
    if (f_.spec() != "WhisperSpec") {
      return invalid_argument("whisper: " + f_.name() + " holds a '" + f_.spec() + "', not a WhisperSpec");
    }
    PARLEY_ASSIGN_OR_RETURN(std::int64_t enc_heads, f_.scalar_int("encoder/num_heads"));
    PARLEY_ASSIGN_OR_RETURN(std::int64_t dec_heads, f_.scalar_int("decoder/num_heads"));
    if (enc_heads != dec_heads || enc_heads <= 0) return invalid_argument("whisper: encoder/decoder head counts differ or are <= 0");
    const engine::ct2::Variable* conv1 = f_.find("encoder/conv1/weight");
    const engine::ct2::Variable* emb = f_.find("decoder/embeddings/weight");
    const engine::ct2::Variable* epos = f_.find("encoder/position_encodings/encodings");
    const engine::ct2::Variable* dpos = f_.find("decoder/position_encodings/encodings");
    if (!conv1 || !emb || !epos || !dpos || conv1->shape.size() != 3 || emb->shape.size() != 2 || epos->shape.size() != 2 ||
        dpos->shape.size() != 2) {
      return invalid_argument("whisper: " + f_.name() + ": conv1, embeddings or position encodings missing or of the wrong rank");
    }
    c.heads = static_cast<int>(enc_heads);
    c.d_model = static_cast<int>(conv1->shape[0]);
    c.n_mels = static_cast<int>(conv1->shape[1]);
    c.vocab = static_cast<int>(emb->shape[0]);
    c.audio_ctx = static_cast<int>(epos->shape[0]);
    c.text_ctx = static_cast<int>(dpos->shape[0]);
    while (f_.find("encoder/layer_" + std::to_string(c.encoder_layers) + "/ffn/linear_0/weight")) ++c.encoder_layers;
    while (f_.find("decoder/layer_" + std::to_string(c.decoder_layers) + "/ffn/linear_0/weight")) ++c.decoder_layers;
    const engine::ct2::Variable* ffn0 = f_.find("encoder/layer_0/ffn/linear_0/weight");
    if (ffn0 == nullptr || ffn0->shape.size() != 2 || c.decoder_layers == 0) return invalid_argument("whisper: no layers");
    c.ffn = static_cast<int>(ffn0->shape[0]);
    if (c.d_model % c.heads != 0) {
      return invalid_argument("whisper: d_model " + std::to_string(c.d_model) + " is not a multiple of " + std::to_string(c.heads) + " heads");
    }
    if (conv1->shape[2] != 3) return invalid_argument("whisper: conv1 kernel size is not 3");
    const std::int64_t d = c.d_model, f = c.ffn;
    // Checks of the fixed structure we implement (pre-norm, GELU, unscaled embeddings).
    auto flag = [&](const std::string& name, std::int64_t want) -> Status {
      auto v = f_.scalar_int(name);
      if (v.ok() && *v != want) return unimplemented("whisper: " + name + " = " + std::to_string(*v) + " is not supported");
      return Status::ok();
    };
    PARLEY_RETURN_IF_ERROR(flag("decoder/pre_norm", 1));
    PARLEY_RETURN_IF_ERROR(flag("decoder/scale_embeddings", 0));
    PARLEY_RETURN_IF_ERROR(flag("decoder/alibi", 0));
    PARLEY_RETURN_IF_ERROR(flag("decoder/activation", 3));  // CTranslate2 ActivationType::GELU (erf)

    PARLEY_ASSIGN_OR_RETURN(auto w1, tensor("encoder/conv1/weight", {d, c.n_mels, 3}));
    PARLEY_ASSIGN_OR_RETURN(auto b1, tensor("encoder/conv1/bias", {d}));
    PARLEY_ASSIGN_OR_RETURN(m_.conv1_w, upload(conv_taps_outer(w1, d, c.n_mels)));
    PARLEY_ASSIGN_OR_RETURN(m_.conv1_b, upload(b1));
    PARLEY_ASSIGN_OR_RETURN(auto w2, tensor("encoder/conv2/weight", {d, d, 3}));
    PARLEY_ASSIGN_OR_RETURN(auto b2, tensor("encoder/conv2/bias", {d}));
    PARLEY_RETURN_IF_ERROR(make_linear(m_.conv2, conv_taps_outer(w2, d, d), d, 3 * d, &b2, int8));
    PARLEY_ASSIGN_OR_RETURN(auto ep, tensor("encoder/position_encodings/encodings", {c.audio_ctx, d}));
    PARLEY_ASSIGN_OR_RETURN(m_.enc_pos, upload(ep));
    m_.enc.resize(static_cast<std::size_t>(c.encoder_layers));
    for (int l = 0; l < c.encoder_layers; ++l) {
      const std::string p = "encoder/layer_" + std::to_string(l);
      EncoderLayerW& L = m_.enc[static_cast<std::size_t>(l)];
      PARLEY_RETURN_IF_ERROR(norm(L.ln_attn, p + "/self_attention/layer_norm", d));
      PARLEY_RETURN_IF_ERROR(linear(L.qkv, p + "/self_attention/linear_0", 3 * d, d, int8));
      PARLEY_RETURN_IF_ERROR(linear(L.out, p + "/self_attention/linear_1", d, d, int8));
      PARLEY_RETURN_IF_ERROR(norm(L.ln_ffn, p + "/ffn/layer_norm", d));
      PARLEY_RETURN_IF_ERROR(linear(L.fc1, p + "/ffn/linear_0", f, d, int8));
      PARLEY_RETURN_IF_ERROR(linear(L.fc2, p + "/ffn/linear_1", d, f, int8));
    }
    PARLEY_RETURN_IF_ERROR(norm(m_.enc_ln, "encoder/layer_norm", d));

    // Token embeddings: f16 on the device (the embedding op reads them); the tied output
    // projection as a Linear.
    PARLEY_ASSIGN_OR_RETURN(auto e, tensor("decoder/embeddings/weight", {c.vocab, d}));
    {
      std::vector<std::uint16_t> h(e.size());
      engine::f32_to_f16_n(e.data(), h.data(), e.size());
      m_.weight_bytes_ += h.size() * 2;
      PARLEY_ASSIGN_OR_RETURN(m_.tok_emb, models::DeviceBuffer::upload(dev_, h.data(), h.size() * sizeof(std::uint16_t)));
    }
    PARLEY_ASSIGN_OR_RETURN(auto proj, tensor("decoder/projection/weight", {c.vocab, d}));
    PARLEY_RETURN_IF_ERROR(make_linear(m_.logits, proj, c.vocab, d, nullptr, int8, /*pack=*/false));
    PARLEY_ASSIGN_OR_RETURN(auto dp, tensor("decoder/position_encodings/encodings", {c.text_ctx, d}));
    PARLEY_ASSIGN_OR_RETURN(m_.dec_pos, upload(dp));
    m_.dec.resize(static_cast<std::size_t>(c.decoder_layers));
    for (int l = 0; l < c.decoder_layers; ++l) {
      const std::string p = "decoder/layer_" + std::to_string(l);
      DecoderLayerW& L = m_.dec[static_cast<std::size_t>(l)];
      PARLEY_RETURN_IF_ERROR(norm(L.ln_self, p + "/self_attention/layer_norm", d));
      PARLEY_RETURN_IF_ERROR(linear(L.qkv, p + "/self_attention/linear_0", 3 * d, d, int8));
      PARLEY_RETURN_IF_ERROR(linear(L.out, p + "/self_attention/linear_1", d, d, int8));
      PARLEY_RETURN_IF_ERROR(norm(L.ln_cross, p + "/attention/layer_norm", d));
      PARLEY_RETURN_IF_ERROR(linear(L.cross_q, p + "/attention/linear_0", d, d, int8));
      PARLEY_RETURN_IF_ERROR(linear(L.cross_kv, p + "/attention/linear_1", 2 * d, d, int8));
      PARLEY_RETURN_IF_ERROR(linear(L.cross_out, p + "/attention/linear_2", d, d, int8));
      PARLEY_RETURN_IF_ERROR(norm(L.ln_ffn, p + "/ffn/layer_norm", d));
      PARLEY_RETURN_IF_ERROR(linear(L.fc1, p + "/ffn/linear_0", f, d, int8));
      PARLEY_RETURN_IF_ERROR(linear(L.fc2, p + "/ffn/linear_1", d, f, int8));
    }
    PARLEY_RETURN_IF_ERROR(norm(m_.dec_ln, "decoder/layer_norm", d));
    return Status::ok();
  }

 private:
  WhisperModel& m_;
  const engine::ct2::File& f_;
  const models::ModelDevice& dev_;
};

namespace {

Status read_decoding_config(const std::string& path, int vocab, DecodingConfig& out) {
  auto doc = json::parse_file(path);
  if (!doc.ok()) return doc.status();
  auto ids = [&](const char* key, std::vector<int>& dst) -> Status {
    const json::Value* v = doc->find(key);
    if (v == nullptr) return Status::ok();
    if (!v->is_array()) return invalid_argument("whisper: " + path + ": '" + key + "' is not an array");
    for (const json::Value& x : v->as_array()) {
      auto i = x.as_int();
      if (!i || *i < 0 || *i >= vocab) return invalid_argument("whisper: " + path + ": '" + key + "' holds a bad token id");
      dst.push_back(static_cast<int>(*i));
    }
    return Status::ok();
  };
  PARLEY_RETURN_IF_ERROR(ids("suppress_ids", out.suppress_ids));
  PARLEY_RETURN_IF_ERROR(ids("suppress_ids_begin", out.suppress_ids_begin));
  return Status::ok();
}

}  // namespace

Result<std::shared_ptr<const WhisperModel>> WhisperModel::load(const std::string& dir, const WhisperLoadOptions& options) {
  std::shared_ptr<WhisperModel> m(new WhisperModel());
  m->options_ = options;
  auto dev = models::ModelDevice::open(options.device);
  if (!dev.ok()) return dev.status().with_context("whisper");
  m->device_ = *dev;
  PARLEY_ASSIGN_OR_RETURN(m->tokenizer_, WhisperTokenizer::load(dir + "/vocabulary.txt",
                                                                std::filesystem::exists(dir + "/tokenizer.json") ? dir + "/tokenizer.json" : ""));
  PARLEY_ASSIGN_OR_RETURN(auto file, engine::ct2::File::open(dir + "/model.bin"));
  WhisperLoader loader(*m, *file);
  PARLEY_RETURN_IF_ERROR(loader.load());
  if (static_cast<std::size_t>(m->config_.vocab) != m->tokenizer_->vocab_size()) {
    return invalid_argument("whisper: model vocabulary " + std::to_string(m->config_.vocab) + " != vocabulary.txt's " +
                            std::to_string(m->tokenizer_->vocab_size()) + " tokens");
  }
  if (std::filesystem::exists(dir + "/config.json")) {
    PARLEY_RETURN_IF_ERROR(read_decoding_config(dir + "/config.json", m->config_.vocab, m->decoding_));
  } else {
    // CTranslate2's defaults when config.json is absent: blank (" ", id 220 in GPT-2's
    // vocabulary, when the vocabulary has it) and end-of-text at the start.
    if (m->config_.vocab > 220 && m->tokenizer_->token_text(220) == "\xc4\xa0") m->decoding_.suppress_ids_begin.push_back(220);
    m->decoding_.suppress_ids_begin.push_back(m->tokenizer_->special().eot);
  }
  return std::shared_ptr<const WhisperModel>(std::move(m));
}

}  // namespace parley::whisper
