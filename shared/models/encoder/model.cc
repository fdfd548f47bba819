// EncoderModel loading: Hugging Face tensor names per family -> engine layouts (see model.h).
// Why: the only place that knows each family's weight names; a new family adds a name table here
// and a config branch in config.cc. Depends on model.h, kernels/backend.h (quantize on the CPU
// backend at load; bf16 packing by the target's backend).
#include "shared/models/encoder/model.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <random>
#include <string_view>

#include "kernels/backend.h"
#include "shared/models/encoder/session.h"

namespace parley::encoder {

std::string_view precision_name(Precision p) { return p == Precision::kInt8 ? "int8" : "fp32"; }

namespace {

// Tensor names of one family (relative to the detected prefix; {i} = layer index).
struct NameTable {
  std::string_view word, position, token_type, embed_norm;
  std::string_view layer;  // "encoder.layer." / "transformer.layer."
  std::string_view q, k, v, attn_out, attn_norm, ffn_in, ffn_out, ffn_norm;
};

constexpr NameTable kBertNames{
    "embeddings.word_embeddings", "embeddings.position_embeddings", "embeddings.token_type_embeddings",
    "embeddings.LayerNorm", "encoder.layer.", "attention.self.query", "attention.self.key",
    "attention.self.value", "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
    "output.dense", "output.LayerNorm"};

constexpr NameTable kMpnetNames{
    "embeddings.word_embeddings", "embeddings.position_embeddings", "", "embeddings.LayerNorm", "encoder.layer.",
    "attention.attn.q", "attention.attn.k", "attention.attn.v", "attention.attn.o", "attention.LayerNorm",
    "intermediate.dense", "output.dense", "output.LayerNorm"};

constexpr NameTable kDistilBertNames{
    "embeddings.word_embeddings", "embeddings.position_embeddings", "", "embeddings.LayerNorm",
    "transformer.layer.", "attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin",
    "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm"};

class Loader {
 public:
  Loader(const safetensors::File& f, std::string prefix) : f_(f), prefix_(std::move(prefix)) {}

  // Reads `name` (prefixed) as f32 and checks its shape.
  Result<std::vector<float>> get(const std::string& name, std::vector<std::int64_t> shape) const {
    const std::string full = prefix_ + name;
    const safetensors::TensorInfo* t = f_.find(full);
    if (t == nullptr) return not_found("encoder weights " + f_.name() + ": missing tensor \"" + full + "\"");
    if (t->shape != shape) {
      safetensors::TensorInfo want;
      want.shape = shape;
      return invalid_argument("encoder weights " + f_.name() + ": tensor \"" + full + "\" has shape " +
                              t->shape_string() + ", expected " + want.shape_string());
    }
    return f_.to_f32(*t);
  }

  // LayerNorm weights under "<base>.weight/.bias" (or the old "<base>.gamma/.beta").
  Result<NormWeights> norm(const std::string& base, std::int64_t n) const {
    NormWeights w;
    const bool old = f_.find(prefix_ + base + ".weight") == nullptr && f_.find(prefix_ + base + ".gamma") != nullptr;
    PARLEY_ASSIGN_OR_RETURN(w.gamma, get(base + (old ? ".gamma" : ".weight"), {n}));
    PARLEY_ASSIGN_OR_RETURN(w.beta, get(base + (old ? ".beta" : ".bias"), {n}));
    return w;
  }

