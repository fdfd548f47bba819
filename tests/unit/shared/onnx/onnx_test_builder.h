// Builder: tiny ONNX models made with the protobuf API for the runtime's unit tests (inputs,
// outputs, nodes, float/int64/8-bit initializers), loaded straight from memory.
// Why: shared by onnx_model_test and onnx_quant_test. Depends on the generated onnx.pb.h, shared/onnx.
#pragma once

#include <string>
#include <vector>

#include "onnx/onnx.pb.h"
#include "shared/onnx/model.h"

namespace parley::onnx {

struct Builder {
  ::onnx::ModelProto m;
  Builder(int opset = 15) {
    m.set_ir_version(8);
    auto* o = m.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
  }
  ::onnx::GraphProto* g() { return m.mutable_graph(); }
  void input(const std::string& name, int type, std::vector<std::int64_t> dims) {
    auto* v = g()->add_input();
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(type);
    for (auto d : dims) {
      auto* dim = tt->mutable_shape()->add_dim();
      if (d < 0) dim->set_dim_param("n"); else dim->set_dim_value(d);
    }
  }
  void output(const std::string& name) { g()->add_output()->set_name(name); }
  ::onnx::NodeProto* node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
                          const std::string& name = "") {
    auto* n = g()->add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? "/" + op : name);
    for (auto& s : in) n->add_input(s);
    for (auto& s : out) n->add_output(s);
    return n;
  }
  void init_floats(const std::string& name, std::vector<std::int64_t> dims, std::vector<float> v) {
    auto* t = g()->add_initializer();
    t->set_name(name);
    t->set_data_type(1);
    for (auto d : dims) t->add_dims(d);
    for (float f : v) t->add_float_data(f);
  }
  void init_ints(const std::string& name, std::vector<std::int64_t> dims, std::vector<std::int64_t> v) {
    auto* t = g()->add_initializer();
    t->set_name(name);
    t->set_data_type(7);
    for (auto d : dims) t->add_dims(d);
    for (auto x : v) t->add_int64_data(x);
  }
  /// uint8 (type 2) or int8 (type 3) values, stored as ONNX does without raw_data (int32_data).
  void init_8bit(const std::string& name, int type, std::vector<std::int64_t> dims, std::vector<int> v) {
    auto* t = g()->add_initializer();
    t->set_name(name);
    t->set_data_type(type);
    for (auto d : dims) t->add_dims(d);
    for (int x : v) t->add_int32_data(x);
  }
  std::string bytes() const { return m.SerializeAsString(); }
  Result<std::shared_ptr<const Model>> load(const LoadOptions& o = {}) const { return Model::load_bytes(bytes(), "test.onnx", o); }
};

}  // namespace parley::onnx
