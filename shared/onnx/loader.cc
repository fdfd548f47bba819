// Model::load: the ONNX protobuf (onnx.proto from Debian's libonnx-dev, compiled by protoc at
// build time) -> ModelData. Checks (opset, operators, node inputs, tensor types and sizes) name
// the node or tensor; then type/shape inference, constant folding and the memory plan.
// Why: a bad or unsupported model must fail at load with a message a user can act on, never at
// the first request. Depends on model.h, ops/op_registry.h, executor.h, onnx/onnx.pb.h.
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "onnx/onnx.pb.h"
#include "shared/onnx/executor.h"
#include "shared/onnx/fusion.h"
#include "shared/onnx/model.h"
#include "shared/onnx/ops/op_registry.h"

namespace parley::onnx {
namespace {

// ---- tensors
Result<Tensor> tensor_from_proto(const ::onnx::TensorProto& p, const std::string& what) {
  const int code = p.data_type();
  if (!is_supported_type(code)) {
    return unimplemented(what + " '" + p.name() + "' is " + data_type_name(code) +
                         " (the runtime computes with float, int64, int32, bool, and quantized uint8/int8)");
  }
  if (p.data_location() == ::onnx::TensorProto::EXTERNAL || p.external_data_size() > 0) {
    return unimplemented(what + " '" + p.name() + "' keeps its data in an external file (not supported)");
  }
  Dims dims(p.dims().begin(), p.dims().end());
  std::int64_t n = 1;
  for (std::int64_t d : dims) {
    if (d < 0 || (d > 0 && n > (std::int64_t{1} << 40) / d)) return invalid_argument(what + " '" + p.name() + "' has bad dims " + dims_string(dims));
    n *= d;
  }
  const auto type = static_cast<DataType>(code);
  PARLEY_ASSIGN_OR_RETURN(Tensor t, Tensor::host(type, dims));
  const std::size_t bytes = static_cast<std::size_t>(n * data_type_size(type));
  if (p.has_raw_data()) {
    if (p.raw_data().size() != bytes) {
      return data_loss(what + " '" + p.name() + "' " + data_type_name(code) + dims_string(dims) + " needs " +
                       std::to_string(bytes) + " bytes, the file holds " + std::to_string(p.raw_data().size()));
    }
    std::copy_n(p.raw_data().data(), bytes, static_cast<char*>(t.raw()));
    return t;
  }
  auto mismatch = [&](std::int64_t have) {
    return data_loss(what + " '" + p.name() + "' " + dims_string(dims) + " needs " + std::to_string(n) + " values, the file holds " +
                     std::to_string(have));
  };
  switch (type) {
    case DataType::kFloat:
      if (p.float_data_size() != n) return mismatch(p.float_data_size());
      std::copy(p.float_data().begin(), p.float_data().end(), t.data<float>());
      break;
    case DataType::kInt64:
      if (p.int64_data_size() != n) return mismatch(p.int64_data_size());
      std::copy(p.int64_data().begin(), p.int64_data().end(), t.data<std::int64_t>());
      break;
    case DataType::kInt32:
      if (p.int32_data_size() != n) return mismatch(p.int32_data_size());
      std::copy(p.int32_data().begin(), p.int32_data().end(), t.data<std::int32_t>());
      break;
    case DataType::kBool:
      if (p.int32_data_size() != n) return mismatch(p.int32_data_size());
      for (std::int64_t i = 0; i < n; ++i) t.data<std::uint8_t>()[i] = p.int32_data(static_cast<int>(i)) != 0;
      break;
    case DataType::kUint8:  // 8-bit values travel in int32_data when not raw
      if (p.int32_data_size() != n) return mismatch(p.int32_data_size());
      for (std::int64_t i = 0; i < n; ++i) t.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(p.int32_data(static_cast<int>(i)));
      break;
    case DataType::kInt8:
      if (p.int32_data_size() != n) return mismatch(p.int32_data_size());
      for (std::int64_t i = 0; i < n; ++i) t.data<std::int8_t>()[i] = static_cast<std::int8_t>(p.int32_data(static_cast<int>(i)));
      break;
    default: break;
  }
  return t;
}

// ---- graph conversion with lexical scopes
struct Scope {
  std::map<std::string, int> names;
  const Scope* parent = nullptr;
  int lookup(const std::string& n) const {
    for (const Scope* s = this; s; s = s->parent) {
      auto it = s->names.find(n);
      if (it != s->names.end()) return it->second;
    }
    return -1;
  }
};

class Loader {
 public:
  Loader(ModelData& m, int opset) : m_(m), opset_(opset) {}

