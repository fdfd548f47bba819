// StepGraphs: replays a model's fixed-shape step (an LM decode step) as one captured graph
// (CUDA graphs) instead of dozens of kernel launches; a backend without graph hooks (the CPU)
// just runs the step.
// Why: a small LM's decode step is ~200 tiny kernels whose launch cost dominates on a GPU; the
// shapes repeat (batch size, block-table width), so each shape is captured once and replayed.
// Depends on model_device.h.
#pragma once

#include <cstdint>
#include <functional>
#include <map>

#include "shared/common/status.h"
#include "shared/models/runtime/model_device.h"

namespace parley::models {

/// What StepGraphs did so far (tests and benchmarks report it).
struct StepGraphStats {
  std::uint64_t eager = 0;      ///< steps run op by op (first sight of a shape, no graph support)
  std::uint64_t captured = 0;   ///< graphs captured
  std::uint64_t replayed = 0;   ///< steps run as one graph launch
  std::uint64_t failures = 0;   ///< captures that failed (the step then ran eagerly; logged)
};

/// Per worker (one stream). A step is identified by `key` (its shape) and `epoch` (the address
/// generation of every buffer it touches: a captured graph bakes pointers in, so a moved buffer
/// means a new capture). Policy: first sight of (key, epoch) runs eagerly (that also creates
/// handles and caches, which must not happen inside a capture); the second captures and
/// launches; later ones replay. A failed capture runs the step eagerly and disables that key.
///
///   StepGraphs graphs(dev);                       // dev.ctx().stream = the worker's own stream
///   PARLEY_RETURN_IF_ERROR(graphs.run(key, epoch, [&] { return enqueue_decode_ops(); }));
///
/// `body` must only enqueue device work on dev's stream (no host syncs, no allocations on the
/// device unless served from the context's workspace) and must be repeatable: the graph replays
/// the same pointers and sizes, so the inputs go in fixed buffers written before run().
class StepGraphs {
 public:
  /// enabled = false (or a backend without graph hooks) runs every step eagerly.
  explicit StepGraphs(const ModelDevice& dev, bool enabled = true);
  ~StepGraphs();
  StepGraphs(const StepGraphs&) = delete;
  StepGraphs& operator=(const StepGraphs&) = delete;

  Status run(std::uint64_t key, std::uint64_t epoch, const std::function<Status()>& body);
  /// Drops every graph (e.g. after the stream changed).
  void clear();
  bool active() const { return enabled_; }
  const StepGraphStats& stats() const { return stats_; }

 private:
  struct Entry {
    std::uint64_t epoch = 0;
    void* graph = nullptr;  // null: seen once (warm) or failed
    bool failed = false;
  };
  ModelDevice dev_;
  bool enabled_ = false;
  std::map<std::uint64_t, Entry> entries_;
  StepGraphStats stats_;
  static constexpr std::size_t kMaxGraphs = 64;
};

}  // namespace parley::models
