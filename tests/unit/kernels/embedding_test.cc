// Embedding lookup on the CPU for every table format against dequantized references.
#include <gtest/gtest.h>

#include "kernels/ops/embedding.h"
#include "kernels/ops/quantize.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

TEST(EmbeddingTest, AllTableFormats) {
  const std::int64_t vocab = 11, dim = 64, tokens = 6;
  const std::vector<std::int32_t> ids = {3, 0, 10, 3, 7, 1};
  const auto table = testing::random_floats(static_cast<std::size_t>(vocab * dim), 4);
  for (DType tt : {DType::kF32, DType::kF16, DType::kBF16, DType::kI8, DType::kQ8_0, DType::kQ4_0, DType::kQ4_1}) {
    std::vector<std::uint8_t> bytes;
    std::vector<float> scales(static_cast<std::size_t>(vocab));
    std::vector<float> deq(static_cast<std::size_t>(vocab * dim));  // what each row should decode to
    if (engine::is_float(tt)) {
      auto b = testing::make_buffer(tt, table);
      bytes = b.bytes;
      deq = b.values;
    } else if (tt == DType::kI8) {
      bytes.resize(static_cast<std::size_t>(vocab * dim));
      QuantizeArgs q;
      q.rows = vocab; q.cols = dim; q.x = table.data(); q.ldx = dim; q.y = reinterpret_cast<std::int8_t*>(bytes.data());
      q.ldy = dim; q.scales = scales.data();
      ASSERT_TRUE(cpu::quantize(q).is_ok());
      for (std::int64_t i = 0; i < vocab * dim; ++i) deq[static_cast<std::size_t>(i)] = static_cast<std::int8_t>(bytes[static_cast<std::size_t>(i)]) * scales[static_cast<std::size_t>(i / dim)];
    } else {
      bytes.resize(static_cast<std::size_t>(vocab * engine::row_bytes(tt, dim)));
      GgufQuantizeArgs q;
      q.rows = vocab; q.cols = dim; q.x = table.data(); q.ldx = dim; q.type = tt; q.y = bytes.data();
      ASSERT_TRUE(cpu::gguf_quantize(q).is_ok());
      GgufDequantizeArgs d;
      d.rows = vocab; d.cols = dim; d.x = bytes.data(); d.type = tt; d.y = deq.data(); d.ldy = dim;
      ASSERT_TRUE(cpu::gguf_dequantize(d).is_ok());
    }
    for (DType ot : {DType::kF32, DType::kBF16}) {
      SCOPED_TRACE(std::string(engine::dtype_name(tt)) + " -> " + std::string(engine::dtype_name(ot)));
      auto out = testing::zero_buffer(ot, static_cast<std::size_t>(tokens * dim));
      EmbeddingArgs a;
      a.num_tokens = tokens; a.dim = dim; a.vocab = vocab; a.ids = ids.data(); a.table = bytes.data(); a.table_type = tt;
      a.row_scales = scales.data(); a.out = out.data(); a.ld_out = dim; a.out_type = ot; a.scale = 2.0f;
      ASSERT_TRUE(cpu::embedding(a).is_ok());
      std::vector<double> want;
      for (std::int32_t id : ids)
        for (std::int64_t j = 0; j < dim; ++j) want.push_back(2.0 * deq[static_cast<std::size_t>(id * dim + j)]);
      EXPECT_TRUE(testing::all_close(testing::read_buffer(out, want.size()), want, 1e-6, testing::eps_of(ot)));
    }
  }
}

TEST(EmbeddingTest, OutOfRangeIdIsInvalidArgument) {
  std::vector<float> table(8), out(8, 1.0f);
  std::vector<std::int32_t> ids = {0, 2};
  EmbeddingArgs a;
  a.num_tokens = 2; a.dim = 4; a.vocab = 2; a.ids = ids.data(); a.table = table.data(); a.out = out.data(); a.ld_out = 4;
  const Status st = cpu::embedding(a);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("ids[1] = 2"), std::string::npos) << st.message();
  EXPECT_EQ(out, std::vector<float>(8, 1.0f));  // nothing written
}

}  // namespace
}  // namespace parley::kernels