  int add_value(const std::string& name, Scope& scope) {
    const int id = static_cast<int>(m_.values.size());
    ValueInfo v;
    v.name = name;
    m_.values.push_back(std::move(v));
    scope.names[name] = id;
    return id;
  }

  void set_type(int id, const ::onnx::ValueInfoProto& vi) {
    ValueInfo& v = m_.values[static_cast<std::size_t>(id)];
    if (!vi.type().has_tensor_type()) return;
    const auto& tt = vi.type().tensor_type();
    v.type = static_cast<DataType>(tt.elem_type());
    if (tt.has_shape()) {
      v.rank_known = true;
      v.dims.clear();
      for (const auto& d : tt.shape().dim()) v.dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
    }
  }

  // Converts `g` into m_.graphs[index]; returns the index.
  Result<int> graph(const ::onnx::GraphProto& g, const Scope* parent, bool main) {
    const int index = static_cast<int>(m_.graphs.size());
    m_.graphs.emplace_back();
    Scope scope;
    scope.parent = parent;
    Graph out;
    for (const auto& init : g.initializer()) {
      PARLEY_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(init, "initializer"));
      const int id = add_value(init.name(), scope);
      ValueInfo& v = m_.values[static_cast<std::size_t>(id)];
      v.type = t.type();
      v.dims = t.dims();
      v.rank_known = true;
      v.constant = t;
    }
    for (const auto& in : g.input()) {
      if (scope.names.count(in.name())) continue;  // an initializer listed as input (IR < 4)
      if (in.type().has_tensor_type() && !is_supported_type(in.type().tensor_type().elem_type())) {
        return unimplemented("graph input '" + in.name() + "' is " + data_type_name(in.type().tensor_type().elem_type()));
      }
      if (!in.type().has_tensor_type()) return unimplemented("graph input '" + in.name() + "' is not a tensor (sequences/maps are not supported)");
      const int id = add_value(in.name(), scope);
      set_type(id, in);
      m_.values[static_cast<std::size_t>(id)].graph_input = main;
      out.inputs.push_back(id);
    }
    if (!main && !out.inputs.empty()) return unimplemented("subgraph with inputs (Loop/Scan bodies are not supported)");
    int unnamed = 0;
    for (const auto& np : g.node()) {
      Node n;
      n.name = np.name().empty() ? "#" + std::to_string(unnamed) : np.name();
      ++unnamed;
      n.op_type = np.op_type();
      n.opset = opset_;
      if (!np.domain().empty() && np.domain() != "ai.onnx") {
        return unimplemented(n.label() + ": operator domain '" + np.domain() + "' is not supported");
      }
      n.def = find_op(n.op_type);
      if (n.def == nullptr) {
        std::string list;
        for (std::string_view s : supported_ops()) {
        if (!list.empty()) list += ", ";
        list += std::string(s);
      }
        return unimplemented(n.label() + ": unsupported operator '" + n.op_type + "' (supported: " + list + ")");
      }
      if (opset_ < n.def->min_opset) {
        return unimplemented(n.label() + ": opset " + std::to_string(opset_) + " semantics are not supported (" + n.op_type +
                             " needs opset >= " + std::to_string(n.def->min_opset) + ")");
      }
      const int ni = np.input_size(), no = np.output_size();
      if (ni < n.def->min_inputs || ni > n.def->max_inputs) {
        return invalid_argument(n.label() + ": has " + std::to_string(ni) + " inputs, expected " + std::to_string(n.def->min_inputs) +
                                ".." + std::to_string(n.def->max_inputs));
      }
      if (no < n.def->min_outputs || no > n.def->max_outputs) {
        return invalid_argument(n.label() + ": has " + std::to_string(no) + " outputs, expected " + std::to_string(n.def->min_outputs) +
                                ".." + std::to_string(n.def->max_outputs));
      }
      for (int i = 0; i < ni; ++i) {
        const std::string& name = np.input(i);
        if (name.empty()) {
          n.inputs.push_back(-1);
          continue;
        }
        const int id = scope.lookup(name);
        if (id < 0) {
          return invalid_argument(n.label() + ": input '" + name + "' is not a graph input, an initializer or an earlier node's output");
        }
        n.inputs.push_back(id);
      }
      for (const auto& ap : np.attribute()) {
        Attribute a;
        switch (ap.type()) {
          case ::onnx::AttributeProto::INT: a.kind = Attribute::Kind::kInt; a.i = ap.i(); break;
          case ::onnx::AttributeProto::FLOAT: a.kind = Attribute::Kind::kFloat; a.f = ap.f(); break;
          case ::onnx::AttributeProto::STRING: a.kind = Attribute::Kind::kString; a.s = ap.s(); break;
          case ::onnx::AttributeProto::INTS: a.kind = Attribute::Kind::kInts; a.ints.assign(ap.ints().begin(), ap.ints().end()); break;
          case ::onnx::AttributeProto::FLOATS: a.kind = Attribute::Kind::kFloats; a.floats.assign(ap.floats().begin(), ap.floats().end()); break;
          case ::onnx::AttributeProto::STRINGS: a.kind = Attribute::Kind::kStrings; a.strings.assign(ap.strings().begin(), ap.strings().end()); break;
          case ::onnx::AttributeProto::TENSOR: {
            a.kind = Attribute::Kind::kTensor;
            auto t = tensor_from_proto(ap.t(), n.label() + ": attribute '" + ap.name() + "' tensor");
            if (!t.ok()) return t.status();
            a.t = *t;
            break;
          }
          case ::onnx::AttributeProto::GRAPH: {
            a.kind = Attribute::Kind::kGraph;
            auto gi = graph(ap.g(), &scope, false);
            if (!gi.ok()) return gi.status().with_context(n.label() + " attribute '" + ap.name() + "'");
            a.graph = *gi;
            break;
          }
          default:
            return unimplemented(n.label() + ": attribute '" + ap.name() + "' has an unsupported kind");
        }
        n.attrs[ap.name()] = std::move(a);
      }
      for (int i = 0; i < no; ++i) {
        const std::string& name = np.output(i);
        if (name.empty()) {
          n.outputs.push_back(-1);
          continue;
        }
        if (scope.names.count(name)) return invalid_argument(n.label() + ": output '" + name + "' is defined twice");
        n.outputs.push_back(add_value(name, scope));
      }
      out.nodes.push_back(std::move(n));
    }
    for (const auto& o : g.output()) {
      const int id = scope.lookup(o.name());
      if (id < 0) return invalid_argument("graph output '" + o.name() + "' is never produced");
      out.outputs.push_back(id);
      if (main) {
        m_.values[static_cast<std::size_t>(id)].graph_output = true;
        if (m_.values[static_cast<std::size_t>(id)].type == DataType::kUndefined) set_type(id, o);
      }
    }
    m_.graphs[static_cast<std::size_t>(index)] = std::move(out);
    return index;
  }

