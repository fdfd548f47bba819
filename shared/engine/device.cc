// Device names and run-time detection (CPU always; CUDA devices through detail::probe_cuda()).
// Why: one place decides, once per process, which devices exist and says so in the log.
// Depends on device.h, shared/common/log.h.
#include "shared/engine/device.h"

#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include "shared/common/log.h"

namespace parley::engine {

std::string Device::to_string() const {
  return type == DeviceType::kCpu ? std::string("cpu") : "cuda:" + std::to_string(index);
}

namespace {

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
    }
  }
  return "cpu";
}

std::uint64_t cpu_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kb = 0;
  if (in >> key >> kb && key == "MemTotal:") return kb * 1024;
  return 0;
}

std::vector<DeviceInfo> probe_all() {
  std::vector<DeviceInfo> out;
  DeviceInfo cpu;
  cpu.device = Device::cpu();
  cpu.name = cpu_model_name();
  cpu.total_memory = cpu_memory_bytes();
  cpu.multiprocessors = static_cast<int>(std::thread::hardware_concurrency());
  out.push_back(std::move(cpu));

  detail::CudaProbe probe = detail::probe_cuda();
  if (probe.devices.empty()) {
    PARLEY_LOG(kInfo) << "no CUDA device: using CPU backend"
                      << (probe.reason.empty() ? "" : " (" + probe.reason + ")");
  } else {
    for (DeviceInfo& d : probe.devices) {
      PARLEY_LOG(kInfo) << "CUDA device " << d.device.to_string() << ": " << d.name << " sm_"
                        << d.compute_major << d.compute_minor << ", "
                        << (d.total_memory >> 20) << " MiB";
      out.push_back(std::move(d));
    }
  }
  return out;
}

}  // namespace

const std::vector<DeviceInfo>& detect_devices() {
  static const std::vector<DeviceInfo> devices = probe_all();
  return devices;
}

int cuda_device_count() { return static_cast<int>(detect_devices().size()) - 1; }

Result<DeviceSetting> parse_device_setting(std::string_view text) {
  auto bad = [&] {
    return invalid_argument("device '" + std::string(text) + "' is not one of auto, cpu, cuda, cuda:N (N = GPU ordinal)");
  };
  DeviceSetting s;
  if (text == "auto") {
    s.automatic = true;
    return s;
  }
  if (text == "cpu") return s;
  if (text == "cuda") {
    s.device = Device::cuda(0);
    return s;
  }
  constexpr std::string_view kPrefix = "cuda:";
  if (text.size() <= kPrefix.size() || text.substr(0, kPrefix.size()) != kPrefix) return bad();
  const std::string_view digits = text.substr(kPrefix.size());
  if (digits.size() > 4) return bad();
  int n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return bad();
    n = n * 10 + (c - '0');
  }
  s.device = Device::cuda(n);
  return s;
}

Result<Device> resolve_device_setting(std::string_view text, std::string_view key) {
  auto parsed = parse_device_setting(text);
  if (!parsed.ok()) return parsed.status().with_context(std::string(key));
  const auto& devices = detect_devices();
  const int gpus = cuda_device_count();
  if (parsed->automatic) {
    if (gpus > 0) {
      PARLEY_LOG(kInfo).kv("setting", std::string(key) + "=auto").kv("device", "cuda:0").kv("name", devices[1].name)
          << "device: a GPU is present, using cuda:0";
      return Device::cuda(0);
    }
    PARLEY_LOG(kInfo).kv("setting", std::string(key) + "=auto").kv("device", "cpu").kv("name", devices[0].name)
        << "device: no GPU, using the CPU";
    return Device::cpu();
  }
  const Device d = parsed->device;
  if (d.is_cuda() && d.index >= gpus) {
    return unavailable(std::string(key) + "=" + std::string(text) + ": this process sees " + std::to_string(gpus) +
                       " CUDA device" + (gpus == 1 ? "" : "s") +
                       (gpus == 0 ? " (no GPU, driver or CUDA build; use auto or cpu)" : ""));
  }
  PARLEY_LOG(kInfo).kv("setting", std::string(key) + "=" + std::string(text)).kv("device", d.to_string())
      << "device: as configured";
  return d;
}

}  // namespace parley::engine
