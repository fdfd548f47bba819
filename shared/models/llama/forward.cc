// Forward pass of the Llama decoder over a mixed prefill/decode batch on the backend table of the
// model's device: embedding → per layer [RMSNorm → fused QKV → RoPE → paged KV write → attention →
// out proj → (all-reduce) → fused add+RMSNorm → gate|up → SwiGLU → down → (all-reduce)] → final
// norm on the rows that want logits → LM head (all-gather of vocab shards).
// Per step the host builds the index arrays (ids, positions, KV slots, context lengths, block
// tables) and uploads them once; everything else stays on the device until the logits come back.
// Why: see forward.h. Depends on forward.h, kernels/ops/*.h.
#include "shared/models/llama/forward.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/ops/activation.h"
#include "kernels/ops/attention.h"
#include "kernels/ops/embedding.h"
#include "kernels/ops/norm.h"
#include "kernels/ops/rope.h"

namespace parley::llama {

using engine::DType;

std::int64_t logits_rows(const BatchInput& batch) {
  std::int64_t r = 0;
  for (const SequenceInput& s : batch.sequences) {
    if (s.logits == LogitsMode::kLast) r += s.tokens.empty() ? 0 : 1;
    if (s.logits == LogitsMode::kAll) r += static_cast<std::int64_t>(s.tokens.size());
  }
  return r;
}

/// One step's shape and its index arrays on the device.
struct Forward::Plan {
  std::int64_t tokens = 0;      // T: rows of every activation
  std::int64_t rows = 0;        // R: rows that want logits
  std::int64_t width = 1;       // block-table row width (max blocks, or its power-of-two bucket)
  bool identity_rows = false;   // the logit rows are exactly tokens 0..T-1
  bool graphable = false;       // pure decode on a graph-capable device
  const std::int32_t* ids = nullptr;
  const std::int32_t* positions = nullptr;
  const std::int32_t* slots = nullptr;
  const std::int32_t* context_lens = nullptr;
  const std::int32_t* logit_rows = nullptr;
  const std::int32_t* tables = nullptr;
};

namespace {

std::int64_t next_pow2(std::int64_t v) {
  std::int64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

}  // namespace

Forward::Forward(std::shared_ptr<const LlamaModel> model, kernels::Communicator* comm, ForwardOptions options)
    : model_(std::move(model)), comm_(comm), options_(options), dev_(model_->device()) {
  dev_ = dev_.with_threads(options_.threads, options_.cpu_isa);
  init_ = models::bind_own_stream(dev_, stream_, "Forward");
  graphs_ = std::make_unique<models::StepGraphs>(dev_, options_.graphs && init_.is_ok());
}

Forward::Forward(std::shared_ptr<const LlamaModel> model, kernels::Communicator* comm, const kernels::ExecContext& ctx)
    : Forward(std::move(model), comm, ForwardOptions{ctx.threads, ctx.cpu_isa, true}) {}

Forward::~Forward() {
  graphs_.reset();  // graphs reference this worker's stream: destroy them first
  if (!dev_.is_cpu()) (void)dev_.synchronize();
}

models::StepGraphStats Forward::graph_stats() const { return graphs_->stats(); }

Status Forward::check(const BatchInput& batch, const KvCache& cache, std::span<float> logits_out) const {
  const LlamaConfig& c = model_->config();
  if (cache.num_layers() != c.layers) {
    return invalid_argument("forward: the KV cache has " + std::to_string(cache.num_layers()) + " layers, the model " +
                            std::to_string(c.layers) + " (make it with this model's make_kv_cache)");
  }
  if (cache.device() != model_->device().device()) {
    return invalid_argument("forward: the KV cache lives on " + cache.device().to_string() + ", the model on " +
                            model_->device().device().to_string());
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

std::uint64_t Forward::buffers_epoch() const {
  std::uint64_t e = 0;
  for (const models::Scratch* s : {&x_, &h_, &qkv_, &attn_, &o_, &ffn_, &head_in_, &head_res_, &head_out_, &gather_,
                                   &xq_, &xs_, &meta_, &ws_}) {
    e = e * 1000003u + s->epoch();
  }
  return e;
}

Status Forward::prepare(const BatchInput& batch, const KvCache& cache, Plan& plan) {
  const LlamaModel& m = *model_;
  const LlamaConfig& c = m.config();
  const std::int64_t ps = cache.page_size();
  std::int64_t T = 0, max_blocks = 1;
  bool pure_decode = !batch.sequences.empty();
  for (const SequenceInput& q : batch.sequences) {
    const auto n = static_cast<std::int64_t>(q.tokens.size());
    T += n;
    max_blocks = std::max(max_blocks, (q.start_pos + n + ps - 1) / ps);
    pure_decode = pure_decode && n == 1;
  }
  plan.tokens = T;
  plan.rows = logits_rows(batch);
  if (T == 0) return Status::ok();
  const bool tp = comm_ != nullptr && comm_->world_size() > 1;
  plan.graphable = pure_decode && graphs_->active() && !tp && !m.vocab_sharded();
  // A graph bakes the table width in: bucket it so a growing context re-captures rarely.
  const std::int64_t W = plan.graphable ? next_pow2(max_blocks) : max_blocks;
  plan.width = W;

  // Index arrays: [ids T][positions T][slots T][context lens T][logit rows R][tables T*W].
  const std::int64_t R = plan.rows;
  meta_host_.resize(static_cast<std::size_t>(4 * T + R + T * W));
  std::int32_t* ids = meta_host_.data();
  std::int32_t* pos = ids + T;
  std::int32_t* slots = pos + T;
  std::int32_t* lens = slots + T;
  std::int32_t* rows = lens + T;
  std::int32_t* tables = rows + R;
  {
    std::int64_t t = 0, r = 0;
    for (const SequenceInput& q : batch.sequences) {
      const auto n = static_cast<std::int64_t>(q.tokens.size());
      const std::int64_t blocks = (q.start_pos + n + ps - 1) / ps;
      for (std::int64_t j = 0; j < n; ++j, ++t) {
        const std::int64_t p = q.start_pos + j;
        ids[t] = q.tokens[j];
        pos[t] = static_cast<std::int32_t>(p);
        slots[t] = static_cast<std::int32_t>(q.block_table[p / ps] * ps + p % ps);
        lens[t] = static_cast<std::int32_t>(p + 1);
        std::copy(q.block_table.begin(), q.block_table.begin() + blocks, tables + t * W);
        std::fill(tables + t * W + blocks, tables + (t + 1) * W, 0);
        if (q.logits == LogitsMode::kAll || (q.logits == LogitsMode::kLast && j == n - 1)) {
          rows[r++] = static_cast<std::int32_t>(t);
        }
      }
    }
    plan.identity_rows = R == T;  // rows are increasing, so R == T means 0..T-1
  }
  const std::int32_t* base = meta_host_.data();
  if (!dev_.is_cpu()) {
    PARLEY_RETURN_IF_ERROR(meta_.reserve(dev_, meta_host_.size() * sizeof(std::int32_t)));
    PARLEY_RETURN_IF_ERROR(dev_.upload(meta_.data(), meta_host_.data(), meta_host_.size() * sizeof(std::int32_t)));
    base = meta_.as<const std::int32_t>();
  }
  plan.ids = base;
  plan.positions = base + T;
  plan.slots = base + 2 * T;
  plan.context_lens = base + 3 * T;
  plan.logit_rows = base + 4 * T;
  plan.tables = base + 4 * T + R;

  const std::int64_t hidden = c.hidden, hd = c.head_dim;
  const std::int64_t lh = m.local_heads(), lkv = m.local_kv_heads(), lf = m.local_ffn();
  const std::int64_t qkv_w = (lh + 2 * lkv) * hd, attn_w = lh * hd;
  PARLEY_RETURN_IF_ERROR(x_.reserve_elems<float>(dev_, T * hidden));
  PARLEY_RETURN_IF_ERROR(h_.reserve_elems<float>(dev_, T * hidden));
  PARLEY_RETURN_IF_ERROR(qkv_.reserve_elems<float>(dev_, T * qkv_w));
  PARLEY_RETURN_IF_ERROR(attn_.reserve_elems<float>(dev_, T * attn_w));
  PARLEY_RETURN_IF_ERROR(o_.reserve_elems<float>(dev_, T * hidden));
  PARLEY_RETURN_IF_ERROR(ffn_.reserve_elems<float>(dev_, T * 2 * lf));
  std::int64_t xq = 1;
  std::size_t ws = 0;
  auto need = [&](const Linear& l, std::int64_t rows_in) {
    xq = std::max(xq, l.scratch_int8_bytes(rows_in));
    ws = std::max(ws, l.gemm_workspace_bytes(rows_in));
  };
  for (const LlamaLayer& L : m.layers()) {
    for (const Linear* l : {&L.qkv, &L.out, &L.gate_up, &L.down}) need(*l, T);
  }
  need(m.lm_head(), R);
  PARLEY_RETURN_IF_ERROR(xq_.reserve(dev_, static_cast<std::size_t>(xq)));
  PARLEY_RETURN_IF_ERROR(xs_.reserve_elems<float>(dev_, std::max(T, R)));
  if (R > 0) {
    PARLEY_RETURN_IF_ERROR(head_in_.reserve_elems<float>(dev_, R * hidden));
    if (!plan.identity_rows) PARLEY_RETURN_IF_ERROR(head_res_.reserve_elems<float>(dev_, R * hidden));
    if (!dev_.is_cpu() || m.vocab_sharded()) {
      PARLEY_RETURN_IF_ERROR(head_out_.reserve_elems<float>(dev_, R * m.local_vocab()));
    }
    if (m.vocab_sharded()) {
      PARLEY_RETURN_IF_ERROR(gather_.reserve_elems<float>(dev_, comm_->world_size() * R * m.local_vocab()));
    }
  }
  if (!dev_.is_cpu() && ws > 0) {
    // Every op's scratch comes from here on the GPU (one op at a time on this stream), so a
    // captured graph never holds a pooled block someone else may get.
    PARLEY_RETURN_IF_ERROR(ws_.reserve(dev_, ws));
  }
  return Status::ok();
}

Status Forward::linear(const Linear& w, std::int64_t m, const float* x, std::int64_t ldx, float* y, std::int64_t ldy) {
  return w.apply(m, x, ldx, y, ldy, LinearScratch{xq_.as<std::int8_t>(), xs_.as<float>()}, dev_);
}

Status Forward::all_reduce(float* data, std::int64_t count) {
  if (comm_ == nullptr || comm_->world_size() == 1) return Status::ok();
  return comm_->all_reduce_sum(data, count, dev_.ctx());
}

Status Forward::run_layers(const BatchInput& batch, KvCache& cache, const Plan& plan) {
  const LlamaModel& m = *model_;
  const LlamaConfig& c = m.config();
  const kernels::Backend& be = dev_.backend();
  const kernels::ExecContext& ctx = dev_.ctx();
  const std::int64_t T = plan.tokens, W = plan.width;
  const std::int64_t hidden = c.hidden, hd = c.head_dim;
  const std::int64_t lh = m.local_heads(), lkv = m.local_kv_heads(), lf = m.local_ffn();
  const std::int64_t qkv_w = (lh + 2 * lkv) * hd, attn_w = lh * hd;
  float* x = x_.as<float>();
  float* h = h_.as<float>();
  float* qkv = qkv_.as<float>();
  float* attn = attn_.as<float>();
  float* o = o_.as<float>();
  float* ffn = ffn_.as<float>();

  {
    kernels::EmbeddingArgs e;
    e.num_tokens = T; e.dim = hidden; e.vocab = c.vocab_size; e.ids = plan.ids;
    e.table = m.token_embd_data(); e.table_type = m.token_embd_type();
    e.out = x; e.ld_out = hidden; e.out_type = DType::kF32;
    PARLEY_RETURN_IF_ERROR(be.embedding(e, ctx));
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
    return be.norm(n, ctx);
  };

  for (std::int64_t l = 0; l < c.layers; ++l) {
    const LlamaLayer& L = m.layers()[static_cast<std::size_t>(l)];
    PARLEY_RETURN_IF_ERROR(rms(L.attn_norm_dev.data(), l == 0 ? nullptr : o, h));
    PARLEY_RETURN_IF_ERROR(linear(L.qkv, T, h, hidden, qkv, qkv_w));
    for (int part = 0; part < 2; ++part) {  // RoPE on Q, then K (llama: interleaved pairs; qwen2: halves)
      kernels::RopeArgs r;
      r.style = c.rope_style;
      r.tokens = T; r.heads = part == 0 ? lh : lkv; r.head_dim = hd; r.rotary_dim = c.rotary_dim;
      r.dtype = DType::kF32; r.x = qkv + (part == 0 ? 0 : attn_w);
      r.token_stride = qkv_w; r.head_stride = hd;
      r.positions = plan.positions; r.theta = c.rope_theta;
      PARLEY_RETURN_IF_ERROR(be.rope(r, ctx));
    }
    const kernels::PagedKvCache kv = cache.layer(l);
    {
      kernels::KvCacheWriteArgs w;
      w.tokens = T; w.cache = kv;
      w.k = qkv + attn_w; w.k_token_stride = qkv_w; w.k_head_stride = hd;
      w.v = qkv + attn_w + lkv * hd; w.v_token_stride = qkv_w; w.v_head_stride = hd;
      w.slot_mapping = plan.slots;
      PARLEY_RETURN_IF_ERROR(be.kv_cache_write(w, ctx));
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
      a.block_tables = plan.tables + begin * W; a.max_blocks_per_seq = W;
      a.context_lens = plan.context_lens + begin;
      return be.attention_decode(a, ctx);
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
        PARLEY_RETURN_IF_ERROR(be.attention_prefill(a, ctx));
      } else if (n > 0 && run_start < 0) {
        run_start = t0;
      }
      t0 += n;
    }
    PARLEY_RETURN_IF_ERROR(flush_decode(run_start, t0));

    PARLEY_RETURN_IF_ERROR(linear(L.out, T, attn, attn_w, o, hidden));
    PARLEY_RETURN_IF_ERROR(all_reduce(o, T * hidden));
    PARLEY_RETURN_IF_ERROR(rms(L.ffn_norm_dev.data(), o, h));
    PARLEY_RETURN_IF_ERROR(linear(L.gate_up, T, h, hidden, ffn, 2 * lf));
    {
      kernels::ActivationArgs a;
      a.activation = kernels::Activation::kSilu;
      a.rows = T; a.cols = lf; a.dtype = DType::kF32;
      a.gate = ffn; a.ld_gate = 2 * lf;
      a.x = ffn + lf; a.ldx = 2 * lf;
      a.y = ffn + lf; a.ldy = 2 * lf;
      PARLEY_RETURN_IF_ERROR(be.activation(a, ctx));
    }
    PARLEY_RETURN_IF_ERROR(linear(L.down, T, ffn + lf, 2 * lf, o, hidden));
    PARLEY_RETURN_IF_ERROR(all_reduce(o, T * hidden));
  }
  return Status::ok();
}

Status Forward::run_head(const Plan& plan, float* logits) {
  const LlamaModel& m = *model_;
  const LlamaConfig& c = m.config();
  const kernels::Backend& be = dev_.backend();
  const kernels::ExecContext& ctx = dev_.ctx();
  const std::int64_t R = plan.rows, T = plan.tokens, hidden = c.hidden;
  // Final residual add + norm, only on the rows whose logits are wanted: o + x of those rows
  // (gathered with the embedding op, an f32 row gather, unless they are all of them).
  const float* o_rows = o_.as<float>();
  const float* x_rows = x_.as<float>();
  if (!plan.identity_rows) {
    for (int part = 0; part < 2; ++part) {
      kernels::EmbeddingArgs g;
      g.num_tokens = R; g.dim = hidden; g.vocab = T; g.ids = plan.logit_rows;
      g.table = part == 0 ? o_.data() : x_.data(); g.table_type = DType::kF32;
      g.out = part == 0 ? head_in_.data() : head_res_.data(); g.ld_out = hidden; g.out_type = DType::kF32;
      PARLEY_RETURN_IF_ERROR(be.embedding(g, ctx));
    }
    o_rows = head_in_.as<float>();
    x_rows = head_res_.as<float>();
  }
  float* hin = head_in_.as<float>();
  {
    kernels::NormArgs n;
    n.kind = kernels::NormKind::kRmsNorm;
    n.rows = R; n.cols = hidden; n.dtype = DType::kF32;
    n.x = o_rows; n.ldx = hidden; n.residual = x_rows; n.ld_residual = hidden;
    n.gamma = m.output_norm_dev().data(); n.eps = c.rms_eps;
    n.y = hin; n.ldy = hidden;
    PARLEY_RETURN_IF_ERROR(be.norm(n, ctx));
  }
  const std::int64_t V = c.vocab_size;
  if (!m.vocab_sharded()) return linear(m.lm_head(), R, hin, hidden, logits, V);
  // Vocabulary shards: every rank computes its slice, all-gather, rows re-assembled on the host.
  const std::int64_t lv = m.local_vocab();
  float* part = head_out_.as<float>();
  PARLEY_RETURN_IF_ERROR(linear(m.lm_head(), R, hin, hidden, part, lv));
  const int world = comm_->world_size();
  float* all = gather_.as<float>();
  PARLEY_RETURN_IF_ERROR(comm_->all_gather(part, all, R * lv, ctx));
  const float* host_all = all;
  if (!dev_.is_cpu()) {
    host_logits_.resize(static_cast<std::size_t>(world * R * lv));
    PARLEY_RETURN_IF_ERROR(dev_.download(host_logits_.data(), all, host_logits_.size() * sizeof(float)));
    host_all = host_logits_.data();
  }
  for (int rk = 0; rk < world; ++rk) {
    for (std::int64_t r = 0; r < R; ++r) {
      std::memcpy(logits + r * V + rk * lv, host_all + (rk * R + r) * lv, static_cast<std::size_t>(lv) * 4);
    }
  }
  return Status::ok();
}

Status Forward::forward(const BatchInput& batch, KvCache& cache, std::span<float> logits_out) {
  PARLEY_RETURN_IF_ERROR(init_);
  PARLEY_RETURN_IF_ERROR(check(batch, cache, logits_out));
  Plan plan;
  PARLEY_RETURN_IF_ERROR(prepare(batch, cache, plan));
  if (plan.tokens == 0) return Status::ok();
  const bool host_logits = dev_.is_cpu() || model_->vocab_sharded();  // the head writes logits_out itself
  float* logits = host_logits ? logits_out.data() : head_out_.as<float>();
  const models::ModelDevice saved = dev_;
  if (!dev_.is_cpu()) dev_ = dev_.with_workspace(ws_.data(), ws_.capacity());
  auto body = [&]() -> Status {
    PARLEY_RETURN_IF_ERROR(run_layers(batch, cache, plan));
    if (plan.rows > 0) PARLEY_RETURN_IF_ERROR(run_head(plan, logits));
    return Status::ok();
  };
  Status st;
  if (plan.graphable) {
    // Shape of the step (tokens, rows, table width) and identity of the KV cache: both are baked
    // into a captured graph, as is every scratch address (the epoch).
    const std::uint64_t shape = static_cast<std::uint64_t>(plan.tokens) |
                                (static_cast<std::uint64_t>(plan.width) << 20) |
                                (static_cast<std::uint64_t>(plan.rows) << 40);
    const std::uint64_t key = shape ^ (reinterpret_cast<std::uintptr_t>(cache.layer(0).k) * 0x9E3779B97F4A7C15ull);
    st = graphs_->run(key, buffers_epoch(), body);
  } else {
    st = body();
  }
  dev_ = saved;
  PARLEY_RETURN_IF_ERROR(st);
  if (!host_logits && plan.rows > 0) {
    PARLEY_RETURN_IF_ERROR(dev_.download(logits_out.data(), logits, logits_out.size() * sizeof(float)));
  }
  return Status::ok();
}

}  // namespace parley::llama
