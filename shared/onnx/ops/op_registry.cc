// The op registry: every op family registers its OpDefs once. Why: see op_registry.h.
// Depends on op_registry.h and the ops_*.cc files.
#include "shared/onnx/ops/op_registry.h"

#include <algorithm>

namespace parley::onnx {
namespace {

const std::vector<OpDef>& registry() {
  static const std::vector<OpDef> ops = [] {
    std::vector<OpDef> v;
    detail::register_elementwise_ops(v);
    detail::register_shape_ops(v);
    detail::register_movement_ops(v);
    detail::register_nn_ops(v);
    detail::register_reduce_ops(v);
    detail::register_control_ops(v);
    detail::register_quant_ops(v);
    detail::register_norm_ops(v);
    // Semantics changed at these opsets (attributes became inputs, broadcasting, types).
    static const std::pair<std::string_view, int> kMinOpset[] = {
        {"Slice", 10}, {"Pad", 11}, {"Clip", 11}, {"Softmax", 13}, {"Range", 11}, {"NonZero", 9}, {"ScatterND", 11},
        {"GatherND", 12}, {"GatherElements", 11}, {"CumSum", 11}, {"Expand", 8}, {"Where", 9}, {"ConstantOfShape", 9},
        {"Erf", 9}, {"GreaterOrEqual", 12}, {"LessOrEqual", 12}, {"Max", 8}, {"Min", 8}, {"Sign", 9},
        // numpy broadcasting replaced the `broadcast` attribute at 7
        {"Add", 7}, {"Sub", 7}, {"Mul", 7}, {"Div", 7}, {"Pow", 7}, {"And", 7}, {"Or", 7}, {"Xor", 7}, {"Equal", 7},
        {"Less", 7}, {"Greater", 7}, {"Gemm", 7}, {"Cast", 6}, {"Reshape", 5}, {"Concat", 4}, {"Tile", 6}, {"Split", 2},
        {"Shape", 1}, {"If", 11}, {"LSTM", 7}, {"Size", 1}, {"Squeeze", 1}, {"Unsqueeze", 1},
        {"QuantizeLinear", 10}, {"DequantizeLinear", 10}, {"LayerNormalization", 17}};
    for (OpDef& d : v) {
      for (const auto& [name, min] : kMinOpset) {
        if (d.type == name) d.min_opset = min;
      }
    }
    std::sort(v.begin(), v.end(), [](const OpDef& a, const OpDef& b) { return a.type < b.type; });
    return v;
  }();
  return ops;
}

}  // namespace

const OpDef* find_op(std::string_view type) {
  const auto& ops = registry();
  auto it = std::lower_bound(ops.begin(), ops.end(), type, [](const OpDef& d, std::string_view t) { return d.type < t; });
  return it != ops.end() && it->type == type ? &*it : nullptr;
}

std::vector<std::string_view> supported_ops() {
  std::vector<std::string_view> out;
  for (const OpDef& d : registry()) out.push_back(d.type);
  return out;
}

}  // namespace parley::onnx
