// conv1d and transposed conv1d on the CPU against an f64 reference (stride, padding, dilation,
// groups incl. depthwise, output_padding, bias + activation, f16/bf16).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <thread>

#include "kernels/cpu/conv1d_direct.h"
#include "kernels/ops/bf16_linear.h"
#include "kernels/ops/conv1d.h"
#include "shared/engine/half.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

std::vector<double> ref_conv(const Conv1dArgs& a, const std::vector<float>& x, const std::vector<float>& w,
                             const std::vector<float>& bias) {
  const std::int64_t lout = conv1d_output_length(a), cin_g = a.in_channels / a.groups, cout_g = a.out_channels / a.groups;
  std::vector<double> y(static_cast<std::size_t>(a.batch * a.out_channels * lout), 0.0);
  for (std::int64_t b = 0; b < a.batch; ++b)
    for (std::int64_t oc = 0; oc < a.out_channels; ++oc) {
      const std::int64_t g = oc / cout_g;
      for (std::int64_t icg = 0; icg < cin_g; ++icg) {
        const std::int64_t ic = g * cin_g + icg;
        for (std::int64_t kk = 0; kk < a.kernel_size; ++kk) {
          const double wv = a.transposed ? w[static_cast<std::size_t>((ic * cout_g + (oc - g * cout_g)) * a.kernel_size + kk)]
                                         : w[static_cast<std::size_t>((oc * cin_g + icg) * a.kernel_size + kk)];
          for (std::int64_t i = 0; i < a.in_length; ++i) {
            const double xv = x[static_cast<std::size_t>((b * a.in_channels + ic) * a.in_length + i)];
            if (a.transposed) {
              const std::int64_t o = i * a.stride - a.padding + kk * a.dilation;
              if (o >= 0 && o < lout) y[static_cast<std::size_t>((b * a.out_channels + oc) * lout + o)] += wv * xv;
            } else {
              // output o reads input o*stride - padding + kk*dilation == i
              const std::int64_t num = i + a.padding - kk * a.dilation;
              if (num >= 0 && num % a.stride == 0 && num / a.stride < lout)
                y[static_cast<std::size_t>((b * a.out_channels + oc) * lout + num / a.stride)] += wv * xv;
            }
          }
        }
      }
      for (std::int64_t o = 0; o < lout; ++o) {
        double& v = y[static_cast<std::size_t>((b * a.out_channels + oc) * lout + o)];
        v = testing::ref_act(a.activation, v + (bias.empty() ? 0.0 : bias[static_cast<std::size_t>(oc)]));
      }
    }
  return y;
}

TEST(Conv1dTest, ConvAndTransposedMatchReference) {
  struct P { bool tr; std::int64_t b, cin, cout, len, ks, stride, pad, dil, groups, opad; };
  const P cases[] = {
      {false, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0},   {false, 2, 3, 5, 17, 3, 1, 1, 1, 1, 0},
      {false, 1, 4, 6, 33, 5, 2, 2, 1, 2, 0},  {false, 2, 8, 8, 20, 3, 1, 2, 2, 8, 0},  // depthwise, dilated
      {false, 1, 80, 64, 50, 3, 2, 1, 1, 1, 0}, {true, 1, 4, 3, 9, 4, 2, 1, 1, 1, 0},
      {true, 2, 6, 4, 7, 3, 3, 0, 1, 2, 1},    {true, 1, 16, 8, 25, 16, 8, 4, 1, 1, 0},  // HiFi-GAN style upsample
      {true, 1, 2, 2, 5, 3, 1, 1, 2, 1, 1}};
  for (const P& p : cases) {
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      Conv1dArgs a;
      a.transposed = p.tr; a.batch = p.b; a.in_channels = p.cin; a.out_channels = p.cout; a.in_length = p.len;
      a.kernel_size = p.ks; a.stride = p.stride; a.padding = p.pad; a.dilation = p.dil; a.groups = p.groups;
      a.output_padding = p.opad; a.dtype = t; a.activation = Activation::kSilu;
      const std::int64_t wn = p.tr ? p.cin * (p.cout / p.groups) * p.ks : p.cout * (p.cin / p.groups) * p.ks;
      auto x = testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(p.b * p.cin * p.len), 1));
      auto w = testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(wn), 2));
      auto bias = testing::random_floats(static_cast<std::size_t>(p.cout), 3);
      const std::int64_t lout = conv1d_output_length(a);
      ASSERT_GT(lout, 0);
      auto y = testing::zero_buffer(t, static_cast<std::size_t>(p.b * p.cout * lout));
      a.x = x.data(); a.w = w.data(); a.bias = bias.data(); a.y = y.data();
      SCOPED_TRACE(std::string(p.tr ? "transposed " : "conv ") + std::string(engine::dtype_name(t)) + " cin=" +
                   std::to_string(p.cin) + " cout=" + std::to_string(p.cout) + " len=" + std::to_string(p.len) +
                   " k=" + std::to_string(p.ks) + " s=" + std::to_string(p.stride) + " g=" + std::to_string(p.groups));
      ASSERT_TRUE(cpu::conv1d(a).is_ok());
      const auto want = ref_conv(a, x.values, w.values, bias);
      EXPECT_TRUE(testing::all_close(testing::read_buffer(y, want.size()), want, 1e-5 + 4 * testing::eps_of(t), 2 * testing::eps_of(t)));
    }
  }
}

