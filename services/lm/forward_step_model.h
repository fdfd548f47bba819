// ForwardStepModel: the real StepModel — a Forward pass of a LlamaModel over its own KvCache.
// Why apart from step_model.h: the scheduler and its tests need only the interface, not the model
// library. Depends on shared/models/llama (llama_model.h, forward.h), step_model.h.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "services/lm/step_model.h"
#include "shared/common/status.h"
#include "shared/models/llama/forward.h"
#include "shared/models/llama/llama_model.h"

namespace parley::lm {

using llama::ForwardOptions;
using llama::KvCache;
using llama::LlamaModel;
using llama::LoadOptions;
using llama::Precision;
using llama::Prune24;

/// The real model: a Forward over a LlamaModel and a KvCache of num_pages x page_size, both on
/// the model's device (the KV cache lives there; logits come back to the host each step).
class ForwardStepModel final : public StepModel {
 public:
  /// ResourceExhausted when the KV cache cannot be allocated.
  static Result<std::unique_ptr<ForwardStepModel>> create(std::shared_ptr<const LlamaModel> model,
                                                          std::int64_t num_pages, std::int64_t page_size,
                                                          ForwardOptions options = {});

  std::int64_t vocab_size() const override { return model_->config().vocab_size; }
  std::int64_t max_context() const override { return model_->config().context_length; }
  Status step(const BatchInput& batch, std::span<float> logits) override;
  const KvCache& cache() const { return cache_; }
  const llama::Forward& forward() const { return forward_; }

 private:
  ForwardStepModel(std::shared_ptr<const LlamaModel> model, KvCache cache, ForwardOptions options)
      : model_(model), cache_(std::move(cache)), forward_(model, nullptr, options) {}
  std::shared_ptr<const LlamaModel> model_;
  KvCache cache_;
  llama::Forward forward_;
};

}  // namespace parley::lm
