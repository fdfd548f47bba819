// WhisperRunner: encoder and decoder forward passes on the kernels::Backend table (see
// whisper_runner.h). Layouts: activations row-major [tokens, width] f32 on the model's device;
// the encoder's two convolutions run as GEMMs over overlapping "im2col" rows: conv1's input rows
// are built on the host from the mel (3 frames x n_mels, taps outermost), and conv1's GEMMs
// write their outputs straight into conv2's input rows (3 x d per output position, stride 2), so
// no transpose or im2col op is needed on the device.
// Depends on whisper_runner.h, shared/models/runtime (ModelDevice, Scratch, OwnedStream).
#include "shared/models/whisper/whisper_runner.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace parley::whisper {

namespace {
using kernels::Activation;
}  // namespace

WhisperRunner::WhisperRunner(std::shared_ptr<const WhisperModel> model, RunnerOptions options)
    : model_(std::move(model)), dev_(model_->device().with_threads(options.threads, options.cpu_isa)), be_(dev_.backend()) {
  const WhisperConfig& c = model_->config();
  self_pages_ = (c.text_ctx + self_page_ - 1) / self_page_;
  init_ = models::bind_own_stream(dev_, stream_, "WhisperRunner");
}

WhisperRunner::~WhisperRunner() {
  if (!dev_.is_cpu()) (void)dev_.synchronize();  // scratch is freed with the runner
}

Status WhisperRunner::linear(const Linear& l, std::int64_t m, const float* x, std::int64_t ldx, float* y, std::int64_t ldy,
                             Activation act) {
  if (m == 0) return Status::ok();
  if (l.int8) {
    kernels::QuantizeArgs q;
    q.rows = m;
    q.cols = l.k;
    q.x = x;
    q.ldx = ldx;
    q.y = q8_.as<std::int8_t>();
    q.ldy = l.k;
    q.scales = qs_.as<float>();
    q.granularity = kernels::QuantGranularity::kPerRow;
    PARLEY_RETURN_IF_ERROR(be_.quantize(q, dev_.ctx()));
    if (l.packed && m >= kernels::kInt8LinearMinRows) {
      // The weights packed at load: the symmetric bytes + 128 with zero point 128 and the
      // per-token scales give gemm_int8's result bit for bit, without its per-call packing.
      auto* u = q8_.as<std::uint8_t>();
      for (std::int64_t i = 0, e = m * l.k; i < e; ++i) u[i] ^= 0x80;
      kernels::Int8LinearArgs a;
      a.m = m;
      a.n = l.n;
      a.k = l.k;
      a.a = u;
      a.lda = l.k;
      a.a_zero = 128;
      a.w = l.packed.data();
      a.scales = l.scales.as<float>();
      a.row_scales = qs_.as<float>();
      a.bias = l.bias.as<float>();
      a.activation = act;
      a.c = y;
      a.ldc = ldy;
      return be_.int8_linear(a, dev_.ctx());
    }
    kernels::GemmInt8Args g;
    g.m = m;
    g.n = l.n;
    g.k = l.k;
    g.a = q8_.as<std::int8_t>();
    g.lda = l.k;
    g.b = l.w.as<std::int8_t>();
    g.ldb = l.k;
    g.a_scales = qs_.as<float>();
    g.b_scales = l.scales.as<float>();
    g.bias = l.bias.as<float>();
    g.activation = act;
    g.c = y;
    g.ldc = ldy;
    return be_.gemm_int8(g, dev_.ctx());
  }
  kernels::GemmArgs g;
  g.m = m;
  g.n = l.n;
  g.k = l.k;
  g.a = x;
  g.lda = ldx;
  g.b = l.w.data();
  g.ldb = l.k;
  g.c = y;
  g.ldc = ldy;
  g.bias = l.bias.as<float>();
  g.activation = act;
  return be_.gemm(g, dev_.ctx());
}

