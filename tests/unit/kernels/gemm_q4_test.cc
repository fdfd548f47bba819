// Q4 GEMM (GGUF Q4_0 / Q4_1 / Q8_0 / Q5_0 / Q5_1 / Q4_K / Q5_K / Q6_K weights x per-32 int8
// activations) on every CPU ISA variant against an f64 reference of the dequantized weights times
// the quantized activations; every lane-group width G (K/32 = 1..152 lanes), N not a multiple of
// the row group, M = 1..9, empty, with and without bias.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>

#include "kernels/ops/gemm_q4.h"
#include "kernels/ops/quantize.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

struct Shape3 {
  std::int64_t m, n, k;
};

// The activation rule of ops/gemm_q4.h, restated: d = absmax/127 per 32-block, q = rne(x / d).
std::vector<double> quantized_activations(const std::vector<float>& a, std::int64_t m, std::int64_t k, std::int64_t lda) {
  std::vector<double> out(static_cast<std::size_t>(m * k));
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t b = 0; b < k / 32; ++b) {
      const float* x = a.data() + i * lda + b * 32;
      float amax = 0.0f;
      for (int t = 0; t < 32; ++t) amax = std::max(amax, std::abs(x[t]));
      const float d = amax / 127.0f;
      const float inv = d > 0.0f ? 1.0f / d : 0.0f;
      for (int t = 0; t < 32; ++t) {
        const float q = std::clamp(std::nearbyint(x[t] * inv), -127.0f, 127.0f);
        out[static_cast<std::size_t>(i * k + b * 32 + t)] = static_cast<double>(d) * q;
      }
    }
  }
  return out;
}

struct Packed {
  std::vector<float> w;                // dequantized weights [n, k]
  std::vector<std::uint8_t> packed;
};

Packed make_weights(DType type, std::int64_t n, std::int64_t k, std::uint64_t seed) {
  auto wf = testing::random_floats(static_cast<std::size_t>(n * k), seed);
  // Uneven block magnitudes and an all-zero block exercise the per-lane scales and d = 0.
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t c = 0; c < k; ++c) wf[static_cast<std::size_t>(j * k + c)] *= 0.25f + static_cast<float>((j + c / 32) % 5);
  if (n > 0 && k > 0) std::fill(wf.begin(), wf.begin() + 32, 0.0f);
  // A negative-mean sub-block: K-quant mins and Q6_K's signed scales take both signs.
  if (n > 1 && k >= 64) {
    for (std::int64_t c = 32; c < 64; ++c) wf[static_cast<std::size_t>(k + c)] = -1.5f + 0.01f * static_cast<float>(c);
  }
  const std::int64_t rb = engine::row_bytes(type, k);
  std::vector<std::uint8_t> gguf(static_cast<std::size_t>(std::max<std::int64_t>(1, n * rb)));
  Packed p;
  p.w.resize(static_cast<std::size_t>(n * k));
  if (n > 0 && k > 0) {
    GgufQuantizeArgs q;
    q.rows = n; q.cols = k; q.x = wf.data(); q.ldx = k; q.type = type; q.y = gguf.data(); q.y_row_bytes = rb;
    EXPECT_TRUE(cpu::gguf_quantize(q).is_ok());
    GgufDequantizeArgs d;
    d.rows = n; d.cols = k; d.x = gguf.data(); d.x_row_bytes = rb; d.type = type; d.y = p.w.data(); d.ldy = k;
    EXPECT_TRUE(cpu::gguf_dequantize(d).is_ok());
  }
  const std::int64_t bytes = gemm_q4_packed_bytes(type, n, k);
  EXPECT_GE(bytes, 0);
  p.packed.assign(static_cast<std::size_t>(std::max<std::int64_t>(1, bytes)), 0xAB);
  GemmQ4PackArgs pa;
  pa.n = n; pa.k = k; pa.src = gguf.data(); pa.type = type; pa.dst = p.packed.data();
  EXPECT_TRUE(cpu::pack_gemm_q4(pa).is_ok());
  return p;
}

