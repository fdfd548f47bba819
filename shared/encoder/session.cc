// The encoder forward pass (post-norm BERT block) over packed sequences, and pooling.
// Why: packing concatenates the sequences, so every linear layer runs once over exactly the real
// tokens (no padding FLOPs); only attention is per sequence. Depends on session.h, kernels ops.
#include "shared/encoder/session.h"

#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace parley::encoder {

namespace {

// Round half to even for |v| < 2^22 without a libm call, so the quantize loops vectorize.
inline float round_even(float v) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  return (v + kMagic) - kMagic;
}

inline float erf_poly(float x) {
  // Rational approximation on [-4, 4] (|error| < 2e-7 against std::erf; erf(±4) = ±1 in f32),
  // the form Eigen uses: odd numerator / even denominator polynomial in x, no libm calls.
  x = std::clamp(x, -4.0f, 4.0f);
  const float x2 = x * x;
  float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = x2 * p + -2.10102402082508e-06f;
  p = x2 * p + -5.69250639462346e-05f;
  p = x2 * p + -7.34990630326855e-04f;
  p = x2 * p + -2.95459980854025e-03f;
  p = x2 * p + -1.60960333262415e-02f;
  p *= x;
  float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
  q = x2 * q + -1.68282697438203e-03f;
  q = x2 * q + -7.37332916720468e-03f;
  q = x2 * q + -1.42647390514189e-02f;
  return p / q;
}

}  // namespace

float fast_erf(float x) { return erf_poly(x); }

std::vector<float> EncoderOutput::padded(std::int64_t* max_len) const {
  std::int64_t t_max = 0;
  for (std::int32_t l : lengths) t_max = std::max<std::int64_t>(t_max, l);
  if (max_len != nullptr) *max_len = t_max;
  std::vector<float> p(static_cast<std::size_t>(static_cast<std::int64_t>(lengths.size()) * t_max * hidden_size), 0.0f);
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    std::memcpy(p.data() + static_cast<std::int64_t>(b) * t_max * hidden_size, hidden.data() + offsets[b] * hidden_size,
                sizeof(float) * static_cast<std::size_t>(lengths[b] * hidden_size));
  }
  return p;
}

Embeddings pool(const EncoderOutput& out, Pooling pooling, bool normalize) {
  Embeddings e;
  e.dim = static_cast<int>(out.hidden_size);
  const std::size_t h = static_cast<std::size_t>(out.hidden_size);
  e.data.assign(out.size() * h, 0.0f);
  for (std::size_t b = 0; b < out.size(); ++b) {
    float* dst = e.data.data() + b * h;
    const std::int64_t len = out.lengths[b];
    const float* src = out.hidden.data() + out.offsets[b] * out.hidden_size;
    switch (pooling) {
      case Pooling::kCls:
        std::memcpy(dst, src, h * sizeof(float));
        break;
      case Pooling::kMean: {
        for (std::int64_t t = 0; t < len; ++t) {
          const float* row = src + t * out.hidden_size;
          for (std::size_t j = 0; j < h; ++j) dst[j] += row[j];
        }
        const float inv = len > 0 ? 1.0f / static_cast<float>(len) : 0.0f;
        for (std::size_t j = 0; j < h; ++j) dst[j] *= inv;
        break;
      }
      case Pooling::kMax: {
        std::fill(dst, dst + h, len > 0 ? -std::numeric_limits<float>::infinity() : 0.0f);
        for (std::int64_t t = 0; t < len; ++t) {
          const float* row = src + t * out.hidden_size;
          for (std::size_t j = 0; j < h; ++j) dst[j] = std::max(dst[j], row[j]);
        }
        break;
      }
    }
    if (normalize) {
      double ss = 0.0;
      for (std::size_t j = 0; j < h; ++j) ss += static_cast<double>(dst[j]) * dst[j];
      // sentence-transformers' Normalize: x / max(||x||, 1e-12).
      const float inv = static_cast<float>(1.0 / std::max(std::sqrt(ss), 1e-12));
      for (std::size_t j = 0; j < h; ++j) dst[j] *= inv;
    }
  }
  return e;
}

