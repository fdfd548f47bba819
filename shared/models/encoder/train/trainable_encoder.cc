// TrainableEncoder: forward with saved activations and the backward pass of a post-norm BERT
// encoder over packed sequences, every op through the device's backend table.
// Why: see trainable_encoder.h. Depends on kernels/backend.h (gemm, norm, embedding,
// attention_prefill, strided_copy, ops/train.h), shared/models/runtime.
#include "shared/models/encoder/train/trainable_encoder.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <random>

#include "kernels/backend.h"

namespace parley::encoder::train {

Result<std::unique_ptr<Param>> make_param(const models::ModelDevice& dev, std::string name, std::int64_t size,
                                          const float* init, bool decay) {
  auto p = std::make_unique<Param>();
  p->name = std::move(name);
  p->size = size;
  p->decay = decay;
  const std::size_t bytes = static_cast<std::size_t>(std::max<std::int64_t>(size, 1)) * sizeof(float);
  std::vector<float> zeros;
  if (init == nullptr) {
    zeros.assign(static_cast<std::size_t>(std::max<std::int64_t>(size, 1)), 0.0f);
    init = zeros.data();
  }
  PARLEY_ASSIGN_OR_RETURN(p->value, models::DeviceBuffer::upload(dev, init, bytes));
  if (zeros.empty()) zeros.assign(static_cast<std::size_t>(std::max<std::int64_t>(size, 1)), 0.0f);
  PARLEY_ASSIGN_OR_RETURN(p->grad, models::DeviceBuffer::upload(dev, zeros.data(), bytes));
  PARLEY_ASSIGN_OR_RETURN(p->m, models::DeviceBuffer::upload(dev, zeros.data(), bytes));
  PARLEY_ASSIGN_OR_RETURN(p->v, models::DeviceBuffer::upload(dev, zeros.data(), bytes));
  return p;
}

std::vector<std::uint8_t> mask_2to4(const float* w, std::int64_t rows, std::int64_t cols) {
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(rows * cols), 0);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c + 4 <= cols; c += 4) {
      const float* g = w + r * cols + c;
      std::array<int, 4> idx = {0, 1, 2, 3};
      std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return std::fabs(g[a]) > std::fabs(g[b]); });
      mask[static_cast<std::size_t>(r * cols + c + idx[0])] = 1;
      mask[static_cast<std::size_t>(r * cols + c + idx[1])] = 1;
    }
  }
  return mask;
}

namespace {

enum class Mode : std::uint8_t { kFrozen, kLora, kFull };

// A weight that may or may not train: frozen ones hold only the value (no gradient, moments).
struct Weight {
  std::unique_ptr<Param> p;
  bool trainable = false;
  const float* data() const { return p->data(); }
};

struct Lin {
  std::int64_t out = 0, in = 0;
  Weight w, b;
  std::unique_ptr<Param> la, lb;  // LoRA A [r, in], B [out, r]
  models::Scratch t;              // x A^T of the last forward [tokens, r]
};

struct Layer {
  Mode mode = Mode::kFrozen;
  Lin qkv, ao, fi, fo;
  Weight g1, b1, g2, b2;
  // Saved activations of the last forward, [tokens, width].
  models::Scratch x_in, qkv_a, ctx, h1pre, h1, u, f, h2pre;
  // Dropout masks of the last forward (0 or 1 / (1 - p)) on the attention and FFN outputs.
  models::Scratch drop_a, drop_f;
};

Result<Weight> make_weight(const models::ModelDevice& dev, std::string name, const std::vector<float>& host,
                           bool trainable, bool decay) {
  Weight w;
  w.trainable = trainable;
  if (trainable) {
    PARLEY_ASSIGN_OR_RETURN(w.p, make_param(dev, std::move(name), static_cast<std::int64_t>(host.size()), host.data(), decay));
  } else {
    w.p = std::make_unique<Param>();
    w.p->name = std::move(name);
    w.p->size = static_cast<std::int64_t>(host.size());
    PARLEY_ASSIGN_OR_RETURN(w.p->value, models::DeviceBuffer::upload(dev, host.data(), std::max<std::size_t>(host.size(), 1) * sizeof(float)));
  }
  return w;
}

Result<std::vector<float>> download(const models::ModelDevice& dev, const Param& p) {
  std::vector<float> host(static_cast<std::size_t>(p.size));
  if (p.size > 0) PARLEY_RETURN_IF_ERROR(dev.download(host.data(), p.data(), host.size() * sizeof(float)));
  return host;
}

}  // namespace