 private:
  const safetensors::File& f_;
  std::string prefix_;
};

// Quantizes w [out, in] per output channel (symmetric int8, kernels' rule).
Status quantize_linear(Linear& l) {
  l.wq.resize(l.w.size());
  l.w_scales.resize(static_cast<std::size_t>(l.out));
  kernels::QuantizeArgs q;
  q.rows = l.out;
  q.cols = l.in;
  q.x = l.w.data();
  q.ldx = l.in;
  q.x_type = engine::DType::kF32;
  q.y = l.wq.data();
  q.ldy = l.in;
  q.scales = l.w_scales.data();
  q.granularity = kernels::QuantGranularity::kPerRow;
  PARLEY_RETURN_IF_ERROR(kernels::BackendRegistry::instance().cpu().quantize(q, kernels::ExecContext::cpu()));
  l.int8 = true;
  l.w.clear();
  l.w.shrink_to_fit();
  return Status::ok();
}

// Appends the second weight pass: w (the float weights quantize_linear just turned into wq /
// w_scales) minus their dequantized value, quantized per output channel again as rows
// [out, 2*out) of wq / w_scales.
Status add_weight_residual(Linear& l, std::vector<float> w) {
  for (std::int64_t o = 0; o < l.out; ++o) {
    const float s = l.w_scales[static_cast<std::size_t>(o)];
    for (std::int64_t j = 0; j < l.in; ++j) {
      const std::size_t i = static_cast<std::size_t>(o * l.in + j);
      w[i] -= s * static_cast<float>(l.wq[i]);
    }
  }
  Linear r;
  r.out = l.out;
  r.in = l.in;
  r.w = std::move(w);
  PARLEY_RETURN_IF_ERROR(quantize_linear(r));
  l.wq.insert(l.wq.end(), r.wq.begin(), r.wq.end());
  l.w_scales.insert(l.w_scales.end(), r.w_scales.begin(), r.w_scales.end());
  l.weight_two_pass = true;
  return Status::ok();
}

// Reads one or more [rows_i, in] linears stacked along the output dimension.
Result<Linear> read_linear(const Loader& ld, const std::vector<std::string>& bases, std::int64_t rows_each,
                           std::int64_t in, bool int8) {
  Linear l;
  l.in = in;
  l.out = rows_each * static_cast<std::int64_t>(bases.size());
  l.w.reserve(static_cast<std::size_t>(l.out * in));
  l.bias.reserve(static_cast<std::size_t>(l.out));
  for (const std::string& b : bases) {
    PARLEY_ASSIGN_OR_RETURN(std::vector<float> w, ld.get(b + ".weight", {rows_each, in}));
    PARLEY_ASSIGN_OR_RETURN(std::vector<float> bias, ld.get(b + ".bias", {rows_each}));
    l.w.insert(l.w.end(), w.begin(), w.end());
    l.bias.insert(l.bias.end(), bias.begin(), bias.end());
  }
  if (int8) PARLEY_RETURN_IF_ERROR(quantize_linear(l));
  return l;
}

}  // namespace

Result<std::shared_ptr<const EncoderModel>> EncoderModel::load(const std::string& dir, const LoadOptions& options) {
  PARLEY_ASSIGN_OR_RETURN(std::string config_text, read_text_file(dir + "/config.json"));
  auto config = parse_config_json(config_text);
  if (!config.ok()) return config.status().with_context(dir + "/config.json");
  PARLEY_ASSIGN_OR_RETURN(SentenceConfig sentence, read_sentence_config(dir));
  PARLEY_ASSIGN_OR_RETURN(auto file, safetensors::File::open(dir + "/model.safetensors"));
  return from_weights(*file, *config, sentence, options);
}

Result<std::vector<float>> expand_relative_bias(const std::vector<float>& buckets_by_head, const EncoderConfig& config) {
  const std::int64_t nb = config.relative_buckets, heads = config.heads, r = config.relative_max_distance;
  if (nb <= 0 || static_cast<std::int64_t>(buckets_by_head.size()) != nb * heads) {
    return invalid_argument("relative attention bias: expected [" + std::to_string(nb) + ", " + std::to_string(heads) +
                            "] values, got " + std::to_string(buckets_by_head.size()));
  }
  std::vector<float> table(static_cast<std::size_t>(heads * (2 * r + 1)));
  for (std::int64_t d = -r; d <= r; ++d) {
    const std::int64_t b = relative_position_bucket(d, nb, r);
    for (std::int64_t h = 0; h < heads; ++h) {
      table[static_cast<std::size_t>(h * (2 * r + 1) + d + r)] = buckets_by_head[static_cast<std::size_t>(b * heads + h)];
    }
  }
  return table;
}

Result<std::shared_ptr<const EncoderModel>> EncoderModel::from_weights(const safetensors::File& file,
                                                                       const EncoderConfig& config,
                                                                       const SentenceConfig& sentence,
                                                                       const LoadOptions& options) {
  PARLEY_RETURN_IF_ERROR(config.validate());
  const NameTable& names = config.family == Family::kDistilBert ? kDistilBertNames
                           : config.family == Family::kMpnet    ? kMpnetNames
                                                                : kBertNames;
  // Checkpoints saved from task models carry the base model's prefix ("bert.", "distilbert.").
  std::string prefix;
  bool found = false;
  for (std::string_view p : {"", "bert.", "roberta.", "distilbert.", "mpnet.", "model.", "encoder."}) {
    if (file.find(std::string(p) + std::string(names.word) + ".weight") != nullptr) {
      prefix = p;
      found = true;
      break;
    }
  }
  if (!found) {
    return not_found("encoder weights " + file.name() + ": no \"" + std::string(names.word) +
                     ".weight\" (with or without a bert./distilbert./roberta. prefix); is this a " +
                     std::string(family_name(config.family)) + " checkpoint?");
  }
  Loader ld(file, prefix);
  std::shared_ptr<EncoderModel> m(new EncoderModel());
  m->config_ = config;
  m->sentence_ = sentence;
  m->precision_ = options.precision;
  const std::int64_t h = config.hidden;
  EncoderWeights& w = m->weights_;
  PARLEY_ASSIGN_OR_RETURN(w.word, ld.get(std::string(names.word) + ".weight", {config.vocab_size, h}));
  PARLEY_ASSIGN_OR_RETURN(w.position, ld.get(std::string(names.position) + ".weight", {config.max_positions, h}));
  if (config.type_vocab > 0 && !names.token_type.empty()) {
    PARLEY_ASSIGN_OR_RETURN(w.token_type, ld.get(std::string(names.token_type) + ".weight", {config.type_vocab, h}));
  }
  PARLEY_ASSIGN_OR_RETURN(w.embed_norm, ld.norm(std::string(names.embed_norm), h));
  for (std::int64_t i = 0; i < config.layers; ++i) {
    const std::string base = std::string(names.layer) + std::to_string(i) + ".";
    auto n = [&](std::string_view s) { return base + std::string(s); };
    LayerWeights lw;
    PARLEY_ASSIGN_OR_RETURN(lw.qkv, read_linear(ld, {n(names.q), n(names.k), n(names.v)}, h, h, false));
    PARLEY_ASSIGN_OR_RETURN(lw.attn_out, read_linear(ld, {n(names.attn_out)}, h, h, false));
    PARLEY_ASSIGN_OR_RETURN(lw.attn_norm, ld.norm(n(names.attn_norm), h));
    PARLEY_ASSIGN_OR_RETURN(lw.ffn_in, read_linear(ld, {n(names.ffn_in)}, config.intermediate, h, false));
    PARLEY_ASSIGN_OR_RETURN(lw.ffn_out, read_linear(ld, {n(names.ffn_out)}, h, config.intermediate, false));
    PARLEY_ASSIGN_OR_RETURN(lw.ffn_norm, ld.norm(n(names.ffn_norm), h));
    w.layers.push_back(std::move(lw));
  }
  if (config.relative_buckets > 0) {
    PARLEY_ASSIGN_OR_RETURN(auto buckets, ld.get("encoder.relative_attention_bias.weight", {config.relative_buckets, config.heads}));
    PARLEY_ASSIGN_OR_RETURN(w.relative_bias, expand_relative_bias(buckets, config));
  }
  return finish(std::move(m), options);
}

Result<std::shared_ptr<const EncoderModel>> EncoderModel::from_host_weights(EncoderWeights weights,
                                                                            const EncoderConfig& config,
                                                                            const SentenceConfig& sentence,
                                                                            const LoadOptions& options) {
  PARLEY_RETURN_IF_ERROR(config.validate());
  const std::int64_t h = config.hidden;
  auto sized = [](const std::vector<float>& v, std::int64_t n) { return static_cast<std::int64_t>(v.size()) == n; };
  if (!sized(weights.word_table(), config.vocab_size * h) || !sized(weights.position, config.max_positions * h) ||
      (config.type_vocab > 0 && !sized(weights.token_type, config.type_vocab * h)) ||
      !sized(weights.embed_norm.gamma, h) || !sized(weights.embed_norm.beta, h) ||
      weights.layers.size() != static_cast<std::size_t>(config.layers) ||
      !sized(weights.relative_bias, config.relative_buckets > 0 ? config.heads * (2 * config.relative_max_distance + 1) : 0)) {
    return invalid_argument("encoder weights do not match the config (embeddings or layer count)");
  }
  for (const LayerWeights& l : weights.layers) {
    for (const Linear* lin : {&l.qkv, &l.attn_out, &l.ffn_in, &l.ffn_out}) {
      if (lin->int8 || lin->bf16 || !sized(lin->w, lin->out * lin->in) || !sized(lin->bias, lin->out)) {
        return invalid_argument("encoder weights: every linear must be FP32 [out, in] with a bias");
      }
    }
  }
  std::shared_ptr<EncoderModel> m(new EncoderModel());
  m->config_ = config;
  m->sentence_ = sentence;
  m->precision_ = options.precision;
  m->weights_ = std::move(weights);
  return finish(std::move(m), options);
}

Result<std::shared_ptr<const EncoderModel>> EncoderModel::finish(std::shared_ptr<EncoderModel> m,
                                                                 const LoadOptions& options) {
  const EncoderConfig& config = m->config_;
  const SentenceConfig& sentence = m->sentence_;
  const std::int64_t h = config.hidden;
  const std::int64_t limit = config.max_positions - config.position_offset;
  std::int64_t want = options.max_length > 0 ? options.max_length : sentence.max_seq_length;
  if (want <= 0) want = limit;
  m->max_length_ = std::min(want, limit);
  PARLEY_ASSIGN_OR_RETURN(models::ModelDevice target, models::ModelDevice::open(options.device));
  // Calibration runs the FP32 model on the CPU over views of the host arrays.
  PARLEY_RETURN_IF_ERROR(m->place(m->device_));
  if (options.precision == Precision::kInt8) {
    const bool bf16 = target.supports(kernels::Op::kBf16Linear, {}, {1, config.intermediate, h});
    PARLEY_RETURN_IF_ERROR(m->to_int8(options, bf16));
    if (options.bf16_linears != 0 && bf16) m->to_bf16(options);
  }
  m->device_ = target;
  PARLEY_RETURN_IF_ERROR(m->place(target).with_context("placing the encoder on " + target.device().to_string()));
  return std::shared_ptr<const EncoderModel>(std::move(m));
}

namespace {

// Pseudo-random calibration ids (fixed seed, raw mt19937 output: identical on every platform),
// skipping the first ~3% of the vocabulary where BERT vocabularies keep [unused] and specials.
TokenBatch random_calibration(const EncoderConfig& c, std::int64_t max_length) {
  std::mt19937 rng(20240611u);
  TokenBatch b;
  const std::int64_t lo = c.vocab_size / 32, span = std::max<std::int64_t>(1, c.vocab_size - lo);
  for (std::int64_t len : {8, 16, 24, 32, 48, 64, 96, 128}) {
    std::vector<std::int32_t> ids(static_cast<std::size_t>(std::min(len, max_length)));
    for (auto& id : ids) id = static_cast<std::int32_t>(lo + static_cast<std::int64_t>(rng() % static_cast<std::uint32_t>(span)));
    b.add(ids);
  }
  return b;
}

}  // namespace

Status EncoderModel::to_int8(const LoadOptions& options, bool target_bf16) {
  // Without fast BF16 the linears meant for BF16 would run FP32: use the int8 preset for them.
  const std::uint32_t int8_mask = options.bf16_linears != 0 && !target_bf16
                                      ? options.int8_linears_without_bf16
                                      : options.int8_linears;
  if ((int8_mask & kAllLinears) == 0) return Status::ok();  // no calibration pass needed
  // amax[layer][linear][column] of the FP32 inputs over the calibration batch.
  std::vector<std::array<std::vector<float>, 4>> amax(weights_.layers.size());
  if (options.smooth) {
    TokenBatch fallback;
    const TokenBatch* calib = options.calibration;
    if (calib == nullptr || calib->size() == 0) {
      fallback = random_calibration(config_, max_length_);
      calib = &fallback;
    }
    // Run this (still FP32) model with an observer; a non-owning shared_ptr keeps `this` alive.
    std::shared_ptr<const EncoderModel> self(std::shared_ptr<const EncoderModel>{}, this);
    SessionOptions so;
    so.observe_linear_input = [&](std::size_t layer, LinearMask which, const float* x, std::int64_t rows,
                                  std::int64_t cols) {
      const int slot = which == kQkvLinear ? 0 : which == kAttnOutLinear ? 1 : which == kFfnInLinear ? 2 : 3;
      std::vector<float>& a = amax[layer][static_cast<std::size_t>(slot)];
      a.resize(static_cast<std::size_t>(cols), 0.0f);
      for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t j = 0; j < cols; ++j) a[static_cast<std::size_t>(j)] = std::max(a[static_cast<std::size_t>(j)], std::fabs(x[r * cols + j]));
      }
    };
    EncoderSession session(self, std::move(so));
    EncoderOutput out;
    PARLEY_RETURN_IF_ERROR(session.encode(*calib, out).with_context("int8 calibration"));
  }
  const std::array<LinearMask, 4> kinds = {kQkvLinear, kAttnOutLinear, kFfnInLinear, kFfnOutLinear};
  for (std::size_t li = 0; li < weights_.layers.size(); ++li) {
    LayerWeights& lw = weights_.layers[li];
    std::array<Linear*, 4> lins = {&lw.qkv, &lw.attn_out, &lw.ffn_in, &lw.ffn_out};
    for (std::size_t k = 0; k < 4; ++k) {
      if ((int8_mask & kinds[k]) == 0) continue;
      Linear& l = *lins[k];
      const std::vector<float>& a = amax[li][k];
      if (options.smooth && a.size() == static_cast<std::size_t>(l.in)) {
        const float alpha = std::clamp(options.smooth_alpha, 0.0f, 1.0f);
        l.in_scale.resize(static_cast<std::size_t>(l.in));
        for (std::int64_t j = 0; j < l.in; ++j) {
          float wmax = 0.0f;
          for (std::int64_t o = 0; o < l.out; ++o) wmax = std::max(wmax, std::fabs(l.w[static_cast<std::size_t>(o * l.in + j)]));
          const float s = std::pow(std::max(a[static_cast<std::size_t>(j)], 1e-5f), alpha) /
                          std::pow(std::max(wmax, 1e-5f), 1.0f - alpha);
          const float sc = std::isfinite(s) && s > 0.0f ? s : 1.0f;
          for (std::int64_t o = 0; o < l.out; ++o) l.w[static_cast<std::size_t>(o * l.in + j)] *= sc;
          l.in_scale[static_cast<std::size_t>(j)] = 1.0f / sc;
        }
      }
      // 2:4 linears run one pass each way (a residual pass would not be 2:4 sparse).
      const bool weight_two_pass = !options.sparse24 && (options.int8_weight_two_pass & kinds[k]) != 0;
      std::vector<float> w = weight_two_pass ? l.w : std::vector<float>{};
      PARLEY_RETURN_IF_ERROR(quantize_linear(l));
      l.two_pass = !options.sparse24 && (options.int8_two_pass & kinds[k]) != 0;
      l.sparse24 = options.sparse24;  // per-channel quantization and smoothing keep zeros zero
      if (weight_two_pass) PARLEY_RETURN_IF_ERROR(add_weight_residual(l, std::move(w)));
    }
  }
  return Status::ok();
}

