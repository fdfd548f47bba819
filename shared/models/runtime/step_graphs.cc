// StepGraphs (see step_graphs.h): capture-on-second-sight, replay afterwards, eager on failure.
// Depends on step_graphs.h, shared/common/log.h.
#include "shared/models/runtime/step_graphs.h"

#include <utility>

#include "shared/common/log.h"

namespace parley::models {

StepGraphs::StepGraphs(const ModelDevice& dev, bool enabled) : dev_(dev) {
  const kernels::Backend& be = dev.backend();
  enabled_ = enabled && be.graph_begin_capture != nullptr && be.graph_end_capture != nullptr &&
             be.graph_launch != nullptr && be.graph_destroy != nullptr;
}

StepGraphs::~StepGraphs() { clear(); }

void StepGraphs::clear() {
  for (auto& [key, e] : entries_) {
    (void)key;
    if (e.graph != nullptr) dev_.backend().graph_destroy(e.graph);
  }
  entries_.clear();
}

Status StepGraphs::run(std::uint64_t key, std::uint64_t epoch, const std::function<Status()>& body) {
  if (!enabled_) {
    ++stats_.eager;
    return body();
  }
  const kernels::Backend& be = dev_.backend();
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.epoch != epoch) {  // buffers moved: the graph is stale
    if (it->second.graph != nullptr) be.graph_destroy(it->second.graph);
    entries_.erase(it);
    it = entries_.end();
  }
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxGraphs) clear();
    entries_[key] = Entry{epoch, nullptr, false};
    ++stats_.eager;
    return body();
  }
  Entry& e = it->second;
  if (e.failed) {
    ++stats_.eager;
    return body();
  }
  if (e.graph == nullptr) {
    PARLEY_RETURN_IF_ERROR(be.graph_begin_capture(dev_.ctx()));
    const Status st = body();
    void* graph = nullptr;
    const Status end = be.graph_end_capture(dev_.ctx(), &graph);
    if (!st.is_ok() || !end.is_ok() || graph == nullptr) {
      if (graph != nullptr) be.graph_destroy(graph);
      e.failed = true;
      ++stats_.failures;
      PARLEY_LOG(kWarn).kv("key", key).kv("step", st.to_string()).kv("capture", end.to_string())
          << "graph capture failed: this step shape runs kernel by kernel";
      ++stats_.eager;
      return body();
    }
    e.graph = graph;
    ++stats_.captured;
  }
  ++stats_.replayed;
  return be.graph_launch(e.graph, dev_.ctx());
}

}  // namespace parley::models