EncoderSession::EncoderSession(std::shared_ptr<const EncoderModel> model, SessionOptions options)
    : model_(std::move(model)), backend_(&kernels::BackendRegistry::instance().cpu()) {
  ctx_.threads = options.threads;
  ctx_.cpu_isa = options.cpu_isa;
  options_ = std::move(options);
}

Status EncoderSession::check(const TokenBatch& batch) const {
  const EncoderConfig& c = model_->config();
  if (batch.type_ids.size() != batch.ids.size()) {
    return invalid_argument("encoder: type_ids has " + std::to_string(batch.type_ids.size()) + " entries for " +
                            std::to_string(batch.ids.size()) + " ids");
  }
  std::int64_t total = 0;
  for (std::size_t b = 0; b < batch.lengths.size(); ++b) {
    const std::int64_t len = batch.lengths[b];
    if (len <= 0) return invalid_argument("encoder: sequence " + std::to_string(b) + " is empty");
    if (len > model_->max_length()) {
      return invalid_argument("encoder: sequence " + std::to_string(b) + " has " + std::to_string(len) +
                              " tokens, more than the model's maximum " + std::to_string(model_->max_length()));
    }
    total += len;
  }
  if (total != batch.total_tokens()) {
    return invalid_argument("encoder: lengths add up to " + std::to_string(total) + " tokens, ids has " +
                            std::to_string(batch.total_tokens()));
  }
  const std::int64_t types = std::max<std::int64_t>(1, c.type_vocab);
  std::size_t seq = 0;
  std::int64_t in_seq = 0;
  for (std::size_t i = 0; i < batch.ids.size(); ++i, ++in_seq) {
    while (in_seq >= batch.lengths[seq]) {
      ++seq;
      in_seq = 0;
    }
    if (batch.ids[i] < 0 || batch.ids[i] >= c.vocab_size) {
      return invalid_argument("encoder: sequence " + std::to_string(seq) + " token " + std::to_string(in_seq) +
                              " has id " + std::to_string(batch.ids[i]) + " outside the vocabulary [0, " +
                              std::to_string(c.vocab_size) + ")");
    }
    if (batch.type_ids[i] < 0 || batch.type_ids[i] >= types) {
      return invalid_argument("encoder: sequence " + std::to_string(seq) + " token " + std::to_string(in_seq) +
                              " has token type " + std::to_string(batch.type_ids[i]) + " outside [0, " +
                              std::to_string(types) + ")");
    }
  }
  return Status::ok();
}

Status EncoderSession::embed_tokens(const TokenBatch& batch, float* x) {
  const EncoderConfig& c = model_->config();
  const EncoderWeights& w = model_->weights();
  const std::int64_t n = batch.total_tokens(), h = c.hidden;
  kernels::EmbeddingArgs e;
  e.num_tokens = n;
  e.dim = h;
  e.vocab = c.vocab_size;
  e.ids = batch.ids.data();
  e.table = w.word.data();
  e.table_type = engine::DType::kF32;
  e.out = x;
  e.ld_out = h;
  PARLEY_RETURN_IF_ERROR(backend_->embedding(e, ctx_));
  // Position and token-type rows are added here (small, memory-bound, once per call).
  std::int64_t row = 0;
  for (std::int32_t len : batch.lengths) {
    for (std::int64_t t = 0; t < len; ++t, ++row) {
      float* dst = x + row * h;
      const float* pos = w.position.data() + (t + c.position_offset) * h;
      for (std::int64_t j = 0; j < h; ++j) dst[j] += pos[j];
      if (!w.token_type.empty()) {
        const float* tt = w.token_type.data() + static_cast<std::int64_t>(batch.type_ids[static_cast<std::size_t>(row)]) * h;
        for (std::int64_t j = 0; j < h; ++j) dst[j] += tt[j];
      }
    }
  }
  kernels::NormArgs ln;
  ln.rows = n;
  ln.cols = h;
  ln.x = x;
  ln.ldx = h;
  ln.gamma = w.embed_norm.gamma.data();
  ln.beta = w.embed_norm.beta.data();
  ln.eps = c.layer_norm_eps;
  ln.y = x;
  ln.ldy = h;
  return backend_->norm(ln, ctx_);
}