void EncoderModel::to_bf16(const LoadOptions& options) {
  const std::array<LinearMask, 4> kinds = {kQkvLinear, kAttnOutLinear, kFfnInLinear, kFfnOutLinear};
  for (LayerWeights& lw : weights_.layers) {
    std::array<Linear*, 4> lins = {&lw.qkv, &lw.attn_out, &lw.ffn_in, &lw.ffn_out};
    for (std::size_t k = 0; k < 4; ++k) {
      Linear& l = *lins[k];
      if (l.int8 || (options.bf16_linears & kinds[k]) == 0) continue;
      l.bf16 = true;  // packed by the device's backend in place()
    }
  }
}

namespace {

Result<DeviceNorm> place_norm(const models::ModelDevice& dev, const NormWeights& n) {
  DeviceNorm d;
  PARLEY_ASSIGN_OR_RETURN(d.gamma, models::place(dev, n.gamma));
  PARLEY_ASSIGN_OR_RETURN(d.beta, models::place(dev, n.beta));
  return d;
}

// The backend's packed copy of a 2:4 int8 linear: compressed to the kCpu interchange layout on
// the host (InvalidArgument when a group of 4 holds more than 2 non-zeros), then packed.
Result<models::DeviceBuffer> pack_sparse24_linear(const models::ModelDevice& dev, Linear& l) {
  const kernels::Backend& be = dev.backend();
  if (be.sparse24_gemm == nullptr || be.pack_sparse24 == nullptr || be.sparse24_packed_bytes == nullptr ||
      !dev.supports(kernels::Op::kSparse24Gemm, {kernels::DType::kI8, kernels::DType::kI8, kernels::DType::kF32},
                    {1, l.out, l.in})) {
    return unimplemented("no 2:4 sparse GEMM for a [" + std::to_string(l.out) + ", " + std::to_string(l.in) +
                         "] int8 linear on " + dev.device().to_string());
  }
  const std::int64_t half = l.in / 2, meta_ld = kernels::sparse24_meta_bytes(l.in);
  std::vector<std::int8_t> values(static_cast<std::size_t>(l.out * half));
  std::vector<std::uint8_t> meta(static_cast<std::size_t>(l.out * meta_ld));
  kernels::Compress24Args c;
  c.rows = l.out;
  c.cols = l.in;
  c.w = l.wq.data();
  c.ldw = l.in;
  c.dtype = kernels::DType::kI8;
  c.values = values.data();
  c.values_ld = half;
  c.meta = meta.data();
  c.meta_ld = meta_ld;
  PARLEY_RETURN_IF_ERROR(kernels::compress24(c).with_context("2:4 linear [" + std::to_string(l.out) + ", " +
                                                             std::to_string(l.in) + "] (is the model pruned to 2:4?)"));
  kernels::Sparse24Matrix src;
  src.rows = l.out;
  src.cols = l.in;
  src.dtype = kernels::DType::kI8;
  src.layout = kernels::Sparse24Layout::kCpu;
  src.values = values.data();
  src.values_ld = half;
  src.meta = meta.data();
  src.meta_ld = meta_ld;
  const std::size_t bytes = be.sparse24_packed_bytes(src);
  if (bytes == 0) return unimplemented("the backend cannot pack a [" + std::to_string(l.out) + ", " + std::to_string(l.in) + "] 2:4 matrix");
  PARLEY_ASSIGN_OR_RETURN(models::DeviceBuffer buf, models::DeviceBuffer::allocate(dev, bytes));
  PARLEY_RETURN_IF_ERROR(be.pack_sparse24(src, buf.data(), bytes, dev.ctx()));
  l.sparse24_bytes = bytes;
  return buf;
}

Result<DeviceLinear> place_linear(const models::ModelDevice& dev, Linear& l) {
  DeviceLinear d;
  d.out = l.out;
  d.in = l.in;
  d.int8 = l.int8;
  d.two_pass = l.two_pass;
  d.weight_two_pass = l.weight_two_pass;
  d.bf16 = l.bf16;
  d.sparse24 = l.sparse24 && l.int8;
  if (d.sparse24) {
    PARLEY_ASSIGN_OR_RETURN(d.wb, pack_sparse24_linear(dev, l));
    PARLEY_ASSIGN_OR_RETURN(d.w_scales, models::place(dev, l.w_scales));
    PARLEY_ASSIGN_OR_RETURN(d.bias, models::place(dev, l.bias));
    PARLEY_ASSIGN_OR_RETURN(d.in_scale, models::place(dev, l.in_scale));
    return d;
  }
  if (l.bf16) {
    const kernels::Backend& be = dev.backend();
    const std::int64_t bytes = be.bf16_packed_bytes != nullptr ? be.bf16_packed_bytes(l.out, l.in) : -1;
    if (bytes < 0 || be.pack_bf16 == nullptr) return unimplemented("the backend has no bf16 packing");
    if (!l.w.empty()) {  // first placement: pack, then the f32 copy is no longer needed
      PARLEY_ASSIGN_OR_RETURN(d.wb, models::DeviceBuffer::allocate(dev, static_cast<std::size_t>(std::max<std::int64_t>(bytes, 1))));
      kernels::Bf16PackArgs p;
      p.n = l.out;
      p.k = l.in;
      p.w = l.w.data();
      p.ldw = l.in;
      p.dst = d.wb.data();
      p.dst_bytes = static_cast<std::size_t>(bytes);
      PARLEY_RETURN_IF_ERROR(be.pack_bf16(p, dev.ctx()));
      l.bf16_bytes = static_cast<std::size_t>(bytes);
      l.w.clear();
      l.w.shrink_to_fit();
    } else {
      return failed_precondition("a BF16 linear was already packed (models are placed once)");
    }
  } else {
    PARLEY_ASSIGN_OR_RETURN(d.w, models::place(dev, l.w));
  }
  PARLEY_ASSIGN_OR_RETURN(d.wq, models::place(dev, l.wq));
  PARLEY_ASSIGN_OR_RETURN(d.w_scales, models::place(dev, l.w_scales));
  PARLEY_ASSIGN_OR_RETURN(d.bias, models::place(dev, l.bias));
  PARLEY_ASSIGN_OR_RETURN(d.in_scale, models::place(dev, l.in_scale));
  return d;
}

}  // namespace

