// Forward: one worker's forward pass of a LlamaModel over a continuous batch (prefill chunks and
// decode steps mixed), reading and writing a paged KvCache; optionally one tensor-parallel rank.
// Why: the LM service's scheduler (services/lm) builds a BatchInput per iteration; this runs it
// on kernels/ ops. Depends on llama_model.h, kernels/ (ops, comm).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "shared/common/status.h"
#include "kernels/comm/communicator.h"
#include "kernels/ops/common.h"
#include "shared/models/llama/linear.h"
#include "shared/models/llama/llama_model.h"

namespace parley::lm {

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

/// Per-worker forward state: scratch buffers reused across calls (grows to the largest batch).
/// One Forward per thread; any number of Forwards share one LlamaModel. The KvCache passed in
/// must come from the same model and is written by forward() (not thread-safe).
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
                   kernels::ExecContext ctx = kernels::ExecContext::cpu());

  /// Runs the batch: writes the new tokens' K/V into `cache` and the requested logits, row-major
  /// [logits_rows(batch), vocab], in sequence order, into logits_out (size must match).
  /// InvalidArgument / OutOfRange (bad token id, block table too short, page id out of range,
  /// size mismatch) leave the cache untouched.
  Status forward(const BatchInput& batch, KvCache& cache, std::span<float> logits_out);

  const LlamaModel& model() const { return *model_; }

 private:
  Status check(const BatchInput& batch, const KvCache& cache, std::span<float> logits_out) const;
  Status linear(const Linear& w, std::int64_t m, const float* x, std::int64_t ldx, float* y, std::int64_t ldy);
  Status all_reduce(float* data, std::int64_t count);

  std::shared_ptr<const LlamaModel> model_;
  kernels::Communicator* comm_ = nullptr;
  kernels::ExecContext ctx_;
  LinearScratch lin_;
  // Activations, [tokens, width] row-major.
  std::vector<float> x_, h_, qkv_, attn_, o_, ffn_, head_in_, head_out_, gather_;
  std::vector<std::int32_t> ids_, positions_, slots_, tables_, ctx_lens_, logit_rows_;
};

}  // namespace parley::lm
