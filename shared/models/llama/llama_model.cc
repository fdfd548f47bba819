// LlamaModel loading: config from <arch>.* keys (llama, qwen2), every projection dequantized,
// sliced for this rank's shard, fused (QKV (+ bias), gate|up) and converted to the chosen
// precision, the file's blocks kept for decode; the KV cache factory.
// Why: see llama_model.h. Depends on llama_model.h, linear.h, shared/engine/gguf, kernels/,
// shared/models/runtime.
#include "shared/models/llama/llama_model.h"

#include <cstring>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <tuple>

#include "kernels/ops/gemm_q4.h"
#include "shared/common/log.h"

namespace parley::llama {

namespace gguf = engine::gguf;
using engine::DType;

Result<LlamaConfig> LlamaConfig::from_gguf(const gguf::GgufFile& f) {
  PARLEY_ASSIGN_OR_RETURN(std::string arch, f.get_string("general.architecture"));
  LlamaConfig c;
  if (arch == "llama") {
    c.rope_style = kernels::RopeStyle::kInterleaved;  // convert_hf_to_gguf permutes Q/K for ggml's rope
  } else if (arch == "qwen2") {
    c.rope_style = kernels::RopeStyle::kHalf;  // stored as in HF: NeoX rotation of the two halves
  } else {
    return invalid_argument(f.name() + ": general.architecture is '" + arch + "'; supported: llama, qwen2");
  }
  c.arch = arch;
  const std::string k = arch + ".";
  PARLEY_ASSIGN_OR_RETURN(std::uint32_t hidden, f.get_u32(k + "embedding_length"));
  PARLEY_ASSIGN_OR_RETURN(std::uint32_t ffn, f.get_u32(k + "feed_forward_length"));
  PARLEY_ASSIGN_OR_RETURN(std::uint32_t layers, f.get_u32(k + "block_count"));
  PARLEY_ASSIGN_OR_RETURN(std::uint32_t heads, f.get_u32(k + "attention.head_count"));
  PARLEY_ASSIGN_OR_RETURN(std::uint32_t kv_heads, f.get_u32_or(k + "attention.head_count_kv", heads));
  PARLEY_ASSIGN_OR_RETURN(c.rms_eps, f.get_f32_or(k + "attention.layer_norm_rms_epsilon", 1e-5f));
  PARLEY_ASSIGN_OR_RETURN(c.rope_theta, f.get_f32_or(k + "rope.freq_base", 10000.0f));
  PARLEY_ASSIGN_OR_RETURN(std::uint32_t ctx_len, f.get_u32_or(k + "context_length", 0));
  c.hidden = hidden;
  c.ffn = ffn;
  c.layers = layers;
  c.heads = heads;
  c.kv_heads = kv_heads;
  c.context_length = ctx_len;
  auto bad = [&](const std::string& what) { return invalid_argument(f.name() + ": " + what); };
  if (hidden == 0 || ffn == 0 || layers == 0 || heads == 0 || kv_heads == 0) {
    return bad(k + "embedding_length, feed_forward_length, block_count, head_count and head_count_kv must be > 0");
  }
  if (hidden % heads != 0) {
    return bad(k + "embedding_length " + std::to_string(hidden) + " is not a multiple of head_count " +
               std::to_string(heads));
  }
  if (heads % kv_heads != 0) {
    return bad(k + "attention.head_count " + std::to_string(heads) + " is not a multiple of head_count_kv " +
               std::to_string(kv_heads));
  }
  if (layers > 1024 || hidden > (1 << 16) || ffn > (1 << 18)) return bad("model dimensions are implausibly large");
  c.head_dim = hidden / heads;
  PARLEY_ASSIGN_OR_RETURN(std::uint32_t rot, f.get_u32_or(k + "rope.dimension_count", static_cast<std::uint32_t>(c.head_dim)));
  c.rotary_dim = rot;
  if (c.rotary_dim <= 0 || c.rotary_dim > c.head_dim || c.rotary_dim % 2 != 0) {
    return bad(k + "rope.dimension_count " + std::to_string(rot) + " must be even and <= head_dim " +
               std::to_string(c.head_dim));
  }
  if (!(c.rms_eps > 0.0f) || !(c.rope_theta > 0.0f)) return bad("rms epsilon and rope.freq_base must be > 0");
  PARLEY_ASSIGN_OR_RETURN(const gguf::TensorInfo* embd, f.tensor("token_embd.weight"));
  if (embd->dims.size() != 2 || embd->cols() != c.hidden) {
    return bad("token_embd.weight has shape " + embd->shape_string() + ", expected [vocab, " + std::to_string(c.hidden) + "]");
  }
  c.vocab_size = embd->rows();
  if (c.vocab_size <= 0 || c.vocab_size > std::numeric_limits<std::int32_t>::max()) return bad("bad vocabulary size");
  c.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  c.qkv_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  return c;
}

namespace {

// Checks a tensor's shape against [rows, cols] (row-major) and returns it.
Result<const gguf::TensorInfo*> expect_tensor(const gguf::GgufFile& f, const std::string& name, std::int64_t rows,
                                              std::int64_t cols) {
  PARLEY_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, f.tensor(name));
  const bool vector = rows == 1;
  const bool ok = vector ? (t->n_elements == cols && t->cols() == cols)
                         : (t->dims.size() == 2 && t->rows() == rows && t->cols() == cols);
  if (!ok) {
    std::string want = std::to_string(cols);
    if (!vector) want = std::to_string(rows) + ", " + want;
    return invalid_argument(f.name() + ": tensor '" + name + "' has shape " + t->shape_string() + ", expected [" +
                            want + "]");
  }
  return t;
}

// Columns [c0, c0+nc) of a row-major [rows, cols] matrix.
std::vector<float> slice_cols(const std::vector<float>& w, std::int64_t rows, std::int64_t cols, std::int64_t c0,
                              std::int64_t nc) {
  std::vector<float> out(static_cast<std::size_t>(rows * nc));
  for (std::int64_t r = 0; r < rows; ++r) std::memcpy(&out[r * nc], &w[r * cols + c0], static_cast<std::size_t>(nc) * 4);
  return out;
}

// Raw block bytes of rows [row0, row0+n) (kNative).
Result<std::vector<std::byte>> native_rows(const gguf::TensorInfo& t, std::int64_t row0, std::int64_t n) {
  const auto info = gguf::ggml_type_info(t.type);
  if (!info.engine_dtype) return invalid_argument("tensor '" + t.name + "' type " + std::string(info.name) + " unsupported");
  const std::int64_t rb = engine::row_bytes(*info.engine_dtype, t.cols());
  const auto* p = t.data.data() + row0 * rb;
  return std::vector<std::byte>(p, p + n * rb);
}

struct Part {
  const gguf::TensorInfo* t;
  std::int64_t row0, rows;
};

// LoadOptions::block_max_tokens: keep the file's own blocks next to the INT8 weights when every
// part has a gemm_q4 type (parts may differ: a QKV with q8_0 V rows) and the blocks read fewer
// bytes than INT8 (some part not q8_0, or the LM head); otherwise the INT8 path alone.
Status maybe_add_blocks(Linear& l, const std::vector<Part>& parts, std::int64_t cols, const LoadOptions& o,
                        const models::ModelDevice& dev, bool lm_head = false) {
  if (o.precision != Precision::kInt8 || o.prune != Prune24::kOff || o.block_max_tokens <= 0) return Status::ok();
  if (lm_head && !o.block_lm_head) return Status::ok();
  std::vector<Linear::BlockPart> blocks;
  bool smaller = lm_head;
  for (const Part& p : parts) {
    const auto t = gguf::ggml_type_info(p.t->type).engine_dtype;
    if (!t || !kernels::gemm_q4_type(*t) || cols % engine::block_size(*t) != 0) return Status::ok();
    smaller = smaller || *t != DType::kQ8_0;
    Linear::BlockPart b;
    PARLEY_ASSIGN_OR_RETURN(b.bytes, native_rows(*p.t, p.row0, p.rows));
    b.type = *t;
    b.rows = p.rows;
    blocks.push_back(std::move(b));
  }
  if (blocks.empty() || !smaller) return Status::ok();
  return l.add_blocks(blocks, o.block_max_tokens, dev);
}

// Concatenated rows of several tensors (same cols) → one Linear.
Result<Linear> fused_rows(const std::vector<Part>& parts, std::int64_t cols, const LoadOptions& o,
                          const models::ModelDevice& dev, bool lm_head = false) {

  std::int64_t total = 0;
  for (const Part& p : parts) total += p.rows;
  if (o.precision == Precision::kNative) {
    DType type = DType::kF32;
    std::vector<std::byte> bytes;
    for (std::size_t j = 0; j < parts.size(); ++j) {
      const auto info = gguf::ggml_type_info(parts[j].t->type);
      if (!info.engine_dtype || (j > 0 && *info.engine_dtype != type)) {
        return invalid_argument("native precision: tensor '" + parts[j].t->name + "' type " + std::string(info.name) +
                                " cannot be fused with the others (load with precision int8 or fp32)");
      }
      type = *info.engine_dtype;
      PARLEY_ASSIGN_OR_RETURN(auto b, native_rows(*parts[j].t, parts[j].row0, parts[j].rows));
      bytes.insert(bytes.end(), b.begin(), b.end());
    }
    return Linear::from_native(std::move(bytes), type, total, cols, dev);
  }
  const kernels::ExecContext ctx = kernels::ExecContext::cpu();
  std::vector<float> w;
  w.reserve(static_cast<std::size_t>(total * cols));
  for (const Part& p : parts) {
    PARLEY_ASSIGN_OR_RETURN(auto rows, tensor_rows_f32(*p.t, p.row0, p.rows, ctx));
    w.insert(w.end(), rows.begin(), rows.end());
  }
  PARLEY_ASSIGN_OR_RETURN(Linear l, Linear::from_f32(std::move(w), total, cols, o.precision, o.prune, dev, o.rotate_int8));
  PARLEY_RETURN_IF_ERROR(maybe_add_blocks(l, parts, cols, o, dev, lm_head));
  return l;
}

// A [rows, cols] tensor's column slice → one Linear (the K-split projections of TP).
Result<Linear> column_slice(const gguf::TensorInfo& t, std::int64_t c0, std::int64_t nc, const LoadOptions& o,
                            const models::ModelDevice& dev) {

  const std::int64_t rows = t.rows(), cols = t.cols();
  if (o.precision == Precision::kNative) {
    if (c0 == 0 && nc == cols) {
      PARLEY_ASSIGN_OR_RETURN(auto b, native_rows(t, 0, rows));
      return Linear::from_native(std::move(b), *gguf::ggml_type_info(t.type).engine_dtype, rows, cols, dev);
    }
    return invalid_argument("native precision does not support tensor parallelism (tensor '" + t.name +
                            "'); load with precision int8 or fp32");
  }
  PARLEY_ASSIGN_OR_RETURN(auto w, tensor_rows_f32(t, 0, rows));
  if (c0 != 0 || nc != cols) w = slice_cols(w, rows, cols, c0, nc);
  PARLEY_ASSIGN_OR_RETURN(Linear l, Linear::from_f32(std::move(w), rows, nc, o.precision, o.prune, dev, o.rotate_int8));
  if (c0 == 0 && nc == cols) PARLEY_RETURN_IF_ERROR(maybe_add_blocks(l, {{&t, 0, rows}}, cols, o, dev));
  return l;
}

Result<std::vector<float>> norm_weight(const gguf::GgufFile& f, const std::string& name, std::int64_t n) {
  PARLEY_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, expect_tensor(f, name, 1, n));
  return tensor_rows_f32(*t, 0, 1);
}

}  // namespace