Status EncoderSession::linear(const Linear& l, const float* x, std::int64_t rows, float* y, kernels::Activation act) {
  if (!l.int8) {
    kernels::GemmArgs g;
    g.m = rows;
    g.n = l.out;
    g.k = l.in;
    g.a = x;
    g.lda = l.in;
    g.b = l.w.data();
    g.ldb = l.in;
    g.c = y;
    g.ldc = l.out;
    g.bias = l.bias.data();
    g.activation = act;
    return backend_->gemm(g, ctx_);
  }
  // W8A8: quantize the activations per token, then the int8 GEMM dequantizes with both scales.
  const std::size_t need = static_cast<std::size_t>(rows * l.in);
  if (xq_.size() < need) xq_.resize(need);
  if (xs_.size() < static_cast<std::size_t>(rows)) xs_.resize(static_cast<std::size_t>(rows));
  if (!l.in_scale.empty()) {
    quantize_scaled(x, rows, l.in, l.in_scale.data());
  } else {
    kernels::QuantizeArgs q;
    q.rows = rows;
    q.cols = l.in;
    q.x = x;
    q.ldx = l.in;
    q.y = xq_.data();
    q.ldy = l.in;
    q.scales = xs_.data();
    q.granularity = kernels::QuantGranularity::kPerRow;
    PARLEY_RETURN_IF_ERROR(backend_->quantize(q, ctx_));
  }
  kernels::GemmInt8Args g;
  g.m = rows;
  g.n = l.out;
  g.k = l.in;
  g.a = xq_.data();
  g.lda = l.in;
  g.b = l.wq.data();
  g.ldb = l.in;
  g.a_scales = xs_.data();
  g.b_scales = l.w_scales.data();
  g.bias = l.bias.data();
  g.activation = l.two_pass ? kernels::Activation::kNone : act;
  g.c = y;
  g.ldc = l.out;
  PARLEY_RETURN_IF_ERROR(backend_->gemm_int8(g, ctx_));
  if (!l.two_pass) return Status::ok();
  // Second pass over the quantization residual, added to y, then the activation.
  quantize_residual(x, rows, l.in, l.in_scale.empty() ? nullptr : l.in_scale.data());
  if (y2_.size() < static_cast<std::size_t>(rows * l.out)) y2_.resize(static_cast<std::size_t>(rows * l.out));
  g.a = rq_.data();
  g.a_scales = rs_.data();
  g.bias = nullptr;
  g.c = y2_.data();
  PARLEY_RETURN_IF_ERROR(backend_->gemm_int8(g, ctx_));
  // y = act(y + y2), row-parallel; GELU(erf) through a polynomial erf the compiler vectorizes
  // (the generic activation op calls libm's erfcf per element, which costs more than the GEMM).
  kernels::ThreadPool& pool = options_.threads != nullptr ? *options_.threads : kernels::ThreadPool::global();
  const std::int64_t cols = l.out;
  const float* y2 = y2_.data();
  pool.parallel_for(rows, std::max<std::int64_t>(1, 8192 / cols), [&](std::int64_t r0, std::int64_t r1) {
    float* yr = y + r0 * cols;
    const float* y2r = y2 + r0 * cols;
    const std::int64_t n = (r1 - r0) * cols;
    if (act == kernels::Activation::kGeluErf) {
      for (std::int64_t i = 0; i < n; ++i) {
        const float v = yr[i] + y2r[i];
        yr[i] = 0.5f * v * (1.0f + erf_poly(v * 0.70710678118654752f));
      }
    } else {
      for (std::int64_t i = 0; i < n; ++i) yr[i] += y2r[i];
      if (act != kernels::Activation::kNone) {
        for (std::int64_t i = 0; i < n; ++i) yr[i] = kernels::activation_ref(act, yr[i]);
      }
    }
  });
  return Status::ok();
}

