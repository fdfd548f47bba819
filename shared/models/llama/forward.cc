// Forward pass of the Llama decoder over a mixed prefill/decode batch on kernels/ ops:
// embedding → per layer [RMSNorm → fused QKV → RoPE → paged KV write → attention → out proj →
// (all-reduce) → fused add+RMSNorm → gate|up → SwiGLU → down → (all-reduce)] → final norm on the
// rows that want logits → LM head (all-gather of vocab shards). Why: see forward.h.
// Depends on forward.h, kernels/ops/*.h.
#include "shared/models/llama/forward.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/ops/activation.h"
#include "kernels/ops/attention.h"
#include "kernels/ops/embedding.h"
#include "kernels/ops/norm.h"
#include "kernels/ops/rope.h"

namespace parley::lm {

using engine::DType;

std::int64_t logits_rows(const BatchInput& batch) {
  std::int64_t r = 0;
  for (const SequenceInput& s : batch.sequences) {
    if (s.logits == LogitsMode::kLast) r += s.tokens.empty() ? 0 : 1;
    if (s.logits == LogitsMode::kAll) r += static_cast<std::int64_t>(s.tokens.size());
  }
  return r;
}

Forward::Forward(std::shared_ptr<const LlamaModel> model, kernels::Communicator* comm, kernels::ExecContext ctx)
    : model_(std::move(model)), comm_(comm), ctx_(ctx) {}

namespace {
template <typename T>
T* grow(std::vector<T>& v, std::int64_t n) {
  if (static_cast<std::int64_t>(v.size()) < n) v.resize(static_cast<std::size_t>(n));
  return v.data();
}
}  // namespace

Status Forward::check(const BatchInput& batch, const KvCache& cache, std::span<float> logits_out) const {
  const LlamaConfig& c = model_->config();
  if (cache.num_layers() != c.layers) {
    return invalid_argument("forward: the KV cache has " + std::to_string(cache.num_layers()) + " layers, the model " +
                            std::to_string(c.layers) + " (make it with this model's make_kv_cache)");
  }
  if (comm_ != nullptr && comm_->world_size() != model_->options().shard.size) {
    return invalid_argument("forward: communicator world size " + std::to_string(comm_->world_size()) +
                            " != model shard count " + std::to_string(model_->options().shard.size));
  }
  if (comm_ == nullptr && model_->options().shard.size != 1) {
    return invalid_argument("forward: a sharded model needs a communicator");
  }
  const std::int64_t rows = logits_rows(batch);
  if (static_cast<std::int64_t>(logits_out.size()) != rows * c.vocab_size) {
    return invalid_argument("forward: logits_out holds " + std::to_string(logits_out.size()) + " floats, the batch needs " +
                            std::to_string(rows) + " x " + std::to_string(c.vocab_size));
  }
  const std::int64_t ps = cache.page_size();
  for (std::size_t s = 0; s < batch.sequences.size(); ++s) {
    const SequenceInput& q = batch.sequences[s];
    const std::string where = "forward: sequence " + std::to_string(s);
    if (q.start_pos < 0) return invalid_argument(where + ": negative start_pos");
    for (std::size_t t = 0; t < q.tokens.size(); ++t) {
      if (q.tokens[t] < 0 || q.tokens[t] >= c.vocab_size) {
        return invalid_argument(where + ": token " + std::to_string(t) + " id " + std::to_string(q.tokens[t]) +
                                " outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
      }
    }
    const std::int64_t end = q.start_pos + static_cast<std::int64_t>(q.tokens.size());
    const std::int64_t pages = (end + ps - 1) / ps;
    if (static_cast<std::int64_t>(q.block_table.size()) < pages) {
      return out_of_range(where + ": positions up to " + std::to_string(end) + " need " + std::to_string(pages) +
                          " pages, the block table has " + std::to_string(q.block_table.size()));
    }
    for (std::int64_t p = 0; p < pages; ++p) {
      if (q.block_table[p] < 0 || q.block_table[p] >= cache.num_pages()) {
        return out_of_range(where + ": block_table[" + std::to_string(p) + "] = " + std::to_string(q.block_table[p]) +
                            " outside [0, " + std::to_string(cache.num_pages()) + ")");
      }
    }
  }
  return Status::ok();
}

Status Forward::linear(const Linear& w, std::int64_t m, const float* x, std::int64_t ldx, float* y, std::int64_t ldy) {
  return w.apply(m, x, ldx, y, ldy, lin_, ctx_);
}

Status Forward::all_reduce(float* data, std::int64_t count) {
  if (comm_ == nullptr || comm_->world_size() == 1) return Status::ok();
  return comm_->all_reduce_sum(data, count, ctx_);
}

Status Forward::forward(const BatchInput& batch, KvCache& cache, std::span<float> logits_out) {
  PARLEY_RETURN_IF_ERROR(check(batch, cache, logits_out));
  const LlamaModel& m = *model_;
  const LlamaConfig& c = m.config();
  const std::int64_t hidden = c.hidden, hd = c.head_dim;
  const std::int64_t lh = m.local_heads(), lkv = m.local_kv_heads(), lf = m.local_ffn();
  const std::int64_t qkv_w = (lh + 2 * lkv) * hd, attn_w = lh * hd;
  const std::int64_t ps = cache.page_size();

  // Flatten the batch: one row per new token.
  std::int64_t T = 0, max_blocks = 1;
  for (const SequenceInput& q : batch.sequences) {
    T += static_cast<std::int64_t>(q.tokens.size());
    const std::int64_t end = q.start_pos + static_cast<std::int64_t>(q.tokens.size());
    max_blocks = std::max(max_blocks, (end + ps - 1) / ps);
  }
  if (T == 0) return Status::ok();
  std::int32_t* ids = grow(ids_, T);
  std::int32_t* pos = grow(positions_, T);
  std::int32_t* slots = grow(slots_, T);
  std::int32_t* lens = grow(ctx_lens_, T);
  std::int32_t* tables = grow(tables_, T * max_blocks);
  logit_rows_.clear();
  {
    std::int64_t t = 0;
    for (const SequenceInput& q : batch.sequences) {
      const auto n = static_cast<std::int64_t>(q.tokens.size());
      const std::int64_t blocks = (q.start_pos + n + ps - 1) / ps;
      for (std::int64_t j = 0; j < n; ++j, ++t) {
        const std::int64_t p = q.start_pos + j;
        ids[t] = q.tokens[j];
        pos[t] = static_cast<std::int32_t>(p);
        slots[t] = static_cast<std::int32_t>(q.block_table[p / ps] * ps + p % ps);
        lens[t] = static_cast<std::int32_t>(p + 1);
        std::copy(q.block_table.begin(), q.block_table.begin() + blocks, tables + t * max_blocks);
        std::fill(tables + t * max_blocks + blocks, tables + (t + 1) * max_blocks, 0);
        if (q.logits == LogitsMode::kAll || (q.logits == LogitsMode::kLast && j == n - 1)) {
          logit_rows_.push_back(static_cast<std::int32_t>(t));
        }
      }
    }
  }

  float* x = grow(x_, T * hidden);
  float* h = grow(h_, T * hidden);
  float* qkv = grow(qkv_, T * qkv_w);
  float* attn = grow(attn_, T * attn_w);
  float* o = grow(o_, T * hidden);
  float* ffn = grow(ffn_, T * 2 * lf);

  {
    const auto info = engine::gguf::ggml_type_info(m.token_embd().type);
    kernels::EmbeddingArgs e;
    e.num_tokens = T; e.dim = hidden; e.vocab = c.vocab_size; e.ids = ids;
    e.table = m.token_embd().data.data(); e.table_type = *info.engine_dtype;
    e.out = x; e.ld_out = hidden; e.out_type = DType::kF32;
    PARLEY_RETURN_IF_ERROR(kernels::cpu::embedding(e, ctx_));
  }

  auto rms = [&](const float* gamma, const float* residual_in, float* out_rows) {
    kernels::NormArgs n;
    n.kind = kernels::NormKind::kRmsNorm;
    n.rows = T; n.cols = hidden; n.dtype = DType::kF32;
    if (residual_in == nullptr) {
      n.x = x; n.ldx = hidden;
    } else {  // x += o; out = rms(x)
      n.x = residual_in; n.ldx = hidden;
      n.residual = x; n.ld_residual = hidden;
      n.residual_out = x; n.ld_residual_out = hidden;
    }
    n.gamma = gamma; n.eps = c.rms_eps;
    n.y = out_rows; n.ldy = hidden;
    return kernels::cpu::norm(n, ctx_);
  };

  for (std::int64_t l = 0; l < c.layers; ++l) {
    const LlamaLayer& L = m.layers()[static_cast<std::size_t>(l)];
    PARLEY_RETURN_IF_ERROR(rms(L.attn_norm.data(), l == 0 ? nullptr : o, h));
    PARLEY_RETURN_IF_ERROR(linear(L.qkv, T, h, hidden, qkv, qkv_w));
    for (int part = 0; part < 2; ++part) {  // RoPE on Q, then K (GGUF llama: interleaved pairs)
      kernels::RopeArgs r;
      r.style = kernels::RopeStyle::kInterleaved;
      r.tokens = T; r.heads = part == 0 ? lh : lkv; r.head_dim = hd; r.rotary_dim = c.rotary_dim;
      r.dtype = DType::kF32; r.x = qkv + (part == 0 ? 0 : attn_w);
      r.token_stride = qkv_w; r.head_stride = hd;
      r.positions = pos; r.theta = c.rope_theta;
      PARLEY_RETURN_IF_ERROR(kernels::cpu::rope(r, ctx_));
    }
    const kernels::PagedKvCache kv = cache.layer(l);
    {
      kernels::KvCacheWriteArgs w;
      w.tokens = T; w.cache = kv;
      w.k = qkv + attn_w; w.k_token_stride = qkv_w; w.k_head_stride = hd;
      w.v = qkv + attn_w + lkv * hd; w.v_token_stride = qkv_w; w.v_head_stride = hd;
      w.slot_mapping = slots;
      PARLEY_RETURN_IF_ERROR(kernels::cpu::kv_cache_write(w, ctx_));
    }
    // Attention. A whole prompt (start 0, several tokens) attends within its own fresh K/V, which
    // the GEMM-based prefill kernel reads straight from the QKV rows; everything else (decode steps,
    // later prefill chunks) reads the paged cache, one query row per token with its own length.
    std::int64_t t0 = 0, run_start = -1;
    auto flush_decode = [&](std::int64_t begin, std::int64_t end) -> Status {
      if (begin < 0 || end <= begin) return Status::ok();
      kernels::AttentionDecodeArgs a;
      a.batch = end - begin; a.num_heads = lh; a.cache = kv;
      a.q = qkv + begin * qkv_w; a.q_seq_stride = qkv_w; a.q_head_stride = hd;
      a.out = attn + begin * attn_w; a.out_seq_stride = attn_w; a.out_head_stride = hd;
      a.block_tables = tables + begin * max_blocks; a.max_blocks_per_seq = max_blocks;
      a.context_lens = lens + begin;
      return kernels::cpu::attention_decode(a, ctx_);
    };
    for (const SequenceInput& q : batch.sequences) {
      const auto n = static_cast<std::int64_t>(q.tokens.size());
      if (q.start_pos == 0 && n > 1) {
        PARLEY_RETURN_IF_ERROR(flush_decode(run_start, t0));
        run_start = -1;
        kernels::AttentionPrefillArgs a;
        a.batch = 1; a.q_len = n; a.kv_len = n;
        a.num_heads = lh; a.num_kv_heads = lkv; a.head_dim = hd; a.dtype = DType::kF32;
        a.q = qkv + t0 * qkv_w; a.q_token_stride = qkv_w; a.q_head_stride = hd;
        a.k = qkv + t0 * qkv_w + attn_w; a.k_token_stride = qkv_w; a.k_head_stride = hd;
        a.v = qkv + t0 * qkv_w + attn_w + lkv * hd; a.v_token_stride = qkv_w; a.v_head_stride = hd;
        a.out = attn + t0 * attn_w; a.out_token_stride = attn_w; a.out_head_stride = hd;
        a.causal = true;
        PARLEY_RETURN_IF_ERROR(kernels::cpu::attention_prefill(a, ctx_));
      } else if (n > 0 && run_start < 0) {
        run_start = t0;
      }
      t0 += n;
    }
    PARLEY_RETURN_IF_ERROR(flush_decode(run_start, t0));

    PARLEY_RETURN_IF_ERROR(linear(L.out, T, attn, attn_w, o, hidden));
    PARLEY_RETURN_IF_ERROR(all_reduce(o, T * hidden));
    PARLEY_RETURN_IF_ERROR(rms(L.ffn_norm.data(), o, h));
    PARLEY_RETURN_IF_ERROR(linear(L.gate_up, T, h, hidden, ffn, 2 * lf));
    {
      kernels::ActivationArgs a;
      a.activation = kernels::Activation::kSilu;
      a.rows = T; a.cols = lf; a.dtype = DType::kF32;
      a.gate = ffn; a.ld_gate = 2 * lf;
      a.x = ffn + lf; a.ldx = 2 * lf;
      a.y = ffn + lf; a.ldy = 2 * lf;
      PARLEY_RETURN_IF_ERROR(kernels::cpu::activation(a, ctx_));
    }
    PARLEY_RETURN_IF_ERROR(linear(L.down, T, ffn + lf, 2 * lf, o, hidden));
    PARLEY_RETURN_IF_ERROR(all_reduce(o, T * hidden));
  }

  // Final residual add + norm, only on the rows whose logits are wanted.
  const auto R = static_cast<std::int64_t>(logit_rows_.size());
  if (R == 0) return Status::ok();
  float* hin = grow(head_in_, 2 * R * hidden);
  float* hres = hin + R * hidden;
  for (std::int64_t r = 0; r < R; ++r) {
    std::memcpy(hin + r * hidden, o + logit_rows_[r] * hidden, static_cast<std::size_t>(hidden) * 4);
    std::memcpy(hres + r * hidden, x + logit_rows_[r] * hidden, static_cast<std::size_t>(hidden) * 4);
  }
  {
    kernels::NormArgs n;
    n.kind = kernels::NormKind::kRmsNorm;
    n.rows = R; n.cols = hidden; n.dtype = DType::kF32;
    n.x = hin; n.ldx = hidden; n.residual = hres; n.ld_residual = hidden;
    n.gamma = m.output_norm().data(); n.eps = c.rms_eps;
    n.y = hin; n.ldy = hidden;
    PARLEY_RETURN_IF_ERROR(kernels::cpu::norm(n, ctx_));
  }
  const std::int64_t V = c.vocab_size, lv = m.local_vocab();
  if (!m.vocab_sharded()) return linear(m.lm_head(), R, hin, hidden, logits_out.data(), V);
  float* part = grow(head_out_, R * lv);
  PARLEY_RETURN_IF_ERROR(linear(m.lm_head(), R, hin, hidden, part, lv));
  const int world = comm_->world_size();
  float* all = grow(gather_, world * R * lv);
  PARLEY_RETURN_IF_ERROR(comm_->all_gather(part, all, R * lv, ctx_));
  for (int rk = 0; rk < world; ++rk) {
    for (std::int64_t r = 0; r < R; ++r) {
      std::memcpy(logits_out.data() + r * V + rk * lv, all + (rk * R + r) * lv, static_cast<std::size_t>(lv) * 4);
    }
  }
  return Status::ok();
}

}  // namespace parley::lm