// ExecContext::allow_bf16: with AVX512_BF16 the stride-1 convolution multiplies bf16-rounded
// inputs (after the fused input transform) and weights, accumulating in f32, so it must match an
// f64 reference computed on those rounded values to f32 accumulation error; without the
// instructions the flag changes nothing.
TEST(Conv1dTest, Bf16ProductsMatchAReferenceOnRoundedOperands) {
  auto round = [](float v) { return engine::bf16_to_f32(engine::f32_to_bf16(v)); };
  struct P { std::int64_t b, cin, cout, len, ks, pad, dil; bool leaky, residual; };
  // (The bf16 path takes outputs of 512+ positions; shorter ones stay f32, see conv1d.cc.)
  const P cases[] = {{1, 16, 8, 540, 3, 1, 1, false, false},   {2, 7, 12, 700, 5, 6, 3, true, true},
                     {1, 33, 19, 530, 7, 18, 3, true, false}, {1, 64, 32, 600, 3, 1, 1, false, true},
                     {1, 128, 64, 529, 7, 36, 12, true, true}};
  for (const P& p : cases) {
    Conv1dArgs a;
    a.batch = p.b; a.in_channels = p.cin; a.out_channels = p.cout; a.in_length = p.len; a.kernel_size = p.ks;
    a.padding = p.pad; a.dilation = p.dil; a.input_leaky = p.leaky; a.input_slope = 0.1f;
    a.input_scale = p.leaky ? 0.5f : 1.0f;
    const std::int64_t lout = conv1d_output_length(a);
    auto x = testing::random_floats(static_cast<std::size_t>(p.b * p.cin * p.len), 11);
    auto w = testing::random_floats(static_cast<std::size_t>(p.cout * p.cin * p.ks), 12);
    auto bias = testing::random_floats(static_cast<std::size_t>(p.cout), 13);
    auto res = testing::random_floats(static_cast<std::size_t>(p.b * p.cout * lout), 14);
    std::vector<float> y(static_cast<std::size_t>(p.b * p.cout * lout)), y32(y.size());
    a.x = x.data(); a.w = w.data(); a.bias = bias.data(); a.residual = p.residual ? res.data() : nullptr;
    SCOPED_TRACE("cin=" + std::to_string(p.cin) + " cout=" + std::to_string(p.cout) + " len=" + std::to_string(p.len) +
                 " k=" + std::to_string(p.ks) + " d=" + std::to_string(p.dil));
    ExecContext ctx = ExecContext::cpu();
    a.y = y32.data();
    ASSERT_TRUE(cpu::conv1d(a, ctx).is_ok());
    ctx.allow_bf16 = true;
    a.y = y.data();
    ASSERT_TRUE(cpu::conv1d(a, ctx).is_ok());
    {  // A short output (a text-rate layer) stays on the f32 kernel: the flag changes nothing.
      Conv1dArgs s = a;
      s.in_length = 100;  // (the residual buffer is larger than this output needs)
      std::vector<float> ys(static_cast<std::size_t>(p.b * p.cout * conv1d_output_length(s))), ys32(ys.size());
      ExecContext c32 = ExecContext::cpu(), c16 = c32;
      c16.allow_bf16 = true;
      s.y = ys32.data();
      ASSERT_TRUE(cpu::conv1d(s, c32).is_ok());
      s.y = ys.data();
      ASSERT_TRUE(cpu::conv1d(s, c16).is_ok());
      EXPECT_EQ(ys, ys32) << "a short output took the bf16 path";
    }
    if (!cpu::bf16_linear_fast()) {
      EXPECT_EQ(y, y32) << "allow_bf16 changed the result on a CPU without AVX512_BF16";
      continue;
    }
    double worst = 0;  // |error| / (sum of |terms| + 1): f32 accumulation error is relative to that
    bool differs = false;
    for (std::int64_t b = 0; b < p.b; ++b)
      for (std::int64_t o = 0; o < p.cout; ++o)
        for (std::int64_t t = 0; t < lout; ++t) {
          double acc = bias[static_cast<std::size_t>(o)], mag = std::abs(acc);
          for (std::int64_t c = 0; c < p.cin; ++c)
            for (std::int64_t k = 0; k < p.ks; ++k) {
              const std::int64_t i = t - p.pad + k * p.dil;
              if (i < 0 || i >= p.len) continue;
              const float xv = conv1d_input_transform(a, x[static_cast<std::size_t>((b * p.cin + c) * p.len + i)]);
              const double term = static_cast<double>(round(xv)) * round(w[static_cast<std::size_t>((o * p.cin + c) * p.ks + k)]);
              acc += term;
              mag += std::abs(term);
            }
          const std::size_t at = static_cast<std::size_t>((b * p.cout + o) * lout + t);
          if (p.residual) {
            acc += res[at];
            mag += std::abs(res[at]);
          }
          worst = std::max(worst, std::abs(acc - y[at]) / (mag + 1.0));
          differs = differs || y[at] != y32[at];
        }
    EXPECT_LE(worst, 1e-5) << "bf16 path vs the f64 reference on bf16-rounded operands";
    EXPECT_TRUE(differs) << "allow_bf16 had no effect: the bf16 kernel did not run";
  }
}

