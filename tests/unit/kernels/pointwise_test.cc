// Per-element math on every ISA variant against libm / the scalar rule: Erf, Tanh, Sigmoid
// through Backend::elementwise (the AVX-512 path replaces libm there), and the QDQ round trip
// of affine_quantize (the AVX-512 row must round and saturate exactly as the scalar one).
// Why: smart-turn's GELU and every VITS gate run through these; an approximation that drifts
// near a branch point (|x| = 0.4 / 0.5) or mishandles NaN/inf would only show as odd audio.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/ops/affine_quantize.h"
#include "kernels/ops/elementwise.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

std::vector<float> probe_values() {
  std::vector<float> v = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-7f, -3e-4f, 0.39999f, 0.4f, 0.40001f, -0.4f, 0.49999f, 0.5f, 0.50001f,
                          -0.5f, 1.0f, -1.0f, 2.5f, -3.7f, 9.0f, -9.5f, 12.0f, 45.0f, -45.0f, 87.0f, -87.5f, 100.0f, -100.0f,
                          std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  for (int i = -4000; i <= 4000; ++i) v.push_back(static_cast<float>(i) * 0.0025f);  // [-10, 10], step 2.5e-3
  return v;
}

double reference(EwOp op, double x) {
  switch (op) {
    case EwOp::kErf: return std::erf(x);
    case EwOp::kTanh: return std::tanh(x);
    default: return 1.0 / (1.0 + std::exp(-x));
  }
}

TEST(PointwiseTest, ErfTanhSigmoidMatchLibmOnEveryIsa) {
  const std::vector<float> x = probe_values();
  for (CpuIsa isa : testing::available_isas()) {
    for (EwOp op : {EwOp::kErf, EwOp::kTanh, EwOp::kSigmoid}) {
      std::vector<float> y(x.size(), 7.0f);
      ElementwiseArgs a;
      a.op = op;
      a.rank = 1;
      a.dims[0] = static_cast<std::int64_t>(x.size());
      a.a = x.data();
      a.a_type = ElemType::kF32;
      a.a_strides[0] = 1;
      a.y = y.data();
      a.y_type = ElemType::kF32;
      ASSERT_TRUE(cpu::elementwise(a, testing::ctx_for(isa)).is_ok());
      double worst_rel = 0;
      for (std::size_t i = 0; i < x.size(); ++i) {
        const double want = reference(op, x[i]);
        // Relative error, with an absolute floor where the result is tiny (sigmoid's far tail).
        const double err = std::fabs(y[i] - want) / std::max(std::fabs(want), 1e-30);
        if (std::fabs(want) > 1e-30) worst_rel = std::max(worst_rel, err);
        EXPECT_TRUE(err < 1e-6 || std::fabs(y[i] - want) < 1e-37)
            << cpu_isa_name(isa) << " op " << static_cast<int>(op) << " x=" << x[i] << " got " << y[i] << " want " << want;
      }
      std::vector<float> nan = {std::nanf("")};
      a.dims[0] = 1;
      a.a = nan.data();
      a.y = y.data();
      ASSERT_TRUE(cpu::elementwise(a, testing::ctx_for(isa)).is_ok());
      EXPECT_TRUE(std::isnan(y[0])) << cpu_isa_name(isa) << " op " << static_cast<int>(op) << ": NaN in, NaN out";
      std::printf("%s op %d: worst relative error %.2g over %zu values\n", std::string(cpu_isa_name(isa)).c_str(), static_cast<int>(op),
                  worst_rel, x.size());
    }
  }
}

TEST(PointwiseTest, QdqRoundTripAndQuantizeAreBitExactAcrossIsas) {
  // Per channel (3 channels x 53, a vector tail), u8 and i8, values at exact .5 steps (ties to
  // even), far outside the range (saturation) and at the zero point.
  std::vector<float> x = testing::random_floats(3 * 53, 4, -40.0f, 40.0f);
  const std::vector<float> scale = {0.25f, 0.1f, 0.5f};
  for (std::size_t i = 0; i < 12; ++i) x[i] = (static_cast<float>(i) - 6.0f) * 0.125f;  // k + 0.5 steps of 0.25
  x[20] = 1e9f;
  x[21] = -1e9f;
  for (AffineType t : {AffineType::kU8, AffineType::kI8}) {
    const std::vector<std::uint8_t> zp_u8 = {128, 3, 250};
    const std::vector<std::int8_t> zp_i8 = {0, -100, 17};
    std::vector<float> want;
    for (CpuIsa isa : testing::available_isas()) {
      std::vector<float> y(x.size());
      AffineQuantizeArgs a;
      a.mode = AffineMode::kRoundTrip;
      a.q_type = t;
      a.outer = 1;
      a.channels = 3;
      a.inner = 53;
      a.x = x.data();
      a.y = y.data();
      a.scale = scale.data();
      a.zero_point = t == AffineType::kU8 ? static_cast<const void*>(zp_u8.data()) : static_cast<const void*>(zp_i8.data());
      ASSERT_TRUE(cpu::affine_quantize(a, testing::ctx_for(isa)).is_ok());
      if (want.empty()) {
        // The rule itself, in double: clamp(round_half_even(x / s) + zp, lo, hi) - zp, times s.
        const double lo = t == AffineType::kU8 ? 0 : -128, hi = t == AffineType::kU8 ? 255 : 127;
        for (std::size_t i = 0; i < x.size(); ++i) {
          const std::size_t c = i / 53;
          const double zp = t == AffineType::kU8 ? zp_u8[c] : zp_i8[c];
          const double q = std::nearbyint(static_cast<double>(x[i] / scale[c]));
          want.push_back(static_cast<float>((std::clamp(q + zp, lo, hi) - zp) * scale[c]));
        }
      }
      for (std::size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], want[i]) << cpu_isa_name(isa) << " i=" << i << " x=" << x[i];
      // QuantizeLinear alone: the bytes of the same rule.
      std::vector<std::uint8_t> q(x.size());
      a.mode = AffineMode::kQuantize;
      a.y = q.data();
      ASSERT_TRUE(cpu::affine_quantize(a, testing::ctx_for(isa)).is_ok());
      for (std::size_t i = 0; i < x.size(); ++i) {
        const std::size_t c = i / 53;
        const double zp = t == AffineType::kU8 ? zp_u8[c] : zp_i8[c];
        const double code = want[i] / scale[c] + zp;  // exact: want is a multiple of the scale
        const double got = t == AffineType::kU8 ? q[i] : static_cast<std::int8_t>(q[i]);
        ASSERT_EQ(got, std::nearbyint(code)) << cpu_isa_name(isa) << " quantize i=" << i << " x=" << x[i];
      }
    }
  }
}

}  // namespace
}  // namespace parley::kernels