struct TrainableEncoder::Impl {
  models::ModelDevice dev = models::ModelDevice::cpu();
  EncoderConfig c;
  TrainableOptions opt;
  float lora_scale = 1.0f;
  Weight word, position, type, eg, eb;
  Weight rel_bias;  // MPNet's relative position bias (never trained); empty p when the model has none
  bool embeddings_train = false;
  std::vector<Layer> layers;
  int first_trained = 0;  // lowest layer the backward pass reaches
  // Per-forward state.
  std::int64_t n = 0, sequences = 0, max_len = 0;
  std::vector<std::int32_t> lengths;
  std::vector<std::int32_t> meta_host;  // positions [n] | offsets [B+1] | ids [n] | types [n]
  models::Scratch meta, e1, e2, e_pre, out, grad_out, g, d1, df, dqkv, tr, ones, dt, dtt, dm;
  std::int64_t ones_size = 0;
  std::uint64_t rng = 0;            // dropout masks (xorshift64*: a mask is 2M draws a step)
  std::vector<float> mask_host;

  bool drops(std::size_t li) const { return opt.dropout > 0.0f && static_cast<int>(li) >= first_trained; }
  /// A fresh mask of n x hidden values into `mask`.
  Status make_mask(models::Scratch& mask, std::int64_t count) {
    const float keep = 1.0f - opt.dropout;
    const float scale = 1.0f / keep;
    // Keep when the top 24 bits of a draw fall below keep * 2^24.
    const auto threshold = static_cast<std::uint32_t>(static_cast<double>(keep) * 16777216.0);
    mask_host.resize(static_cast<std::size_t>(count));
    for (float& v : mask_host) {
      rng ^= rng >> 12;
      rng ^= rng << 25;
      rng ^= rng >> 27;
      const auto draw = static_cast<std::uint32_t>((rng * 2685821657736338717ull) >> 40);
      v = draw < threshold ? scale : 0.0f;
    }
    PARLEY_RETURN_IF_ERROR(mask.reserve_elems<float>(dev, count));
    return dev.upload(mask.data(), mask_host.data(), mask_host.size() * sizeof(float));
  }
  /// y = x * mask, elementwise over n x hidden.
  Status apply_mask(const float* x, const models::Scratch& mask, float* y, std::int64_t count) {
    kernels::ElementwiseArgs e;
    e.op = kernels::EwOp::kMul;
    e.rank = 1;
    e.dims[0] = count;
    e.a = x;
    e.a_strides[0] = 1;
    e.b = mask.data();
    e.b_strides[0] = 1;
    e.y = y;
    return be().elementwise(e, ctx());
  }

  const kernels::Backend& be() const { return dev.backend(); }
  const kernels::ExecContext& ctx() const { return dev.ctx(); }
  const std::int32_t* positions() const { return meta.as<const std::int32_t>(); }
  const std::int32_t* offsets_dev() const { return positions() + n; }
  const std::int32_t* ids() const { return offsets_dev() + sequences + 1; }
  const std::int32_t* types() const { return ids() + n; }

  Status gemm(std::int64_t m, std::int64_t nn, std::int64_t k, const float* a, std::int64_t lda, const float* b,
              std::int64_t ldb, bool bt, float* cc, std::int64_t ldc, const float* bias = nullptr, float alpha = 1.0f,
              float beta = 0.0f) {
    kernels::GemmArgs g;
    g.m = m;
    g.n = nn;
    g.k = k;
    g.a = a;
    g.lda = lda;
    g.b = b;
    g.ldb = ldb;
    g.b_transposed = bt;
    g.c = cc;
    g.ldc = ldc;
    g.bias = bias;
    g.alpha = alpha;
    g.beta = beta;
    if (!opt.bf16) return be().gemm(g, ctx());
    kernels::ExecContext mixed = ctx();
    mixed.bf16_gemm = true;  // TrainableOptions::bf16
    return be().gemm(g, mixed);
  }

  // dst[cols, rows] = src[rows, cols]^T (src leading dimension ld).
  Status transpose(const float* src, std::int64_t rows, std::int64_t cols, std::int64_t ld, float* dst) {
    kernels::StridedCopyArgs s;
    s.rank = 2;
    s.dims[0] = cols;
    s.dims[1] = rows;
    s.elem_bytes = 4;
    s.src = src;
    s.src_strides[0] = 1;
    s.src_strides[1] = ld;
    s.dst = dst;
    s.dst_strides[0] = rows;
    s.dst_strides[1] = 1;
    return be().strided_copy(s, ctx());
  }

  Status linear_forward(Lin& l, const float* x, float* y) {
    PARLEY_RETURN_IF_ERROR(gemm(n, l.out, l.in, x, l.in, l.w.data(), l.in, true, y, l.out, l.b.data()));
    if (l.la) {
      const std::int64_t r = opt.lora_rank;
      PARLEY_RETURN_IF_ERROR(l.t.reserve_elems<float>(dev, n * r));
      PARLEY_RETURN_IF_ERROR(gemm(n, r, l.in, x, l.in, l.la->data(), l.in, true, l.t.as<float>(), r));
      PARLEY_RETURN_IF_ERROR(gemm(n, l.out, r, l.t.as<float>(), r, l.lb->data(), r, true, y, l.out, nullptr, lora_scale, 1.0f));
    }
    return Status::ok();
  }

