// Helpers of the CUDA backend tests (kernels_cuda_test.cc, train_cuda_test.cc): a GPU context,
// device copies of host vectors, random data, closeness checks. Depends on kernels/cuda/backend.h.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cuda/backend.h"
#include "shared/engine/cuda/cuda_device.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels::cuda {

using engine::DType;

#define SKIP_WITHOUT_GPU() \
  if (engine::cuda::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device"

inline ExecContext gpu_ctx() {
  ExecContext c;
  c.stream = engine::Stream{engine::Device::cuda(0), nullptr};
  return c;
}

/// Device copy of a host vector, freed with the object.
template <typename T>
class Dev {
 public:
  explicit Dev(const std::vector<T>& host) : n_(host.size()) {
    const Backend& be = cuda_backend_table();
    p_ = be.device_alloc(bytes(), gpu_ctx());
    EXPECT_NE(p_, nullptr);
    EXPECT_TRUE(be.copy_to_device(p_, host.data(), bytes(), gpu_ctx()).is_ok());
  }
  explicit Dev(std::size_t n) : Dev(std::vector<T>(n)) {}
  ~Dev() { cuda_backend_table().device_free(p_, gpu_ctx()); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  T* get() const { return static_cast<T*>(p_); }
  std::vector<T> host() const {
    std::vector<T> out(n_);
    EXPECT_TRUE(cuda_backend_table().copy_to_host(out.data(), p_, bytes(), gpu_ctx()).is_ok());
    return out;
  }

 private:
  std::size_t bytes() const { return n_ * sizeof(T); }
  void* p_ = nullptr;
  std::size_t n_;
};

inline std::vector<float> randf(std::size_t n, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  return testing::random_floats(n, seed, lo, hi);
}

inline std::vector<std::int8_t> randi8(std::size_t n, std::uint32_t seed) { return testing::random_int8(n, seed); }

inline void expect_close(const std::vector<float>& got, const std::vector<float>& want, float atol, float rtol) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], atol + rtol * std::fabs(want[i])) << "at " << i;
  }
}

}  // namespace parley::kernels::cuda