Status WhisperRunner::norm(std::int64_t rows, const float* x, const float* residual, float* residual_out,
                           const LayerNormW& ln, float* y) {
  const std::int64_t d = model_->config().d_model;
  kernels::NormArgs n;
  n.kind = kernels::NormKind::kLayerNorm;
  n.rows = rows;
  n.cols = d;
  n.x = x;
  n.ldx = d;
  n.residual = residual;
  n.ld_residual = d;
  n.residual_out = residual_out;
  n.ld_residual_out = d;
  n.gamma = ln.gamma.as<float>();
  n.beta = ln.beta.as<float>();
  n.eps = 1e-5f;
  n.y = y;
  n.ldy = d;
  return be_.norm(n, dev_.ctx());
}

Status WhisperRunner::ensure_slots(int n) {
  if (n <= capacity_) return Status::ok();
  const WhisperConfig& c = model_->config();
  const std::size_t d = static_cast<std::size_t>(c.d_model);
  const std::size_t cross = static_cast<std::size_t>(n) * c.audio_ctx * 2 * d * sizeof(float);
  const std::size_t self = static_cast<std::size_t>(n) * self_pages_ * self_page_ * d * sizeof(float);
  cross_kv_.resize(static_cast<std::size_t>(c.decoder_layers));
  self_k_.resize(cross_kv_.size());
  self_v_.resize(cross_kv_.size());
  for (std::size_t l = 0; l < cross_kv_.size(); ++l) {
    PARLEY_RETURN_IF_ERROR(cross_kv_[l].reserve(dev_, cross));
    PARLEY_RETURN_IF_ERROR(self_k_[l].reserve(dev_, self));
    PARLEY_RETURN_IF_ERROR(self_v_[l].reserve(dev_, self));
  }
  capacity_ = n;
  return Status::ok();
}

