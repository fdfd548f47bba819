// Device names and detection: the CPU is always first; the answer is cached.
#include "shared/engine/device.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace parley::engine
