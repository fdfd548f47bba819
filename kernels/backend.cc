// BackendRegistry and op names. Why: see backend.h. Depends on backend.h, shared/common/check.h,
// shared/engine/device.h (detection logs the CPU-only line once).
#include "kernels/backend.h"

#include <array>

#include "shared/common/check.h"
#include "shared/common/log.h"
#include "kernels/cpu/isa.h"

namespace parley::kernels {

std::string_view op_name(Op op) {
  static constexpr std::array<std::string_view, kOpCount> kNames = {
      "gemm", "gemm_int8", "sparse24_gemm", "norm", "activation", "softmax", "rope", "attention_prefill",
      "attention_decode", "kv_cache_write", "embedding", "quantize", "dequantize", "gguf_quantize",
      "gguf_dequantize", "conv1d", "sample", "elementwise", "strided_copy", "reduce", "gather", "gemm_q4",
      "bf16_linear", "quantize_rows", "dequantize_sum", "affine_quantize", "norm_backward", "activation_backward",
      "attention_backward", "embedding_backward", "cross_entropy", "adamw", "int8_linear"};
  const auto i = static_cast<std::size_t>(op);
  return i < kNames.size() ? kNames[i] : std::string_view("unknown");
}

BackendRegistry::BackendRegistry() {
  (void)cpu::detected_isa();        // logs the CPU variant once
  (void)engine::detect_devices();   // logs "no CUDA device: using CPU backend" when none
  backends_.push_back(&cpu_backend());
  if (const Backend* cuda = detail::cuda_backend()) backends_.push_back(cuda);
}

const BackendRegistry& BackendRegistry::instance() {
  static const BackendRegistry* r = new BackendRegistry();
  return *r;
}

const Backend* BackendRegistry::cuda() const {
  for (const Backend* b : backends_) {
    if (b->device_type == engine::DeviceType::kCuda) return b;
  }
  return nullptr;
}

const Backend& BackendRegistry::for_device(const engine::Device& device) const {
  if (device.is_cpu()) return cpu();
  const Backend* b = cuda();
  PARLEY_CHECK(b != nullptr) << "no backend for device " << device.to_string();
  return *b;
}

const Backend* BackendRegistry::find(engine::DeviceType device_type, const OpQuery& query) const {
  for (const Backend* b : backends_) {
    if (b->device_type == device_type && b->supports != nullptr && b->supports(query)) return b;
  }
  return nullptr;
}

}  // namespace parley::kernels
