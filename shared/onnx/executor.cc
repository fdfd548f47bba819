// Tensor pool, graph execution (the memory plan applied node by node, cancellation between
// nodes), constant folding and the device check. Why: see executor.h. Depends on executor.h,
// kernels/backend.h.
#include "shared/onnx/executor.h"

#include <algorithm>
#include <bit>
#include <chrono>

namespace parley::onnx {
namespace {

// Size classes: multiples of max(256, 2^(k-3)) for sizes in (2^(k-1), 2^k]: <= 12.5% waste.
std::size_t size_class(std::size_t n) {
  if (n <= 256) return 256;
  const int k = std::bit_width(n - 1);
  const std::size_t step = std::max<std::size_t>(256, std::size_t{1} << (k > 3 ? k - 3 : 0));
  return (n + step - 1) / step * step;
}

constexpr std::uint64_t kMaxIdleBytes = std::uint64_t{1} << 30;

}  // namespace

TensorPool::~TensorPool() {
  for (auto& [cls, p] : idle_) backend_.device_free(p, exec_);
}

Result<Tensor> TensorPool::alloc(DataType type, const Dims& dims) {
  std::int64_t n = 1;
  for (std::int64_t d : dims) {
    if (d < 0) return invalid_argument("negative dimension in " + dims_string(dims));
    if (d > 0 && n > (std::int64_t{1} << 40) / d) return resource_exhausted("tensor " + dims_string(dims) + " is too large");
    n *= d;
  }
  const std::size_t bytes = static_cast<std::size_t>(n * data_type_size(type));
  const std::size_t cls = size_class(bytes);
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = idle_.find(cls);
    if (it != idle_.end()) {
      p = it->second;
      idle_.erase(it);
      idle_bytes_ -= cls;
    }
  }
  if (p == nullptr) {
    p = backend_.device_alloc(cls, exec_);
    if (p == nullptr) return resource_exhausted("out of device memory allocating " + std::to_string(cls) + " bytes");
    std::lock_guard<std::mutex> lock(mu_);
    held_ += cls;
  }
  std::shared_ptr<TensorPool> self = shared_from_this();
  auto storage = std::make_shared<Storage>(p, bytes, exec_.stream.device,
                                           [self, cls](void* q, std::size_t) { self->give_back(q, cls); });
  return Tensor::view(std::move(storage), 0, type, dims);
}

void TensorPool::give_back(void* p, std::size_t cls) {
  std::unique_lock<std::mutex> lock(mu_);
  if (idle_bytes_ + cls > kMaxIdleBytes) {
    held_ -= cls;
    lock.unlock();
    backend_.device_free(p, exec_);
    return;
  }
  idle_.emplace(cls, p);
  idle_bytes_ += cls;
}

std::uint64_t TensorPool::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_;
}

ExecState::ExecState(const ModelData& model, const kernels::Backend& backend, kernels::ExecContext exec, TensorPool* pool,
                     std::mt19937_64& rng, const RunOptions* run, std::map<std::string, OpProfile>* profile)
    : model_(model), backend_(backend), exec_(exec), pool_(pool), rng_(rng), run_(run), profile_(profile),
      values_(model.values.size()) {}

Result<Tensor> ExecState::alloc(DataType type, const Dims& dims) {
  if (pool_) return pool_->alloc(type, dims);
  return Tensor::host(type, dims);
}

const Tensor& ExecState::get(int id) const {
  const ValueInfo& v = model_.values[static_cast<std::size_t>(id)];
  return v.constant ? *v.constant : values_[static_cast<std::size_t>(id)];
}

Status ExecState::run_graph(int gi, std::vector<Tensor>& outputs) {
  const Graph& g = model_.graphs[static_cast<std::size_t>(gi)];
  std::vector<Tensor> in, out;
  for (std::size_t ni = 0; ni < g.nodes.size(); ++ni) {
    const Node& n = g.nodes[ni];
    if (n.folded) continue;
    if (gi == 0 && mask_ && !(*mask_)[ni]) continue;
    if (run_ && ((run_->cancel && run_->cancel->load(std::memory_order_relaxed)) || (run_->cancelled && run_->cancelled()))) {
      return cancelled("run cancelled before " + n.label());
    }
    in.clear();
    for (int id : n.inputs) {
      if (id < 0) {
        in.emplace_back();
        continue;
      }
      const Tensor& t = get(id);
      if (!t.defined()) return internal_error(n.label() + ": input '" + model_.values[static_cast<std::size_t>(id)].name + "' has no value");
      in.push_back(t);
    }
    out.assign(n.outputs.size(), Tensor());
    const auto t0 = profile_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    Status s = n.def->run(n, in, out, *this);
    if (profile_) {
      OpProfile& p = (*profile_)[n.op_type];
      p.op_type = n.op_type;
      ++p.calls;
      p.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    if (!s.is_ok()) return s.with_context(n.label());
    for (std::size_t i = 0; i < n.outputs.size(); ++i) {
      const int id = n.outputs[i];
      if (id < 0) continue;
      const ValueInfo& v = model_.values[static_cast<std::size_t>(id)];
      if (!out[i].defined()) return internal_error(n.label() + ": produced no output " + std::to_string(i));
      if (out[i].type() != v.type) {
        return internal_error(n.label() + ": output '" + v.name + "' is " + data_type_name(out[i].type()) + ", inferred " +
                              data_type_name(v.type));
      }
      values_[static_cast<std::size_t>(id)] = std::move(out[i]);
    }
    for (int id : n.release_after) {
      if (gi == 0 && keep_ && std::find(keep_->begin(), keep_->end(), id) != keep_->end()) continue;
      values_[static_cast<std::size_t>(id)] = Tensor();
    }
  }
  outputs.clear();
  for (int id : g.outputs) outputs.push_back(get(id));
  return Status::ok();
}

Status fold_node(const Node& node, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  static ModelData empty;
  std::mt19937_64 rng(0);
  ExecState st(empty, kernels::cpu_backend(), kernels::ExecContext::cpu(), nullptr, rng);
  return node.def->run(node, in, out, st);
}

Status check_device(const ModelData& m) {
  if (m.device.is_cpu()) return Status::ok();
  const kernels::Backend* be = kernels::BackendRegistry::instance().cuda();
  if (be == nullptr) return unavailable("device " + m.device.to_string() + " is not available (no CUDA backend)");
  for (kernels::Op op : {kernels::Op::kElementwise, kernels::Op::kStridedCopy, kernels::Op::kReduce, kernels::Op::kGather}) {
    if (!be->supports(kernels::OpQuery{op, {}, {}})) {
      return unimplemented("the " + std::string(be->name) + " backend has no '" + std::string(kernels::op_name(op)) +
                           "' kernel yet; load this model on the CPU");
    }
  }
  bool quantized = false;
  for (const Graph& g : m.graphs) {
    for (const Node& n : g.nodes) {
      quantized = quantized || n.def == &detail::quantize_dequantize_op() || n.op_type == "QuantizeLinear" ||
                  n.op_type == "DequantizeLinear";
    }
  }
  if (quantized && (be->affine_quantize == nullptr || !be->supports(kernels::OpQuery{kernels::Op::kAffineQuantize, {}, {}}))) {
    return unimplemented("the " + std::string(be->name) + " backend has no 'affine_quantize' kernel yet; load this model on the CPU");
  }
  return Status::ok();
}

}  // namespace parley::onnx
