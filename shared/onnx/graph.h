// The runtime's form of an ONNX model (internal): values with inferred types and shapes, nodes
// with parsed attributes and their op, nested graphs (If branches), and the memory plan.
// Why: the protobuf is read once at load; execution and load-time passes (checks, inference,
// folding, lifetimes) work on these plain structs. Depends on tensor.h.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shared/onnx/tensor.h"

namespace parley::onnx {

struct OpDef;

/// A parsed node attribute (ONNX AttributeProto). `graph` indexes Model::graphs.
struct Attribute {
  enum class Kind : std::uint8_t { kInt, kFloat, kString, kInts, kFloats, kStrings, kTensor, kGraph };
  Kind kind = Kind::kInt;
  std::int64_t i = 0;
  float f = 0.0f;
  std::string s;
  std::vector<std::int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;
  Tensor t;
  int graph = -1;
};

/// What the loader knows about a value before running: its type always, its dims when known
/// (-1 = a dimension only known at run time; rank_known false = not even the rank).
struct ValueInfo {
  std::string name;
  DataType type = DataType::kUndefined;
  Dims dims;
  bool rank_known = false;
  std::optional<Tensor> constant;  ///< initializer, Constant node or folded at load
  bool graph_input = false;
  bool graph_output = false;
};

struct Node {
  std::string name;       ///< the model's node name, or "#<index>" when it has none
  std::string op_type;
  int opset = 0;
  std::vector<int> inputs;    ///< value ids; -1 = optional input left out
  std::vector<int> outputs;   ///< value ids; -1 = optional output not wanted
  std::map<std::string, Attribute> attrs;
  const OpDef* def = nullptr;
  std::vector<int> captures;       ///< outer values read by this node's subgraphs (If)
  std::vector<int> release_after;  ///< memory plan: values dead once this node has run
  bool folded = false;             ///< evaluated at load (constant folding): skipped at run time

  /// "node '/dec/ups.0/ConvTranspose' (ConvTranspose)"
  std::string label() const { return "node '" + name + "' (" + op_type + ")"; }
  const Attribute* attr(const std::string& key) const {
    auto it = attrs.find(key);
    return it == attrs.end() ? nullptr : &it->second;
  }
  std::int64_t attr_int(const std::string& key, std::int64_t fallback) const {
    const Attribute* a = attr(key);
    return a ? a->i : fallback;
  }
  float attr_float(const std::string& key, float fallback) const {
    const Attribute* a = attr(key);
    return a ? a->f : fallback;
  }
  std::vector<std::int64_t> attr_ints(const std::string& key) const {
    const Attribute* a = attr(key);
    return a ? a->ints : std::vector<std::int64_t>{};
  }
  std::string attr_string(const std::string& key, const std::string& fallback) const {
    const Attribute* a = attr(key);
    return a ? a->s : fallback;
  }
};

/// A graph: the main one (Model::graphs[0]) or an If branch. Values live in one table shared by
/// all graphs of a model, so a branch reads outer values by id.
struct Graph {
  std::vector<Node> nodes;    ///< topological order
  std::vector<int> inputs;    ///< graph inputs (main graph: without initializers)
  std::vector<int> outputs;
};

/// Everything the loader produced. Immutable after load; shared by every Session.
struct ModelData {
  std::vector<Graph> graphs;   ///< [0] = main graph
  std::vector<ValueInfo> values;
  int opset = 0;
  std::int64_t ir_version = 0;
  std::string producer;
  engine::Device device = engine::Device::cpu();
  std::int64_t folded_nodes = 0;
  std::int64_t run_nodes = 0;
};

}  // namespace parley::onnx
