// Control flow: If (runs one of two subgraphs; they read outer values by id).
// Why: Silero VAD's export branches on batch size and sample rate. Depends on op_util.h.
#include "shared/onnx/ops/op_util.h"

namespace parley::onnx::ops {
namespace {

Status infer_if(InferContext& c) {
  PARLEY_RETURN_IF_ERROR(expect_type(c, 0, {DataType::kBool}));
  const Attribute* t = c.node.attr("then_branch");
  const Attribute* e = c.node.attr("else_branch");
  if (!t || !e || t->graph < 0 || e->graph < 0) return bad("If needs then_branch and else_branch graphs");
  const Graph& tg = c.model.graphs[static_cast<std::size_t>(t->graph)];
  const Graph& eg = c.model.graphs[static_cast<std::size_t>(e->graph)];
  if (tg.outputs.size() != c.out.size() || eg.outputs.size() != c.out.size()) {
    return bad("branches have " + std::to_string(tg.outputs.size()) + " and " + std::to_string(eg.outputs.size()) +
               " outputs, the node " + std::to_string(c.out.size()));
  }
  for (std::size_t i = 0; i < c.out.size(); ++i) {
    const ValueInfo& tv = c.model.values[static_cast<std::size_t>(tg.outputs[i])];
    const ValueInfo& ev = c.model.values[static_cast<std::size_t>(eg.outputs[i])];
    if (tv.type != ev.type && tv.type != DataType::kUndefined && ev.type != DataType::kUndefined) {
      return bad("branch output " + std::to_string(i) + " is " + data_type_name(tv.type) + " in then_branch and " +
                 data_type_name(ev.type) + " in else_branch");
    }
    set_output(c, i, tv.type != DataType::kUndefined ? tv.type : ev.type);
  }
  return Status::ok();
}

Status run_if(const Node& node, std::span<const Tensor> in, std::span<Tensor> out, RunContext& ctx) {
  PARLEY_ASSIGN_OR_RETURN(float cond, read_scalar(in[0], ctx));
  const Attribute* branch = node.attr(cond != 0.0f ? "then_branch" : "else_branch");
  std::vector<Tensor> results;
  PARLEY_RETURN_IF_ERROR(ctx.run_graph(branch->graph, results));
  for (std::size_t i = 0; i < out.size() && i < results.size(); ++i) out[i] = results[i];
  return Status::ok();
}

}  // namespace
}  // namespace parley::onnx::ops

namespace parley::onnx::detail {

void register_control_ops(std::vector<OpDef>& v) {
  v.push_back(OpDef{"If", 1, 1, 1, 1024, &ops::infer_if, &ops::run_if, false});
}

}  // namespace parley::onnx::detail
