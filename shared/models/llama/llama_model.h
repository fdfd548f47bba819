// LlamaModel: a Llama-architecture decoder's configuration and weights, loaded from GGUF,
// converted once to the engine's layouts (INT8 per-channel by default) and placed on the model's
// device, shared by all workers.
// Why: the LM service runs SmolLM2/Llama-family GGUF models on the backend table of its device;
// loading, conversion and tensor-parallel sharding live here, the forward pass in forward.h.
// Depends on shared/engine/gguf, shared/models/runtime, kernels/ (quantize, sparse24),
// shared/models/llama/linear.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/ops/attention.h"
#include "kernels/ops/rope.h"
#include "shared/common/status.h"
#include "shared/engine/device.h"
#include "shared/engine/gguf/gguf.h"
#include "shared/models/llama/linear.h"
#include "shared/models/runtime/model_device.h"

namespace parley::llama {

/// Hyper-parameters from the GGUF `<arch>.*` keys (validated at load). Architectures:
///   "llama" (Llama 2/3, SmolLM2, TinyLlama, ...): Q/K stored permuted for ggml's interleaved RoPE.
///   "qwen2" (Qwen2 / Qwen2.5): biases on Q, K and V, NeoX-style (half) RoPE, usually rope base
///           1e6 and GQA; tied or untied output. Same blocks otherwise.
struct LlamaConfig {
  std::string arch = "llama";         ///< general.architecture
  kernels::RopeStyle rope_style = kernels::RopeStyle::kInterleaved;  ///< llama: interleaved, qwen2: half
  bool qkv_bias = false;              ///< blk.N.attn_{q,k,v}.bias present (qwen2)
  std::int64_t vocab_size = 0;        ///< rows of token_embd.weight
  std::int64_t hidden = 0;            ///< <arch>.embedding_length
  std::int64_t ffn = 0;               ///< <arch>.feed_forward_length
  std::int64_t layers = 0;            ///< <arch>.block_count
  std::int64_t heads = 0;             ///< <arch>.attention.head_count
  std::int64_t kv_heads = 0;          ///< <arch>.attention.head_count_kv (default = heads)
  std::int64_t head_dim = 0;          ///< hidden / heads
  std::int64_t rotary_dim = 0;        ///< <arch>.rope.dimension_count (default head_dim)
  float rope_theta = 10000.0f;        ///< <arch>.rope.freq_base
  float rms_eps = 1e-5f;              ///< <arch>.attention.layer_norm_rms_epsilon
  std::int64_t context_length = 0;    ///< <arch>.context_length (0 = unknown)
  bool tied_embeddings = false;       ///< no output.weight: the LM head is token_embd.weight

  /// Reads and checks the keys of a llama- or qwen2-architecture file (InvalidArgument naming the
  /// key; an other architecture is InvalidArgument listing the supported ones).
  static Result<LlamaConfig> from_gguf(const engine::gguf::GgufFile& file);
};

/// Which part of the model this process holds (tensor parallelism): attention heads and FFN
/// columns are split evenly over `size` ranks; heads, kv_heads and ffn must divide by size.
struct Shard {
  int rank = 0;
  int size = 1;
};

/// How to convert weights at load.
struct LoadOptions {
  Precision precision = Precision::kInt8;  ///< kInt8 (default), kFp32 (exact), kNative (GGUF blocks)
  /// 2:4 magnitude pruning of every projection weight at load (kernels sparse24): kOff, kDense
  /// (pruned weights kept dense: accuracy study at full speed) or kSparse (2:4-compressed storage
  /// and sparse24 GEMM; on the CPU slower than dense, see kernels/README.md).
  Prune24 prune = Prune24::kOff;
  /// kInt8: rotate every projection's input space by a block Hadamard transform before per-token
  /// activation quantization (see Linear::from_f32). Costs O(K log K) per token and input; keeps
  /// SmolLM2's perplexity within ~1% of the FP32 weights instead of +6%.
  bool rotate_int8 = true;
  /// kInt8: projections stored in the file in a gemm_q4 type (q4_0, q4_1, q5_0, q5_1, q4_k,
  /// q5_k, q6_k; q8_0 only next to one of those in a fused projection, or for the LM head when
  /// `block_lm_head`) also keep their own GGUF blocks, repacked for kernels gemm_q4, and every
  /// call with at most this many tokens (decode steps of up to this many sequences) runs on them:
  /// W4A8-style with per-32 activation scales, as llama.cpp computes, reading 4.5-6.6 bits per
  /// weight instead of 8 (batch-1 decode is bound by weight bandwidth). Larger calls (prefill
  /// chunks, big decode batches) keep the INT8 GEMM, which is faster once the weights are reused
  /// across tokens. Costs the blocks' memory on top of the INT8 copy (+~60% weights for
  /// SmolLM2-135M). 0 = off. Ignored with pruning and for tensor-parallel column slices.
  std::int64_t block_max_tokens = 8;
  /// With block_max_tokens: the LM head too when it is q8_0/q4_x in the file.
  bool block_lm_head = true;
  Shard shard;
  /// Where the model runs: weights, KV cache and activations live there (conversion runs on the
  /// host first). UNAVAILABLE at load when no backend serves it.
  engine::Device device = engine::Device::cpu();
};

/// One decoder layer's weights (this rank's shard). Move-only (device views point into it).
struct LlamaLayer {
  std::vector<float> attn_norm;  ///< [hidden] (host)
  std::vector<float> ffn_norm;   ///< [hidden] (host)
  models::DeviceView<float> attn_norm_dev, ffn_norm_dev;  ///< on the model's device
  Linear qkv;       ///< [(q_heads + 2*kv_heads) * head_dim (local), hidden]: Q rows, then K, then V
  Linear out;       ///< [hidden, q_heads*head_dim (local)]
  Linear gate_up;   ///< [2*ffn (local), hidden]: gate rows then up rows
  Linear down;      ///< [hidden, ffn (local)]
};

/// A loaded model: configuration, weights (this rank's shard), the GGUF file (tokenizer metadata).
///
///   LoadOptions opts;                        // INT8 per-channel weights
///   PARLEY_ASSIGN_OR_RETURN(auto model, LlamaModel::load(path, opts));
///   PARLEY_ASSIGN_OR_RETURN(KvCache cache, model->make_kv_cache(/*num_pages=*/256, /*page_size=*/16));
///   Forward fwd(model);                     // one per worker thread (forward.h)
///
/// Immutable after load: shared (shared_ptr<const>) by every worker thread.
class LlamaModel {
 public:
  static Result<std::shared_ptr<const LlamaModel>> load(const std::string& path, const LoadOptions& opts = {});
  static Result<std::shared_ptr<const LlamaModel>> load(std::shared_ptr<const engine::gguf::GgufFile> file,
                                                        const LoadOptions& opts = {});

