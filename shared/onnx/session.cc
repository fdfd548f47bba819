// Session::run: binds and checks inputs, runs the main graph with the memory plan, returns the
// outputs. Why: see model.h. Depends on model.h, executor.h, kernels/backend.h.
#include <algorithm>
#include <map>

#include "shared/onnx/executor.h"
#include "shared/onnx/model.h"

namespace parley::onnx {

Session::Session(std::shared_ptr<const Model> model, SessionOptions options)
    : model_(std::move(model)), options_(options), rng_(options.seed) {
  kernels::ExecContext exec;
  exec.stream.device = model_->data().device;
  exec.allow_bf16 = options_.allow_bf16;
  exec.threads = options_.threads;
  pool_ = std::make_shared<TensorPool>(kernels::BackendRegistry::instance().for_device(model_->data().device), exec);
}

Session::~Session() = default;

std::uint64_t Session::pool_bytes() const { return pool_->bytes(); }

std::vector<OpProfile> Session::profile() const {
  std::vector<OpProfile> out;
  for (const auto& [k, p] : profile_) out.push_back(p);
  std::sort(out.begin(), out.end(), [](const OpProfile& a, const OpProfile& b) { return a.seconds > b.seconds; });
  return out;
}

Result<std::vector<Tensor>> Session::run(const std::vector<std::pair<std::string, Tensor>>& inputs, const RunOptions& options) {
  const ModelData& m = model_->data();
  kernels::ExecContext exec;
  exec.stream.device = m.device;
  exec.allow_bf16 = options_.allow_bf16;
  exec.threads = options.threads ? options.threads : options_.threads;
  const kernels::Backend& be = kernels::BackendRegistry::instance().for_device(m.device);
  ExecState st(m, be, exec, pool_.get(), rng_, &options, options_.profile ? &profile_ : nullptr);
  const Graph& g = m.graphs.front();
  std::vector<bool> bound(g.inputs.size(), false);
  for (const auto& input : inputs) {
    // Named, not a structured binding: clang 14 (the fuzz build) cannot capture those.
    const std::string& name = input.first;
    const auto& t = input.second;
    auto it = std::find_if(g.inputs.begin(), g.inputs.end(),
                           [&](int id) { return m.values[static_cast<std::size_t>(id)].name == name; });
    if (it == g.inputs.end()) {
      std::string names;
      for (int id : g.inputs) {
        if (!names.empty()) names += ", ";
        names += m.values[static_cast<std::size_t>(id)].name;
      }
      return invalid_argument("the model has no input '" + name + "' (inputs: " + names + ")");
    }
    const ValueInfo& v = m.values[static_cast<std::size_t>(*it)];
    if (t.type() != v.type) {
      return invalid_argument("input '" + name + "' is " + data_type_name(t.type()) + ", the model expects " + data_type_name(v.type));
    }
    if (v.rank_known) {
      bool ok = static_cast<std::size_t>(t.rank()) == v.dims.size();
      for (std::size_t d = 0; ok && d < v.dims.size(); ++d) ok = v.dims[d] < 0 || v.dims[d] == t.dims()[d];
      if (!ok) return invalid_argument("input '" + name + "' is " + t.describe() + ", the model expects " + dims_string(v.dims));
    }
    if (t.device() != m.device) {
      return invalid_argument("input '" + name + "' lives on " + t.device().to_string() + ", the model on " + m.device.to_string());
    }
    bound[static_cast<std::size_t>(it - g.inputs.begin())] = true;
    st.set(*it, t);
  }
  for (std::size_t i = 0; i < g.inputs.size(); ++i) {
    if (!bound[i]) return invalid_argument("input '" + m.values[static_cast<std::size_t>(g.inputs[i])].name + "' is missing");
  }
  std::vector<Tensor> outputs;
  PARLEY_RETURN_IF_ERROR(st.run_graph(0, outputs));
  return outputs;
}

Result<std::vector<Tensor>> Session::run_partial(const std::vector<std::pair<std::string, Tensor>>& inputs,
                                                 const std::vector<std::string>& outputs, const RunOptions& options) {
  const ModelData& m = model_->data();
  const Graph& g = m.graphs.front();
  // Value ids of the main graph's scope, by name (outputs of subgraphs are not addressable).
  std::unordered_map<std::string, int>& ids = value_ids_;
  if (ids.empty()) {
    for (int id : g.inputs) ids[m.values[static_cast<std::size_t>(id)].name] = id;
    for (const Node& n : g.nodes) {
      for (int id : n.inputs) {
        if (id >= 0) ids.emplace(m.values[static_cast<std::size_t>(id)].name, id);
      }
      for (int id : n.outputs) {
        if (id >= 0) ids[m.values[static_cast<std::size_t>(id)].name] = id;
      }
    }
  }
  auto lookup = [&](const std::string& name) -> Result<int> {
    auto it = ids.find(name);
    if (it == ids.end()) return invalid_argument("the model has no value '" + name + "'");
    return it->second;
  };
  kernels::ExecContext exec;
  exec.stream.device = m.device;
  exec.allow_bf16 = options_.allow_bf16;
  exec.threads = options.threads ? options.threads : options_.threads;
  const kernels::Backend& be = kernels::BackendRegistry::instance().for_device(m.device);
  ExecState st(m, be, exec, pool_.get(), rng_, &options, options_.profile ? &profile_ : nullptr);
  std::vector<char> fed(m.values.size(), 0);
  for (const auto& [name, t] : inputs) {
    PARLEY_ASSIGN_OR_RETURN(int id, lookup(name));
    const ValueInfo& v = m.values[static_cast<std::size_t>(id)];
    if (t.type() != v.type) {
      return invalid_argument("value '" + name + "' is " + data_type_name(t.type()) + ", the model computes " + data_type_name(v.type));
    }
    fed[static_cast<std::size_t>(id)] = 1;
    st.set(id, t);
  }
  std::vector<int> want;
  if (outputs.empty()) {
    want = g.outputs;
  } else {
    for (const std::string& name : outputs) {
      PARLEY_ASSIGN_OR_RETURN(int id, lookup(name));
      want.push_back(id);
    }
  }
  // Walk back from the wanted values: a node runs when it produces a needed value nobody fed.
  std::vector<char> needed(m.values.size(), 0), mask(g.nodes.size(), 0);
  for (int id : want) needed[static_cast<std::size_t>(id)] = 1;
  for (std::size_t i = g.nodes.size(); i-- > 0;) {
    const Node& n = g.nodes[i];
    bool run = false;
    for (int id : n.outputs) run = run || (id >= 0 && needed[static_cast<std::size_t>(id)] && !fed[static_cast<std::size_t>(id)]);
    if (!run || n.folded) continue;
    mask[i] = 1;
    for (int id : n.inputs) {
      if (id >= 0) needed[static_cast<std::size_t>(id)] = 1;
    }
    for (int id : n.captures) needed[static_cast<std::size_t>(id)] = 1;
  }
  for (int id : g.inputs) {
    if (needed[static_cast<std::size_t>(id)] && !fed[static_cast<std::size_t>(id)]) {
      return invalid_argument("input '" + m.values[static_cast<std::size_t>(id)].name + "' is missing");
    }
  }
  st.restrict(&mask, &want);
  std::vector<Tensor> graph_outputs;
  PARLEY_RETURN_IF_ERROR(st.run_graph(0, graph_outputs));
  std::vector<Tensor> out;
  for (int id : want) {
    const Tensor& t = st.get(id);
    if (!t.defined()) return internal_error("value '" + m.values[static_cast<std::size_t>(id)].name + "' was not computed");
    out.push_back(t);
  }
  return out;
}

}  // namespace parley::onnx
