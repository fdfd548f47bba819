// The device an engine service runs its model on, exported on /metrics: which device (a labelled
// info gauge) and the bytes its allocator holds in use.
// Why: every engine service (lm, nlu, qa, and later asr, tts) reports the same two families, so
// dashboards and the HPA see GPU memory the same way everywhere. Depends on shared/metrics,
// shared/engine (device, allocator).
#pragma once

#include <string_view>

#include "shared/engine/device.h"
#include "shared/metrics/registry.h"

namespace parley::models {

/// Registers (idempotently, per service) on `registry`:
///   parley_engine_device_info{service, device, name} 1
///   parley_engine_device_memory_bytes{service, device}   engine::allocator_for(device) bytes in use
///       (CUDA: the caching pool's live allocations; CPU: engine::cpu_allocator()'s, i.e. the
///        tensors and scratch engines allocate through it)
///   parley_engine_device_memory_total_bytes{service, device}   the device's memory size
/// `registry` must outlive the callbacks (it owns them).
void register_device_metrics(metrics::Registry& registry, std::string_view service, const engine::Device& device);

}  // namespace parley::models