 private:
  ModelData& m_;
  int opset_;
};

// ---- quantized (uint8/int8) values: only the quantization ops compute with them; layout ops
// move them (element size from the type); every other op would read them as another type.
bool is_8bit(DataType t) { return t == DataType::kUint8 || t == DataType::kInt8; }

bool moves_8bit(std::string_view op) {
  static constexpr std::string_view kOps[] = {"Identity", "Reshape",  "Flatten", "Squeeze", "Unsqueeze",
                                              "Transpose", "Shape", "Size", "Slice", "Concat"};
  for (std::string_view o : kOps) {
    if (o == op) return true;
  }
  return false;
}

Status check_quantized_inputs(const Node& n, const InferContext& c) {
  if (n.op_type == "DequantizeLinear" || n.op_type == "QuantizeLinear" || n.op_type == detail::kQuantizeDequantize || moves_8bit(n.op_type)) {
    return Status::ok();
  }
  for (const ValueInfo* v : c.in) {
    if (v && is_8bit(v->type)) {
      return unimplemented("input '" + v->name + "' is " + data_type_name(v->type) + "; " + n.op_type +
                           " does not compute with quantized values (only QuantizeLinear/DequantizeLinear and layout ops do)");
    }
  }
  return Status::ok();
}

Status check_quantized_outputs(const Node& n, const InferContext& c) {
  if (n.op_type == "QuantizeLinear" || n.op_type == "Constant" || moves_8bit(n.op_type)) return Status::ok();
  for (const ValueInfo* v : c.out) {
    if (v && is_8bit(v->type)) {
      return unimplemented("output '" + v->name + "' would be " + data_type_name(v->type) + "; only QuantizeLinear produces quantized values");
    }
  }
  return Status::ok();
}

// ---- QDQ fusion: a QuantizeLinear whose output is read by exactly one DequantizeLinear with the
// same scale and zero point (the same values), and by nothing else, becomes one float -> float
// round-trip node writing the DequantizeLinear's output; the DequantizeLinear goes away. Same
// arithmetic, one pass and no uint8 buffer. Runs on every graph before inference.
void count_reads(const ModelData& m, std::vector<int>& reads) {
  for (const Graph& g : m.graphs) {
    for (const Node& n : g.nodes) {
      for (int id : n.inputs) {
        if (id >= 0) ++reads[static_cast<std::size_t>(id)];
      }
    }
    for (int id : g.outputs) ++reads[static_cast<std::size_t>(id)];
  }
}

void fuse_quantize_dequantize(ModelData& m) {
  std::vector<int> reads(m.values.size(), 0);
  count_reads(m, reads);
  for (Graph& g : m.graphs) {
    std::map<int, std::size_t> reader;  // value id -> the DequantizeLinear reading it (this graph)
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      if (g.nodes[i].op_type == "DequantizeLinear" && g.nodes[i].inputs[0] >= 0) reader[g.nodes[i].inputs[0]] = i;
    }
    std::vector<bool> drop(g.nodes.size(), false);
    for (Node& q : g.nodes) {
      if (q.op_type != "QuantizeLinear" || q.outputs.empty() || q.outputs[0] < 0) continue;
      const int v = q.outputs[0];
      auto it = reader.find(v);
      if (it == reader.end() || reads[static_cast<std::size_t>(v)] != 1) continue;
      Node& dq = g.nodes[it->second];
      const auto input = [](const Node& n, std::size_t i) { return i < n.inputs.size() ? n.inputs[i] : -1; };
      if (input(dq, 1) != input(q, 1) || input(dq, 2) != input(q, 2) || dq.outputs.empty()) continue;
      if (dq.attr_int("axis", 1) != q.attr_int("axis", 1)) continue;
      q.op_type = std::string(detail::kQuantizeDequantize);
      q.def = &detail::quantize_dequantize_op();
      q.name = q.name + "+" + dq.name;
      q.outputs[0] = dq.outputs[0];
      drop[it->second] = true;
    }
    std::vector<Node> kept;
    kept.reserve(g.nodes.size());
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      if (!drop[i]) kept.push_back(std::move(g.nodes[i]));
    }
    g.nodes = std::move(kept);
  }
}

