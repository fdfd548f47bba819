// Quantization on the CPU: symmetric int8 (per tensor / row / column, dynamic and static scales,
// round-half-even, never -128), and GGUF Q8_0 / Q4_0 / Q4_1 blocks: golden bytes worked out by
// hand from ggml's layout, round-trip error bounds, and dequantization to f16/bf16.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernels/ops/quantize.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

TEST(QuantizeTest, Int8AllGranularitiesRoundTrip) {
  const std::int64_t rows = 9, cols = 37, ld = 40;
  for (QuantGranularity g : {QuantGranularity::kPerTensor, QuantGranularity::kPerRow, QuantGranularity::kPerColumn}) {
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      auto x = testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(rows * ld), 3, -5.0f, 5.0f));
      std::vector<std::int8_t> q(static_cast<std::size_t>(rows * ld), 99);
      std::vector<float> scales(static_cast<std::size_t>(std::max(rows, cols)));
      QuantizeArgs a;
      a.rows = rows; a.cols = cols; a.x = x.data(); a.ldx = ld; a.x_type = t; a.y = q.data(); a.ldy = ld;
      a.scales = scales.data(); a.granularity = g;
      ASSERT_TRUE(cpu::quantize(a).is_ok());
      auto scale_of = [&](std::int64_t i, std::int64_t j) {
        return g == QuantGranularity::kPerTensor ? scales[0] : g == QuantGranularity::kPerRow ? scales[static_cast<std::size_t>(i)] : scales[static_cast<std::size_t>(j)];
      };
      // Scale = absmax / 127 of its group; every value within half a step; +-127 reached; no -128.
      bool saw_127 = false;
      for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j) {
          const std::int8_t v = q[static_cast<std::size_t>(i * ld + j)];
          ASSERT_GE(v, -127);
          saw_127 |= (v == 127 || v == -127);
          const double xv = x.values[static_cast<std::size_t>(i * ld + j)];
          ASSERT_LE(std::fabs(v * static_cast<double>(scale_of(i, j)) - xv), 0.5 * scale_of(i, j) * (1 + 1e-5));
        }
      EXPECT_TRUE(saw_127);
      EXPECT_EQ(q[static_cast<std::size_t>(cols)], 99);  // padding untouched
      // Dequantize back.
      auto y = testing::zero_buffer(t, static_cast<std::size_t>(rows * ld));
      DequantizeArgs d;
      d.rows = rows; d.cols = cols; d.x = q.data(); d.ldx = ld; d.scales = scales.data(); d.granularity = g;
      d.y = y.data(); d.ldy = ld; d.y_type = t;
      ASSERT_TRUE(cpu::dequantize(d).is_ok());
      const auto yv = testing::read_buffer(y, static_cast<std::size_t>(rows * ld));
      for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j)
          ASSERT_NEAR(yv[static_cast<std::size_t>(i * ld + j)], q[static_cast<std::size_t>(i * ld + j)] * scale_of(i, j),
                      testing::eps_of(t) * 5.0 + 1e-6);
    }
  }
}

TEST(QuantizeTest, Int8RoundsHalfToEvenWithStaticScale) {
  std::vector<float> x = {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 300.0f, -300.0f};
  std::vector<std::int8_t> q(x.size());
  float scale = 1.0f;
  QuantizeArgs a;
  a.rows = 1; a.cols = static_cast<std::int64_t>(x.size()); a.x = x.data(); a.ldx = a.cols; a.y = q.data(); a.ldy = a.cols;
  a.scales = &scale; a.granularity = QuantGranularity::kPerTensor; a.compute_scales = false;
  ASSERT_TRUE(cpu::quantize(a).is_ok());
  EXPECT_EQ(std::vector<int>(q.begin(), q.end()), (std::vector<int>{0, 2, 2, 0, -2, 127, -127}));
}

// The AVX-512 rows (f32, per row / per tensor) give the scalar loop's bytes and scales exactly,
// at every row length (masked tails), ties included.
TEST(QuantizeTest, Int8VectorRowsMatchTheScalarLoop) {
  for (std::int64_t cols : {1, 15, 16, 17, 64, 383, 384}) {
    for (QuantGranularity g : {QuantGranularity::kPerTensor, QuantGranularity::kPerRow}) {
      const std::int64_t rows = 5;
      std::vector<float> x = testing::random_floats(static_cast<std::size_t>(rows * cols), 11 + static_cast<unsigned>(cols), -3.0f, 3.0f);
      for (std::size_t i = 0; i < x.size(); i += 7) x[i] = std::round(x[i] * 4.0f) / 4.0f + 0.5f / 127.0f;  // near ties
      auto run = [&](CpuIsa isa, std::vector<std::int8_t>& q, std::vector<float>& sc) {
        q.assign(static_cast<std::size_t>(rows * cols), 0);
        sc.assign(static_cast<std::size_t>(rows), 0.0f);
        if (g == QuantGranularity::kPerTensor) sc[0] = 3.0f / 127.0f;
        QuantizeArgs a;
        a.rows = rows; a.cols = cols; a.x = x.data(); a.ldx = cols; a.x_type = DType::kF32; a.y = q.data(); a.ldy = cols;
        a.scales = sc.data(); a.granularity = g; a.compute_scales = g == QuantGranularity::kPerRow;
        ExecContext ctx;
        ctx.cpu_isa = isa;
        ASSERT_TRUE(cpu::quantize(a, ctx).is_ok());
      };
      std::vector<std::int8_t> qs, qv;
      std::vector<float> ss, sv;
      run(CpuIsa::kScalar, qs, ss);
      run(CpuIsa::kAuto, qv, sv);
      EXPECT_EQ(qs, qv) << "cols " << cols;
      EXPECT_EQ(ss, sv) << "cols " << cols;
    }
  }
}