  // Gradients of l's trainable weights for y = linear(x) with upstream dy; dx = dx_beta*dx + dy.dW
  // when need_dx.
  Status linear_backward(Lin& l, const float* x, const float* dy, float* dx, float dx_beta, bool need_dx) {
    float* t = tr.as<float>();
    if (l.w.trainable || l.la) PARLEY_RETURN_IF_ERROR(transpose(dy, n, l.out, l.out, t));
    if (l.w.trainable) PARLEY_RETURN_IF_ERROR(gemm(l.out, l.in, n, t, n, x, l.in, false, l.w.p->g(), l.in));
    if (l.b.trainable) PARLEY_RETURN_IF_ERROR(gemm(1, l.out, n, ones.as<float>(), n, dy, l.out, false, l.b.p->g(), l.out));
    if (need_dx) PARLEY_RETURN_IF_ERROR(gemm(n, l.in, l.out, dy, l.out, l.w.data(), l.in, false, dx, l.in, nullptr, 1.0f, dx_beta));
    if (l.la) {
      const std::int64_t r = opt.lora_rank;
      float* dtp = dt.as<float>();
      // dB = s dy^T t ; dt = s dy B ; dA = dt^T x ; dx += dt A
      PARLEY_RETURN_IF_ERROR(gemm(l.out, r, n, t, n, l.t.as<float>(), r, false, l.lb->g(), r, nullptr, lora_scale));
      PARLEY_RETURN_IF_ERROR(gemm(n, r, l.out, dy, l.out, l.lb->data(), r, false, dtp, r, nullptr, lora_scale));
      PARLEY_RETURN_IF_ERROR(transpose(dtp, n, r, r, dtt.as<float>()));
      PARLEY_RETURN_IF_ERROR(gemm(r, l.in, n, dtt.as<float>(), n, x, l.in, false, l.la->g(), l.in));
      if (need_dx) PARLEY_RETURN_IF_ERROR(gemm(n, l.in, r, dtp, r, l.la->data(), l.in, false, dx, l.in, nullptr, 1.0f, 1.0f));
    }
    return Status::ok();
  }

  Status norm(const float* x, const float* residual, float* residual_out, const Weight& gamma, const Weight& beta,
              float* y) {
    kernels::NormArgs ln;
    ln.rows = n;
    ln.cols = c.hidden;
    ln.x = x;
    ln.ldx = c.hidden;
    ln.residual = residual;
    ln.ld_residual = c.hidden;
    ln.residual_out = residual_out;
    ln.ld_residual_out = c.hidden;
    ln.gamma = gamma.data();
    ln.beta = beta.data();
    ln.eps = c.layer_norm_eps;
    ln.y = y;
    ln.ldy = c.hidden;
    return be().norm(ln, ctx());
  }

  Status norm_backward(const float* h, const float* dy, const Weight& gamma, const Weight& beta, float* dx,
                       float dx_beta) {
    kernels::NormBackwardArgs a;
    a.rows = n;
    a.cols = c.hidden;
    a.h = h;
    a.ldh = c.hidden;
    a.dy = dy;
    a.lddy = c.hidden;
    a.gamma = gamma.data();
    a.eps = c.layer_norm_eps;
    a.dx = dx;
    a.lddx = c.hidden;
    a.dx_beta = dx_beta;
    a.dgamma = gamma.trainable ? gamma.p->g() : nullptr;
    a.dbeta = beta.trainable ? beta.p->g() : nullptr;
    return be().norm_backward(a, ctx());
  }

  Status attention(const float* qkv, float* out) {
    const std::int64_t h = c.hidden, d = c.head_dim();
    std::int64_t row = 0;
    for (std::size_t b = 0; b < lengths.size();) {
      const std::int64_t len = lengths[b];
      std::size_t e = b + 1;
      while (e < lengths.size() && lengths[e] == len) ++e;
      kernels::AttentionPrefillArgs a;
      a.batch = static_cast<std::int64_t>(e - b);
      a.q_len = a.kv_len = len;
      a.num_heads = a.num_kv_heads = c.heads;
      a.head_dim = d;
      a.q = qkv + row * 3 * h;
      a.k = qkv + row * 3 * h + h;
      a.v = qkv + row * 3 * h + 2 * h;
      a.q_batch_stride = a.k_batch_stride = a.v_batch_stride = len * 3 * h;
      a.q_token_stride = a.k_token_stride = a.v_token_stride = 3 * h;
      a.q_head_stride = a.k_head_stride = a.v_head_stride = d;
      a.out = out + row * h;
      a.out_batch_stride = len * h;
      a.out_token_stride = h;
      a.out_head_stride = d;
      if (rel_bias.p) {
        a.rel_bias = rel_bias.data();
        a.rel_bias_radius = c.relative_max_distance;
      }
      PARLEY_RETURN_IF_ERROR(be().attention_prefill(a, ctx()));
      row += a.batch * len;
      b = e;
    }
    return Status::ok();
  }

  Status gather(const float* table, std::int64_t rows, const std::int32_t* which, float* dst) {
    kernels::EmbeddingArgs e;
    e.num_tokens = n;
    e.dim = c.hidden;
    e.vocab = rows;
    e.ids = which;
    e.table = table;
    e.table_type = engine::DType::kF32;
    e.out = dst;
    e.ld_out = c.hidden;
    return be().embedding(e, ctx());
  }