Status EncoderModel::place(const models::ModelDevice& dev) {
  DeviceWeights d;
  PARLEY_ASSIGN_OR_RETURN(d.word, models::place(dev, weights_.word_table()));
  PARLEY_ASSIGN_OR_RETURN(d.position, models::place(dev, weights_.position));
  PARLEY_ASSIGN_OR_RETURN(d.token_type, models::place(dev, weights_.token_type));
  PARLEY_ASSIGN_OR_RETURN(d.relative_bias, models::place(dev, weights_.relative_bias));
  PARLEY_ASSIGN_OR_RETURN(d.embed_norm, place_norm(dev, weights_.embed_norm));
  for (LayerWeights& lw : weights_.layers) {
    DeviceLayer dl;
    PARLEY_ASSIGN_OR_RETURN(dl.qkv, place_linear(dev, lw.qkv));
    PARLEY_ASSIGN_OR_RETURN(dl.attn_out, place_linear(dev, lw.attn_out));
    PARLEY_ASSIGN_OR_RETURN(dl.ffn_in, place_linear(dev, lw.ffn_in));
    PARLEY_ASSIGN_OR_RETURN(dl.ffn_out, place_linear(dev, lw.ffn_out));
    PARLEY_ASSIGN_OR_RETURN(dl.attn_norm, place_norm(dev, lw.attn_norm));
    PARLEY_ASSIGN_OR_RETURN(dl.ffn_norm, place_norm(dev, lw.ffn_norm));
    d.layers.push_back(std::move(dl));
  }
  device_weights_ = std::move(d);
  return Status::ok();
}

