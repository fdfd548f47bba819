// Scalar activation math shared by the CPU ops and epilogues (the definitions in ops/common.h).
// Why: one definition of each activation keeps GEMM epilogues, conv and activation.cc identical.
// Depends on kernels/ops/common.h.
#pragma once

#include <cmath>

#include "kernels/ops/common.h"

namespace parley::kernels::cpu {

inline float act_apply(Activation a, float x) {
  switch (a) {
    case Activation::kNone: return x;
    case Activation::kRelu: return x > 0.0f ? x : 0.0f;
    // 1 + erf(u) == erfc(-u), without the cancellation for negative x.
    case Activation::kGeluErf: return 0.5f * x * std::erfc(-x * 0.70710678118654752f);
    case Activation::kGeluTanh: {
      // 0.5 x (1 + tanh(z)) == x * sigmoid(2z), without the cancellation for negative x.
      const float z = 0.79788456080286536f * (x + 0.044715f * x * x * x);
      return x / (1.0f + std::exp(-2.0f * z));
    }
    case Activation::kSilu: return x / (1.0f + std::exp(-x));
  }
  return x;
}

/// Applies `a` to n values in place.
inline void act_apply_n(Activation a, float* v, std::int64_t n) {
  if (a == Activation::kNone) return;
  for (std::int64_t i = 0; i < n; ++i) v[i] = act_apply(a, v[i]);
}

}  // namespace parley::kernels::cpu