// ---- inference and folding
class Analyzer {
 public:
  Analyzer(ModelData& m, const LoadOptions& o) : m_(m), opts_(o) {}

  Status graph(int gi) {
    Graph& g = m_.graphs[static_cast<std::size_t>(gi)];
    for (Node& n : g.nodes) PARLEY_RETURN_IF_ERROR(node(n).with_context(n.label()));
    return Status::ok();
  }

 private:
  Status node(Node& n) {
    // Branches first: their outputs' types feed the If's inference.
    for (auto& [name, a] : n.attrs) {
      if (a.kind == Attribute::Kind::kGraph) PARLEY_RETURN_IF_ERROR(graph(a.graph));
    }
    InferContext c{n, {}, {}, m_};
    for (int id : n.inputs) {
      const ValueInfo* v = id < 0 ? nullptr : &m_.values[static_cast<std::size_t>(id)];
      if (v && v->type == DataType::kUndefined) {
        return invalid_argument("input '" + v->name + "' has no known type");
      }
      c.in.push_back(v);
    }
    for (int i = 0; i < n.def->min_inputs; ++i) {
      if (c.in[static_cast<std::size_t>(i)] == nullptr) return invalid_argument("required input " + std::to_string(i) + " is missing");
    }
    for (int id : n.outputs) c.out.push_back(id < 0 ? nullptr : &m_.values[static_cast<std::size_t>(id)]);
    PARLEY_RETURN_IF_ERROR(check_quantized_inputs(n, c));
    PARLEY_RETURN_IF_ERROR(n.def->infer(c));
    PARLEY_RETURN_IF_ERROR(check_quantized_outputs(n, c));
    for (ValueInfo* v : c.out) {
      if (v && !is_supported_type(static_cast<int>(v->type))) return internal_error("output '" + v->name + "' got no type");
    }
    ++m_.run_nodes;
    bool all_const = true;
    for (ValueInfo* v : c.out) all_const = all_const && (!v || v->constant.has_value());
    if (all_const) {  // inference already knew the values (Constant, Shape of known dims)
      n.folded = true;
      ++m_.folded_nodes;
      return Status::ok();
    }
    if (!n.def->foldable) return Status::ok();
    std::vector<Tensor> in;
    for (const ValueInfo* v : c.in) {
      if (v && !v->constant) return Status::ok();
      in.push_back(v ? *v->constant : Tensor());
    }
    std::vector<Tensor> out(n.outputs.size());
    PARLEY_RETURN_IF_ERROR(fold_node(n, in, out));
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i].bytes() > opts_.max_fold_bytes) return Status::ok();  // too large to keep; run it
    }
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (!c.out[i]) continue;
      c.out[i]->constant = out[i];
      c.out[i]->dims = out[i].dims();
      c.out[i]->rank_known = true;
      c.out[i]->type = out[i].type();
    }
    n.folded = true;
    ++m_.folded_nodes;
    return Status::ok();
  }

  ModelData& m_;
  const LoadOptions& opts_;
};

