// OpDef: how the runtime knows an ONNX operator (input/output counts, load-time checks and
// type/shape inference, the run function), the contexts ops see, and the registry.
// Why: one table drives load-time support checks ("unsupported operator" naming the node), type
// inference, constant folding and execution. Depends on graph.h, kernels/backend.h.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string_view>
#include <vector>

#include "kernels/backend.h"
#include "shared/onnx/graph.h"

namespace parley::onnx {

/// What an op sees when it runs. Allocation comes from the session's pool on the model device.
class RunContext {
 public:
  virtual ~RunContext() = default;
  virtual const kernels::Backend& backend() const = 0;
  virtual const kernels::ExecContext& exec() const = 0;
  virtual Result<Tensor> alloc(DataType type, const Dims& dims) = 0;
  virtual std::mt19937_64& rng() = 0;
  /// Runs graph `graph` (an If branch) in the current value table; fills its outputs.
  virtual Status run_graph(int graph, std::vector<Tensor>& outputs) = 0;
};

/// What an op's load-time check sees: its node, the known facts of its inputs (nullptr for a left-out
/// optional input) and the output infos to fill (type always; dims/rank when known).
struct InferContext {
  const Node& node;
  std::vector<const ValueInfo*> in;
  std::vector<ValueInfo*> out;
  const ModelData& model;

  const ValueInfo* input(std::size_t i) const { return i < in.size() ? in[i] : nullptr; }
  /// The constant value of input i, if known at load.
  const Tensor* constant(std::size_t i) const {
    const ValueInfo* v = input(i);
    return v && v->constant ? &*v->constant : nullptr;
  }
};

using InferFn = Status (*)(InferContext& ctx);
using RunFn = Status (*)(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx);

struct OpDef {
  std::string_view type;
  int min_inputs = 1, max_inputs = 1;
  int min_outputs = 1, max_outputs = 1;
  InferFn infer = nullptr;
  RunFn run = nullptr;
  bool foldable = true;   ///< false: never evaluated at load (random ops, control flow)
  /// Oldest opset whose semantics this implementation follows (inputs that were attributes
  /// before, e.g. Pad's pads before 11); an older model is refused at load naming the node.
  int min_opset = 1;
};

/// The op for `type` in the default domain, or nullptr.
const OpDef* find_op(std::string_view type);
/// Every supported op type, sorted (for errors and the README).
std::vector<std::string_view> supported_ops();

namespace detail {
void register_elementwise_ops(std::vector<OpDef>& ops);
void register_shape_ops(std::vector<OpDef>& ops);
void register_movement_ops(std::vector<OpDef>& ops);
void register_nn_ops(std::vector<OpDef>& ops);
void register_reduce_ops(std::vector<OpDef>& ops);
void register_control_ops(std::vector<OpDef>& ops);
void register_quant_ops(std::vector<OpDef>& ops);
void register_norm_ops(std::vector<OpDef>& ops);

/// The loader's fusion of a QuantizeLinear with the one DequantizeLinear that reads it (same
/// scale and zero point): float -> float in one pass. Not in the registry (no model names it).
inline constexpr std::string_view kQuantizeDequantize = "QuantizeLinear+DequantizeLinear";
const OpDef& quantize_dequantize_op();
}  // namespace detail

}  // namespace parley::onnx