Result<std::shared_ptr<const LlamaModel>> LlamaModel::load(const std::string& path, const LoadOptions& opts) {
  PARLEY_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::open(path));
  return load(std::move(file), opts);
}

Result<std::shared_ptr<const LlamaModel>> LlamaModel::load(std::shared_ptr<const gguf::GgufFile> file,
                                                           const LoadOptions& opts) {
  const gguf::GgufFile& f = *file;
  PARLEY_ASSIGN_OR_RETURN(LlamaConfig c, LlamaConfig::from_gguf(f));
  const Shard s = opts.shard;
  if (s.size < 1 || s.rank < 0 || s.rank >= s.size) {
    return invalid_argument("shard rank " + std::to_string(s.rank) + " of " + std::to_string(s.size) + " is invalid");
  }
  if (c.heads % s.size != 0 || c.kv_heads % s.size != 0 || c.ffn % s.size != 0) {
    return invalid_argument(f.name() + ": " + std::to_string(c.heads) + " heads / " + std::to_string(c.kv_heads) +
                            " kv heads / ffn " + std::to_string(c.ffn) + " do not divide over " + std::to_string(s.size) +
                            " tensor-parallel ranks");
  }
  if (opts.precision == Precision::kNative && opts.prune != Prune24::kOff) {
    return invalid_argument("2:4 pruning needs precision int8 or fp32 (not native)");
  }
  PARLEY_ASSIGN_OR_RETURN(models::ModelDevice dev, models::ModelDevice::open(opts.device));
  std::shared_ptr<LlamaModel> m(new LlamaModel());
  m->file_ = file;
  m->config_ = c;
  m->options_ = opts;
  m->device_ = dev;
  PARLEY_ASSIGN_OR_RETURN(m->token_embd_, f.tensor("token_embd.weight"));
  {
    const auto info = gguf::ggml_type_info(m->token_embd_->type);
    if (!info.engine_dtype || !(engine::is_float(*info.engine_dtype) || engine::is_block_quantized(*info.engine_dtype))) {
      return invalid_argument(f.name() + ": token_embd.weight has type " + std::string(info.name) +
                              ", which the engine cannot read (f32, f16, bf16 or a GGUF q*_0/q*_1/q*_k type)");
    }
    m->token_embd_type_ = *info.engine_dtype;
    // The table is read in place on the CPU (the mapped file), uploaded once elsewhere.
    PARLEY_ASSIGN_OR_RETURN(m->token_embd_dev_, models::place(dev, m->token_embd_->data));
  }
  const std::int64_t hd = c.head_dim, lh = c.heads / s.size, lkv = c.kv_heads / s.size, lf = c.ffn / s.size;
  m->layers_.resize(static_cast<std::size_t>(c.layers));
  for (std::int64_t l = 0; l < c.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LlamaLayer& L = m->layers_[static_cast<std::size_t>(l)];
    auto ctx_err = [&](Status st) { return st.with_context(f.name() + ": layer " + std::to_string(l)); };
    auto nw = norm_weight(f, p + "attn_norm.weight", c.hidden);
    if (!nw.ok()) return ctx_err(nw.status());
    L.attn_norm = std::move(*nw);
    nw = norm_weight(f, p + "ffn_norm.weight", c.hidden);
    if (!nw.ok()) return ctx_err(nw.status());
    L.ffn_norm = std::move(*nw);
    PARLEY_ASSIGN_OR_RETURN(auto* wq, expect_tensor(f, p + "attn_q.weight", c.heads * hd, c.hidden));
    PARLEY_ASSIGN_OR_RETURN(auto* wk, expect_tensor(f, p + "attn_k.weight", c.kv_heads * hd, c.hidden));
    PARLEY_ASSIGN_OR_RETURN(auto* wv, expect_tensor(f, p + "attn_v.weight", c.kv_heads * hd, c.hidden));
    PARLEY_ASSIGN_OR_RETURN(auto* wo, expect_tensor(f, p + "attn_output.weight", c.hidden, c.heads * hd));
    PARLEY_ASSIGN_OR_RETURN(auto* wg, expect_tensor(f, p + "ffn_gate.weight", c.ffn, c.hidden));
    PARLEY_ASSIGN_OR_RETURN(auto* wu, expect_tensor(f, p + "ffn_up.weight", c.ffn, c.hidden));
    PARLEY_ASSIGN_OR_RETURN(auto* wd, expect_tensor(f, p + "ffn_down.weight", c.hidden, c.ffn));
    auto qkv = fused_rows({{wq, s.rank * lh * hd, lh * hd}, {wk, s.rank * lkv * hd, lkv * hd}, {wv, s.rank * lkv * hd, lkv * hd}},
                          c.hidden, opts, dev);
    if (!qkv.ok()) return ctx_err(qkv.status());
    L.qkv = std::move(*qkv);
    if (c.qkv_bias) {
      // This rank's Q rows, then K, then V (as the fused weight).
      std::vector<float> bias;
      for (const auto& [name, n, r0] : {std::tuple{"attn_q.bias", c.heads * hd, s.rank * lh * hd},
                                        std::tuple{"attn_k.bias", c.kv_heads * hd, s.rank * lkv * hd},
                                        std::tuple{"attn_v.bias", c.kv_heads * hd, s.rank * lkv * hd}}) {
        auto b = norm_weight(f, p + name, n);
        if (!b.ok()) return ctx_err(b.status());
        const std::int64_t take = name[5] == 'q' ? lh * hd : lkv * hd;
        bias.insert(bias.end(), b->begin() + r0, b->begin() + r0 + take);
      }
      PARLEY_RETURN_IF_ERROR(ctx_err(L.qkv.set_bias(std::move(bias), dev)));
    }
    auto out = column_slice(*wo, s.rank * lh * hd, lh * hd, opts, dev);
    if (!out.ok()) return ctx_err(out.status());
    L.out = std::move(*out);
    auto gu = fused_rows({{wg, s.rank * lf, lf}, {wu, s.rank * lf, lf}}, c.hidden, opts, dev);
    if (!gu.ok()) return ctx_err(gu.status());
    L.gate_up = std::move(*gu);
    auto down = column_slice(*wd, s.rank * lf, lf, opts, dev);
    if (!down.ok()) return ctx_err(down.status());
    L.down = std::move(*down);
  }
  for (LlamaLayer& L : m->layers_) {  // the vector is final: views into its norms stay valid
    PARLEY_ASSIGN_OR_RETURN(L.attn_norm_dev, models::place(dev, L.attn_norm));
    PARLEY_ASSIGN_OR_RETURN(L.ffn_norm_dev, models::place(dev, L.ffn_norm));
  }
  PARLEY_ASSIGN_OR_RETURN(m->output_norm_, norm_weight(f, "output_norm.weight", c.hidden));
  PARLEY_ASSIGN_OR_RETURN(m->output_norm_dev_, models::place(dev, m->output_norm_));
  const gguf::TensorInfo* head = m->token_embd_;
  if (!c.tied_embeddings) {
    PARLEY_ASSIGN_OR_RETURN(head, expect_tensor(f, "output.weight", c.vocab_size, c.hidden));
  }
  m->vocab_sharded_ = s.size > 1 && c.vocab_size % s.size == 0;
  const std::int64_t lv = m->vocab_sharded_ ? c.vocab_size / s.size : c.vocab_size;
  const std::int64_t v0 = m->vocab_sharded_ ? s.rank * lv : 0;
  // The LM head is never pruned: it is one matrix that decides every token.
  LoadOptions head_opts = opts;
  head_opts.prune = Prune24::kOff;
  PARLEY_ASSIGN_OR_RETURN(m->lm_head_, fused_rows({{head, v0, lv}}, c.hidden, head_opts, dev, /*lm_head=*/true));
  int dense_fallback = 0;
  for (const LlamaLayer& L : m->layers_) {
    for (const Linear* l : {&L.qkv, &L.out, &L.gate_up, &L.down}) dense_fallback += l->sparse_fallback() ? 1 : 0;
  }
  if (dense_fallback > 0) {
    PARLEY_LOG(kWarn).kv("device", dev.device().to_string()).kv("linears", dense_fallback)
        << "2:4 sparse asked for, but this device has no 2:4 kernel for these shapes: the pruned weights are "
           "stored dense (same values, dense speed)";
  }
  PARLEY_LOG(kInfo).kv("file", f.name()).kv("arch", c.arch).kv("layers", c.layers).kv("hidden", c.hidden).kv("heads", c.heads)
          .kv("kv_heads", c.kv_heads).kv("vocab", c.vocab_size).kv("precision", precision_name(opts.precision))
          .kv("device", dev.device().to_string())
          .kv("block_max_tokens", m->layers_.empty() ? 0 : m->layers_.front().qkv.block_max_tokens())
          .kv("shard", std::to_string(s.rank) + "/" + std::to_string(s.size))
          .kv("weight_mib", m->weight_bytes() >> 20)
      << "loaded LM";
  return std::shared_ptr<const LlamaModel>(std::move(m));
}

