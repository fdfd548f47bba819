// Backend registry: the CPU backend is always first and complete; without a CUDA device there is
// no CUDA backend; supports() answers per op and dtype; find() chooses by device and support.
#include "kernels/backend.h"

#include <gtest/gtest.h>

#include "shared/engine/device.h"

namespace parley::kernels {
namespace {

TEST(BackendTest, CpuBackendIsFirstAndComplete) {
  const BackendRegistry& reg = BackendRegistry::instance();
  ASSERT_FALSE(reg.all().empty());
  const Backend& cpu = reg.cpu();
  EXPECT_EQ(cpu.name, "cpu");
  EXPECT_EQ(&reg.for_device(engine::Device::cpu()), &cpu);
  // Every entry point is filled in.
  EXPECT_TRUE(cpu.supports && cpu.gemm && cpu.gemm_int8 && cpu.sparse24_gemm && cpu.sparse24_packed_bytes &&
              cpu.pack_sparse24 && cpu.norm && cpu.activation && cpu.softmax && cpu.rope && cpu.attention_prefill &&
              cpu.attention_decode && cpu.kv_cache_write && cpu.embedding && cpu.quantize && cpu.dequantize &&
              cpu.gguf_quantize && cpu.gguf_dequantize && cpu.conv1d && cpu.sample && cpu.copy_to_device &&
              cpu.copy_to_host && cpu.synchronize && cpu.device_alloc && cpu.device_free);
  for (int i = 0; i < kOpCount; ++i) EXPECT_NE(op_name(static_cast<Op>(i)), "unknown");
}

TEST(BackendTest, CudaBackendPresentExactlyWhenADeviceIs) {
  const BackendRegistry& reg = BackendRegistry::instance();
  EXPECT_EQ(reg.cuda() != nullptr, engine::cuda_device_count() > 0);
  EXPECT_EQ(engine::detect_devices().front().device, engine::Device::cpu());
}

TEST(BackendTest, SupportsAndFind) {
  const BackendRegistry& reg = BackendRegistry::instance();
  const engine::DType f32x3[] = {engine::DType::kF32, engine::DType::kF32, engine::DType::kF32};
  const engine::DType i8_in_gemm[] = {engine::DType::kI8, engine::DType::kI8, engine::DType::kF32};
  const std::int64_t dims[] = {4, 4, 4};
  EXPECT_TRUE(reg.cpu().supports({Op::kGemm, f32x3, dims}));
  EXPECT_FALSE(reg.cpu().supports({Op::kGemm, i8_in_gemm, dims}));  // int8 goes through kGemmInt8
  EXPECT_EQ(reg.find(engine::DeviceType::kCpu, {Op::kGemm, f32x3, dims}), &reg.cpu());
  EXPECT_EQ(reg.find(engine::DeviceType::kCpu, {Op::kGemm, i8_in_gemm, dims}), nullptr);
}

}  // namespace
}  // namespace parley::kernels