// The same for transposed convolutions (the vocoder's upsampling layers), incl. a phase no tap
// lands on (ks < stride), output_padding, padding and the fused residual and input transform.
TEST(Conv1dTest, Bf16TransposedMatchesAReferenceOnRoundedOperands) {
  auto round = [](float v) { return engine::bf16_to_f32(engine::f32_to_bf16(v)); };
  struct P { std::int64_t cin, cout, len, ks, stride, pad, opad; bool leaky, residual; };
  const P cases[] = {{16, 8, 80, 16, 8, 4, 0, true, false}, {7, 12, 200, 8, 4, 2, 1, false, true},
                     {33, 19, 130, 3, 5, 0, 2, true, true}, {64, 32, 300, 8, 4, 2, 0, false, false}};
  for (const P& p : cases) {
    Conv1dArgs a;
    a.transposed = true; a.batch = 1; a.in_channels = p.cin; a.out_channels = p.cout; a.in_length = p.len;
    a.kernel_size = p.ks; a.stride = p.stride; a.padding = p.pad; a.output_padding = p.opad;
    a.input_leaky = p.leaky; a.input_slope = 0.1f; a.activation = Activation::kNone;
    const std::int64_t lout = conv1d_output_length(a);
    ASSERT_GE(lout, 512);
    auto x = testing::random_floats(static_cast<std::size_t>(p.cin * p.len), 21);
    auto w = testing::random_floats(static_cast<std::size_t>(p.cin * p.cout * p.ks), 22);
    auto bias = testing::random_floats(static_cast<std::size_t>(p.cout), 23);
    auto res = testing::random_floats(static_cast<std::size_t>(p.cout * lout), 24);
    std::vector<float> y(static_cast<std::size_t>(p.cout * lout)), y32(y.size());
    a.x = x.data(); a.w = w.data(); a.bias = bias.data(); a.residual = p.residual ? res.data() : nullptr;
    SCOPED_TRACE("cin=" + std::to_string(p.cin) + " cout=" + std::to_string(p.cout) + " k=" + std::to_string(p.ks) +
                 " s=" + std::to_string(p.stride));
    ExecContext ctx = ExecContext::cpu();
    a.y = y32.data();
    ASSERT_TRUE(cpu::conv1d(a, ctx).is_ok());
    ctx.allow_bf16 = true;
    a.y = y.data();
    ASSERT_TRUE(cpu::conv1d(a, ctx).is_ok());
    if (!cpu::bf16_linear_fast()) {
      EXPECT_EQ(y, y32) << "allow_bf16 changed the result on a CPU without AVX512_BF16";
      continue;
    }
    std::vector<double> want(y.size()), mag(y.size());
    for (std::int64_t o = 0; o < p.cout; ++o)
      for (std::int64_t t = 0; t < lout; ++t) {
        const std::size_t at = static_cast<std::size_t>(o * lout + t);
        want[at] = bias[static_cast<std::size_t>(o)] + (p.residual ? res[at] : 0.0f);
        mag[at] = std::abs(want[at]);
      }
    for (std::int64_t c = 0; c < p.cin; ++c)
      for (std::int64_t i = 0; i < p.len; ++i) {
        const double xv = round(conv1d_input_transform(a, x[static_cast<std::size_t>(c * p.len + i)]));
        for (std::int64_t o = 0; o < p.cout; ++o)
          for (std::int64_t k = 0; k < p.ks; ++k) {
            const std::int64_t t = i * p.stride - p.pad + k;
            if (t < 0 || t >= lout) continue;
            const double term = xv * round(w[static_cast<std::size_t>((c * p.cout + o) * p.ks + k)]);
            want[static_cast<std::size_t>(o * lout + t)] += term;
            mag[static_cast<std::size_t>(o * lout + t)] += std::abs(term);
          }
      }
    double worst = 0;
    bool differs = false;
    for (std::size_t i = 0; i < y.size(); ++i) {
      worst = std::max(worst, std::abs(want[i] - y[i]) / (mag[i] + 1.0));
      differs = differs || y[i] != y32[i];
    }
    EXPECT_LE(worst, 1e-5) << "bf16 transposed path vs the f64 reference on bf16-rounded operands";
    EXPECT_TRUE(differs) << "allow_bf16 had no effect: the bf16 kernel did not run";
  }
}