std::vector<std::uint8_t> gguf(DType t, const std::vector<float>& x) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(engine::row_bytes(t, static_cast<std::int64_t>(x.size()))));
  GgufQuantizeArgs a;
  a.rows = 1; a.cols = static_cast<std::int64_t>(x.size()); a.x = x.data(); a.ldx = a.cols; a.type = t; a.y = out.data();
  EXPECT_TRUE(cpu::gguf_quantize(a).is_ok());
  return out;
}

TEST(QuantizeTest, GgufGoldenBlocks) {
  // Q8_0 with absmax 127: d = 1.0 (f16 0x3C00), qs = x.
  std::vector<float> x8(32);
  for (int j = 0; j < 32; ++j) x8[static_cast<std::size_t>(j)] = static_cast<float>(j * 8 - 127);
  const auto b8 = gguf(DType::kQ8_0, x8);
  ASSERT_EQ(b8.size(), 34u);
  EXPECT_EQ(b8[0], 0x00);
  EXPECT_EQ(b8[1], 0x3C);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(static_cast<std::int8_t>(b8[static_cast<std::size_t>(2 + j)]), j * 8 - 127);

  // Q4_0 with x = j - 16: the largest magnitude is -16, d = -16 / -8 = 2 (f16 0x4000);
  // low nibble j = (j+1)/2, high nibble j = min(15, (j+17)/2).
  std::vector<float> x4(32);
  for (int j = 0; j < 32; ++j) x4[static_cast<std::size_t>(j)] = static_cast<float>(j - 16);
  const auto b4 = gguf(DType::kQ4_0, x4);
  ASSERT_EQ(b4.size(), 18u);
  EXPECT_EQ(b4[0], 0x00);
  EXPECT_EQ(b4[1], 0x40);
  for (int j = 0; j < 16; ++j) {
    const int lo = (j + 1) / 2, hi = std::min(15, (j + 17) / 2);
    EXPECT_EQ(b4[static_cast<std::size_t>(2 + j)], lo | (hi << 4)) << "byte " << j;
  }

  // Q4_1 with x = (j % 16) + 3: min 3 (f16 0x4200), d = 15/15 = 1 (0x3C00); q = j % 16.
  std::vector<float> x41(32);
  for (int j = 0; j < 32; ++j) x41[static_cast<std::size_t>(j)] = static_cast<float>(j % 16 + 3);
  const auto b41 = gguf(DType::kQ4_1, x41);
  ASSERT_EQ(b41.size(), 20u);
  EXPECT_EQ(b41[0], 0x00);
  EXPECT_EQ(b41[1], 0x3C);
  EXPECT_EQ(b41[2], 0x00);
  EXPECT_EQ(b41[3], 0x42);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b41[static_cast<std::size_t>(4 + j)], j | (j << 4));
}

TEST(QuantizeTest, GgufRoundTripErrorBoundsAndDtypes) {
  const std::int64_t rows = 5, cols = 96;
  const auto x = testing::random_floats(static_cast<std::size_t>(rows * cols), 12, -3.0f, 3.0f);
  for (DType qt : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1}) {
    const std::int64_t rb = engine::row_bytes(qt, cols) + 6;  // padded rows
    std::vector<std::uint8_t> q(static_cast<std::size_t>(rows * rb));
    GgufQuantizeArgs a;
    a.rows = rows; a.cols = cols; a.x = x.data(); a.ldx = cols; a.type = qt; a.y = q.data(); a.y_row_bytes = rb;
    ASSERT_TRUE(cpu::gguf_quantize(a).is_ok());
    for (DType yt : {DType::kF32, DType::kF16, DType::kBF16}) {
      auto y = testing::zero_buffer(yt, static_cast<std::size_t>(rows * cols));
      GgufDequantizeArgs d;
      d.rows = rows; d.cols = cols; d.x = q.data(); d.x_row_bytes = rb; d.type = qt; d.y = y.data(); d.ldy = cols; d.y_type = yt;
      ASSERT_TRUE(cpu::gguf_dequantize(d).is_ok());
      const auto yv = testing::read_buffer(y, x.size());
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t b = 0; b < cols / 32; ++b) {
          float amax = 0, mn = 1e30f, mx = -1e30f;
          for (int j = 0; j < 32; ++j) {
            const float v = x[static_cast<std::size_t>(r * cols + b * 32 + j)];
            amax = std::max(amax, std::fabs(v)); mn = std::min(mn, v); mx = std::max(mx, v);
          }
          // Half a step (plus f16 rounding of d and m, and of the output) per element.
          const double step = qt == DType::kQ8_0 ? amax / 127.0 : qt == DType::kQ4_0 ? amax / 8.0 : (mx - mn) / 15.0;
          const double tol = (qt == DType::kQ4_0 ? 1.0 : 0.5) * step + 4e-3 * amax + testing::eps_of(yt) * amax * 2;
          for (int j = 0; j < 32; ++j) {
            const std::size_t at = static_cast<std::size_t>(r * cols + b * 32 + j);
            ASSERT_LE(std::fabs(yv[at] - x[at]), tol) << engine::dtype_name(qt) << " row " << r << " col " << b * 32 + j;
          }
        }
    }
  }
}

TEST(QuantizeTest, GgufRejectsColsNotMultipleOf32) {
  float x[33] = {};
  std::uint8_t y[64];
  GgufQuantizeArgs a;
  a.rows = 1; a.cols = 33; a.x = x; a.ldx = 33; a.type = DType::kQ8_0; a.y = y;
  EXPECT_EQ(cpu::gguf_quantize(a).code(), StatusCode::kInvalidArgument);
  a.cols = 32; a.type = DType::kF16;
  EXPECT_EQ(cpu::gguf_quantize(a).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace parley::kernels