  const LlamaConfig& config() const { return config_; }
  const LoadOptions& options() const { return options_; }
  /// The source file: metadata (tokenizer.ggml.*, chat template) stays readable.
  const engine::gguf::GgufFile& gguf() const { return *file_; }
  std::shared_ptr<const engine::gguf::GgufFile> gguf_ptr() const { return file_; }
  /// Where the model runs (its backend, allocator, default stream).
  const models::ModelDevice& device() const { return device_; }

  /// This rank's head counts and FFN width.
  std::int64_t local_heads() const { return config_.heads / options_.shard.size; }
  std::int64_t local_kv_heads() const { return config_.kv_heads / options_.shard.size; }
  std::int64_t local_ffn() const { return config_.ffn / options_.shard.size; }
  /// Vocabulary rows of the LM head this rank computes (all of them when vocab % size != 0).
  std::int64_t local_vocab() const { return lm_head_.rows(); }
  bool vocab_sharded() const { return vocab_sharded_; }

  /// Bytes of converted weights this rank holds.
  std::int64_t weight_bytes() const;

  /// A KV cache for this model (this rank's kv heads, every layer), f32, on the model's device
  /// (zero-filled on the CPU; on a GPU pages are written before they are read).
  /// ResourceExhausted when the size overflows or the allocation fails.
  Result<class KvCache> make_kv_cache(std::int64_t num_pages, std::int64_t page_size) const;

  // Weights (read by Forward).
  const engine::gguf::TensorInfo& token_embd() const { return *token_embd_; }
  /// The embedding table on the device (the mapped file itself on the CPU) and its dtype.
  const void* token_embd_data() const { return token_embd_dev_.ptr; }
  engine::DType token_embd_type() const { return token_embd_type_; }
  const std::vector<LlamaLayer>& layers() const { return layers_; }
  const std::vector<float>& output_norm() const { return output_norm_; }
  const models::DeviceView<float>& output_norm_dev() const { return output_norm_dev_; }
  const Linear& lm_head() const { return lm_head_; }

 private:
  LlamaModel() = default;

  std::shared_ptr<const engine::gguf::GgufFile> file_;
  LlamaConfig config_;
  LoadOptions options_;
  const engine::gguf::TensorInfo* token_embd_ = nullptr;  // f32/f16/bf16/q8_0/q4_x
  models::DeviceView<std::byte> token_embd_dev_;         // the file's bytes in place on the CPU
  engine::DType token_embd_type_ = engine::DType::kF32;
  models::ModelDevice device_ = models::ModelDevice::cpu();
  std::vector<LlamaLayer> layers_;
  std::vector<float> output_norm_;
  models::DeviceView<float> output_norm_dev_;
  Linear lm_head_;
  bool vocab_sharded_ = false;
};

/// Paged KV storage for every layer of one model shard, on the model's device: per layer a K and
/// a V array in kernels::PagedKvCache layout [num_pages, local_kv_heads, page_size, head_dim]
/// (f32). Page ids are handed out by the caller's allocator (services/lm); a page id names the
/// same slot range in every layer. Not thread-safe: one Forward writes it at a time.
class KvCache {
 public:
  KvCache() = default;
  std::int64_t num_pages() const { return num_pages_; }
  std::int64_t page_size() const { return page_size_; }
  std::int64_t num_layers() const { return static_cast<std::int64_t>(k_.size()); }
  std::int64_t bytes() const;
  engine::Device device() const { return device_; }
  /// The kernels view of layer `l` (device pointers owned by this object; valid while it lives).
  kernels::PagedKvCache layer(std::int64_t l);

 private:
  friend class LlamaModel;
  std::int64_t num_pages_ = 0, page_size_ = 0, kv_heads_ = 0, head_dim_ = 0;
  engine::Device device_;
  std::vector<models::DeviceBuffer> k_, v_;
};

}  // namespace parley::llama
