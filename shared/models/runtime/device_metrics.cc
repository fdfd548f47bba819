// Device metrics of an engine service (see device_metrics.h).
// Depends on device_metrics.h, shared/engine/allocator.h.
#include "shared/models/runtime/device_metrics.h"

#include <string>

#include "shared/engine/allocator.h"

namespace parley::models {

void register_device_metrics(metrics::Registry& registry, std::string_view service, const engine::Device& device) {
  const std::string dev = device.to_string();
  const std::string svc(service);
  std::string name = dev;
  std::uint64_t total = 0;
  for (const engine::DeviceInfo& d : engine::detect_devices()) {
    if (d.device == device) {
      name = d.name;
      total = d.total_memory;
    }
  }
  registry
      .gauge("parley_engine_device_info", "The device the service's model runs on (always 1).",
             {"service", "device", "name"})
      .labels({svc, dev, name})
      .set(1.0);
  engine::Allocator* alloc = nullptr;
  if (auto a = engine::allocator_for(device); a.ok()) alloc = *a;
  registry
      .gauge("parley_engine_device_memory_bytes",
             "Bytes in use by the engine's allocator on the model's device (CUDA: the caching pool).",
             {"service", "device"})
      .labels({svc, dev})
      .set_function([alloc] { return alloc == nullptr ? 0.0 : static_cast<double>(alloc->stats().in_use); });
  registry
      .gauge("parley_engine_device_memory_total_bytes", "Memory size of the model's device.", {"service", "device"})
      .labels({svc, dev})
      .set(static_cast<double>(total));
}

}  // namespace parley::models
