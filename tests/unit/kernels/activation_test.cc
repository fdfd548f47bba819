// Activations (plain and gated: SwiGLU, GeGLU) on the CPU against f64 references.
#include <gtest/gtest.h>

#include "kernels/ops/activation.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

TEST(ActivationTest, PlainAndGatedMatchReference) {
  for (Activation act : {Activation::kNone, Activation::kRelu, Activation::kGeluErf, Activation::kGeluTanh, Activation::kSilu}) {
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      for (bool gated : {false, true}) {
        const std::int64_t rows = 5, cols = 77;
        // Fused [gate | up] layout: gate = p, x = p + cols, both with ld = 2*cols.
        auto p = testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(rows * 2 * cols), 5, -8.0f, 8.0f));
        auto y = testing::zero_buffer(t, static_cast<std::size_t>(rows * cols));
        const std::size_t es = static_cast<std::size_t>(engine::block_bytes(t));
        ActivationArgs a;
        a.activation = act; a.rows = rows; a.cols = cols; a.dtype = t;
        a.x = gated ? static_cast<const void*>(p.bytes.data() + cols * es) : p.data(); a.ldx = 2 * cols;
        if (gated) { a.gate = p.data(); a.ld_gate = 2 * cols; }
        a.y = y.data(); a.ldy = cols;
        SCOPED_TRACE(std::string(activation_name(act)) + " " + std::string(engine::dtype_name(t)) + (gated ? " gated" : ""));
        ASSERT_TRUE(cpu::activation(a).is_ok());
        std::vector<double> want;
        for (std::int64_t i = 0; i < rows; ++i)
          for (std::int64_t j = 0; j < cols; ++j) {
            const double g = p.values[static_cast<std::size_t>(i * 2 * cols + j)];
            const double u = p.values[static_cast<std::size_t>(i * 2 * cols + cols + j)];
            want.push_back(gated ? testing::ref_act(act, g) * u : testing::ref_act(act, g));
          }
        EXPECT_TRUE(testing::all_close(testing::read_buffer(y, want.size()), want, 1e-6 + testing::eps_of(t),
                                       2 * testing::eps_of(t) + 1e-6));
      }
    }
  }
}

TEST(ActivationTest, ScalarDefinitionsAndEmpty) {
  EXPECT_FLOAT_EQ(activation_ref(Activation::kRelu, -2.0f), 0.0f);
  EXPECT_NEAR(activation_ref(Activation::kGeluErf, 1.0f), 0.841344746, 1e-6);
  EXPECT_NEAR(activation_ref(Activation::kGeluTanh, 1.0f), 0.841191990, 1e-6);
  EXPECT_NEAR(activation_ref(Activation::kSilu, 1.0f), 0.731058579, 1e-6);
  ActivationArgs a;  // 0 x 0
  EXPECT_TRUE(cpu::activation(a).is_ok());
}

}  // namespace
}  // namespace parley::kernels
