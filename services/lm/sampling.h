// Per-sequence token sampling: repetition penalty, then temperature / top-k / top-p with a seeded
// counter-based RNG (kernels sample op).
// Why: every sequence of a continuous batch has its own parameters and seed; drawing with
// (seed, step) makes a generation reproducible whatever else shares its batches.
// Depends on kernels/ops/sample.h.
#pragma once

#include <cstdint>
#include <span>

#include "shared/common/status.h"

namespace parley::lm {

/// Sampling parameters of one request (already defaulted and validated: see validate()).
struct SamplingOptions {
  float temperature = 0.0f;          ///< <= 0: greedy (argmax)
  std::int32_t top_k = 0;            ///< <= 0: whole vocabulary
  float top_p = 1.0f;                ///< (0, 1]
  float repetition_penalty = 1.0f;   ///< 1: off; > 1 discourages tokens seen in the last window
  std::int32_t penalty_last_n = 64;  ///< window of recent tokens the penalty looks at
  std::uint64_t seed = 0;            ///< with the step index, picks the random draw
};

/// INVALID_ARGUMENT naming the field for out-of-range values (NaN, negative temperature,
/// top_p outside (0, 1], penalty <= 0, temperature > 100).
Status validate(const SamplingOptions& options);

/// CTRL/llama.cpp repetition penalty, in place: for each distinct token in `recent`, a positive
/// logit is divided by `penalty`, a negative one multiplied. Ids outside the logits are ignored.
void apply_repetition_penalty(std::span<float> logits, std::span<const std::int32_t> recent, float penalty);

/// Draws one token from `logits` (one row; modified in place by the penalty). `recent` = the
/// sequence's tokens so far (prompt and generated); `step` = index of the token being generated.
Result<std::int32_t> sample_token(std::span<float> logits, std::span<const std::int32_t> recent,
                                  const SamplingOptions& options, std::uint64_t step);

}  // namespace parley::lm
