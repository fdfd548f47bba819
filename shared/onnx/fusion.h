// Graph fusions at load: the element-wise ops around 1-D convolutions folded into them — a
// LeakyRelu (and a Div by a constant before it) feeding only convolutions becomes their input
// transform, an Add of a convolution's output becomes the convolution's residual — and the
// run-time half that hands those to the kernel (Conv1dArgs' input transform and residual).
// Why: HiFi-GAN decoders (Piper/VITS voices) put a LeakyReLU before and an Add after nearly every
// convolution; as separate ops each is a full pass over 32-128 channels x thousands of samples
// (~15% of a voice's time), while the kernel copies and stores those values anyway.
// Depends on graph.h, ops/op_registry.h, kernels/ops/conv1d.h.
#pragma once

#include <span>
#include <vector>

#include "kernels/backend.h"
#include "kernels/ops/conv1d.h"
#include "shared/onnx/graph.h"
#include "shared/onnx/ops/op_registry.h"

namespace parley::onnx {

struct FusionStats {
  int input_transforms = 0;  ///< convolutions that read a LeakyRelu's (or Div's) input instead
  int residuals = 0;         ///< Adds folded into the convolution before them
  int removed = 0;           ///< nodes gone from the graph
};

/// Rewrites the main graph (If branches are left alone) after inference and folding, before the
/// memory plan. A fused node keeps its op ("Conv"/"ConvTranspose"), reads the pre-activation
/// value, carries the transform in attributes ("_fused_input_slope", "_fused_input_scale") and
/// the residual as input 3; the removed nodes' outputs no longer exist. Conditions (else the
/// graph is left as written): the LeakyRelu's output is read only by convolutions, as their
/// input; a Div folded with it divides by a scalar float constant and feeds only it; the Add's
/// convolution output is read by nothing else, and neither is a graph output.
FusionStats fuse_conv_elementwise(ModelData& model);

/// The decomposed layer norm that PyTorch exports below opset 17 — ReduceMean(x) -> Sub -> Pow 2 ->
/// ReduceMean -> Add eps -> Sqrt -> Div -> Mul gamma -> Add beta, over the last axis — becomes one
/// LayerNormalization node (axis -1, that epsilon) in the Add's place. Conditions: both means
/// over the last axis only with keepdims, the exponent a constant 2, eps a float constant and
/// gamma/beta float constants of rank <= 1, and no intermediate read elsewhere or a graph
/// output. Returns how many it fused.
/// Why: VITS text encoders and duration predictors (Piper voices) hold ~36 such chains, nine
/// small ops each on text-length tensors: dispatch, not arithmetic, is their cost.
int fuse_layer_norms(ModelData& model);

/// QDQ models: an exact integer MatMul for each MatMul of the main graph between quantized
/// values — A the output of a QuantizeLinear->DequantizeLinear round trip with a constant
/// per-tensor scale sa, B a constant (after folding) that came from a DequantizeLinear of an 8-bit
/// tensor with a per-tensor or per-column scale sb. Such a MatMul is (A/sa) . (B/sb) * sa * sb
/// over integers of magnitude <= 255. Where the backend has a fast int8 linear, A has an 8-bit
/// zero point and B's integers fit int8 (symmetric weights, smart-turn's), it runs there: A's
/// bytes times B's, exact int32 sums, ONNX Runtime's own QDQ arithmetic, at the int8 rate.
/// Otherwise it runs as a bf16 linear (bf16 holds those integers exactly: exact products, f32
/// sums) at twice the f32 rate. Two steps: mark_integer_matmuls records the scales and A's zero
/// point as attributes ("_int_a_scale", "_int_b_scales", "_int_a_zero") after the round trips
/// are formed, before inference; pack_integer_matmuls, after folding, packs B's integers for
/// `backend` ("_int_b_packed_i8" + "_int_scales", or "_int_b_packed"; n, k) where the backend
/// runs it fast. Each returns how many MatMuls it changed.
int mark_integer_matmuls(ModelData& model);
int pack_integer_matmuls(ModelData& model, const kernels::Backend& backend);
/// What run time needs of a packed integer MatMul (false: the node is not one).
struct IntegerMatmul {
  bool int8 = false;                             ///< packed for int8_linear (else bf16_linear)
  float a_scale = 0;
  const std::vector<float>* b_scales = nullptr;  ///< 1 (per tensor) or n (per column)
  const Tensor* packed = nullptr;                ///< B's integers, [n, k] in the backend's layout
  const std::vector<float>* scales = nullptr;    ///< int8: sa * sb[j], n entries
  std::int32_t a_zero = 0;                       ///< int8: A's zero point as a uint8 code
  std::int64_t n = 0, k = 0;
};
bool integer_matmul(const Node& node, IntegerMatmul& out);
/// A MatMul between two round trips (attention's Q.K^T and P.V in QDQ models), marked by
/// mark_integer_matmuls with per-tensor scales ("_int_b_dyn_scale", "_int_b_dyn_zero"): run time
/// quantizes both operands to their bytes and runs the backend's int8 linear (exact int32 sums)
/// where it is fast; elsewhere the f32 GEMM.
struct ActivationIntegerMatmul {
  float a_scale = 0, b_scale = 0;
  std::int32_t a_zero = 0, b_zero = 0;  ///< uint8 codes of real zero
};
bool activation_integer_matmul(const Node& node, ActivationIntegerMatmul& out);

/// Run time, for a Conv/ConvTranspose node: sets `a`'s input transform from the node's fused
/// attributes, and its residual (input 3) when that has exactly `out`'s dims. Returns true when
/// the node has a residual the kernel did not take (other dims: the caller then adds it with
/// add_fused_residual, broadcasting as the Add would have).
bool prepare_fused_conv(const Node& node, std::span<const Tensor> in, const Tensor& out, kernels::Conv1dArgs& a,
                        bool kernel_may_take_residual = true);
/// out = out + in[3] with ONNX Add semantics (the Add that fuse_conv_elementwise removed).
Status add_fused_residual(std::span<const Tensor> in, Tensor& out, RunContext& ctx);

}  // namespace parley::onnx