std::int64_t LlamaModel::weight_bytes() const {
  std::int64_t b = lm_head_.bytes() + static_cast<std::int64_t>(output_norm_.size() * 4);
  for (const LlamaLayer& l : layers_) {
    b += l.qkv.bytes() + l.out.bytes() + l.gate_up.bytes() + l.down.bytes() +
         static_cast<std::int64_t>((l.attn_norm.size() + l.ffn_norm.size()) * 4);
  }
  return b;
}

Result<KvCache> LlamaModel::make_kv_cache(std::int64_t num_pages, std::int64_t page_size) const {
  if (num_pages <= 0 || page_size <= 0) return invalid_argument("make_kv_cache: num_pages and page_size must be > 0");
  KvCache kv;
  kv.num_pages_ = num_pages;
  kv.page_size_ = page_size;
  kv.kv_heads_ = local_kv_heads();
  kv.head_dim_ = config_.head_dim;
  kv.device_ = device_.device();
  std::int64_t per_layer = 0;
  if (__builtin_mul_overflow(num_pages, page_size, &per_layer) ||
      __builtin_mul_overflow(per_layer, kv.kv_heads_ * kv.head_dim_, &per_layer) ||
      per_layer > (std::int64_t{1} << 36)) {
    return resource_exhausted("make_kv_cache: " + std::to_string(num_pages) + " pages of " + std::to_string(page_size) +
                              " tokens is too large");
  }
  const std::size_t bytes = static_cast<std::size_t>(per_layer) * sizeof(float);
  for (std::int64_t l = 0; l < config_.layers; ++l) {
    for (auto* side : {&kv.k_, &kv.v_}) {
      auto b = models::DeviceBuffer::allocate(device_, bytes);
      if (!b.ok()) {
        return resource_exhausted("make_kv_cache: cannot allocate " + std::to_string(2 * bytes * config_.layers) +
                                  " bytes on " + device_.device().to_string() + " (" + b.status().message() + ")");
      }
      // Zero pages on the CPU (touches them now, as the vectors this replaced did); a GPU's pages
      // are always written (kv_cache_write) before attention reads them.
      if (device_.is_cpu()) std::memset(b->data(), 0, bytes);
      side->push_back(std::move(*b));
    }
  }
  return kv;
}

std::int64_t KvCache::bytes() const {
  std::int64_t b = 0;
  for (const auto& x : k_) b += static_cast<std::int64_t>(x.bytes());
  return 2 * b;
}

kernels::PagedKvCache KvCache::layer(std::int64_t l) {
  kernels::PagedKvCache c;
  c.k = k_[static_cast<std::size_t>(l)].data();
  c.v = v_[static_cast<std::size_t>(l)].data();
  c.num_pages = num_pages_;
  c.num_kv_heads = kv_heads_;
  c.page_size = page_size_;
  c.head_dim = head_dim_;
  c.dtype = DType::kF32;
  return c;
}

}  // namespace parley::llama
