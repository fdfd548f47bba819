// Device names and detection: the CPU is always first; the answer is cached. Device settings
// (`<svc>.device` = auto | cpu | cuda | cuda:N): parsing, and what auto / cuda:N resolve to here.
#include "shared/engine/device.h"

#include <gtest/gtest.h>

#include "shared/engine/allocator.h"

namespace parley::engine {
namespace {

TEST(DeviceTest, NamesAndDetection) {
  EXPECT_EQ(Device::cpu().to_string(), "cpu");
  EXPECT_EQ(Device::cuda(1).to_string(), "cuda:1");
  EXPECT_TRUE(Device::cuda(0).is_cuda());
  const auto& devices = detect_devices();
  ASSERT_FALSE(devices.empty());
  EXPECT_EQ(devices.front().device, Device::cpu());
  EXPECT_GT(devices.front().multiprocessors, 0);
  EXPECT_EQ(&detect_devices(), &devices);  // cached, probed once
  EXPECT_EQ(cuda_device_count(), static_cast<int>(devices.size()) - 1);
  for (std::size_t i = 1; i < devices.size(); ++i) EXPECT_TRUE(devices[i].device.is_cuda());
}

TEST(DeviceSettingTest, ParsesEveryForm) {
  auto a = parse_device_setting("auto");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->automatic);
  auto c = parse_device_setting("cpu");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->automatic);
  EXPECT_EQ(c->device, Device::cpu());
  auto g = parse_device_setting("cuda");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->device, Device::cuda(0));
  auto g3 = parse_device_setting("cuda:3");
  ASSERT_TRUE(g3.ok());
  EXPECT_EQ(g3->device, Device::cuda(3));
  auto g12 = parse_device_setting("cuda:12");
  ASSERT_TRUE(g12.ok());
  EXPECT_EQ(g12->device, Device::cuda(12));
}

TEST(DeviceSettingTest, RejectsEverythingElseNamingTheForms) {
  for (const char* bad : {"", "gpu", "GPU", "CPU", "cuda:", "cuda:-1", "cuda:x", "cuda:1x", "cuda:99999",
                          " cpu", "cpu ", "cuda0", "cuda:0:1", "auto,cpu"}) {
    auto r = parse_device_setting(bad);
    ASSERT_FALSE(r.ok()) << "'" << bad << "'";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("auto, cpu, cuda, cuda:N"), std::string::npos) << r.status().to_string();
  }
}

TEST(DeviceSettingTest, ResolvesAgainstTheDevicesFound) {
  const int gpus = cuda_device_count();
  auto a = resolve_device_setting("auto", "lm.device");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(*a, gpus > 0 ? Device::cuda(0) : Device::cpu());
  auto c = resolve_device_setting("cpu", "lm.device");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, Device::cpu());
  // One past the last GPU never exists; with no GPU that is cuda:0, and auto took the CPU above.
  const std::string missing = "cuda:" + std::to_string(gpus);
  auto m = resolve_device_setting(missing, "nlu.device");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(m.status().message().find("nlu.device=" + missing), std::string::npos) << m.status().to_string();
  auto bad = resolve_device_setting("gpu", "qa.device");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("qa.device"), std::string::npos) << bad.status().to_string();
}

TEST(DeviceSettingTest, AllocatorForEachDevice) {
  auto cpu = allocator_for(Device::cpu());
  ASSERT_TRUE(cpu.ok());
  EXPECT_EQ(*cpu, &cpu_allocator());
  auto missing = allocator_for(Device::cuda(cuda_device_count()));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kUnavailable);
  if (cuda_device_count() > 0) {
    auto gpu = allocator_for(Device::cuda(0));
    ASSERT_TRUE(gpu.ok()) << gpu.status().to_string();
    EXPECT_EQ((*gpu)->device(), Device::cuda(0));
  }
}

}  // namespace
}  // namespace parley::engine
