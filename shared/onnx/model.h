// The ONNX graph runtime's public API: load a .onnx file once (Model: checked, types and shapes
// inferred, constants folded, memory planned, weights on the device), run it from any number of
// Sessions (one per thread). Why: VITS voices (TTS), Silero VAD and the end-of-turn model (ASR)
// are ONNX graphs; every engine runs them through this one runtime on the kernels' Backend.
// Depends on tensor.h, graph.h, shared/engine/device.h, kernels/cpu/thread_pool.h (type only).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "shared/onnx/graph.h"
#include "shared/onnx/tensor.h"

namespace parley::kernels {
class ThreadPool;
}

namespace parley::onnx {

/// Supported default-domain opsets (ONNX 1.13's 18 included: its changes to Reduce*, Pad and Split
/// are followed, ScatterND's new reductions refused); ops whose semantics changed need a later one
/// (OpDef::min_opset: Pad 11, Slice 10, Softmax 13, ...), checked per node at load.
inline constexpr int kMinOpset = 1;
inline constexpr int kMaxOpset = 18;

struct LoadOptions {
  /// Where weights and activations live. The CPU backend runs every op; a device whose backend
  /// lacks one of the graph ops is refused at load with the op's name.
  engine::Device device = engine::Device::cpu();
  /// Files larger than this are refused before parsing (protobuf's own limit is 2 GiB).
  std::int64_t max_file_bytes = std::int64_t{1} << 30;
  /// Constant folding keeps a folded value only when it is at most this large.
  std::int64_t max_fold_bytes = std::int64_t{16} << 20;
  /// Graph fusions at load (fusion.h): element-wise ops folded into the convolutions next to
  /// them. Their intermediate values then no longer exist (run_partial cannot feed or fetch
  /// them); false keeps the graph as written (tests compare the two).
  bool fuse = true;
  /// QDQ models: run each QuantizeLinear -> DequantizeLinear pair as one float round trip (same
  /// results; false keeps the two nodes and the uint8 value between them, for tests).
  bool fuse_quantize_dequantize = true;
};

/// A graph input or output as declared by the model (-1 = a dimension given at run time).
struct IoInfo {
  std::string name;
  DataType type = DataType::kUndefined;
  Dims dims;
};

/// A loaded model: immutable, shared by all sessions (thread-safe to share).
///
///   PARLEY_ASSIGN_OR_RETURN(auto model, onnx::Model::load("voice.onnx"));
///   onnx::Session session(model);
///   PARLEY_ASSIGN_OR_RETURN(auto ids, onnx::Tensor::from_vector<std::int64_t>({1, 3}, {1, 20, 2}));
///   PARLEY_ASSIGN_OR_RETURN(auto outs, session.run({{"input", ids}, ...}));
///
/// Load errors name the problem and, for graph problems, the node: "node '/x/Foo' (Foo):
/// unsupported operator", "opset 5 is not supported (7..17)", "not an ONNX model: ...".
class Model {
 public:
  static Result<std::shared_ptr<const Model>> load(const std::string& path, const LoadOptions& options = {});
  /// Same from bytes in memory; `name` labels errors.
  static Result<std::shared_ptr<const Model>> load_bytes(std::string_view bytes, const std::string& name,
                                                         const LoadOptions& options = {});

  const std::vector<IoInfo>& inputs() const { return inputs_; }
  const std::vector<IoInfo>& outputs() const { return outputs_; }
  int opset() const { return data_.opset; }
  /// Nodes in the main graph and subgraphs, how many were folded at load, weight bytes.
  struct Stats {
    std::int64_t nodes = 0, folded = 0, weight_bytes = 0;
  };
  Stats stats() const { return stats_; }
  /// The runtime's form of the graph (for the executor and tools).
  const ModelData& data() const { return data_; }

  explicit Model(ModelData data);  ///< use load()

 private:
  ModelData data_;
  std::vector<IoInfo> inputs_, outputs_;
  Stats stats_;
};

struct SessionOptions {
  std::uint64_t seed = 0x5eed;               ///< random ops (RandomNormalLike) draw from this
  kernels::ThreadPool* threads = nullptr;     ///< CPU threads (nullptr = the process pool)
  bool profile = false;                       ///< time every node (Session::profile())
  /// Kernels may round f32 operands to bf16 for their products (f32 accumulation) where they
  /// can (kernels::ExecContext::allow_bf16: the CPU convolutions, with AVX512_BF16).
  bool allow_bf16 = false;
};

/// Time spent per op type over a session's runs (SessionOptions::profile).
struct OpProfile {
  std::string op_type;
  std::int64_t calls = 0;
  double seconds = 0;
};

struct RunOptions {
  /// Checked before every node: when it becomes true, run() stops at once with CANCELLED.
  const std::atomic<bool>* cancel = nullptr;
  /// The same as a callback (e.g. a service call's cancelled()); empty = none.
  std::function<bool()> cancelled;
  /// CPU threads for this run (nullptr = SessionOptions::threads): e.g. a one-thread pool when
  /// other runs keep every core busy, so they do not fight over one pool's workers.
  kernels::ThreadPool* threads = nullptr;
};

/// Reads a serialized ONNX TensorProto (.pb, as in ONNX's test data) into a CPU tensor.
Result<Tensor> load_tensor_file(const std::string& path);

class TensorPool;

/// Runs a Model. One thread at a time per Session (make one per worker thread); intermediate
/// buffers come from the session's pool and are reused from run to run, released by the plan
/// computed at load as soon as their last reader has run. Outputs may outlive the session.
class Session {
 public:
  explicit Session(std::shared_ptr<const Model> model, SessionOptions options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Inputs by name (every graph input; types and static dims are checked); outputs in the
  /// model's output order. Errors: INVALID_ARGUMENT for bad inputs, an op's error prefixed with
  /// the node it came from, CANCELLED when options.cancel was set.
  Result<std::vector<Tensor>> run(const std::vector<std::pair<std::string, Tensor>>& inputs,
                                  const RunOptions& options = {});
  /// Runs only the part of the main graph that computes `outputs` (value names: graph outputs or
  /// any intermediate value) from `inputs`, whose names may be graph inputs or intermediate
  /// values (a fed value replaces what the graph would compute, so a graph can be run in stages:
  /// e.g. a voice's encoder up to the decoder input, then its decoder in windows). Fed values are
  /// checked against the inferred type; a needed value nobody feeds is an error naming it.
  Result<std::vector<Tensor>> run_partial(const std::vector<std::pair<std::string, Tensor>>& inputs,
                                          const std::vector<std::string>& outputs, const RunOptions& options = {});
  const Model& model() const { return *model_; }
  /// Bytes held by the session's pool (idle + in use).
  std::uint64_t pool_bytes() const;
  /// Per-op-type totals, largest first (empty unless SessionOptions::profile).
  std::vector<OpProfile> profile() const;

 private:
  std::shared_ptr<const Model> model_;
  SessionOptions options_;
  std::shared_ptr<TensorPool> pool_;
  std::mt19937_64 rng_;
  std::map<std::string, OpProfile> profile_;
  /// run_partial's names of the main graph's values, built on its first call (a streamed voice
  /// calls it once per decoder window; rebuilding it cost ~2% of a synthesis).
  std::unordered_map<std::string, int> value_ids_;
};

}  // namespace parley::onnx