  Status scatter(const std::int32_t* which, const float* dy, Weight& w, std::int64_t rows) {
    kernels::EmbeddingBackwardArgs e;
    e.num_tokens = n;
    e.dim = c.hidden;
    e.rows = rows;
    e.ids = which;
    e.dy = dy;
    e.lddy = c.hidden;
    e.grad = w.p->g();
    e.ld_grad = c.hidden;
    e.zero_grad = true;
    return be().embedding_backward(e, ctx());
  }
};

TrainableEncoder::TrainableEncoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TrainableEncoder::~TrainableEncoder() = default;

Result<std::unique_ptr<TrainableEncoder>> TrainableEncoder::create(const EncoderWeights& w, const EncoderConfig& c,
                                                                   const models::ModelDevice& dev,
                                                                   const TrainableOptions& options) {
  PARLEY_RETURN_IF_ERROR(c.validate());
  const kernels::Backend& be = dev.backend();
  if (be.norm_backward == nullptr || be.activation_backward == nullptr || be.attention_backward == nullptr ||
      be.embedding_backward == nullptr || be.adamw == nullptr || be.cross_entropy == nullptr ||
      be.strided_copy == nullptr || !dev.supports({kernels::Op::kAttentionBackward, {}, {}}) ||
      !dev.supports({kernels::Op::kStridedCopy, {}, {}})) {
    return unimplemented("fine-tuning needs the training ops (kernels/ops/train.h), which the " +
                         std::string(be.name) + " backend does not offer; train on the CPU");
  }
  if (w.layers.size() != static_cast<std::size_t>(c.layers)) return invalid_argument("weights do not match the config's layer count");
  auto impl = std::make_unique<Impl>();
  Impl& m = *impl;
  m.dev = dev;
  m.c = c;
  m.opt = options;
  if (options.lora_rank <= 0 && options.lora_layers > 0) return invalid_argument("lora_rank must be > 0");
  m.lora_scale = options.lora_rank > 0 ? options.lora_alpha / static_cast<float>(options.lora_rank) : 0.0f;
  const int layers = static_cast<int>(c.layers);
  const int full = options.full_layers < 0 ? layers : std::min(options.full_layers, layers);
  const int lora = std::clamp(options.lora_layers, 0, layers - full);
  m.first_trained = layers - full - lora;
  if (!(options.dropout >= 0.0f && options.dropout < 1.0f)) return invalid_argument("dropout must be in [0, 1)");
  m.embeddings_train = full == layers && (options.train_embeddings || options.train_word_embeddings);
  if (full + lora == 0 && !m.embeddings_train) return invalid_argument("nothing to train (full_layers and lora_layers are 0)");
  const std::int64_t h = c.hidden;
  auto emb = [&](std::string name, const std::vector<float>& host, bool train) { return make_weight(dev, std::move(name), host, train, false); };
  const bool te = m.embeddings_train && options.train_embeddings;
  PARLEY_ASSIGN_OR_RETURN(m.word, emb("embeddings.word", w.word_table(), m.embeddings_train && options.train_word_embeddings));
  PARLEY_ASSIGN_OR_RETURN(m.position, emb("embeddings.position", w.position, te));
  std::vector<float> type = w.token_type;
  if (type.empty()) type.assign(static_cast<std::size_t>(h), 0.0f);  // no token types: one zero row
  PARLEY_ASSIGN_OR_RETURN(m.type, emb("embeddings.token_type", type, te && !w.token_type.empty()));
  PARLEY_ASSIGN_OR_RETURN(m.eg, emb("embeddings.norm.gamma", w.embed_norm.gamma, te));
  PARLEY_ASSIGN_OR_RETURN(m.eb, emb("embeddings.norm.beta", w.embed_norm.beta, te));
  if (c.relative_buckets > 0) {
    if (w.relative_bias.size() != static_cast<std::size_t>(c.heads * (2 * c.relative_max_distance + 1))) {
      return invalid_argument("weights: the relative attention bias does not match the config");
    }
    PARLEY_ASSIGN_OR_RETURN(m.rel_bias, emb("encoder.relative_bias", w.relative_bias, false));
  }
  std::mt19937 rng(options.seed);
  m.layers.resize(w.layers.size());
  for (int li = 0; li < layers; ++li) {
    const LayerWeights& lw = w.layers[static_cast<std::size_t>(li)];
    Layer& L = m.layers[static_cast<std::size_t>(li)];
    L.mode = li >= layers - full ? Mode::kFull : li >= m.first_trained ? Mode::kLora : Mode::kFrozen;
    const bool train = L.mode == Mode::kFull;
    const std::string base = "layer" + std::to_string(li) + ".";
    auto lin = [&](Lin& l, const Linear& src, const char* name) -> Status {
      if (src.int8 || src.bf16 || src.w.size() != static_cast<std::size_t>(src.out * src.in)) {
        return invalid_argument("layer " + std::to_string(li) + " " + name +
                                ": fine-tuning needs FP32 weights (load the encoder with Precision::kFp32)");
      }
      l.out = src.out;
      l.in = src.in;
      std::vector<float> wv = src.w;
      std::vector<std::uint8_t> mask;
      if (train && options.sparse24) {
        if (src.in % 4 != 0) return invalid_argument(std::string(name) + ": 2:4 sparsity needs in % 4 == 0");
        mask = mask_2to4(wv.data(), src.out, src.in);
        for (std::size_t i = 0; i < wv.size(); ++i) {
          if (mask[i] == 0) wv[i] = 0.0f;
        }
      }
      PARLEY_ASSIGN_OR_RETURN(l.w, make_weight(dev, base + name + ".weight", wv, train, true));
      PARLEY_ASSIGN_OR_RETURN(l.b, make_weight(dev, base + name + ".bias", src.bias, train, false));
      if (!mask.empty()) {
        PARLEY_ASSIGN_OR_RETURN(l.w.p->mask, models::DeviceBuffer::upload(dev, mask.data(), mask.size()));
      }
      if (L.mode == Mode::kLora) {
        const std::int64_t r = options.lora_rank;
        std::vector<float> a(static_cast<std::size_t>(r * src.in));
        const float bound = 1.0f / std::sqrt(static_cast<float>(src.in));
        std::uniform_real_distribution<float> u(-bound, bound);
        for (float& v : a) v = u(rng);
        PARLEY_ASSIGN_OR_RETURN(l.la, make_param(dev, base + name + ".lora_a", r * src.in, a.data(), false));
        PARLEY_ASSIGN_OR_RETURN(l.lb, make_param(dev, base + name + ".lora_b", src.out * r, nullptr, false));
      }
      return Status::ok();
    };
    PARLEY_RETURN_IF_ERROR(lin(L.qkv, lw.qkv, "qkv"));
    PARLEY_RETURN_IF_ERROR(lin(L.ao, lw.attn_out, "attn_out"));
    PARLEY_RETURN_IF_ERROR(lin(L.fi, lw.ffn_in, "ffn_in"));
    PARLEY_RETURN_IF_ERROR(lin(L.fo, lw.ffn_out, "ffn_out"));
    PARLEY_ASSIGN_OR_RETURN(L.g1, make_weight(dev, base + "attn_norm.gamma", lw.attn_norm.gamma, train, false));
    PARLEY_ASSIGN_OR_RETURN(L.b1, make_weight(dev, base + "attn_norm.beta", lw.attn_norm.beta, train, false));
    PARLEY_ASSIGN_OR_RETURN(L.g2, make_weight(dev, base + "ffn_norm.gamma", lw.ffn_norm.gamma, train, false));
    PARLEY_ASSIGN_OR_RETURN(L.b2, make_weight(dev, base + "ffn_norm.beta", lw.ffn_norm.beta, train, false));
  }
  std::unique_ptr<TrainableEncoder> t(new TrainableEncoder(std::move(impl)));
  t->reseed_dropout(options.seed);
  t->config_ = c;
  t->dev_ = dev;
  return t;
}

