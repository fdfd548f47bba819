// Forward: one worker's forward pass of a LlamaModel over a continuous batch (prefill chunks and
// decode steps mixed), reading and writing a paged KvCache on the model's device; optionally one
// tensor-parallel rank. Why: the LM service's scheduler (services/lm) builds a BatchInput per
// iteration; this runs it on the backend table of the model's device (token ids in, logits out),
// replaying pure decode steps as captured graphs where the backend has them.
// Depends on llama_model.h, shared/models/runtime, kernels/ (ops, comm).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "kernels/comm/communicator.h"
#include "kernels/ops/common.h"
#include "shared/common/status.h"
#include "shared/models/llama/linear.h"
#include "shared/models/llama/llama_model.h"
#include "shared/models/runtime/model_device.h"
#include "shared/models/runtime/step_graphs.h"

namespace parley::llama {

/// Which logits a sequence wants back.
enum class LogitsMode : std::uint8_t {
  kNone = 0,  ///< none (a prefill chunk that is not the prompt's last)
  kLast = 1,  ///< the last new token's (decode, and the last prefill chunk)
  kAll = 2,   ///< every new token's (perplexity, scoring, speculative verification)
};

/// One sequence of a batch.
struct SequenceInput {
  /// The new tokens: 1 for a decode step, a chunk (or all) of the prompt for prefill.
  std::span<const std::int32_t> tokens;
  /// Position of tokens[0] = number of this sequence's tokens already in the cache.
  std::int64_t start_pos = 0;
  /// Page ids holding positions [0, start_pos + tokens.size()): position p lives in page
  /// block_table[p / page_size] at slot p % page_size. Pages must already be allocated.
  std::span<const std::int32_t> block_table;
  LogitsMode logits = LogitsMode::kLast;
};

/// A batch: any mix of prefill chunks and decode steps; sequences are independent.
struct BatchInput {
  std::vector<SequenceInput> sequences;
};

/// Rows of logits a batch produces: sum over sequences of 1 (kLast), tokens.size() (kAll), 0.
std::int64_t logits_rows(const BatchInput& batch);

/// How a Forward runs (CPU knobs and the GPU's graph replay).
struct ForwardOptions {
  kernels::ThreadPool* threads = nullptr;  ///< CPU: pool for the kernels (nullptr = global)
  kernels::CpuIsa cpu_isa = kernels::CpuIsa::kAuto;
  /// GPU: replay pure decode steps (every sequence one token) as captured graphs, one per batch
  /// size and block-table width (models::StepGraphs). false = every step kernel by kernel.
  bool graphs = true;
};

/// Per-worker forward state: its own stream on a GPU and device scratch reused across calls
/// (grows to the largest batch). One Forward per thread; any number of Forwards share one
/// LlamaModel. The KvCache passed in must come from the same model and is written by forward()
/// (not thread-safe).
///
///   Forward fwd(model);
///   std::vector<float> logits(logits_rows(batch) * model->config().vocab_size);
///   PARLEY_RETURN_IF_ERROR(fwd.forward(batch, cache, logits));
///
/// Tensor parallelism: every rank loads its shard (LoadOptions::shard), owns a KvCache and a
/// Forward built with its Communicator, and all ranks call forward() with the same batch at the
/// same time; every rank gets the full logits.
class Forward {
 public:
  explicit Forward(std::shared_ptr<const LlamaModel> model, kernels::Communicator* comm = nullptr,
                   ForwardOptions options = {});
  /// The CPU knobs of `ctx` (threads, ISA cap); the device is the model's.
  Forward(std::shared_ptr<const LlamaModel> model, kernels::Communicator* comm, const kernels::ExecContext& ctx);
  ~Forward();

  /// Runs the batch: writes the new tokens' K/V into `cache` and the requested logits, row-major
  /// [logits_rows(batch), vocab], in sequence order, into logits_out (HOST memory; size must
  /// match). Returns once the logits are there. InvalidArgument / OutOfRange (bad token id, block
  /// table too short, page id out of range, size mismatch) leave the cache untouched.
  Status forward(const BatchInput& batch, KvCache& cache, std::span<float> logits_out);

  const LlamaModel& model() const { return *model_; }
  /// What graph replay did so far (all eager on the CPU).
  models::StepGraphStats graph_stats() const;

 private:
  struct Plan;
  Status check(const BatchInput& batch, const KvCache& cache, std::span<float> logits_out) const;
  Status prepare(const BatchInput& batch, const KvCache& cache, Plan& plan);
  Status run_layers(const BatchInput& batch, KvCache& cache, const Plan& plan);
  Status run_head(const Plan& plan, float* logits);
  Status linear(const Linear& w, std::int64_t m, const float* x, std::int64_t ldx, float* y, std::int64_t ldy);
  Status all_reduce(float* data, std::int64_t count);
  std::uint64_t buffers_epoch() const;

  std::shared_ptr<const LlamaModel> model_;
  kernels::Communicator* comm_ = nullptr;
  ForwardOptions options_;
  models::OwnedStream stream_;
  models::ModelDevice dev_;  // the model's device, this worker's stream and CPU knobs
  Status init_;              // stream creation (reported by forward())
  std::unique_ptr<models::StepGraphs> graphs_;
  // Activations on the device, [tokens, width] row-major, and the per-step index arrays.
  models::Scratch x_, h_, qkv_, attn_, o_, ffn_, head_in_, head_res_, head_out_, gather_, xq_, xs_, meta_, ws_;
  std::vector<std::int32_t> meta_host_;   // ids, positions, slots, context lengths, logit rows, block tables
  std::vector<float> host_logits_;        // TP vocab gather staging (GPU)
};

}  // namespace parley::llama