TEST(GemmQ4Test, MatchesF64EveryIsa) {
  // K/32 = 1, 2, 3 (G=1), 4, 8, 16, 18 (G=2, SmolLM2's 576), 34, 48; N below, at and above a row group.
  const Shape3 shapes[] = {{1, 1, 32},   {1, 17, 64},  {3, 9, 96},    {5, 13, 128},  {2, 33, 256},  {1, 20, 512},
                           {1, 30, 576}, {8, 61, 576}, {9, 7, 1088}, {4, 37, 1536}, {1, 3, 32},    {0, 4, 32},
                           {4, 0, 64},   {3, 5, 0}};
  // K-quants: whole super-blocks only; K/32 = 8 (G = 8), 16, 24 (G = 8), 48 (G = 16), 152 (4864:
  // Qwen2.5-0.5B's FFN, G = 8).
  const Shape3 kshapes[] = {{1, 1, 256},   {3, 9, 512},  {5, 13, 768}, {2, 33, 1536}, {1, 17, 4864},
                            {9, 7, 256},   {8, 30, 512}, {0, 4, 256},  {4, 0, 256},   {3, 5, 0}};
  for (DType type : {DType::kQ4_0, DType::kQ4_1, DType::kQ8_0, DType::kQ5_0, DType::kQ5_1, DType::kQ4_K, DType::kQ5_K,
                     DType::kQ6_K}) {
    const bool kq = engine::is_k_quant(type);
    for (const Shape3& s : kq ? std::span<const Shape3>(kshapes) : std::span<const Shape3>(shapes)) {
      const bool with_bias = (s.n + s.k) % 3 == 0;
      const std::int64_t lda = s.k + 3, ldc = s.n + 2;
      const Packed w = make_weights(type, s.n, s.k, 100 + static_cast<std::uint64_t>(s.n * 7 + s.k));
      auto a = testing::random_floats(static_cast<std::size_t>(std::max<std::int64_t>(1, s.m * lda)), 7 + s.k, -2.0f, 2.0f);
      if (s.m > 0 && s.k >= 64) a[40] = 60.0f;  // an outlier: its block's scale differs from the others
      const auto xq = quantized_activations(a, s.m, s.k, lda);
      for (CpuIsa isa : testing::available_isas()) {
        SCOPED_TRACE(std::string(engine::dtype_name(type)) + " " + std::string(cpu_isa_name(isa)) + " m=" +
                     std::to_string(s.m) + " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k) +
                     (with_bias ? " bias" : ""));
        std::vector<float> c(static_cast<std::size_t>(std::max<std::int64_t>(1, s.m * ldc)), 777.0f);
        GemmQ4Args g;
        g.m = s.m; g.n = s.n; g.k = s.k; g.a = a.data(); g.lda = lda;
        g.b = w.packed.data(); g.b_type = type; g.c = c.data(); g.ldc = ldc;
        const auto bias = testing::random_floats(static_cast<std::size_t>(std::max<std::int64_t>(1, s.n)), 3 + s.n);
        if (with_bias) g.bias = bias.data();
        ASSERT_TRUE(cpu::gemm_q4(g, testing::ctx_for(isa)).is_ok());
        for (std::int64_t i = 0; i < s.m; ++i) {
          for (std::int64_t j = 0; j < s.n; ++j) {
            double want = with_bias ? bias[static_cast<std::size_t>(j)] : 0.0, mag = 0.0;
            for (std::int64_t k = 0; k < s.k; ++k) {
              const double p = static_cast<double>(w.w[static_cast<std::size_t>(j * s.k + k)]) * xq[static_cast<std::size_t>(i * s.k + k)];
              want += p;
              mag += std::abs(p);
            }
            ASSERT_NEAR(c[static_cast<std::size_t>(i * ldc + j)], want, 1e-5 * mag + 1e-6) << "at " << i << "," << j;
          }
          for (std::int64_t j = s.n; j < ldc; ++j) ASSERT_EQ(c[static_cast<std::size_t>(i * ldc + j)], 777.0f);
        }
      }
    }
  }
}