// ---- memory plan: which values die after each node.
void collect_reads(const ModelData& m, int gi, std::set<int>& defined, std::set<int>& reads) {
  const Graph& g = m.graphs[static_cast<std::size_t>(gi)];
  for (const Node& n : g.nodes) {
    for (int id : n.inputs) {
      if (id >= 0) reads.insert(id);
    }
    for (const auto& [k, a] : n.attrs) {
      if (a.kind == Attribute::Kind::kGraph) collect_reads(m, a.graph, defined, reads);
    }
    for (int id : n.outputs) {
      if (id >= 0) defined.insert(id);
    }
  }
  for (int id : g.outputs) reads.insert(id);
}

void plan_graph(ModelData& m, int gi) {
  Graph& g = m.graphs[static_cast<std::size_t>(gi)];
  std::map<int, std::size_t> last;
  std::set<int> produced_here(g.inputs.begin(), g.inputs.end());
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    for (auto& [k, a] : n.attrs) {
      if (a.kind != Attribute::Kind::kGraph) continue;
      plan_graph(m, a.graph);
      std::set<int> defined, reads;
      collect_reads(m, a.graph, defined, reads);
      for (int id : reads) {
        if (!defined.count(id) && !m.values[static_cast<std::size_t>(id)].constant) n.captures.push_back(id);
      }
    }
    for (int id : n.inputs) {
      if (id >= 0) last[id] = i;
    }
    for (int id : n.captures) last[id] = i;
    for (int id : n.outputs) {
      if (id >= 0) {
        produced_here.insert(id);
        if (!last.count(id)) last[id] = i;  // never read: dies at once
      }
    }
  }
  std::set<int> keep(g.outputs.begin(), g.outputs.end());
  for (auto& [id, i] : last) {
    const ValueInfo& v = m.values[static_cast<std::size_t>(id)];
    if (v.constant || keep.count(id) || !produced_here.count(id)) continue;  // outer values die in their own graph
    g.nodes[i].release_after.push_back(id);
  }
}

}  // namespace

Model::Model(ModelData data) : data_(std::move(data)) {
  const Graph& g = data_.graphs.front();
  for (int id : g.inputs) {
    const ValueInfo& v = data_.values[static_cast<std::size_t>(id)];
    inputs_.push_back({v.name, v.type, v.dims});
  }
  for (int id : g.outputs) {
    const ValueInfo& v = data_.values[static_cast<std::size_t>(id)];
    outputs_.push_back({v.name, v.type, v.dims});
  }
  for (const Graph& gr : data_.graphs) stats_.nodes += static_cast<std::int64_t>(gr.nodes.size());
  stats_.folded = data_.folded_nodes;
  for (const ValueInfo& v : data_.values) {
    if (v.constant) stats_.weight_bytes += v.constant->bytes();
  }
}

