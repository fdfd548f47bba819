// In-process communicator: collectives at 2 and 4 ranks, and tensor-parallel sharding math
// (column-parallel first layer, row-parallel second layer + all-reduce) equal to the unsharded MLP.
#include "kernels/comm/communicator.h"

#include <gtest/gtest.h>

#include <thread>

#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/gemm.h"
#include "tests/unit/kernels/mlp_util.h"

namespace parley::kernels {
namespace {

template <typename F>
void run_ranks(std::vector<std::unique_ptr<Communicator>>& comms, F&& body) {
  std::vector<std::thread> threads;
  for (auto& c : comms) threads.emplace_back([&body, &c] { body(*c); });
  for (auto& t : threads) t.join();
}

TEST(CommunicatorTest, AllReduceAndAllGather) {
  for (int world : {1, 2, 4}) {
    auto comms = make_in_process_group(world);
    ASSERT_EQ(static_cast<int>(comms.size()), world);
    std::vector<std::vector<float>> reduced(static_cast<std::size_t>(world)), gathered(static_cast<std::size_t>(world));
    run_ranks(comms, [&](Communicator& c) {
      const int r = c.rank();
      std::vector<float> data = {static_cast<float>(r + 1), 10.0f * static_cast<float>(r), 0.5f};
      for (int rep = 0; rep < 3; ++rep) {  // repeated collectives reuse the group state
        std::vector<float> d = data;
        ASSERT_TRUE(c.all_reduce_sum(d.data(), 3, {}).is_ok());
        reduced[static_cast<std::size_t>(r)] = d;
      }
      std::vector<float> recv(static_cast<std::size_t>(2 * c.world_size()));
      const float send[2] = {static_cast<float>(r), static_cast<float>(-r)};
      ASSERT_TRUE(c.all_gather(send, recv.data(), 2, {}).is_ok());
      gathered[static_cast<std::size_t>(r)] = recv;
    });
    float s1 = 0, s2 = 0;
    for (int r = 0; r < world; ++r) { s1 += static_cast<float>(r + 1); s2 += 10.0f * static_cast<float>(r); }
    for (int r = 0; r < world; ++r) {
      EXPECT_EQ(reduced[static_cast<std::size_t>(r)], (std::vector<float>{s1, s2, 0.5f * static_cast<float>(world)}));
      for (int q = 0; q < world; ++q) {
        EXPECT_EQ(gathered[static_cast<std::size_t>(r)][static_cast<std::size_t>(2 * q)], static_cast<float>(q));
        EXPECT_EQ(gathered[static_cast<std::size_t>(r)][static_cast<std::size_t>(2 * q + 1)], static_cast<float>(-q));
      }
    }
  }
}

TEST(CommunicatorTest, MismatchedCountsAreInvalidArgument) {
  auto comms = make_in_process_group(2);
  std::vector<Status> st(2);
  run_ranks(comms, [&](Communicator& c) {
    std::vector<float> d(4, 1.0f);
    st[static_cast<std::size_t>(c.rank())] = c.all_reduce_sum(d.data(), c.rank() == 0 ? 4 : 3, {});
  });
  EXPECT_EQ(st[0].code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st[1].code(), StatusCode::kInvalidArgument);
}

// Megatron-style MLP: W1 split by output rows (column-parallel), W2 split by input columns
// (row-parallel); partial outputs summed with all_reduce; b2 added once after the reduce.
TEST(CommunicatorTest, ShardedMlpEqualsUnsharded) {
  const testing::Mlp m = testing::make_mlp(5, 64, 256, 21);
  auto gemm = [](const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float* c, std::int64_t ldc,
                 std::int64_t mm, std::int64_t nn, std::int64_t kk, const float* bias, Activation act, ExecContext ctx) {
    GemmArgs g;
    g.m = mm; g.n = nn; g.k = kk; g.a = a; g.lda = lda; g.b = b; g.ldb = ldb; g.c = c; g.ldc = ldc;
    g.bias = bias; g.activation = act;
    EXPECT_TRUE(cpu::gemm(g, ctx).is_ok());
  };
  // Unsharded.
  std::vector<float> h(static_cast<std::size_t>(m.tokens * m.hidden)), want(static_cast<std::size_t>(m.tokens * m.d));
  gemm(m.x.data(), m.d, m.w1.data(), m.d, h.data(), m.hidden, m.tokens, m.hidden, m.d, m.b1.data(), Activation::kGeluErf, {});
  gemm(h.data(), m.hidden, m.w2.data(), m.hidden, want.data(), m.d, m.tokens, m.d, m.hidden, m.b2.data(), Activation::kNone, {});
  std::vector<double> want_d(want.begin(), want.end());

  for (int world : {2, 4}) {
    auto comms = make_in_process_group(world);
    std::vector<std::vector<float>> outs(static_cast<std::size_t>(world)), hidden_full(static_cast<std::size_t>(world));
    run_ranks(comms, [&](Communicator& c) {
      ThreadPool pool(1);
      ExecContext ctx;
      ctx.threads = &pool;
      const std::int64_t shard = m.hidden / world, h0 = c.rank() * shard;
      // Column-parallel: rows [h0, h0+shard) of W1 -> this rank's slice of the hidden layer.
      std::vector<float> hs(static_cast<std::size_t>(m.tokens * shard));
      gemm(m.x.data(), m.d, m.w1.data() + h0 * m.d, m.d, hs.data(), shard, m.tokens, shard, m.d, m.b1.data() + h0,
           Activation::kGeluErf, ctx);
      // Row-parallel: columns [h0, h0+shard) of W2 (ldb = hidden), partial sums, then all-reduce.
      std::vector<float> y(static_cast<std::size_t>(m.tokens * m.d));
      gemm(hs.data(), shard, m.w2.data() + h0, m.hidden, y.data(), m.d, m.tokens, m.d, shard, nullptr, Activation::kNone, ctx);
      ASSERT_TRUE(c.all_reduce_sum(y.data(), static_cast<std::int64_t>(y.size()), ctx).is_ok());
      for (std::int64_t t = 0; t < m.tokens; ++t)
        for (std::int64_t j = 0; j < m.d; ++j) y[static_cast<std::size_t>(t * m.d + j)] += m.b2[static_cast<std::size_t>(j)];
      outs[static_cast<std::size_t>(c.rank())] = y;
      // all_gather of the hidden slices (per token row) rebuilds the full hidden layer.
      std::vector<float> gathered(static_cast<std::size_t>(world * m.tokens * shard));
      ASSERT_TRUE(c.all_gather(hs.data(), gathered.data(), m.tokens * shard, ctx).is_ok());
      std::vector<float> full(static_cast<std::size_t>(m.tokens * m.hidden));
      for (int r = 0; r < world; ++r)
        for (std::int64_t t = 0; t < m.tokens; ++t)
          for (std::int64_t j = 0; j < shard; ++j)
            full[static_cast<std::size_t>(t * m.hidden + r * shard + j)] = gathered[static_cast<std::size_t>((r * m.tokens + t) * shard + j)];
      hidden_full[static_cast<std::size_t>(c.rank())] = full;
    });
    for (int r = 0; r < world; ++r) {
      SCOPED_TRACE("world " + std::to_string(world) + " rank " + std::to_string(r));
      EXPECT_TRUE(testing::all_close(outs[static_cast<std::size_t>(r)], want_d, 1e-5, 1e-5));
      EXPECT_EQ(outs[static_cast<std::size_t>(r)], outs[0]);  // bit-identical on every rank
      EXPECT_EQ(hidden_full[static_cast<std::size_t>(r)], h);
    }
  }
}

}  // namespace
}  // namespace parley::kernels