Status TrainableEncoder::forward(const TokenBatch& batch) {
  Impl& m = *impl_;
  const EncoderConfig& c = m.c;
  const std::int64_t n = batch.total_tokens(), h = c.hidden, inter = c.intermediate;
  if (batch.size() == 0 || n == 0) return invalid_argument("empty batch");
  if (batch.type_ids.size() != batch.ids.size()) return invalid_argument("type_ids and ids differ in size");
  m.n = n;
  m.sequences = static_cast<std::int64_t>(batch.size());
  m.lengths = batch.lengths;
  m.max_len = 0;
  const std::int64_t max_pos = c.max_positions - c.position_offset;
  for (std::int32_t len : batch.lengths) {
    if (len <= 0 || len > max_pos) return invalid_argument("sequence length " + std::to_string(len) + " outside [1, " + std::to_string(max_pos) + "]");
    m.max_len = std::max<std::int64_t>(m.max_len, len);
  }
  for (std::size_t i = 0; i < batch.ids.size(); ++i) {
    if (batch.ids[i] < 0 || batch.ids[i] >= c.vocab_size) return invalid_argument("token id " + std::to_string(batch.ids[i]) + " outside the vocabulary");
    const std::int64_t types = std::max<std::int64_t>(1, c.type_vocab);
    if (batch.type_ids[i] < 0 || batch.type_ids[i] >= types) return invalid_argument("token type " + std::to_string(batch.type_ids[i]) + " out of range");
  }
  // One upload: positions | offsets | ids | types.
  const auto un = static_cast<std::size_t>(n);
  m.meta_host.assign(un + batch.size() + 1 + 2 * un, 0);
  offsets_host_.assign(batch.size() + 1, 0);
  {
    std::size_t row = 0;
    for (std::size_t b = 0; b < batch.size(); ++b) {
      for (std::int32_t t = 0; t < batch.lengths[b]; ++t) m.meta_host[row++] = static_cast<std::int32_t>(t + c.position_offset);
      offsets_host_[b + 1] = offsets_host_[b] + batch.lengths[b];
    }
    std::copy(offsets_host_.begin(), offsets_host_.end(), m.meta_host.begin() + static_cast<std::ptrdiff_t>(un));
    std::copy(batch.ids.begin(), batch.ids.end(), m.meta_host.begin() + static_cast<std::ptrdiff_t>(un + batch.size() + 1));
    std::copy(batch.type_ids.begin(), batch.type_ids.end(), m.meta_host.begin() + static_cast<std::ptrdiff_t>(2 * un + batch.size() + 1));
  }
  PARLEY_RETURN_IF_ERROR(m.meta.reserve(m.dev, m.meta_host.size() * sizeof(std::int32_t)));
  PARLEY_RETURN_IF_ERROR(m.dev.upload(m.meta.data(), m.meta_host.data(), m.meta_host.size() * sizeof(std::int32_t)));
  const std::int64_t max_out = std::max(3 * h, inter);
  for (models::Scratch* s : {&m.e1, &m.e2, &m.e_pre, &m.out, &m.grad_out, &m.g, &m.d1, &m.dm}) {
    PARLEY_RETURN_IF_ERROR(s->reserve_elems<float>(m.dev, n * h));
  }
  PARLEY_RETURN_IF_ERROR(m.df.reserve_elems<float>(m.dev, n * inter));
  PARLEY_RETURN_IF_ERROR(m.dqkv.reserve_elems<float>(m.dev, n * 3 * h));
  PARLEY_RETURN_IF_ERROR(m.tr.reserve_elems<float>(m.dev, n * max_out));
  PARLEY_RETURN_IF_ERROR(m.dt.reserve_elems<float>(m.dev, n * std::max(1, m.opt.lora_rank)));
  PARLEY_RETURN_IF_ERROR(m.dtt.reserve_elems<float>(m.dev, n * std::max(1, m.opt.lora_rank)));
  if (m.ones_size < n) {
    std::vector<float> ones(un, 1.0f);
    PARLEY_RETURN_IF_ERROR(m.ones.reserve_elems<float>(m.dev, n));
    PARLEY_RETURN_IF_ERROR(m.dev.upload(m.ones.data(), ones.data(), un * sizeof(float)));
    m.ones_size = n;
  }
  for (Layer& L : m.layers) {
    for (models::Scratch* s : {&L.x_in, &L.ctx, &L.h1pre, &L.h1, &L.h2pre}) PARLEY_RETURN_IF_ERROR(s->reserve_elems<float>(m.dev, n * h));
    PARLEY_RETURN_IF_ERROR(L.qkv_a.reserve_elems<float>(m.dev, n * 3 * h));
    PARLEY_RETURN_IF_ERROR(L.u.reserve_elems<float>(m.dev, n * inter));
    PARLEY_RETURN_IF_ERROR(L.f.reserve_elems<float>(m.dev, n * inter));
  }
  // Embeddings: e_pre = word + position (+ type) is the LayerNorm's input, kept for backward.
  float* x0 = m.layers.empty() ? m.out.as<float>() : m.layers[0].x_in.as<float>();
  PARLEY_RETURN_IF_ERROR(m.gather(m.word.data(), c.vocab_size, m.ids(), m.e1.as<float>()));
  PARLEY_RETURN_IF_ERROR(m.gather(m.position.data(), c.max_positions, m.positions(), m.e2.as<float>()));
  PARLEY_RETURN_IF_ERROR(m.norm(m.e1.as<float>(), m.e2.as<float>(), m.e1.as<float>(), m.eg, m.eb, x0));
  PARLEY_RETURN_IF_ERROR(m.gather(m.type.data(), std::max<std::int64_t>(1, c.type_vocab), m.types(), m.e2.as<float>()));
  PARLEY_RETURN_IF_ERROR(m.norm(m.e1.as<float>(), m.e2.as<float>(), m.e_pre.as<float>(), m.eg, m.eb, x0));
  for (std::size_t li = 0; li < m.layers.size(); ++li) {
    Layer& L = m.layers[li];
    float* x = L.x_in.as<float>();
    float* y = li + 1 < m.layers.size() ? m.layers[li + 1].x_in.as<float>() : m.out.as<float>();
    PARLEY_RETURN_IF_ERROR(m.linear_forward(L.qkv, x, L.qkv_a.as<float>()));
    PARLEY_RETURN_IF_ERROR(m.attention(L.qkv_a.as<float>(), L.ctx.as<float>()));
    PARLEY_RETURN_IF_ERROR(m.linear_forward(L.ao, L.ctx.as<float>(), m.e1.as<float>()));
    if (m.drops(li)) {
      PARLEY_RETURN_IF_ERROR(m.make_mask(L.drop_a, n * h));
      PARLEY_RETURN_IF_ERROR(m.apply_mask(m.e1.as<float>(), L.drop_a, m.e1.as<float>(), n * h));
    }
    PARLEY_RETURN_IF_ERROR(m.norm(m.e1.as<float>(), x, L.h1pre.as<float>(), L.g1, L.b1, L.h1.as<float>()));
    PARLEY_RETURN_IF_ERROR(m.linear_forward(L.fi, L.h1.as<float>(), L.u.as<float>()));
    kernels::ActivationArgs act;
    act.activation = c.activation;
    act.rows = n;
    act.cols = inter;
    act.x = L.u.as<float>();
    act.ldx = inter;
    act.y = L.f.as<float>();
    act.ldy = inter;
    PARLEY_RETURN_IF_ERROR(m.be().activation(act, m.ctx()));
    PARLEY_RETURN_IF_ERROR(m.linear_forward(L.fo, L.f.as<float>(), m.e1.as<float>()));
    if (m.drops(li)) {
      PARLEY_RETURN_IF_ERROR(m.make_mask(L.drop_f, n * h));
      PARLEY_RETURN_IF_ERROR(m.apply_mask(m.e1.as<float>(), L.drop_f, m.e1.as<float>(), n * h));
    }
    PARLEY_RETURN_IF_ERROR(m.norm(m.e1.as<float>(), L.h1.as<float>(), L.h2pre.as<float>(), L.g2, L.b2, y));
  }
  return Status::ok();
}