TEST(Conv1dTest, OutputLengthAndValidation) {
  Conv1dArgs a;
  a.in_length = 10; a.kernel_size = 3; a.stride = 2; a.padding = 1;
  EXPECT_EQ(conv1d_output_length(a), 5);
  a.transposed = true; a.output_padding = 1;
  EXPECT_EQ(conv1d_output_length(a), 20);
  float buf[64] = {};
  a.batch = 1; a.in_channels = 3; a.out_channels = 2; a.groups = 2; a.x = buf; a.w = buf; a.y = buf;
  EXPECT_EQ(cpu::conv1d(a).code(), StatusCode::kInvalidArgument);  // 3 channels, 2 groups
  a.batch = 0; a.groups = 1; a.in_channels = 2;
  EXPECT_TRUE(cpu::conv1d(a).is_ok());  // empty batch
}

// The convolutions' input scratch: reused by a thread across calls (no zero-fill, no page faults
// per call), never shared by two users at once, grown on demand, not kept when huge.
TEST(ConvScratch, ReusedPerThreadNeverShared) {
  using cpu::detail::ConvScratch;
  void* first = nullptr;
  {
    ConvScratch a(0, 1000);
    first = a.as<void>();
    ConvScratch b(0, 1000);  // slot 0 is taken: its own memory
    EXPECT_NE(b.as<void>(), first);
    ConvScratch c(1, 1000);
    EXPECT_NE(c.as<void>(), first);
    EXPECT_NE(c.as<void>(), b.as<void>());
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.as<void>()) % 64, 0u);
  }
  {
    ConvScratch again(0, 500);  // smaller: the same buffer
    EXPECT_EQ(again.as<void>(), first);
  }
  void* grown_at = nullptr;
  {
    ConvScratch grown(0, 1 << 20);
    grown_at = grown.as<void>();
    std::memset(grown.as<void>(), 1, 1 << 20);  // all of it is usable
  }
  void* other_thread = nullptr;
  std::thread([&] {
    ConvScratch t(0, 1000);
    other_thread = t.as<void>();
    std::memset(t.as<void>(), 2, 1000);
  }).join();
  {
    ConvScratch mine(0, 1000);
    EXPECT_NE(mine.as<void>(), other_thread);
    EXPECT_EQ(mine.as<void>(), grown_at);
  }
  {
    ConvScratch huge(0, (std::size_t{64} << 20) + 1);  // over the keep limit: its own memory
    ConvScratch kept(0, 16);                          // so slot 0 is still free
    EXPECT_NE(huge.as<void>(), grown_at);
    EXPECT_EQ(kept.as<void>(), grown_at);
  }
}

}  // namespace
}  // namespace parley::kernels
