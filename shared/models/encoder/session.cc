// The encoder forward pass (post-norm BERT block) over packed sequences on the model's device,
// and pooling. Why: packing concatenates the sequences, so every linear layer runs once over
// exactly the real tokens (no padding FLOPs); only attention is per sequence (per run of equal
// lengths). Depends on session.h, the backend table (ops bf16_linear, quantize_rows,
// dequantize_sum, gemm, gemm_int8, norm, embedding, attention_prefill).
#include "shared/models/encoder/session.h"

#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/bf16_linear.h"
#include "kernels/ops/quantize_rows.h"

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
    : model_(std::move(model)), options_(std::move(options)), dev_(model_->device()) {
  dev_ = dev_.with_threads(options_.threads, options_.cpu_isa);
  init_ = models::bind_own_stream(dev_, stream_, "EncoderSession");
}

EncoderSession::~EncoderSession() {
  if (!dev_.is_cpu()) (void)dev_.synchronize();  // scratch is freed with the session
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

Status EncoderSession::observe(std::size_t layer, LinearMask which, const float* x, std::int64_t rows,
                               std::int64_t cols) {
  if (!options_.observe_linear_input) return Status::ok();
  const float* host = x;
  if (!dev_.is_cpu()) {
    observed_.resize(static_cast<std::size_t>(rows * cols));
    PARLEY_RETURN_IF_ERROR(dev_.download(observed_.data(), x, observed_.size() * sizeof(float)));
    host = observed_.data();
  }
  options_.observe_linear_input(layer, which, host, rows, cols);
  return Status::ok();
}

Status EncoderSession::embed_tokens(const TokenBatch& batch, const std::int32_t* ids, const std::int32_t* positions,
                                    const std::int32_t* types, float* x) {
  const EncoderConfig& c = model_->config();
  const DeviceWeights& w = model_->device_weights();
  const kernels::Backend& be = dev_.backend();
  const std::int64_t n = batch.total_tokens(), h = c.hidden;
  // Word, position and token-type rows are gathered with the embedding op and summed in the
  // order word + position (+ type) by the LayerNorm's fused residual add, so the sum is the
  // same f32 additions as a plain loop.
  auto gather = [&](const float* table, std::int64_t rows, const std::int32_t* which, float* out) {
    kernels::EmbeddingArgs e;
    e.num_tokens = n;
    e.dim = h;
    e.vocab = rows;
    e.ids = which;
    e.table = table;
    e.table_type = engine::DType::kF32;
    e.out = out;
    e.ld_out = h;
    return be.embedding(e, dev_.ctx());
  };
  PARLEY_RETURN_IF_ERROR(gather(w.word.data(), c.vocab_size, ids, x));
  PARLEY_RETURN_IF_ERROR(gather(w.position.data(), c.max_positions, positions, tmp_.as<float>()));
  kernels::NormArgs ln;
  ln.rows = n;
  ln.cols = h;
  ln.x = x;
  ln.ldx = h;
  ln.residual = tmp_.data();
  ln.ld_residual = h;
  ln.gamma = w.embed_norm.gamma.data();
  ln.beta = w.embed_norm.beta.data();
  ln.eps = c.layer_norm_eps;
  ln.y = x;
  ln.ldy = h;
  if (w.token_type.size > 0) {
    // x = word + position first (the norm's output goes to scratch), then + type and the norm.
    PARLEY_RETURN_IF_ERROR(gather(w.token_type.data(), std::max<std::int64_t>(1, c.type_vocab), types, ctx_buf_.as<float>()));
    kernels::NormArgs sum = ln;
    sum.residual_out = x;
    sum.ld_residual_out = h;
    sum.y = ffn_.data();
    PARLEY_RETURN_IF_ERROR(be.norm(sum, dev_.ctx()));
    ln.residual = ctx_buf_.data();
  }
  return be.norm(ln, dev_.ctx());
}

Status EncoderSession::linear(const DeviceLinear& l, const float* x, std::int64_t rows, float* y, kernels::Activation act) {
  const kernels::Backend& be = dev_.backend();
  const kernels::ExecContext& ctx = dev_.ctx();
  if (l.bf16) {
    kernels::Bf16LinearArgs b;
    b.m = rows;
    b.n = l.out;
    b.k = l.in;
    b.a = x;
    b.lda = l.in;
    b.w = l.wb.data();
    b.bias = l.bias.data();
    b.activation = act;
    b.c = y;
    b.ldc = l.out;
    return be.bf16_linear(b, ctx);
  }
  if (!l.int8) return linear_f32(l, x, rows, y, act);
  kernels::QuantizeRowsArgs q;
  q.cols = l.in;
  q.ldx = l.in;
  q.col_scale = l.in_scale.data();
  q.ldq = l.in;
  kernels::GemmInt8Args g;
  g.n = l.out;
  g.k = l.in;
  g.lda = l.in;
  g.b = l.wq.data();
  g.ldb = l.in;
  if (!l.two_pass && !l.weight_two_pass) {
    // W8A8 (2:4 linears too): per-token activations (smoothed in the same pass), the GEMM dequantizes + bias + act.
    PARLEY_RETURN_IF_ERROR(xq_.reserve_elems<std::int8_t>(dev_, rows * l.in));
    PARLEY_RETURN_IF_ERROR(xs_.reserve_elems<float>(dev_, rows));
    q.rows = rows;
    q.x = x;
    q.q = xq_.as<std::int8_t>();
    q.scales = xs_.as<float>();
    PARLEY_RETURN_IF_ERROR(be.quantize_rows(q, ctx));
    if (l.sparse24) {
      kernels::Sparse24GemmArgs sg;
      sg.m = rows;
      sg.n = l.out;
      sg.k = l.in;
      sg.a = xq_.as<std::int8_t>();
      sg.lda = l.in;
      sg.a_type = kernels::DType::kI8;
      sg.b.rows = l.out;
      sg.b.cols = l.in;
      sg.b.dtype = kernels::DType::kI8;
      sg.b.layout = kernels::Sparse24Layout::kBackendPacked;
      sg.b.values = l.wb.data();
      sg.a_scales = xs_.as<float>();
      sg.b_scales = l.w_scales.data();
      sg.bias = l.bias.data();
      sg.activation = act;
      sg.c = y;
      sg.ldc = l.out;
      return be.sparse24_gemm(sg, ctx);
    }
    g.m = rows;
    g.a = xq_.as<std::int8_t>();
    g.a_scales = xs_.as<float>();
    g.b_scales = l.w_scales.data();
    g.bias = l.bias.data();
    g.activation = act;
    g.c = y;
    g.ldc = l.out;
    return be.gemm_int8(g, ctx);
  }
  // Two-pass activations and/or weights: per chunk of tokens, the activation passes are stacked
  // as rows and the weight passes as output channels of ONE raw int32 GEMM (weight panels packed
  // once for all), then one epilogue sums the pass products, dequantizes and applies bias + act.
  // Chunks keep the int32 block cache-sized.
  const std::int64_t a_passes = l.two_pass ? 2 : 1, w_passes = l.weight_two_pass ? 2 : 1;
  const std::int64_t n_all = w_passes * l.out;
  const std::int64_t chunk = std::min(rows, kTwoPassChunk);
  PARLEY_RETURN_IF_ERROR(xq_.reserve_elems<std::int8_t>(dev_, a_passes * chunk * l.in));
  PARLEY_RETURN_IF_ERROR(xs_.reserve_elems<float>(dev_, a_passes * chunk));
  PARLEY_RETURN_IF_ERROR(acc_.reserve_elems<std::int32_t>(dev_, a_passes * chunk * n_all));
  std::int8_t* xq = xq_.as<std::int8_t>();
  float* xs = xs_.as<float>();
  std::int32_t* acc = acc_.as<std::int32_t>();
  g.n = n_all;
  g.c_type = kernels::DType::kI32;
  g.ldc = n_all;
  for (std::int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const std::int64_t c = std::min(chunk, rows - r0);
    q.rows = c;
    q.x = x + r0 * l.in;
    q.q = xq;
    q.scales = xs;
    if (l.two_pass) {
      q.q2 = xq + c * l.in;
      q.ldq2 = l.in;
      q.scales2 = xs + c;
    }
    PARLEY_RETURN_IF_ERROR(be.quantize_rows(q, ctx));
    g.m = a_passes * c;
    g.a = xq;
    g.c = acc;
    PARLEY_RETURN_IF_ERROR(be.gemm_int8(g, ctx));
    kernels::DequantizeSumArgs d;
    d.rows = c;
    d.cols = l.out;
    for (std::int64_t p = 0; p < a_passes; ++p) {
      for (std::int64_t w = 0; w < w_passes; ++w) {
        d.terms[d.num_terms++] = {acc + p * c * n_all + w * l.out, n_all, xs + p * c, l.w_scales.data() + w * l.out};
      }
    }
    d.bias = l.bias.data();
    d.activation = act;
    d.y = y + r0 * l.out;
    d.ldy = l.out;
    PARLEY_RETURN_IF_ERROR(be.dequantize_sum(d, ctx));
  }
  return Status::ok();
}

Status EncoderSession::linear_f32(const DeviceLinear& l, const float* x, std::int64_t rows, float* y,
                                  kernels::Activation act) {
  const kernels::Backend& be = dev_.backend();
  kernels::GemmArgs g;
  g.m = rows;
  g.k = l.in;
  g.a = x;
  g.lda = l.in;
  g.ldb = l.in;
  g.ldc = l.out;
  g.activation = act;
  if (!dev_.is_cpu()) {
    g.n = l.out;
    g.b = l.w.data();
    g.c = y;
    g.bias = l.bias.data();
    return be.gemm(g, dev_.ctx());
  }
  kernels::ThreadPool& pool = options_.threads != nullptr ? *options_.threads : kernels::ThreadPool::global();
  const std::int64_t parts = pool.size();
  if (rows > kF32RowBlock || parts == 1) {
    g.n = l.out;
    g.b = l.w.data();
    g.c = y;
    g.bias = l.bias.data();
    return be.gemm(g, dev_.ctx());
  }
  // CPU, one row block: the float GEMM splits only the columns, in 256-wide tasks, so N = 384
  // gives the threads 256 and 128 columns. Equal 32-aligned column slices per thread instead (each
  // slice's GEMM runs inline on its thread: nested parallel_for).
  const std::int64_t slice = (l.out + parts * 32 - 1) / (parts * 32) * 32;
  Status st = Status::ok();
  std::mutex mu;
  kernels::ExecContext inner = dev_.ctx();
  inner.threads = &pool;
  pool.parallel_for((l.out + slice - 1) / slice, 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      kernels::GemmArgs s = g;
      const std::int64_t j0 = p * slice;
      s.n = std::min(slice, l.out - j0);
      s.b = l.w.data() + j0 * l.in;
      s.bias = l.bias.data() + j0;
      s.c = y + j0;
      Status r = be.gemm(s, inner);
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
    if (c.relative_buckets > 0) {
      a.rel_bias = model_->device_weights().relative_bias.data();
      a.rel_bias_radius = c.relative_max_distance;
    }
    PARLEY_RETURN_IF_ERROR(dev_.backend().attention_prefill(a, dev_.ctx()));
    row += a.batch * len;
    b = e;
  }
  return Status::ok();
}

std::size_t EncoderSession::scratch_bytes() const {
  std::size_t n = (meta_host_.capacity() + observed_.capacity()) * 4;
  for (const models::Scratch* s : {&x_, &qkv_, &ctx_buf_, &tmp_, &ffn_, &xq_, &xs_, &acc_, &meta_}) n += s->capacity();
  return n;
}

Status EncoderSession::encode(const TokenBatch& batch, EncoderOutput& out) {
  PARLEY_RETURN_IF_ERROR(init_);
  PARLEY_RETURN_IF_ERROR(check(batch));
  const EncoderConfig& c = model_->config();
  const DeviceWeights& w = model_->device_weights();
  const kernels::Backend& be = dev_.backend();
  const std::int64_t n = batch.total_tokens(), h = c.hidden, inter = c.intermediate;
  out.hidden_size = h;
  out.lengths = batch.lengths;
  out.offsets.assign(batch.size() + 1, 0);
  for (std::size_t b = 0; b < batch.size(); ++b) out.offsets[b + 1] = out.offsets[b] + batch.lengths[b];
  out.hidden.resize(static_cast<std::size_t>(n * h));
  if (n == 0) return Status::ok();
  PARLEY_RETURN_IF_ERROR(qkv_.reserve_elems<float>(dev_, n * 3 * h));
  PARLEY_RETURN_IF_ERROR(ctx_buf_.reserve_elems<float>(dev_, n * h));
  PARLEY_RETURN_IF_ERROR(tmp_.reserve_elems<float>(dev_, n * h));
  PARLEY_RETURN_IF_ERROR(ffn_.reserve_elems<float>(dev_, n * std::max(inter, h)));
  // Index arrays: positions (t + offset within each sequence); on a GPU also ids and type ids,
  // uploaded in one copy. On the CPU the hidden states are computed in `out` itself.
  const std::size_t un = static_cast<std::size_t>(n);
  meta_host_.resize(dev_.is_cpu() ? un : 3 * un);
  {
    std::size_t row = 0;
    for (std::int32_t len : batch.lengths) {
      for (std::int32_t t = 0; t < len; ++t) meta_host_[row++] = static_cast<std::int32_t>(t + c.position_offset);
    }
  }
  const std::int32_t* ids = batch.ids.data();
  const std::int32_t* positions = meta_host_.data();
  const std::int32_t* types = batch.type_ids.data();
  float* x = out.hidden.data();
  if (!dev_.is_cpu()) {
    std::copy(batch.ids.begin(), batch.ids.end(), meta_host_.begin() + static_cast<std::ptrdiff_t>(un));
    std::copy(batch.type_ids.begin(), batch.type_ids.end(), meta_host_.begin() + static_cast<std::ptrdiff_t>(2 * un));
    PARLEY_RETURN_IF_ERROR(meta_.reserve(dev_, meta_host_.size() * sizeof(std::int32_t)));
    PARLEY_RETURN_IF_ERROR(dev_.upload(meta_.data(), meta_host_.data(), meta_host_.size() * sizeof(std::int32_t)));
    positions = meta_.as<const std::int32_t>();
    ids = positions + un;
    types = positions + 2 * un;
    PARLEY_RETURN_IF_ERROR(x_.reserve_elems<float>(dev_, n * h));
    x = x_.as<float>();
  }
  PARLEY_RETURN_IF_ERROR(embed_tokens(batch, ids, positions, types, x));
  float* qkv = qkv_.as<float>();
  float* ctx_rows = ctx_buf_.as<float>();
  float* tmp = tmp_.as<float>();
  float* ffn = ffn_.as<float>();
  std::size_t layer = 0;
  for (const DeviceLayer& lw : w.layers) {
    PARLEY_RETURN_IF_ERROR(observe(layer, kQkvLinear, x, n, h));
    PARLEY_RETURN_IF_ERROR(linear(lw.qkv, x, n, qkv, kernels::Activation::kNone));
    PARLEY_RETURN_IF_ERROR(attention(batch, qkv, ctx_rows));
    PARLEY_RETURN_IF_ERROR(observe(layer, kAttnOutLinear, ctx_rows, n, h));
    PARLEY_RETURN_IF_ERROR(linear(lw.attn_out, ctx_rows, n, tmp, kernels::Activation::kNone));
    // Post-norm: x = LN(attn + x).
    kernels::NormArgs ln;
    ln.rows = n;
    ln.cols = h;
    ln.x = tmp;
    ln.ldx = h;
    ln.residual = x;
    ln.ld_residual = h;
    ln.gamma = lw.attn_norm.gamma.data();
    ln.beta = lw.attn_norm.beta.data();
    ln.eps = c.layer_norm_eps;
    ln.y = x;
    ln.ldy = h;
    PARLEY_RETURN_IF_ERROR(be.norm(ln, dev_.ctx()));
    PARLEY_RETURN_IF_ERROR(observe(layer, kFfnInLinear, x, n, h));
    PARLEY_RETURN_IF_ERROR(linear(lw.ffn_in, x, n, ffn, c.activation));
    PARLEY_RETURN_IF_ERROR(observe(layer, kFfnOutLinear, ffn, n, inter));
    PARLEY_RETURN_IF_ERROR(linear(lw.ffn_out, ffn, n, tmp, kernels::Activation::kNone));
    ln.gamma = lw.ffn_norm.gamma.data();
    ln.beta = lw.ffn_norm.beta.data();
    PARLEY_RETURN_IF_ERROR(be.norm(ln, dev_.ctx()));
    ++layer;
  }
  if (!dev_.is_cpu()) {
    PARLEY_RETURN_IF_ERROR(dev_.download(out.hidden.data(), x, out.hidden.size() * sizeof(float)));
  }
  return Status::ok();
}

Result<Embeddings> EncoderSession::embed(const TokenBatch& batch) {
  EncoderOutput out;
  PARLEY_RETURN_IF_ERROR(encode(batch, out));
  return pool(out, model_->sentence().pooling, model_->sentence().normalize);
}

}  // namespace parley::encoder