void TrainableEncoder::reseed_dropout(std::uint32_t seed) {
  impl_->rng = 0x9e3779b97f4a7c15ull ^ ((static_cast<std::uint64_t>(seed) << 1) | 1);  // never 0
}

const float* TrainableEncoder::hidden() const { return impl_->out.as<const float>(); }
float* TrainableEncoder::hidden_grad() { return impl_->grad_out.as<float>(); }

Status TrainableEncoder::backward() {
  Impl& m = *impl_;
  const EncoderConfig& c = m.c;
  const std::int64_t n = m.n, h = c.hidden, inter = c.intermediate;
  if (n == 0) return failed_precondition("backward() before forward()");
  float* g = m.g.as<float>();
  float* d1 = m.d1.as<float>();
  float* df = m.df.as<float>();
  float* dqkv = m.dqkv.as<float>();
  float* dm = m.dm.as<float>();
  // g = dLoss/d(output of the current layer).
  {
    kernels::StridedCopyArgs s;
    s.rank = 1;
    s.dims[0] = n * h;
    s.src = m.grad_out.data();
    s.src_strides[0] = 1;
    s.dst = g;
    s.dst_strides[0] = 1;
    PARLEY_RETURN_IF_ERROR(m.be().strided_copy(s, m.ctx()));
  }
  for (int li = static_cast<int>(m.layers.size()) - 1; li >= m.first_trained; --li) {
    Layer& L = m.layers[static_cast<std::size_t>(li)];
    const bool need_input_grad = li > m.first_trained || m.embeddings_train;
    const bool drop = m.drops(static_cast<std::size_t>(li));
    PARLEY_RETURN_IF_ERROR(m.norm_backward(L.h2pre.as<float>(), g, L.g2, L.b2, d1, 0.0f));
    // d1 is also the residual's gradient (into h1): the mask applies to a copy only.
    if (drop) PARLEY_RETURN_IF_ERROR(m.apply_mask(d1, L.drop_f, dm, n * h));
    PARLEY_RETURN_IF_ERROR(m.linear_backward(L.fo, L.f.as<float>(), drop ? dm : d1, df, 0.0f, true));
    kernels::ActivationBackwardArgs ab;
    ab.activation = c.activation;
    ab.rows = n;
    ab.cols = inter;
    ab.x = L.u.as<float>();
    ab.ldx = inter;
    ab.dy = df;
    ab.lddy = inter;
    ab.dx = df;
    ab.lddx = inter;
    PARLEY_RETURN_IF_ERROR(m.be().activation_backward(ab, m.ctx()));
    PARLEY_RETURN_IF_ERROR(m.linear_backward(L.fi, L.h1.as<float>(), df, d1, 1.0f, true));
    PARLEY_RETURN_IF_ERROR(m.norm_backward(L.h1pre.as<float>(), d1, L.g1, L.b1, g, 0.0f));
    if (drop) PARLEY_RETURN_IF_ERROR(m.apply_mask(g, L.drop_a, dm, n * h));
    PARLEY_RETURN_IF_ERROR(m.linear_backward(L.ao, L.ctx.as<float>(), drop ? dm : g, d1, 0.0f, true));
    kernels::AttentionBackwardArgs at;
    at.sequences = m.sequences;
    at.num_heads = c.heads;
    at.head_dim = c.head_dim();
    at.max_len = m.max_len;
    if (m.rel_bias.p) {
      at.rel_bias = m.rel_bias.data();
      at.rel_bias_radius = c.relative_max_distance;
    }
    at.offsets = m.offsets_dev();
    at.qkv = L.qkv_a.as<float>();
    at.ld_qkv = 3 * h;
    at.dout = d1;
    at.ld_dout = h;
    at.dqkv = dqkv;
    at.ld_dqkv = 3 * h;
    PARLEY_RETURN_IF_ERROR(m.be().attention_backward(at, m.ctx()));
    PARLEY_RETURN_IF_ERROR(m.linear_backward(L.qkv, L.x_in.as<float>(), dqkv, g, 1.0f, need_input_grad));
  }
  if (m.embeddings_train) {
    PARLEY_RETURN_IF_ERROR(m.norm_backward(m.e_pre.as<float>(), g, m.eg, m.eb, d1, 0.0f));
    if (m.position.trainable) PARLEY_RETURN_IF_ERROR(m.scatter(m.positions(), d1, m.position, c.max_positions));
    if (m.type.trainable) PARLEY_RETURN_IF_ERROR(m.scatter(m.types(), d1, m.type, std::max<std::int64_t>(1, c.type_vocab)));
    if (m.word.trainable) PARLEY_RETURN_IF_ERROR(m.scatter(m.ids(), d1, m.word, c.vocab_size));
  }
  return Status::ok();
}

