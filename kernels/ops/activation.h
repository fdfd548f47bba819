// Element-wise activations (GELU erf/tanh, SiLU, ReLU) and their gated forms (SwiGLU, GeGLU).
// Why: the MLP of every transformer; the gated form reads gate and up halves in one pass.
// Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

/// Plain:  y = act(x)
/// Gated:  y = act(gate) * x          (gate != nullptr; SwiGLU = kSilu, GeGLU = kGeluErf/Tanh)
/// A fused [gate | up] projection output of width 2*cols is passed as gate = p, x = p + cols
/// (or the other way round), both with ld = 2*cols.
/// x, gate and y share dtype (f32, f16, bf16); math in f32. y may alias x (same ld).
struct ActivationArgs {
  Activation activation = Activation::kGeluErf;
  std::int64_t rows = 0, cols = 0;
  DType dtype = DType::kF32;
  const void* x = nullptr;
  std::int64_t ldx = 0;
  const void* gate = nullptr;
  std::int64_t ld_gate = 0;
  void* y = nullptr;
  std::int64_t ldy = 0;
};

Status validate(const ActivationArgs& args);

/// Scalar definitions every backend matches (host reference, f32).
float activation_ref(Activation a, float x);

namespace cpu {
Status activation(const ActivationArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
