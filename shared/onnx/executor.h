// Execution internals shared by Session and the loader: the tensor pool, the per-run state that
// ops see as RunContext, graph execution, constant folding and the device check.
// Why: the loader folds constants with the same op code the sessions run. Depends on
// ops/op_registry.h, model.h.
#pragma once

#include <map>
#include <mutex>

#include "shared/onnx/model.h"
#include "shared/onnx/ops/op_registry.h"

namespace parley::onnx {

/// Device buffers recycled by size class; storages return here when their last Tensor goes, so a
/// session's steady state allocates nothing. Thread-safe (outputs may be released anywhere).
class TensorPool : public std::enable_shared_from_this<TensorPool> {
 public:
  TensorPool(const kernels::Backend& backend, kernels::ExecContext exec) : backend_(backend), exec_(exec) {}
  ~TensorPool();
  TensorPool(const TensorPool&) = delete;
  TensorPool& operator=(const TensorPool&) = delete;

  Result<Tensor> alloc(DataType type, const Dims& dims);
  std::uint64_t bytes() const;

 private:
  void give_back(void* p, std::size_t cls);
  const kernels::Backend& backend_;
  kernels::ExecContext exec_;
  mutable std::mutex mu_;
  std::multimap<std::size_t, void*> idle_;
  std::uint64_t held_ = 0, idle_bytes_ = 0;
};

/// One run of a model's graphs: the value table plus what RunContext offers the ops.
class ExecState final : public RunContext {
 public:
  ExecState(const ModelData& model, const kernels::Backend& backend, kernels::ExecContext exec, TensorPool* pool,
            std::mt19937_64& rng, const RunOptions* run = nullptr, std::map<std::string, OpProfile>* profile = nullptr);

  const kernels::Backend& backend() const override { return backend_; }
  const kernels::ExecContext& exec() const override { return exec_; }
  Result<Tensor> alloc(DataType type, const Dims& dims) override;
  std::mt19937_64& rng() override { return rng_; }
  Status run_graph(int graph, std::vector<Tensor>& outputs) override;

  void set(int id, Tensor t) { values_[static_cast<std::size_t>(id)] = std::move(t); }
  /// Partial runs: only nodes with mask[i] != 0 run in the main graph; `keep` values are never
  /// released (they are the requested outputs).
  void restrict(const std::vector<char>* mask, const std::vector<int>* keep) {
    mask_ = mask;
    keep_ = keep;
  }
  const Tensor& get(int id) const;

 private:
  const ModelData& model_;
  const kernels::Backend& backend_;
  kernels::ExecContext exec_;
  TensorPool* pool_;
  std::mt19937_64& rng_;
  const RunOptions* run_;
  std::map<std::string, OpProfile>* profile_;
  const std::vector<char>* mask_ = nullptr;
  const std::vector<int>* keep_ = nullptr;
  std::vector<Tensor> values_;
};

/// Evaluates one node on the CPU at load (constant folding).
Status fold_node(const Node& node, const std::vector<Tensor>& in, std::vector<Tensor>& out);
/// Refuses a device whose backend lacks an op the runtime needs.
Status check_device(const ModelData& model);

}  // namespace parley::onnx