std::vector<Param*> TrainableEncoder::params() const {
  const Impl& m = *impl_;
  std::vector<Param*> out;
  auto add = [&](const Weight& w) {
    if (w.trainable) out.push_back(w.p.get());
  };
  for (const Weight* w : {&m.word, &m.position, &m.type, &m.eg, &m.eb}) add(*w);
  for (const Layer& L : m.layers) {
    for (const Lin* l : {&L.qkv, &L.ao, &L.fi, &L.fo}) {
      add(l->w);
      add(l->b);
      if (l->la) {
        out.push_back(l->la.get());
        out.push_back(l->lb.get());
      }
    }
    for (const Weight* w : {&L.g1, &L.b1, &L.g2, &L.b2}) add(*w);
  }
  return out;
}

std::int64_t TrainableEncoder::trainable_values() const {
  std::int64_t n = 0;
  for (const Param* p : params()) n += p->size;
  return n;
}

Result<EncoderWeights> TrainableEncoder::export_weights() const {
  const Impl& m = *impl_;
  EncoderWeights w;
  PARLEY_ASSIGN_OR_RETURN(w.word, download(m.dev, *m.word.p));
  PARLEY_ASSIGN_OR_RETURN(w.position, download(m.dev, *m.position.p));
  if (m.c.type_vocab > 0) {
    PARLEY_ASSIGN_OR_RETURN(w.token_type, download(m.dev, *m.type.p));
  }
  PARLEY_ASSIGN_OR_RETURN(w.embed_norm.gamma, download(m.dev, *m.eg.p));
  PARLEY_ASSIGN_OR_RETURN(w.embed_norm.beta, download(m.dev, *m.eb.p));
  if (m.rel_bias.p) {
    PARLEY_ASSIGN_OR_RETURN(w.relative_bias, download(m.dev, *m.rel_bias.p));
  }
  for (const Layer& L : m.layers) {
    LayerWeights lw;
    auto lin = [&](const Lin& l, Linear& dst) -> Status {
      dst.out = l.out;
      dst.in = l.in;
      PARLEY_ASSIGN_OR_RETURN(dst.w, download(m.dev, *l.w.p));
      PARLEY_ASSIGN_OR_RETURN(dst.bias, download(m.dev, *l.b.p));
      if (l.la) {
        PARLEY_ASSIGN_OR_RETURN(std::vector<float> a, download(m.dev, *l.la));
        PARLEY_ASSIGN_OR_RETURN(std::vector<float> b, download(m.dev, *l.lb));
        const std::int64_t r = m.opt.lora_rank;
        for (std::int64_t o = 0; o < l.out; ++o) {
          for (std::int64_t k = 0; k < r; ++k) {
            const float s = m.lora_scale * b[static_cast<std::size_t>(o * r + k)];
            if (s == 0.0f) continue;
            const float* ar = a.data() + k * l.in;
            float* wr = dst.w.data() + o * l.in;
            for (std::int64_t i = 0; i < l.in; ++i) wr[i] += s * ar[i];
          }
        }
      }
      return Status::ok();
    };
    PARLEY_RETURN_IF_ERROR(lin(L.qkv, lw.qkv));
    PARLEY_RETURN_IF_ERROR(lin(L.ao, lw.attn_out));
    PARLEY_RETURN_IF_ERROR(lin(L.fi, lw.ffn_in));
    PARLEY_RETURN_IF_ERROR(lin(L.fo, lw.ffn_out));
    PARLEY_ASSIGN_OR_RETURN(lw.attn_norm.gamma, download(m.dev, *L.g1.p));
    PARLEY_ASSIGN_OR_RETURN(lw.attn_norm.beta, download(m.dev, *L.b1.p));
    PARLEY_ASSIGN_OR_RETURN(lw.ffn_norm.gamma, download(m.dev, *L.g2.p));
    PARLEY_ASSIGN_OR_RETURN(lw.ffn_norm.beta, download(m.dev, *L.b2.p));
    w.layers.push_back(std::move(lw));
  }
  return w;
}

}  // namespace parley::encoder::train
