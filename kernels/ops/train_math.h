// The per-element math of the training ops, shared by the CPU loops (kernels/cpu/train_ops.cc) and
// the CUDA kernels (kernels/cuda/train.cu) so the two cannot drift: act'(x), one AdamW update and
// its bias corrections. Compiles for the host and, under nvcc, for the device.
// Depends on kernels/ops/train.h (AdamWArgs, Activation).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/ops/train.h"

#if defined(__CUDACC__)
#define PARLEY_TRAIN_HD __host__ __device__ __forceinline__
#else
#define PARLEY_TRAIN_HD inline
#endif

namespace parley::kernels::train_math {

/// act'(x) (kernels::activation_grad_ref is this on the host).
PARLEY_TRAIN_HD float activation_grad(Activation a, float x) {
  switch (a) {
    case Activation::kNone:
      return 1.0f;
    case Activation::kRelu:
      return x > 0.0f ? 1.0f : 0.0f;
    case Activation::kGeluErf: {
      const float cdf = 0.5f * erfcf(-x * 0.70710678118654752f);
      const float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
      return cdf + x * pdf;
    }
    case Activation::kGeluTanh: {
      const float c = 0.79788456080286536f;
      const float t = tanhf(c * (x + 0.044715f * x * x * x));
      return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * c * (1.0f + 3.0f * 0.044715f * x * x);
    }
    case Activation::kSilu: {
      const float s = 1.0f / (1.0f + expf(-x));
      return s * (1.0f + x * (1.0f - s));
    }
  }
  return 0.0f;
}

/// AdamW's step size lr / (1 - beta1^step) and 1 / (1 - beta2^step), in double then f32 (host).
struct AdamWCorrections {
  float step_size = 0.0f, inv_bc2 = 0.0f;
};
inline AdamWCorrections adamw_corrections(const AdamWArgs& a) {
  const float bc1 = 1.0f - static_cast<float>(std::pow(static_cast<double>(a.beta1), static_cast<double>(a.step)));
  const float bc2 = 1.0f - static_cast<float>(std::pow(static_cast<double>(a.beta2), static_cast<double>(a.step)));
  return {a.lr / bc1, 1.0f / bc2};
}

/// Element i of AdamWArgs updated (ops/train.h has the formula).
PARLEY_TRAIN_HD void adamw_element(const AdamWArgs& a, AdamWCorrections c, std::int64_t i) {
  if (a.mask != nullptr && a.mask[i] == 0) {
    a.param[i] = 0.0f;
    a.m[i] = 0.0f;
    a.v[i] = 0.0f;
  } else {
    const float g = a.grad[i] * a.grad_scale;
    const float m = a.beta1 * a.m[i] + (1.0f - a.beta1) * g;
    const float v = a.beta2 * a.v[i] + (1.0f - a.beta2) * g * g;
    a.m[i] = m;
    a.v[i] = v;
    a.param[i] -= c.step_size * m / (sqrtf(v * c.inv_bc2) + a.eps) + a.lr * a.weight_decay * a.param[i];
  }
  if (a.zero_grad) a.grad[i] = 0.0f;
}

}  // namespace parley::kernels::train_math
