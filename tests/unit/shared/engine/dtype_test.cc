// DType sizes and names (GGUF block sizes must match ggml's).
#include "shared/engine/dtype.h"

#include <gtest/gtest.h>

namespace parley::engine {
namespace {

TEST(DTypeTest, SizesAndNames) {
  EXPECT_EQ(block_bytes(DType::kF32), 4);
  EXPECT_EQ(block_bytes(DType::kBF16), 2);
  EXPECT_EQ(block_bytes(DType::kQ8_0), 34);
  EXPECT_EQ(block_bytes(DType::kQ4_0), 18);
  EXPECT_EQ(block_bytes(DType::kQ4_1), 20);
  EXPECT_EQ(block_size(DType::kQ4_0), 32);
  EXPECT_EQ(block_size(DType::kI8), 1);
  EXPECT_EQ(row_bytes(DType::kQ4_0, 64), 36);
  EXPECT_EQ(row_bytes(DType::kQ4_0, 33), -1);
  EXPECT_EQ(row_bytes(DType::kF16, 3), 6);
  EXPECT_EQ(element_size(DType::kQ8_0), 0);
  for (int i = 0; i < kDTypeCount; ++i) {
    const auto t = static_cast<DType>(i);
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t);
  }
  EXPECT_FALSE(dtype_from_name("f64").has_value());
  EXPECT_TRUE(is_block_quantized(DType::kQ4_1));
  EXPECT_FALSE(is_float(DType::kI8));
}

}  // namespace
}  // namespace parley::engine