Status WhisperRunner::encode(std::span<const std::span<const float>> mels, int window_frames) {
  const WhisperConfig& c = model_->config();
  PARLEY_RETURN_IF_ERROR(init_);
  const int b = static_cast<int>(mels.size());
  if (window_frames < 2 || window_frames % 2 != 0 || window_frames > 2 * c.audio_ctx) {
    return invalid_argument("whisper encode: frames " + std::to_string(window_frames) + " must be even and within [2, " +
                            std::to_string(2 * c.audio_ctx) + "]");
  }
  const std::int64_t frames = window_frames;
  const std::int64_t n_mels = c.n_mels, d = c.d_model, f = c.ffn, t = frames / 2, hd = c.head_dim();
  for (int w = 0; w < b; ++w) {
    if (static_cast<std::int64_t>(mels[static_cast<std::size_t>(w)].size()) != n_mels * frames) {
      return invalid_argument("whisper encode: window " + std::to_string(w) + " has " +
                              std::to_string(mels[static_cast<std::size_t>(w)].size()) + " values, expected " +
                              std::to_string(n_mels * frames) + " (" + std::to_string(n_mels) + " x " + std::to_string(frames) + ")");
    }
    for (float v : mels[static_cast<std::size_t>(w)]) {
      if (!std::isfinite(v)) return invalid_argument("whisper encode: window " + std::to_string(w) + " holds NaN/Inf");
    }
  }
  slots_ = 0;
  if (b == 0) return Status::ok();
  PARLEY_RETURN_IF_ERROR(ensure_slots(b));
  const std::int64_t m = static_cast<std::int64_t>(b) * t;  // encoder rows
  auto fbytes = [](std::int64_t n) { return static_cast<std::size_t>(n) * sizeof(float); };
  PARLEY_RETURN_IF_ERROR(x1_.reserve(dev_, fbytes(b * frames * 3 * n_mels)));
  PARLEY_RETURN_IF_ERROR(z_.reserve(dev_, fbytes(m * 3 * d)));
  PARLEY_RETURN_IF_ERROR(h_.reserve(dev_, fbytes(m * d)));
  PARLEY_RETURN_IF_ERROR(y_.reserve(dev_, fbytes(m * d)));
  PARLEY_RETURN_IF_ERROR(qkv_.reserve(dev_, fbytes(m * 3 * d)));
  PARLEY_RETURN_IF_ERROR(att_.reserve(dev_, fbytes(m * d)));
  PARLEY_RETURN_IF_ERROR(o_.reserve(dev_, fbytes(m * d)));
  PARLEY_RETURN_IF_ERROR(ffn_.reserve(dev_, fbytes(m * f)));
  PARLEY_RETURN_IF_ERROR(q8_.reserve(dev_, static_cast<std::size_t>(m * std::max(3 * d, f))));
  PARLEY_RETURN_IF_ERROR(qs_.reserve(dev_, fbytes(m)));
  PARLEY_RETURN_IF_ERROR(zeros_.reserve(dev_, fbytes(d)));

  // conv1 input rows on the host: row s of window w = (mel[:, s-1], mel[:, s], mel[:, s+1]).
  host_x1_.assign(static_cast<std::size_t>(b * frames * 3 * n_mels), 0.0f);
  for (int w = 0; w < b; ++w) {
    const float* mel = mels[static_cast<std::size_t>(w)].data();
    float* base = host_x1_.data() + static_cast<std::size_t>(w) * frames * 3 * n_mels;
    for (std::int64_t s = 0; s < frames; ++s) {
      float* row = base + s * 3 * n_mels;
      for (int tap = 0; tap < 3; ++tap) {
        const std::int64_t src = s - 1 + tap;
        if (src < 0 || src >= frames) continue;
        for (std::int64_t ch = 0; ch < n_mels; ++ch) row[tap * n_mels + ch] = mel[ch * frames + src];
      }
    }
  }
  PARLEY_RETURN_IF_ERROR(dev_.upload(x1_.data(), host_x1_.data(), host_x1_.size() * sizeof(float)));
  const std::vector<float> zero(static_cast<std::size_t>(d), 0.0f);
  PARLEY_RETURN_IF_ERROR(dev_.upload(zeros_.data(), zero.data(), zero.size() * sizeof(float)));

  // conv1 (+ GELU) as GEMMs writing conv2's input rows z[r] = (h[2r-1], h[2r], h[2r+1]).
  const float* x1 = x1_.as<float>();
  float* z = z_.as<float>();
  auto conv1 = [&](std::int64_t rows, const float* a, float* out) {
    kernels::GemmArgs g;
    g.m = rows;
    g.n = d;
    g.k = 3 * n_mels;
    g.a = a;
    g.lda = 2 * 3 * n_mels;  // every other frame
    g.b = model_->conv1_w.data();
    g.ldb = 3 * n_mels;
    g.c = out;
    g.ldc = 3 * d;
    g.bias = model_->conv1_b.as<float>();
    g.activation = Activation::kGeluErf;
    return be_.gemm(g, dev_.ctx());
  };
  PARLEY_RETURN_IF_ERROR(conv1(m, x1, z + d));                   // even frames -> middle tap
  PARLEY_RETURN_IF_ERROR(conv1(m, x1 + 3 * n_mels, z + 2 * d));  // odd frames -> right tap
  for (int w = 0; w < b; ++w) {                                  // odd frames -> left tap of the next row
    const std::int64_t r0 = static_cast<std::int64_t>(w) * t;
    PARLEY_RETURN_IF_ERROR(conv1(t - 1, x1 + (static_cast<std::int64_t>(w) * frames + 1) * 3 * n_mels, z + (r0 + 1) * 3 * d));
    PARLEY_RETURN_IF_ERROR(dev_.upload(z + r0 * 3 * d, zero.data(), zero.size() * sizeof(float)));
  }
  float* h = h_.as<float>();
  float* y = y_.as<float>();
  PARLEY_RETURN_IF_ERROR(linear(model_->conv2, m, z, 3 * d, h, d, Activation::kGeluErf));
  // + positions, then the first layer's LayerNorm.
  for (int w = 0; w < b; ++w) {
    float* hw = h + static_cast<std::int64_t>(w) * t * d;
    PARLEY_RETURN_IF_ERROR(norm(t, hw, model_->enc_pos.as<float>(), hw, model_->enc[0].ln_attn, y + static_cast<std::int64_t>(w) * t * d));
  }
  float* qkv = qkv_.as<float>();
  float* att = att_.as<float>();
  float* o = o_.as<float>();
  float* ffn = ffn_.as<float>();
  for (std::size_t l = 0; l < model_->enc.size(); ++l) {
    const EncoderLayerW& L = model_->enc[l];
    PARLEY_RETURN_IF_ERROR(linear(L.qkv, m, y, d, qkv, 3 * d));
    kernels::AttentionPrefillArgs a;
    a.batch = b;
    a.q_len = t;
    a.kv_len = t;
    a.num_heads = c.heads;
    a.num_kv_heads = c.heads;
    a.head_dim = hd;
    a.q = qkv;
    a.k = qkv + d;
    a.v = qkv + 2 * d;
    a.q_batch_stride = a.k_batch_stride = a.v_batch_stride = t * 3 * d;
    a.q_token_stride = a.k_token_stride = a.v_token_stride = 3 * d;
    a.q_head_stride = a.k_head_stride = a.v_head_stride = hd;
    a.out = att;
    a.out_batch_stride = t * d;
    a.out_token_stride = d;
    a.out_head_stride = hd;
    PARLEY_RETURN_IF_ERROR(be_.attention_prefill(a, dev_.ctx()));
    PARLEY_RETURN_IF_ERROR(linear(L.out, m, att, d, o, d));
    PARLEY_RETURN_IF_ERROR(norm(m, o, h, h, L.ln_ffn, y));
    PARLEY_RETURN_IF_ERROR(linear(L.fc1, m, y, d, ffn, f, Activation::kGeluErf));
    PARLEY_RETURN_IF_ERROR(linear(L.fc2, m, ffn, f, o, d));
    const LayerNormW& next = l + 1 < model_->enc.size() ? model_->enc[l + 1].ln_attn : model_->enc_ln;
    PARLEY_RETURN_IF_ERROR(norm(m, o, h, h, next, y));
  }
  // y = encoder output. Cross-attention K|V of every decoder layer, row r = window r / t,
  // position r % t, straight from the GEMM.
  for (std::size_t l = 0; l < model_->dec.size(); ++l) {
    PARLEY_RETURN_IF_ERROR(linear(model_->dec[l].cross_kv, m, y, d, cross_kv_[l].as<float>(), 2 * d));
  }
  slots_ = b;
  positions_ = static_cast<int>(t);
  return dev_.synchronize();
}

