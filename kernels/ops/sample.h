// Token sampling from logits: argmax, temperature, top-k, top-p, with a seeded counter-based RNG.
// Why: the last step of LM decoding; a counter-based RNG (seed, step) makes a run reproducible
// and lets every backend draw the same uniform for the same sequence and step.
// Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

/// splitmix64 finalizer (public so every backend reproduces the RNG bit for bit).
constexpr std::uint64_t splitmix64(std::uint64_t x) {
  std::uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// The uniform in [0, 1) used for one draw: 24 random bits of splitmix64(seed ^ splitmix64(step)).
constexpr float sample_uniform(std::uint64_t seed, std::uint64_t step) {
  return static_cast<float>(splitmix64(seed ^ splitmix64(step)) >> 40) * (1.0f / 16777216.0f);
}

/// For each row b (one sequence) of `vocab` f32 logits at logits + b*ld_logits:
///  1. temperature <= 0 or top_k == 1: token = argmax (lowest index among equal maxima).
///  2. else z = logits / temperature; candidates = the top_k largest z (top_k <= 0 or >= vocab:
///     all), ordered by z descending then index ascending; p = softmax over the candidates.
///  3. top_p < 1: keep the shortest prefix of candidates whose cumulative p >= top_p (>= 1 kept).
///  4. u = sample_uniform(seed_b, step) with seed_b = seeds ? seeds[b] : seed + b;
///     token = first kept candidate whose running sum of p exceeds u * (sum of kept p)
///     (the last kept one if rounding leaves none).
/// out_tokens[b] gets the token; out_logprobs[b] (optional) = log softmax(logits)[token] of the
/// raw logits (temperature 1, no filtering). NaN logits are InvalidArgument on the CPU.
struct SampleArgs {
  std::int64_t batch = 0, vocab = 0;
  const float* logits = nullptr;
  std::int64_t ld_logits = 0;
  float temperature = 1.0f;
  std::int32_t top_k = 0;
  float top_p = 1.0f;
  std::uint64_t seed = 0;
  const std::uint64_t* seeds = nullptr;  ///< [batch] per-sequence seeds, or nullptr
  std::uint64_t step = 0;                ///< decode step (advance by one per token)
  std::int32_t* out_tokens = nullptr;
  float* out_logprobs = nullptr;
};

Status validate(const SampleArgs& args);

namespace cpu {
Status sample(const SampleArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
