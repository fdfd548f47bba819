// The model runtime on the CPU: ModelDevice, placement (host arrays aliased, no copies), scratch
// growth and epochs, StepGraphs without graph hooks (every step eager), the `<svc>.device` key and
// the device metrics. GPU behaviour is covered by the gpu-labelled model tests.
#include <gtest/gtest.h>

#include <vector>

#include "shared/config/config.h"
#include "shared/config/schema.h"
#include "shared/metrics/registry.h"
#include "shared/models/runtime/device_config.h"
#include "shared/models/runtime/device_metrics.h"
#include "shared/models/runtime/model_device.h"
#include "shared/models/runtime/step_graphs.h"

namespace parley::models {
namespace {

TEST(ModelDeviceTest, CpuIsAlwaysThere) {
  ModelDevice d = ModelDevice::cpu();
  EXPECT_TRUE(d.is_cpu());
  EXPECT_EQ(d.backend().name, "cpu");
  EXPECT_EQ(&d.allocator(), &engine::cpu_allocator());
  auto opened = ModelDevice::open(engine::Device::cpu());
  ASSERT_TRUE(opened.ok());
  EXPECT_TRUE(opened->is_cpu());
  // The CPU offers the new ops (bf16_linear only where it is fast).
  EXPECT_TRUE(d.supports(kernels::Op::kQuantizeRows, {}, {4, 576, 64}));
  EXPECT_TRUE(d.supports(kernels::Op::kDequantizeSum, {}, {4, 576}));
  EXPECT_TRUE(d.supports(kernels::Op::kGemmQ4, {engine::DType::kQ4_1}, {1, 64, 64}));
  EXPECT_FALSE(d.supports(kernels::Op::kGemmQ4, {engine::DType::kF32}, {1, 64, 64}));
}

TEST(ModelDeviceTest, MissingGpuIsUnavailable) {
  auto r = ModelDevice::open(engine::Device::cuda(engine::cuda_device_count()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

TEST(ModelDeviceTest, PlacementOnTheCpuAliasesTheHostArray) {
  ModelDevice d = ModelDevice::cpu();
  std::vector<float> w = {1, 2, 3, 4};
  auto v = place(d, w);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->data(), w.data());
  EXPECT_EQ(v->size, 4u);
  EXPECT_FALSE(v->owner);
  auto empty = place(d, std::vector<float>{});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->data(), nullptr);
}

TEST(ModelDeviceTest, BuffersCopyBothWays) {
  ModelDevice d = ModelDevice::cpu();
  const std::vector<std::int32_t> src = {7, -3, 9};
  auto b = DeviceBuffer::upload(d, src.data(), src.size() * 4);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b->data()) % 256, 0u);
  std::vector<std::int32_t> back(3);
  ASSERT_TRUE(d.download(back.data(), b->data(), 12).is_ok());
  EXPECT_EQ(back, src);
  EXPECT_TRUE(d.synchronize().is_ok());
}

TEST(ModelDeviceTest, ScratchGrowsAndCountsMoves) {
  ModelDevice d = ModelDevice::cpu();
  Scratch s;
  EXPECT_EQ(s.epoch(), 0u);
  ASSERT_TRUE(s.reserve_elems<float>(d, 100).is_ok());
  const std::uint64_t e1 = s.epoch();
  void* p = s.data();
  EXPECT_GE(s.capacity(), 400u);
  ASSERT_TRUE(s.reserve_elems<float>(d, 50).is_ok());  // fits: same memory, same epoch
  EXPECT_EQ(s.data(), p);
  EXPECT_EQ(s.epoch(), e1);
  ASSERT_TRUE(s.reserve_elems<float>(d, 1000).is_ok());
  EXPECT_GT(s.epoch(), e1);
  EXPECT_GE(s.capacity(), 4000u);
}

TEST(ModelDeviceTest, NoStreamOnTheCpu) {
  auto s = OwnedStream::create(ModelDevice::cpu());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->handle(), nullptr);
}

TEST(StepGraphsTest, CpuRunsEveryStepEagerly) {
  StepGraphs g(ModelDevice::cpu());
  EXPECT_FALSE(g.active());
  int runs = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(g.run(42, 1, [&] {
                   ++runs;
                   return Status::ok();
                 }).is_ok());
  }
  EXPECT_EQ(runs, 3);
  EXPECT_EQ(g.stats().eager, 3u);
  EXPECT_EQ(g.stats().captured, 0u);
  const Status bad = g.run(42, 1, [] { return internal_error("boom"); });
  EXPECT_EQ(bad.code(), StatusCode::kInternal);
}

TEST(DeviceConfigTest, KeyValidatesAndResolves) {
  config::Schema schema("t", "test");
  add_device_key(schema, "lm.device");
  auto cfg = config::load(schema, std::nullopt, {}, {"--lm.device=cpu"});
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  auto d = resolve_device_key(*cfg, "lm.device");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, engine::Device::cpu());
  auto cfg_auto = config::load(schema, std::nullopt, {}, {});
  ASSERT_TRUE(cfg_auto.ok()) << cfg_auto.status().to_string();
  EXPECT_EQ(cfg_auto->get_string("lm.device"), "auto");
  auto a = resolve_device_key(*cfg_auto, "lm.device");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, engine::cuda_device_count() > 0 ? engine::Device::cuda(0) : engine::Device::cpu());
  auto bad = config::load(schema, std::nullopt, {}, {"--lm.device=gpu0"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("lm.device"), std::string::npos) << bad.status().to_string();
  EXPECT_NE(bad.status().message().find("cuda:N"), std::string::npos) << bad.status().to_string();
}

TEST(DeviceMetricsTest, ExportsDeviceAndMemory) {
  metrics::Registry r;
  register_device_metrics(r, "lm", engine::Device::cpu());
  register_device_metrics(r, "lm", engine::Device::cpu());  // idempotent
  const std::string text = r.render();
  EXPECT_NE(text.find("parley_engine_device_info{service=\"lm\",device=\"cpu\""), std::string::npos) << text;
  EXPECT_NE(text.find("parley_engine_device_memory_bytes{service=\"lm\",device=\"cpu\"}"), std::string::npos) << text;
  EXPECT_NE(text.find("parley_engine_device_memory_total_bytes{service=\"lm\",device=\"cpu\"}"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace parley::models