TEST(GemmQ4Test, PackedSizeIsTheGgufSize) {
  // Whole row groups: the packed tiles hold exactly the file's bytes, rearranged.
  for (DType type : {DType::kQ4_0, DType::kQ4_1, DType::kQ8_0}) {
    EXPECT_EQ(gemm_q4_packed_bytes(type, 960, 576), 960 * engine::row_bytes(type, 576));
    EXPECT_EQ(gemm_q4_packed_bytes(type, 576, 1536), 576 * engine::row_bytes(type, 1536));
    EXPECT_EQ(gemm_q4_packed_bytes(type, 3, 576), 8 * engine::row_bytes(type, 576));  // padded to R = 8 rows
  }
  EXPECT_EQ(gemm_q4_group_blocks(576), 2);
  EXPECT_EQ(gemm_q4_group_blocks(1536), 16);
  EXPECT_EQ(gemm_q4_group_blocks(96), 1);
  EXPECT_EQ(gemm_q4_packed_bytes(DType::kF32, 4, 64), -1);
  EXPECT_EQ(gemm_q4_packed_bytes(DType::kQ4_0, 4, 48), -1);
  // Q5_x tiles hold the file's bytes too; K-quant tiles keep their 6-bit scales: Q4_K 296 bytes per
  // 512 values (GGUF 288), Q5_K 360 (352), Q6_K 420 (420).
  EXPECT_EQ(gemm_q4_packed_bytes(DType::kQ5_0, 896, 896), 896 * engine::row_bytes(DType::kQ5_0, 896));
  EXPECT_EQ(gemm_q4_packed_bytes(DType::kQ5_1, 64, 1536), 64 * engine::row_bytes(DType::kQ5_1, 1536));
  EXPECT_EQ(gemm_q4_packed_bytes(DType::kQ4_K, 16, 4864), 16 * 4864 / 512 * 296);
  EXPECT_EQ(gemm_q4_packed_bytes(DType::kQ5_K, 2, 512), 2 * 360);  // G = 16: one row per tile
  EXPECT_EQ(gemm_q4_packed_bytes(DType::kQ6_K, 896, 4864), 896 * engine::row_bytes(DType::kQ6_K, 4864));
  EXPECT_EQ(gemm_q4_packed_bytes(DType::kQ6_K, 4, 640), -1);  // not whole super-blocks
  EXPECT_EQ(gemm_q4_packed_bytes(DType::kQ2_K, 4, 256), -1);  // not packed (runs on the INT8 path)
  EXPECT_TRUE(gemm_q4_type(DType::kQ5_0));
  EXPECT_FALSE(gemm_q4_type(DType::kQ3_K));
}

TEST(GemmQ4Test, BadArgs) {
  float x[64] = {}, y[4] = {};
  std::uint8_t w[1024] = {};
  GemmQ4Args g;
  g.m = 1; g.n = 2; g.k = 64; g.a = x; g.lda = 64; g.b = w; g.b_type = DType::kQ4_1; g.c = y; g.ldc = 2;
  EXPECT_TRUE(cpu::gemm_q4(g).is_ok());
  GemmQ4Args bad = g;
  bad.k = 48;
  EXPECT_EQ(cpu::gemm_q4(bad).code(), StatusCode::kInvalidArgument);
  bad = g;
  bad.b_type = DType::kF16;
  EXPECT_EQ(cpu::gemm_q4(bad).code(), StatusCode::kInvalidArgument);
  bad = g;
  bad.ldc = 1;
  EXPECT_EQ(cpu::gemm_q4(bad).code(), StatusCode::kInvalidArgument);
  bad = g;
  bad.lda = 32;
  EXPECT_EQ(cpu::gemm_q4(bad).code(), StatusCode::kInvalidArgument);
  bad = g;
  bad.b = nullptr;
  EXPECT_EQ(cpu::gemm_q4(bad).code(), StatusCode::kInvalidArgument);
  GemmQ4PackArgs p;
  p.n = 2; p.k = 40; p.src = w; p.type = DType::kQ4_0; p.dst = w + 512;
  EXPECT_EQ(cpu::pack_gemm_q4(p).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace parley::kernels
