// GGUF block codecs (kernels/cpu/gguf_blocks.cc through the gguf_quantize / gguf_dequantize ops)
// against ggml itself: golden blocks quantized by ggml (tools/reference/gguf_blocks_reference.py)
// must decode to ggml's values, the legacy quantizers must write ggml's bytes, and the K-quant
// quantizer must round-trip within per-type error bounds. Depends on kernels/ops/quantize.h.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "kernels/ops/quantize.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

struct Golden {
  DType type;
  const char* hex;            // ggml's block for the input below
  std::vector<float> probes;  // ggml's dequantized values v = 0, step n/16 + 1, ...
  double sum;                 // of all n dequantized values
};

// The reference script's input: exact in f32.
std::vector<float> golden_input(std::int64_t n) {
  std::vector<float> x(static_cast<std::size_t>(n));
  for (std::int64_t v = 0; v < n; ++v) {
    x[static_cast<std::size_t>(v)] = static_cast<float>(((v * 37 + 11) % 61 - 30) * (1 + v % 5)) / 16.0f;
  }
  return x;
}

std::vector<std::uint8_t> from_hex(const std::string& h) {
  std::vector<std::uint8_t> out(h.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(std::stoi(h.substr(2 * i, 2), nullptr, 16));
  return out;
}

const std::vector<Golden>& goldens() {
  // clang-format off
  static const std::vector<Golden> g = {
    {DType::kQ4_0, "803bb78a27c07ab78b27d17bc79b38e18cc7",
     {-0.9375f, -7.5f, 2.8125f, 2.8125f, 0.0f, -0.9375f, -5.625f, 2.8125f, 4.6875f, 0.9375f, 0.0f},
     0},
    {DType::kQ4_1, "d53a80c7c79b27e08bd89c28e18cd8ac38f18dd8",
     {-1.52197266f, -7.5f, 2.74804688f, 2.74804688f, -0.66796875f, -0.66796875f, -5.79199219f, 3.60205078f, 4.45605469f, 1.04003906f, -0.66796875f},
     -0.87890625},
    {DType::kQ5_0, "8037524a6bad6d053e90f57e154ea1f67e265fb2f78e",
     {-1.40625f, -7.5f, 2.34375f, 2.8125f, -0.46875f, -0.9375f, -6.09375f, 3.28125f, 4.6875f, 0.9375f, -0.46875f},
     -1.40625},
    {DType::kQ5_1, "9d3680c7f2de7bef9f284fc007a03850d119b04961f21ab0",
     {-1.30004883f, -7.5f, 2.41992188f, 2.83325195f, -0.473388672f, -0.88671875f, -5.84667969f, 3.24658203f, 4.48657227f, 0.766601562f, -0.473388672f},
     -1.921875},
    {DType::kQ8_0, "8f2bec26ed8125ee2af38930f02ffa923af233009a45f43706a34ff63b0dab5af93f",
     {-1.18103027f, -7.49954224f, 2.48016357f, 2.83447266f, -0.354309082f, -0.826721191f, -6.02325439f, 3.24783325f, 4.66506958f, 0.767669678f, -0.413360596f},
     -0.94482421875},
    {DType::kQ2_K, "c89c6d4deaa986664accac785dffca998623ea34a38623ea34e38623ea34e38622d930a28522d930a28522d974628522168864d188168864d188168964d188169a75e29d279a79229d279249229d24928e36d538",
     {-0.693359375f, -0.520019531f, 7.02734375f, -2.41601562f, -0.262695312f, 1.33398438f, -4.83203125f, -3.62402344f, 1.68066406f, 7.5f, -1.12402344f, 2.32666016f, 7.63134766f, -2.91503906f, 0.9453125f, 1.93798828f},
     -2.60888671875},
    {DType::kQ3_K, "08f738c6ff08f739c6ff28f739c6ff29df31eed729cf116ed721efd16edf31ef0f0db720490f09b0604a0f0ab0604a1cc674f1c60cd630b197ccd630b197dcd63d29d1832a3d28c1831a7018c1831d7058c1cf55305bcd0f51305b3d0f90634bb76859b25e07c1310f0ffcc4d62c",
     {-1.73791504f, 0.0f, 5.21374512f, -2.2668457f, 0.0f, 1.73791504f, -5.13818359f, -2.2668457f, 1.58679199f, 7.85839844f, 0.0f, 1.58679199f, 8.16064453f, -2.41796875f, 0.0f, 1.43566895f},
     -18.5881347656},
    {DType::kQ4_K, "e524c130edaff5e3f39fffe712eecf94670bc7501b781cc8511c781cd8512d882ce9522e882df9522e883dfa532f983d801ac71db8811ac72db9812ad83eb9922ae84eba923af85ebaa33af86f6ba44a7db67609b57db78619c57eb88619d57ec8862ad67fc9962ae67f4a963af7704a09947dd78519957ed79519957ee8952aa68fe8a53aa68f38a63aa68038b64ba7",
     {-1.55397034f, 0.166763306f, 6.17791748f, -2.80813599f, -1.25268555f, 0.773956299f, -5.12464905f, -2.44795227f, 1.32424927f, 7.06002808f, -0.677337646f, 1.08163452f, 7.94961548f, -1.68649292f, 0.479919434f, 1.47412109f},
     -13.6771850586},
    {DType::kQ5_K, "d020c130ecaef4e1f29effe412dcdf8050a54a94ad58a56b94ad59a5efd4ad5bb5efd4ad5bb5ef54ad5b95af54a56b95df078fa027ef1890a139f029b1a23a0039c2a34c005ae3b54d116af4b65f217bf0048f1b5101149f3c621325b05c632435d07d742555e19e753665f1bfb64876ea7dfc028aeb7e0c129aec8f1c23bbfd812d33ccfe922d54edff733d65fd00850249fbcf2a134afcdf3a334b0de04b445c0ee05b555c1f606c755d10707c865e",
     {-1.22436523f, 0.0163574219f, 5.92016602f, -2.72729492f, -1.0501709f, 0.904907227f, -5.03796387f, -2.55651855f, 1.18005371f, 7.28967285f, -0.895141602f, 1.17272949f, 8.1105957f, -1.95617676f, 0.704101562f, 1.15527344f},
     -13.9095458984},
    {DType::kQ6_K, "1b199bd1d93c2aade3ec5c2bbef50e7d40a070260c41b283593d53c4a67c6e64cb04c62180e922f3619ff84f20a09e16ea85604ad7b9431f39c69711dfd8a46597f6590ade85d32809cc62b00708ba507d36f887526b15f7764048e5e6743f250b2d9d00ff2c3eaf22125c3fb135357d5fbdda77026ecb28943273d945c17171452e91289e452e91289a452ad128aa85eb12f86b45eb12f46b45eb12b4ab45eb14aa46e16a14aa46e1ae14aa4ae1ae14a146dda218a1461da218ad761da21bad6650a0857f5b47c3aa9d59ab9580704fd518",
     {-1.20328903f, 0.0f, 5.88903809f, -2.90205002f, -0.898927689f, 0.858818054f, -5.02550125f, -2.4466877f, 1.42035294f, 7.47454834f, -0.839942932f, 1.4038372f, 8.07855225f, -2.11401367f, 0.792755127f, 1.30474281f},
     -11.5728092194},
  };
  // clang-format on
  return g;
}

std::vector<float> dequantize(DType t, const std::vector<std::uint8_t>& bytes, std::int64_t n) {
  std::vector<float> y(static_cast<std::size_t>(n));
  GgufDequantizeArgs d;
  d.rows = 1; d.cols = n; d.x = bytes.data(); d.type = t; d.y = y.data(); d.ldy = n;
  EXPECT_TRUE(cpu::gguf_dequantize(d).is_ok());
  return y;
}

std::vector<std::uint8_t> quantize(DType t, const std::vector<float>& x, std::int64_t rows, std::int64_t cols) {
  std::vector<std::uint8_t> y(static_cast<std::size_t>(rows * engine::row_bytes(t, cols)));
  GgufQuantizeArgs q;
  q.rows = rows; q.cols = cols; q.x = x.data(); q.ldx = cols; q.type = t; q.y = y.data();
  EXPECT_TRUE(cpu::gguf_quantize(q).is_ok());
  return y;
}

TEST(GgufBlocksTest, DecodesGgmlBlocks) {
  for (const Golden& g : goldens()) {
    SCOPED_TRACE(std::string(engine::dtype_name(g.type)));
    const std::int64_t n = engine::block_size(g.type);
    const auto bytes = from_hex(g.hex);
    ASSERT_EQ(static_cast<std::int64_t>(bytes.size()), engine::block_bytes(g.type));
    const auto y = dequantize(g.type, bytes, n);
    const std::int64_t step = n / 16 + 1;
    ASSERT_EQ(static_cast<std::int64_t>(g.probes.size()), (n + step - 1) / step);
    for (std::size_t i = 0; i < g.probes.size(); ++i) {
      EXPECT_FLOAT_EQ(y[i * static_cast<std::size_t>(step)], g.probes[i]) << "value " << i * static_cast<std::size_t>(step);
    }
    double sum = 0.0;
    for (float v : y) sum += v;
    EXPECT_NEAR(sum, g.sum, 1e-5 * (1.0 + std::abs(g.sum)));
  }
}

TEST(GgufBlocksTest, LegacyQuantizersWriteGgmlBytes) {
  for (const Golden& g : goldens()) {
    if (engine::is_k_quant(g.type)) continue;  // ggml searches K-quant scales iteratively; ours is direct
    SCOPED_TRACE(std::string(engine::dtype_name(g.type)));
    const std::int64_t n = engine::block_size(g.type);
    EXPECT_EQ(quantize(g.type, golden_input(n), 1, n), from_hex(g.hex));
  }
}

TEST(GgufBlocksTest, EveryTypeRoundTripsWithinItsBound) {
  // Relative RMS error of quantize -> dequantize on uniform data with uneven sub-block ranges, and
  // exact zeros for a zero row. Bounds are ~1.5x what the codecs measure here.
  struct Bound { DType t; double rel_rms; };
  // Measured here: q8_0 0.0044, q4_0 0.067, q4_1 0.068, q5_0 0.035, q5_1 0.033, q2_k 0.28,
  // q3_k 0.13, q4_k 0.068, q5_k 0.033, q6_k 0.015.
  for (const Bound b : {Bound{DType::kQ8_0, 0.0066}, Bound{DType::kQ4_0, 0.10}, Bound{DType::kQ4_1, 0.10},
                        Bound{DType::kQ5_0, 0.053}, Bound{DType::kQ5_1, 0.05}, Bound{DType::kQ2_K, 0.42},
                        Bound{DType::kQ3_K, 0.20}, Bound{DType::kQ4_K, 0.10}, Bound{DType::kQ5_K, 0.05},
                        Bound{DType::kQ6_K, 0.022}}) {
    SCOPED_TRACE(std::string(engine::dtype_name(b.t)));
    const std::int64_t rows = 6, cols = 1024;
    auto x = testing::random_floats(static_cast<std::size_t>(rows * cols), 11, -1.0f, 1.0f);
    for (std::int64_t i = 0; i < rows * cols; ++i) x[static_cast<std::size_t>(i)] *= 0.2f + static_cast<float>((i / 16) % 7);
    for (std::int64_t c = 0; c < cols; ++c) x[static_cast<std::size_t>(5 * cols + c)] = 0.0f;
    const auto q = quantize(b.t, x, rows, cols);
    std::vector<float> y(x.size());
    GgufDequantizeArgs d;
    d.rows = rows; d.cols = cols; d.x = q.data(); d.type = b.t; d.y = y.data(); d.ldy = cols;
    ASSERT_TRUE(cpu::gguf_dequantize(d).is_ok());
    double err = 0.0, ref = 0.0;
    for (std::int64_t i = 0; i < 5 * cols; ++i) {
      const double e = static_cast<double>(y[static_cast<std::size_t>(i)]) - x[static_cast<std::size_t>(i)];
      err += e * e;
      ref += static_cast<double>(x[static_cast<std::size_t>(i)]) * x[static_cast<std::size_t>(i)];
    }
    const double rel = std::sqrt(err / ref);
    std::cout << "[ GGUF    ] " << engine::dtype_name(b.t) << " round trip relative RMS error " << rel << "\n";
    EXPECT_LT(rel, b.rel_rms);
    EXPECT_GT(rel, 0.0);
    for (std::int64_t c = 0; c < cols; ++c) ASSERT_EQ(y[static_cast<std::size_t>(5 * cols + c)], 0.0f);
  }
}

TEST(GgufBlocksTest, KQuantsNeedWholeSuperBlocks) {
  std::vector<float> x(512, 1.0f);
  std::vector<std::uint8_t> y(4096);
  GgufQuantizeArgs q;
  q.rows = 1; q.cols = 288; q.x = x.data(); q.ldx = 288; q.type = DType::kQ4_K; q.y = y.data();
  const Status st = cpu::gguf_quantize(q);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("256"), std::string::npos) << st.message();
  GgufDequantizeArgs d;
  d.rows = 1; d.cols = 288; d.x = y.data(); d.type = DType::kQ6_K; d.y = x.data(); d.ldy = 288;
  EXPECT_EQ(cpu::gguf_dequantize(d).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine::row_bytes(DType::kQ6_K, 512), 420);
  EXPECT_EQ(engine::row_bytes(DType::kQ4_K, 288), -1);
}

}  // namespace
}  // namespace parley::kernels
