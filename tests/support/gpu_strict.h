// PARLEY_GPU_TEST_STRICT=1 (set by tools/gpu-check on a lent GPU): `gpu` tests fail instead of
// skipping when the device or their data is missing. Header-only; depends on nothing.
#pragma once

#include <cstdlib>
#include <string>

namespace parley::testing {

inline bool gpu_test_strict() {
  const char* s = std::getenv("PARLEY_GPU_TEST_STRICT");
  return s != nullptr && std::string(s) == "1";
}

}  // namespace parley::testing