// rq_/rs_ = per-token int8 of (x*col_scale - xs_*xq_), the residual of the first quantization.
void EncoderSession::quantize_residual(const float* x, std::int64_t rows, std::int64_t cols, const float* col_scale) {
  if (rq_.size() < static_cast<std::size_t>(rows * cols)) rq_.resize(static_cast<std::size_t>(rows * cols));
  if (rs_.size() < static_cast<std::size_t>(rows)) rs_.resize(static_cast<std::size_t>(rows));
  kernels::ThreadPool& pool = options_.threads != nullptr ? *options_.threads : kernels::ThreadPool::global();
  pool.parallel_for(rows, std::max<std::int64_t>(1, 8192 / cols), [&](std::int64_t r0, std::int64_t r1) {
    std::vector<float> res(static_cast<std::size_t>(cols));
    for (std::int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      const std::int8_t* q1 = xq_.data() + r * cols;
      const float s1 = xs_[static_cast<std::size_t>(r)];
      float amax = 0.0f;
      for (std::int64_t j = 0; j < cols; ++j) {
        const float v = (col_scale ? xr[j] * col_scale[j] : xr[j]) - s1 * static_cast<float>(q1[j]);
        res[static_cast<std::size_t>(j)] = v;
        amax = std::max(amax, std::fabs(v));
      }
      const float scale = amax / 127.0f;
      const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
      std::int8_t* q = rq_.data() + r * cols;
      for (std::int64_t j = 0; j < cols; ++j) {
        q[j] = static_cast<std::int8_t>(std::min(127.0f, std::max(-127.0f, round_even(res[static_cast<std::size_t>(j)] * inv))));
      }
      rs_[static_cast<std::size_t>(r)] = scale;
    }
  });
}

// Per-token symmetric int8 of x * col_scale (kernels' rule: scale = absmax/127, round half to
// even, clamp to [-127, 127]) in one pass, so smoothing costs no extra buffer.
void EncoderSession::quantize_scaled(const float* x, std::int64_t rows, std::int64_t cols, const float* col_scale) {
  kernels::ThreadPool& pool = options_.threads != nullptr ? *options_.threads : kernels::ThreadPool::global();
  pool.parallel_for(rows, std::max<std::int64_t>(1, 8192 / cols), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      std::int8_t* q = xq_.data() + r * cols;
      float amax = 0.0f;
      for (std::int64_t j = 0; j < cols; ++j) amax = std::max(amax, std::fabs(xr[j] * col_scale[j]));
      const float scale = amax / 127.0f;
      const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
      for (std::int64_t j = 0; j < cols; ++j) {
        const float v = round_even(xr[j] * col_scale[j] * inv);
        q[j] = static_cast<std::int8_t>(std::min(127.0f, std::max(-127.0f, v)));
      }
      xs_[static_cast<std::size_t>(r)] = scale;
    }
  });
}

Status EncoderSession::attention(const TokenBatch& batch, const float* qkv, float* ctx) {
  const EncoderConfig& c = model_->config();
  const std::int64_t h = c.hidden, d = c.head_dim();
  // Packed sequences: one call per sequence (the kernel's batch stride assumes equal lengths).
  std::int64_t row = 0;
  for (std::int32_t len : batch.lengths) {
    kernels::AttentionPrefillArgs a;
    a.batch = 1;
    a.q_len = len;
    a.kv_len = len;
    a.num_heads = c.heads;
    a.num_kv_heads = c.heads;
    a.head_dim = d;
    a.q = qkv + row * 3 * h;
    a.k = qkv + row * 3 * h + h;
    a.v = qkv + row * 3 * h + 2 * h;
    a.q_batch_stride = a.k_batch_stride = a.v_batch_stride = len * 3 * h;
    a.q_token_stride = a.k_token_stride = a.v_token_stride = 3 * h;
    a.q_head_stride = a.k_head_stride = a.v_head_stride = d;
    a.out = ctx + row * h;
    a.out_batch_stride = len * h;
    a.out_token_stride = h;
    a.out_head_stride = d;
    PARLEY_RETURN_IF_ERROR(backend_->attention_prefill(a, ctx_));
    row += len;
  }
  return Status::ok();
}

