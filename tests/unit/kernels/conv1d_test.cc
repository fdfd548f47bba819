// conv1d and transposed conv1d on the CPU against an f64 reference (stride, padding, dilation,
// groups incl. depthwise, output_padding, bias + activation, f16/bf16).
#include <gtest/gtest.h>

#include "kernels/ops/conv1d.h"
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

}  // namespace
}  // namespace parley::kernels
