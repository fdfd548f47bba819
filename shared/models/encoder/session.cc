// The encoder forward pass (post-norm BERT block) over packed sequences, and pooling.
// Why: packing concatenates the sequences, so every linear layer runs once over exactly the real
// tokens (no padding FLOPs); only attention is per sequence (per run of equal lengths).
// Depends on session.h, kernels ops (backend table + kernels/cpu/encoder_ops.h).
#include "shared/models/encoder/session.h"

#include "kernels/cpu/encoder_ops.h"
#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>

namespace parley::encoder {

namespace {

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
  if (l.bf16) {
    kernels::Bf16LinearArgs b;
    b.m = rows;
    b.a = x;
    b.lda = l.in;
    b.w = &l.wb;
    b.bias = l.bias.data();
    b.activation = act;
    b.c = y;
    b.ldc = l.out;
    return kernels::cpu::bf16_linear(b, ctx_);
  }
  if (!l.int8) return linear_f32(l, x, rows, y, act);
  const float* col_scale = l.in_scale.empty() ? nullptr : l.in_scale.data();
  auto grow = [](auto& v, std::int64_t size) {
    if (v.size() < static_cast<std::size_t>(size)) v.resize(static_cast<std::size_t>(size));
  };
  kernels::QuantizeRowsArgs q;
  q.cols = l.in;
  q.ldx = l.in;
  q.col_scale = col_scale;
  q.ldq = l.in;
  kernels::GemmInt8Args g;
  g.n = l.out;
  g.k = l.in;
  g.lda = l.in;
  g.b = l.wq.data();
  g.ldb = l.in;
  if (!l.two_pass && !l.weight_two_pass) {
    // W8A8: per-token activations (smoothed in the same pass), the GEMM dequantizes + bias + act.
    grow(xq_, rows * l.in);
    grow(xs_, rows);
    q.rows = rows;
    q.x = x;
    q.q = xq_.data();
    q.scales = xs_.data();
    PARLEY_RETURN_IF_ERROR(kernels::cpu::quantize_rows(q, ctx_));
    g.m = rows;
    g.a = xq_.data();
    g.a_scales = xs_.data();
    g.b_scales = l.w_scales.data();
    g.bias = l.bias.data();
    g.activation = act;
    g.c = y;
    g.ldc = l.out;
    return backend_->gemm_int8(g, ctx_);
  }
  // Two-pass activations and/or weights: per chunk of tokens, the activation passes are stacked
  // as rows and the weight passes as output channels of ONE raw int32 GEMM (weight panels packed
  // once for all), then one epilogue sums the pass products, dequantizes and applies bias + act.
  // Chunks keep the int32 block cache-sized.
  const std::int64_t a_passes = l.two_pass ? 2 : 1, w_passes = l.weight_two_pass ? 2 : 1;
  const std::int64_t n_all = w_passes * l.out;
  const std::int64_t chunk = std::min(rows, kTwoPassChunk);
  grow(xq_, a_passes * chunk * l.in);
  grow(xs_, a_passes * chunk);
  grow(acc_, a_passes * chunk * n_all);
  g.n = n_all;
  g.c_type = kernels::DType::kI32;
  g.ldc = n_all;
  for (std::int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const std::int64_t c = std::min(chunk, rows - r0);
    q.rows = c;
    q.x = x + r0 * l.in;
    q.q = xq_.data();
    q.scales = xs_.data();
    if (l.two_pass) {
      q.q2 = xq_.data() + c * l.in;
      q.ldq2 = l.in;
      q.scales2 = xs_.data() + c;
    }
    PARLEY_RETURN_IF_ERROR(kernels::cpu::quantize_rows(q, ctx_));
    g.m = a_passes * c;
    g.a = xq_.data();
    g.c = acc_.data();
    PARLEY_RETURN_IF_ERROR(backend_->gemm_int8(g, ctx_));
    kernels::DequantizeSumArgs d;
    d.rows = c;
    d.cols = l.out;
    for (std::int64_t p = 0; p < a_passes; ++p) {
      for (std::int64_t w = 0; w < w_passes; ++w) {
        d.terms[d.num_terms++] = {acc_.data() + p * c * n_all + w * l.out, n_all, xs_.data() + p * c,
                                  l.w_scales.data() + w * l.out};
      }
    }
    d.bias = l.bias.data();
    d.activation = act;
    d.y = y + r0 * l.out;
    d.ldy = l.out;
    PARLEY_RETURN_IF_ERROR(kernels::cpu::dequantize_sum(d, ctx_));
  }
  return Status::ok();
}

Status EncoderSession::linear_f32(const Linear& l, const float* x, std::int64_t rows, float* y, kernels::Activation act) {
  kernels::GemmArgs g;
  g.m = rows;
  g.k = l.in;
  g.a = x;
  g.lda = l.in;
  g.ldb = l.in;
  g.ldc = l.out;
  g.activation = act;
  kernels::ThreadPool& pool = options_.threads != nullptr ? *options_.threads : kernels::ThreadPool::global();
  const std::int64_t parts = pool.size();
  if (rows > kF32RowBlock || parts == 1) {
    g.n = l.out;
    g.b = l.w.data();
    g.c = y;
    g.bias = l.bias.data();
    return backend_->gemm(g, ctx_);
  }
  // One row block: the float GEMM splits only the columns, in 256-wide tasks, so N = 384 gives
  // the threads 256 and 128 columns. Equal 32-aligned column slices per thread instead (each
  // slice's GEMM runs inline on its thread: nested parallel_for).
  const std::int64_t slice = (l.out + parts * 32 - 1) / (parts * 32) * 32;
  Status st = Status::ok();
  std::mutex mu;
  kernels::ExecContext inner = ctx_;
  inner.threads = &pool;
  pool.parallel_for((l.out + slice - 1) / slice, 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      kernels::GemmArgs s = g;
      const std::int64_t j0 = p * slice;
      s.n = std::min(slice, l.out - j0);
      s.b = l.w.data() + j0 * l.in;
      s.bias = l.bias.data() + j0;
      s.c = y + j0;
      Status r = backend_->gemm(s, inner);
      if (!r.is_ok()) {
        std::lock_guard<std::mutex> lock(mu);
        st = r;
      }
    }
  });
  return st;
}

Status EncoderSession::attention(const TokenBatch& batch, const float* qkv, float* ctx) {
  const EncoderConfig& c = model_->config();
  const std::int64_t h = c.hidden, d = c.head_dim();
  // Packed sequences: the kernel's batch stride assumes equal lengths, so each run of
  // consecutive equal-length sequences is one call (one parallel_for over all its heads).
  std::int64_t row = 0;
  for (std::size_t b = 0; b < batch.lengths.size();) {
    const std::int64_t len = batch.lengths[b];
    std::size_t e = b + 1;
    while (e < batch.lengths.size() && batch.lengths[e] == len) ++e;
    kernels::AttentionPrefillArgs a;
    a.batch = static_cast<std::int64_t>(e - b);
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
    row += a.batch * len;
    b = e;
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