Status WhisperRunner::encoder_output(int slot, std::vector<float>& out) const {
  if (slot < 0 || slot >= slots_) return invalid_argument("whisper: slot " + std::to_string(slot) + " is not encoded");
  const WhisperConfig& c = model_->config();
  const std::size_t n = static_cast<std::size_t>(positions_) * c.d_model;
  out.resize(n);
  return dev_.download(out.data(), y_.as<float>() + static_cast<std::size_t>(slot) * n, n * sizeof(float));
}

Status WhisperRunner::decode(std::span<const StepRow> rows, std::vector<float>& logits) {
  const WhisperConfig& c = model_->config();
  const std::int64_t n = static_cast<std::int64_t>(rows.size());
  const std::int64_t d = c.d_model, f = c.ffn, hd = c.head_dim();
  logits.clear();
  PARLEY_RETURN_IF_ERROR(init_);
  if (n == 0) return Status::ok();
  for (const StepRow& r : rows) {
    if (r.slot < 0 || r.slot >= slots_) return invalid_argument("whisper decode: slot " + std::to_string(r.slot) + " is not encoded");
    if (r.position < 0 || r.position >= c.text_ctx) {
      return invalid_argument("whisper decode: position " + std::to_string(r.position) + " outside [0, " + std::to_string(c.text_ctx) + ")");
    }
    if (r.token < 0 || r.token >= c.vocab) return invalid_argument("whisper decode: token " + std::to_string(r.token) + " outside the vocabulary");
  }
  // Integer inputs, one upload: ids | positions | self slots | self tables | context lens.
  const std::int64_t sp = self_pages_;
  host_ints_.assign(static_cast<std::size_t>(n * (4 + sp)), 0);
  std::int32_t* ids = host_ints_.data();
  std::int32_t* pos = ids + n;
  std::int32_t* slots = pos + n;
  std::int32_t* tables = slots + n;
  std::int32_t* lens = tables + n * sp;
  for (std::int64_t i = 0; i < n; ++i) {
    const StepRow& r = rows[static_cast<std::size_t>(i)];
    ids[i] = r.token;
    pos[i] = r.position;
    slots[i] = static_cast<std::int32_t>(static_cast<std::int64_t>(r.slot) * sp * self_page_ + r.position);
    for (std::int64_t j = 0; j < sp; ++j) tables[i * sp + j] = static_cast<std::int32_t>(r.slot * sp + j);
    lens[i] = r.position + 1;
  }
  auto fbytes = [](std::int64_t k) { return static_cast<std::size_t>(k) * sizeof(float); };
  PARLEY_RETURN_IF_ERROR(d_ints_.reserve(dev_, host_ints_.size() * sizeof(std::int32_t)));
  PARLEY_RETURN_IF_ERROR(dev_.upload(d_ints_.data(), host_ints_.data(), host_ints_.size() * sizeof(std::int32_t)));
  for (models::Scratch* b : {&d_e_, &d_pe_, &d_r_, &d_y_, &d_att_, &d_o_, &d_qc_}) PARLEY_RETURN_IF_ERROR(b->reserve(dev_, fbytes(n * d)));
  PARLEY_RETURN_IF_ERROR(d_qkv_.reserve(dev_, fbytes(n * 3 * d)));
  PARLEY_RETURN_IF_ERROR(d_ffn_.reserve(dev_, fbytes(n * f)));
  PARLEY_RETURN_IF_ERROR(d_logits_.reserve(dev_, fbytes(n * c.vocab)));
  // Shared with encode() (reserve only grows).
  PARLEY_RETURN_IF_ERROR(q8_.reserve(dev_, static_cast<std::size_t>(n * std::max(3 * d, f))));
  PARLEY_RETURN_IF_ERROR(qs_.reserve(dev_, fbytes(n)));
  const std::int32_t* d_ids = d_ints_.as<std::int32_t>();
  const std::int32_t* d_pos = d_ids + n;
  const std::int32_t* d_slots = d_pos + n;
  const std::int32_t* d_tables = d_slots + n;
  const std::int32_t* d_lens = d_tables + n * sp;

  float* e = d_e_.as<float>();
  float* pe = d_pe_.as<float>();
  float* r = d_r_.as<float>();
  float* y = d_y_.as<float>();
  float* qkv = d_qkv_.as<float>();
  float* att = d_att_.as<float>();
  float* o = d_o_.as<float>();
  float* qc = d_qc_.as<float>();
  float* ffn = d_ffn_.as<float>();
  kernels::EmbeddingArgs emb;
  emb.num_tokens = n;
  emb.dim = d;
  emb.vocab = c.vocab;
  emb.ids = d_ids;
  emb.table = model_->tok_emb.data();
  emb.table_type = engine::DType::kF16;
  emb.out = e;
  emb.ld_out = d;
  PARLEY_RETURN_IF_ERROR(be_.embedding(emb, dev_.ctx()));
  emb.vocab = c.text_ctx;
  emb.ids = d_pos;
  emb.table = model_->dec_pos.data();
  emb.table_type = engine::DType::kF32;
  emb.out = pe;
  PARLEY_RETURN_IF_ERROR(be_.embedding(emb, dev_.ctx()));
  PARLEY_RETURN_IF_ERROR(norm(n, e, pe, r, model_->dec[0].ln_self, y));

  for (std::size_t l = 0; l < model_->dec.size(); ++l) {
    const DecoderLayerW& L = model_->dec[l];
    PARLEY_RETURN_IF_ERROR(linear(L.qkv, n, y, d, qkv, 3 * d));
    kernels::PagedKvCache self;
    self.k = self_k_[l].data();
    self.v = self_v_[l].data();
    self.num_pages = static_cast<std::int64_t>(capacity_) * sp;
    self.num_kv_heads = c.heads;
    self.page_size = self_page_;
    self.head_dim = hd;
    kernels::KvCacheWriteArgs kw;
    kw.tokens = n;
    kw.cache = self;
    kw.k = qkv + d;
    kw.k_token_stride = 3 * d;
    kw.k_head_stride = hd;
    kw.v = qkv + 2 * d;
    kw.v_token_stride = 3 * d;
    kw.v_head_stride = hd;
    kw.slot_mapping = d_slots;
    PARLEY_RETURN_IF_ERROR(be_.kv_cache_write(kw, dev_.ctx()));
    kernels::AttentionDecodeArgs a;
    a.batch = n;
    a.num_heads = c.heads;
    a.cache = self;
    a.q = qkv;
    a.q_seq_stride = 3 * d;
    a.q_head_stride = hd;
    a.out = att;
    a.out_seq_stride = d;
    a.out_head_stride = hd;
    a.block_tables = d_tables;
    a.max_blocks_per_seq = sp;
    a.context_lens = d_lens;
    PARLEY_RETURN_IF_ERROR(be_.attention_decode(a, dev_.ctx()));
    PARLEY_RETURN_IF_ERROR(linear(L.out, n, att, d, o, d));
    PARLEY_RETURN_IF_ERROR(norm(n, o, r, r, L.ln_cross, y));
    // Cross attention over the slot's encoder output.
    PARLEY_RETURN_IF_ERROR(linear(L.cross_q, n, y, d, qc, d));
    // Cross attention: each run of consecutive rows of one slot attends to that slot's encoder
    // K|V in place (attention_prefill, non-causal).
    for (std::int64_t first = 0; first < n;) {
      const int slot = rows[static_cast<std::size_t>(first)].slot;
      std::int64_t last = first + 1;
      while (last < n && rows[static_cast<std::size_t>(last)].slot == slot) ++last;
      const float* kv = cross_kv_[l].as<float>() + static_cast<std::int64_t>(slot) * positions_ * 2 * d;
      kernels::AttentionPrefillArgs x;
      x.batch = 1;
      x.q_len = last - first;
      x.kv_len = positions_;
      x.num_heads = c.heads;
      x.num_kv_heads = c.heads;
      x.head_dim = hd;
      x.q = qc + first * d;
      x.q_batch_stride = (last - first) * d;
      x.q_token_stride = d;
      x.q_head_stride = hd;
      x.k = kv;
      x.v = kv + d;
      x.k_batch_stride = x.v_batch_stride = static_cast<std::int64_t>(positions_) * 2 * d;
      x.k_token_stride = x.v_token_stride = 2 * d;
      x.k_head_stride = x.v_head_stride = hd;
      x.out = att + first * d;
      x.out_batch_stride = (last - first) * d;
      x.out_token_stride = d;
      x.out_head_stride = hd;
      PARLEY_RETURN_IF_ERROR(be_.attention_prefill(x, dev_.ctx()));
      first = last;
    }
    PARLEY_RETURN_IF_ERROR(linear(L.cross_out, n, att, d, o, d));
    PARLEY_RETURN_IF_ERROR(norm(n, o, r, r, L.ln_ffn, y));
    PARLEY_RETURN_IF_ERROR(linear(L.fc1, n, y, d, ffn, f, Activation::kGeluErf));
    PARLEY_RETURN_IF_ERROR(linear(L.fc2, n, ffn, f, o, d));
    const LayerNormW& next = l + 1 < model_->dec.size() ? model_->dec[l + 1].ln_self : model_->dec_ln;
    PARLEY_RETURN_IF_ERROR(norm(n, o, r, r, next, y));
  }
  PARLEY_RETURN_IF_ERROR(linear(model_->logits, n, y, d, d_logits_.as<float>(), c.vocab));
  logits.resize(static_cast<std::size_t>(n) * c.vocab);
  PARLEY_RETURN_IF_ERROR(dev_.download(logits.data(), d_logits_.data(), logits.size() * sizeof(float)));
  return dev_.synchronize();
}

}  // namespace parley::whisper