Result<std::shared_ptr<const Model>> Model::load_bytes(std::string_view bytes, const std::string& name, const LoadOptions& options) {
  auto err = [&](const Status& s) { return s.with_context(name); };
  if (static_cast<std::int64_t>(bytes.size()) > options.max_file_bytes) {
    return err(invalid_argument("file is " + std::to_string(bytes.size()) + " bytes; the limit is " + std::to_string(options.max_file_bytes)));
  }
  ::onnx::ModelProto proto;
  bool parsed = false;
  try {
    parsed = proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  } catch (const std::exception& e) {
    return err(invalid_argument(std::string("not an ONNX model: ") + e.what()));
  }
  if (!parsed) return err(invalid_argument("not an ONNX model: the protobuf does not parse (truncated or corrupt file?)"));
  if (!proto.has_graph() || proto.graph().node_size() == 0) return err(invalid_argument("not an ONNX model: no graph or no nodes (truncated file?)"));
  if (proto.ir_version() < 3) return err(unimplemented("IR version " + std::to_string(proto.ir_version()) + " is older than 3"));
  int opset = -1;
  for (const auto& o : proto.opset_import()) {
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = static_cast<int>(o.version());
  }
  if (opset < 0) return err(invalid_argument("the model imports no default-domain opset"));
  if (opset < kMinOpset || opset > kMaxOpset) {
    return err(unimplemented("opset " + std::to_string(opset) + " is not supported (" + std::to_string(kMinOpset) + ".." +
                             std::to_string(kMaxOpset) + "); re-export the model with one of those"));
  }
  ModelData m;
  m.opset = opset;
  m.ir_version = proto.ir_version();
  m.producer = proto.producer_name() + " " + proto.producer_version();
  m.device = options.device;
  Loader loader(m, opset);
  auto main = loader.graph(proto.graph(), nullptr, true);
  if (!main.ok()) return err(main.status());
  proto.Clear();  // the weights now live in tensors; free the protobuf's copy
  for (int id : m.graphs.front().inputs) {
    if (m.values[static_cast<std::size_t>(id)].type == DataType::kUndefined) {
      return err(invalid_argument("graph input '" + m.values[static_cast<std::size_t>(id)].name + "' has no tensor type"));
    }
  }
  if (options.fuse_quantize_dequantize) {
    fuse_quantize_dequantize(m);
    if (options.fuse) (void)mark_integer_matmuls(m);  // fusion.h: exact integer MatMuls of QDQ models
  }
  Analyzer analyzer(m, options);
  PARLEY_RETURN_IF_ERROR(err(analyzer.graph(0)));
  if (options.fuse) {
    (void)fuse_conv_elementwise(m);  // fusion.h; before the plan sees the final graph
    (void)fuse_layer_norms(m);
    (void)pack_integer_matmuls(m, kernels::BackendRegistry::instance().for_device(m.device));
  }
  plan_graph(m, 0);
  PARLEY_RETURN_IF_ERROR(err(check_device(m)));
  return std::shared_ptr<const Model>(std::make_shared<Model>(std::move(m)));
}

Result<Tensor> load_tensor_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return not_found("cannot open tensor file '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string bytes = ss.str();
  ::onnx::TensorProto p;
  if (!p.ParseFromString(bytes)) return invalid_argument(path + ": not a serialized ONNX TensorProto");
  return tensor_from_proto(p, "tensor");
}

Result<std::shared_ptr<const Model>> Model::load(const std::string& path, const LoadOptions& options) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) return not_found("cannot open ONNX model '" + path + "'");
  const std::streamoff size = f.tellg();
  if (size < 0) return invalid_argument("cannot read ONNX model '" + path + "'");
  if (size > options.max_file_bytes) {
    return invalid_argument(path + ": file is " + std::to_string(size) + " bytes; the limit is " + std::to_string(options.max_file_bytes));
  }
  std::string bytes(static_cast<std::size_t>(size), '\0');
  f.seekg(0);
  if (!f.read(bytes.data(), size)) return data_loss("cannot read ONNX model '" + path + "'");
  return load_bytes(bytes, path, options);
}

}  // namespace parley::onnx