Status prune_linears_2to4(EncoderWeights& weights) {
  for (std::size_t li = 0; li < weights.layers.size(); ++li) {
    LayerWeights& l = weights.layers[li];
    for (Linear* lin : {&l.qkv, &l.attn_out, &l.ffn_in, &l.ffn_out}) {
      if (lin->w.size() != static_cast<std::size_t>(lin->out * lin->in)) {
        return invalid_argument("prune to 2:4: layer " + std::to_string(li) + " has a linear without FP32 weights");
      }
      kernels::Prune24Args p;
      p.rows = lin->out;
      p.cols = lin->in;
      p.w = lin->w.data();
      p.ldw = lin->in;
      PARLEY_RETURN_IF_ERROR(kernels::prune24(p).with_context("prune to 2:4: layer " + std::to_string(li)));
    }
  }
  return Status::ok();
}

std::size_t EncoderModel::weight_bytes() const {
  auto lin = [](const Linear& l) {
    // A 2:4 linear's device copy is its packed form; the dense wq stays on the host for inspection.
    const std::size_t q = l.sparse24 ? l.sparse24_bytes : l.wq.size();
    return l.w.size() * 4 + q + l.w_scales.size() * 4 + l.bias.size() * 4 + l.bf16_bytes;
  };
  std::size_t n = (weights_.word.size() + weights_.position.size() + weights_.token_type.size() +
                   weights_.relative_bias.size()) * 4;
  for (const LayerWeights& l : weights_.layers) {
    n += lin(l.qkv) + lin(l.attn_out) + lin(l.ffn_in) + lin(l.ffn_out) + 4 * 4 * static_cast<std::size_t>(config_.hidden);
  }
  return n;
}

bool share_word_table(EncoderWeights& weights, const std::shared_ptr<const EncoderModel>& owner) {
  if (!owner || weights.shared_word || weights.word.empty()) return false;
  const std::vector<float>& table = owner->weights().word_table();
  if (table.size() != weights.word.size() ||
      std::memcmp(table.data(), weights.word.data(), table.size() * sizeof(float)) != 0) {
    return false;
  }
  // An owner that shares its table itself passes that on: the weights then keep the table alive,
  // not the intermediate model (a fine-tuned bot's base is itself reading the serving encoder's).
  weights.shared_word = owner->weights().shared_word ? owner->weights().shared_word
                                                     : std::shared_ptr<const std::vector<float>>(owner, &table);
  std::vector<float>().swap(weights.word);
  return true;
}

}  // namespace parley::encoder
