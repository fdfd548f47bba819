// ForwardStepModel: the real StepModel (see forward_step_model.h).
// Why its own file: keeps the scheduler library's tests free of model loading.
// Depends on shared/models/llama.
#include "services/lm/forward_step_model.h"

namespace parley::lm {

Result<std::unique_ptr<ForwardStepModel>> ForwardStepModel::create(std::shared_ptr<const LlamaModel> model,
                                                                   std::int64_t num_pages,
                                                                   std::int64_t page_size,
                                                                   ForwardOptions options) {
  PARLEY_ASSIGN_OR_RETURN(KvCache cache, model->make_kv_cache(num_pages, page_size));
  return std::unique_ptr<ForwardStepModel>(new ForwardStepModel(std::move(model), std::move(cache), options));
}

Status ForwardStepModel::step(const BatchInput& batch, std::span<float> logits) {
  return forward_.forward(batch, cache_, logits);
}

}  // namespace parley::lm
