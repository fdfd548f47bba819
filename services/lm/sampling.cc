// Sampling implementation (see sampling.h): the penalty here, the draw by the `sample` op of the
// CPU backend's table. The step model hands logits back in host memory whatever device it runs
// on, so the draw runs where they are. Why the penalty is not a kernel: it touches a few dozen
// logits per row, a loop in the caller. Depends on kernels/backend.h (sample op).
#include "services/lm/sampling.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/ops/sample.h"

namespace parley::lm {

Status validate(const SamplingOptions& o) {
  if (!std::isfinite(o.temperature) || o.temperature < 0.0f || o.temperature > 100.0f) {
    return invalid_argument("temperature must be in [0, 100], got " + std::to_string(o.temperature));
  }
  if (!std::isfinite(o.top_p) || o.top_p <= 0.0f || o.top_p > 1.0f) {
    return invalid_argument("top_p must be in (0, 1], got " + std::to_string(o.top_p));
  }
  if (o.top_k < 0) return invalid_argument("top_k must be >= 0, got " + std::to_string(o.top_k));
  if (!std::isfinite(o.repetition_penalty) || o.repetition_penalty <= 0.0f || o.repetition_penalty > 10.0f) {
    return invalid_argument("repetition_penalty must be in (0, 10], got " + std::to_string(o.repetition_penalty));
  }
  if (o.penalty_last_n < 0) return invalid_argument("penalty_last_n must be >= 0");
  return Status::ok();
}

void apply_repetition_penalty(std::span<float> logits, std::span<const std::int32_t> recent, float penalty) {
  if (penalty == 1.0f || recent.empty()) return;
  // Each distinct token is penalized once, however often it occurs (llama.cpp semantics).
  std::vector<std::int32_t> seen(recent.begin(), recent.end());
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  for (std::int32_t id : seen) {
    if (id < 0 || static_cast<std::size_t>(id) >= logits.size()) continue;
    float& l = logits[static_cast<std::size_t>(id)];
    l = l > 0.0f ? l / penalty : l * penalty;
  }
}

Result<std::int32_t> sample_token(std::span<float> logits, std::span<const std::int32_t> recent,
                                  const SamplingOptions& o, std::uint64_t step) {
  if (o.repetition_penalty != 1.0f && o.penalty_last_n > 0) {
    const std::size_t n = std::min<std::size_t>(recent.size(), static_cast<std::size_t>(o.penalty_last_n));
    apply_repetition_penalty(logits, recent.subspan(recent.size() - n), o.repetition_penalty);
  }
  std::int32_t token = -1;
  kernels::SampleArgs a;
  a.batch = 1;
  a.vocab = static_cast<std::int64_t>(logits.size());
  a.logits = logits.data();
  a.ld_logits = a.vocab;
  a.temperature = o.temperature;
  a.top_k = o.top_k;
  a.top_p = o.top_p;
  a.seed = o.seed;
  a.step = step;
  a.out_tokens = &token;
  PARLEY_RETURN_IF_ERROR(kernels::BackendRegistry::instance().cpu().sample(a, kernels::ExecContext::cpu()));
  return token;
}

}  // namespace parley::lm
