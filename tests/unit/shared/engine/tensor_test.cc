// Shape, Tensor and the CPU allocator: sizes, strides, views, slices, reshape, alignment, stats.
#include "shared/engine/tensor.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace parley::engine {
namespace {

TEST(TensorTest, ShapeBasics) {
  const Shape s{2, 3, 4};
  EXPECT_EQ(s.rank(), 3);
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s.to_string(), "[2, 3, 4]");
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_EQ(contiguous_strides(s)[0], 12);
  EXPECT_EQ(contiguous_strides(s)[2], 1);
  EXPECT_TRUE(s == Shape::of(s.data(), 3));
}

TEST(TensorTest, EmptyZerosAlignmentAndStats) {
  const AllocatorStats before = cpu_allocator().stats();
  {
    auto t = Tensor::zeros({3, 5}, DType::kF32);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t->data()) % kCpuAlignment, 0u);
    EXPECT_EQ(t->nbytes(), 60);
    EXPECT_TRUE(t->is_contiguous());
    EXPECT_TRUE(t->owns_memory());
    EXPECT_EQ(t->data_as<float>()[14], 0.0f);
    EXPECT_EQ(t->to_string(), "Tensor(f32, [3, 5], cpu)");
    EXPECT_GE(cpu_allocator().stats().in_use, before.in_use + 60);
  }
  EXPECT_EQ(cpu_allocator().stats().in_use, before.in_use);
  auto q = Tensor::empty({4, 64}, DType::kQ4_0);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->nbytes(), 4 * 36);
  EXPECT_EQ(Tensor::empty({4, 30}, DType::kQ8_0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Tensor::empty({-1}, DType::kF32).status().code(), StatusCode::kInvalidArgument);
}

TEST(TensorTest, SliceSharesOwnershipAndReshape) {
  auto t = Tensor::empty({4, 6}, DType::kF16);
  ASSERT_TRUE(t.ok());
  Tensor rows = t->slice(0, 1, 3);
  EXPECT_EQ(rows.shape(), (Shape{2, 6}));
  EXPECT_EQ(static_cast<char*>(rows.data()) - static_cast<char*>(t->data()), 12);
  EXPECT_EQ(rows.buffer(), t->buffer());
  Tensor cols = t->slice(1, 2, 4);
  EXPECT_FALSE(cols.is_contiguous());
  EXPECT_EQ(cols.reshape({4}).status().code(), StatusCode::kInvalidArgument);
  auto r = t->reshape({2, 2, 6});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stride(0), 12);
  EXPECT_EQ(t->reshape({5, 5}).status().code(), StatusCode::kInvalidArgument);
  float buf[6];
  Tensor v = Tensor::view(buf, {2, 3}, DType::kF32);
  EXPECT_FALSE(v.owns_memory());
  EXPECT_EQ(v.data(), buf);
}

}  // namespace
}  // namespace parley::engine