Status EncoderSession::encode(const TokenBatch& batch, EncoderOutput& out) {
  PARLEY_RETURN_IF_ERROR(check(batch));
  const EncoderConfig& c = model_->config();
  const std::int64_t n = batch.total_tokens(), h = c.hidden, inter = c.intermediate;
  out.hidden_size = h;
  out.lengths = batch.lengths;
  out.offsets.assign(batch.size() + 1, 0);
  for (std::size_t b = 0; b < batch.size(); ++b) out.offsets[b + 1] = out.offsets[b] + batch.lengths[b];
  out.hidden.resize(static_cast<std::size_t>(n * h));
  if (n == 0) return Status::ok();
  auto grow = [](std::vector<float>& v, std::int64_t size) {
    if (v.size() < static_cast<std::size_t>(size)) v.resize(static_cast<std::size_t>(size));
  };
  grow(qkv_, n * 3 * h);
  grow(ctx_buf_, n * h);
  grow(tmp_, n * h);
  grow(ffn_, n * inter);
  float* x = out.hidden.data();
  PARLEY_RETURN_IF_ERROR(embed_tokens(batch, x));
  const auto& observe = options_.observe_linear_input;
  std::size_t layer = 0;
  for (const LayerWeights& lw : model_->weights().layers) {
    if (observe) observe(layer, kQkvLinear, x, n, h);
    PARLEY_RETURN_IF_ERROR(linear(lw.qkv, x, n, qkv_.data(), kernels::Activation::kNone));
    PARLEY_RETURN_IF_ERROR(attention(batch, qkv_.data(), ctx_buf_.data()));
    if (observe) observe(layer, kAttnOutLinear, ctx_buf_.data(), n, h);
    PARLEY_RETURN_IF_ERROR(linear(lw.attn_out, ctx_buf_.data(), n, tmp_.data(), kernels::Activation::kNone));
    // Post-norm: x = LN(attn + x).
    kernels::NormArgs ln;
    ln.rows = n;
    ln.cols = h;
    ln.x = tmp_.data();
    ln.ldx = h;
    ln.residual = x;
    ln.ld_residual = h;
    ln.gamma = lw.attn_norm.gamma.data();
    ln.beta = lw.attn_norm.beta.data();
    ln.eps = c.layer_norm_eps;
    ln.y = x;
    ln.ldy = h;
    PARLEY_RETURN_IF_ERROR(backend_->norm(ln, ctx_));
    if (observe) observe(layer, kFfnInLinear, x, n, h);
    PARLEY_RETURN_IF_ERROR(linear(lw.ffn_in, x, n, ffn_.data(), c.activation));
    if (observe) observe(layer, kFfnOutLinear, ffn_.data(), n, inter);
    PARLEY_RETURN_IF_ERROR(linear(lw.ffn_out, ffn_.data(), n, tmp_.data(), kernels::Activation::kNone));
    ln.gamma = lw.ffn_norm.gamma.data();
    ln.beta = lw.ffn_norm.beta.data();
    PARLEY_RETURN_IF_ERROR(backend_->norm(ln, ctx_));
    ++layer;
  }
  return Status::ok();
}

Result<Embeddings> EncoderSession::embed(const TokenBatch& batch) {
  EncoderOutput out;
  PARLEY_RETURN_IF_ERROR(encode(batch, out));
  return pool(out, model_->sentence().pooling, model_->sentence().normalize);
}

}  // namespace parley::encoder
