// Attention on the CPU against an f64 reference: prefill (causal, padded bidirectional with key
// lengths, GQA, odd sizes, strided layouts) and decode over a paged KV cache (shuffled pages,
// GQA, kv_cache_write round trip, bad page ids rejected).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "kernels/ops/attention.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

// out[h][d] for one query row (f64); bias[j] (when given) is added to key j's score.
std::vector<double> ref_attend(const std::vector<double>& q, const std::vector<std::vector<double>>& keys,
                               const std::vector<std::vector<double>>& vals, double scale,
                               const std::vector<double>& bias = {}) {
  const std::size_t d = q.size();
  std::vector<double> out(d, 0.0);
  if (keys.empty()) return out;
  std::vector<double> s(keys.size());
  double mx = -1e300;
  for (std::size_t j = 0; j < keys.size(); ++j) {
    double dot = 0;
    for (std::size_t x = 0; x < d; ++x) dot += q[x] * keys[j][x];
    s[j] = dot * scale + (bias.empty() ? 0.0 : bias[j]);
    mx = std::max(mx, s[j]);
  }
  double sum = 0;
  for (double& v : s) sum += (v = std::exp(v - mx));
  for (std::size_t j = 0; j < keys.size(); ++j)
    for (std::size_t x = 0; x < d; ++x) out[x] += s[j] / sum * vals[j][x];
  return out;
}

TEST(AttentionTest, PrefillCausalPaddedGqa) {
  struct S { std::int64_t b, q, kv, h, hkv, d; bool causal; bool lengths; };
  for (const S s : {S{1, 1, 1, 1, 1, 8, true, false}, S{2, 5, 5, 4, 2, 16, true, false}, S{2, 3, 9, 6, 2, 20, true, false},
                    S{3, 7, 7, 4, 4, 33, false, true}, S{2, 70, 70, 2, 1, 64, true, true}, S{1, 4, 6, 3, 3, 5, false, false},
                    S{2, 130, 130, 3, 3, 32, false, true}, S{1, 41, 41, 2, 2, 48, true, false}}) {
    // f32 on AVX-512 runs the fused kernel (attention_avx512.cc); every variant vs the f64 reference.
    for (CpuIsa isa : testing::available_isas())
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " " + std::string(engine::dtype_name(t)) + " B=" + std::to_string(s.b) + " Q=" + std::to_string(s.q) +
                   " KV=" + std::to_string(s.kv) + " H=" + std::to_string(s.h) + "/" + std::to_string(s.hkv) +
                   " D=" + std::to_string(s.d) + (s.causal ? " causal" : "") + (s.lengths ? " padded" : ""));
      // q/out: [B, T, H, D] contiguous; k/v: [B, Hkv, T, D] (head-major, to exercise strides).
      const std::int64_t qn = s.b * s.q * s.h * s.d, kn = s.b * s.hkv * s.kv * s.d;
      auto q = testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(qn), 1));
      auto k = testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(kn), 2));
      auto v = testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(kn), 3));
      auto out = testing::zero_buffer(t, static_cast<std::size_t>(qn));
      std::vector<std::int32_t> lens(static_cast<std::size_t>(s.b));
      for (std::int64_t b = 0; b < s.b; ++b) lens[static_cast<std::size_t>(b)] = static_cast<std::int32_t>(std::max<std::int64_t>(0, s.kv - 2 * b));
      AttentionPrefillArgs a;
      a.batch = s.b; a.q_len = s.q; a.kv_len = s.kv; a.num_heads = s.h; a.num_kv_heads = s.hkv; a.head_dim = s.d; a.dtype = t;
      a.q = q.data(); a.q_batch_stride = s.q * s.h * s.d; a.q_token_stride = s.h * s.d; a.q_head_stride = s.d;
      a.k = k.data(); a.k_batch_stride = s.hkv * s.kv * s.d; a.k_token_stride = s.d; a.k_head_stride = s.kv * s.d;
      a.v = v.data(); a.v_batch_stride = a.k_batch_stride; a.v_token_stride = s.d; a.v_head_stride = a.k_head_stride;
      a.out = out.data(); a.out_batch_stride = a.q_batch_stride; a.out_token_stride = a.q_token_stride; a.out_head_stride = s.d;
      a.kv_lengths = s.lengths ? lens.data() : nullptr; a.causal = s.causal;
      ASSERT_TRUE(cpu::attention_prefill(a, testing::ctx_for(isa)).is_ok());
      const double scale = 1.0 / std::sqrt(static_cast<double>(s.d));
      std::vector<double> want;
      for (std::int64_t b = 0; b < s.b; ++b)
        for (std::int64_t i = 0; i < s.q; ++i)
          for (std::int64_t h = 0; h < s.h; ++h) {
            const std::int64_t g = h / (s.h / s.hkv);
            std::vector<double> qv(static_cast<std::size_t>(s.d));
            for (std::int64_t x = 0; x < s.d; ++x) qv[static_cast<std::size_t>(x)] = q.values[static_cast<std::size_t>(((b * s.q + i) * s.h + h) * s.d + x)];
            std::vector<std::vector<double>> keys, vals;
            const std::int64_t valid = s.lengths ? lens[static_cast<std::size_t>(b)] : s.kv;
            for (std::int64_t j = 0; j < valid; ++j) {
              if (s.causal && j > i + (s.kv - s.q)) break;
              std::vector<double> kr(static_cast<std::size_t>(s.d)), vr(static_cast<std::size_t>(s.d));
              for (std::int64_t x = 0; x < s.d; ++x) {
                const std::size_t at = static_cast<std::size_t>(((b * s.hkv + g) * s.kv + j) * s.d + x);
                kr[static_cast<std::size_t>(x)] = k.values[at];
                vr[static_cast<std::size_t>(x)] = v.values[at];
              }
              keys.push_back(kr);
              vals.push_back(vr);
            }
            for (double o : ref_attend(qv, keys, vals, scale)) want.push_back(o);
          }
      EXPECT_TRUE(testing::all_close(testing::read_buffer(out, want.size()), want, 2e-6 + 2 * testing::eps_of(t),
                                     2 * testing::eps_of(t)));
    }
  }
}

// MPNet's relative position bias: a [heads, 2R + 1] table by key-minus-query distance (clamped to
// +-R) added to every score; with causal masks and key lengths, queries offset by kv_len - q_len.
TEST(AttentionTest, PrefillRelativePositionBias) {
  struct S { std::int64_t b, q, kv, h, d, radius; bool causal; bool lengths; };
  for (const S s : {S{2, 9, 9, 3, 16, 3, false, true}, S{1, 40, 40, 2, 32, 128, false, false}, S{2, 5, 8, 2, 8, 2, true, false},
                    S{1, 37, 37, 4, 20, 6, false, false}}) {
    for (CpuIsa isa : testing::available_isas()) {
      SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " Q=" + std::to_string(s.q) + " KV=" + std::to_string(s.kv) +
                   " R=" + std::to_string(s.radius) + (s.causal ? " causal" : "") + (s.lengths ? " padded" : ""));
      const std::int64_t qn = s.b * s.q * s.h * s.d, kn = s.b * s.kv * s.h * s.d, width = 2 * s.radius + 1;
      auto q = testing::random_floats(static_cast<std::size_t>(qn), 11);
      auto k = testing::random_floats(static_cast<std::size_t>(kn), 12);
      auto v = testing::random_floats(static_cast<std::size_t>(kn), 13);
      auto bias = testing::random_floats(static_cast<std::size_t>(s.h * width), 14);
      for (float& x : bias) x *= 3.0f;  // large enough to move the softmax
      std::vector<float> out(static_cast<std::size_t>(qn), 0.0f);
      std::vector<std::int32_t> lens(static_cast<std::size_t>(s.b));
      for (std::int64_t b = 0; b < s.b; ++b) lens[static_cast<std::size_t>(b)] = static_cast<std::int32_t>(s.kv - 3 * b);
      AttentionPrefillArgs a;
      a.batch = s.b; a.q_len = s.q; a.kv_len = s.kv; a.num_heads = s.h; a.num_kv_heads = s.h; a.head_dim = s.d;
      a.q = q.data(); a.q_batch_stride = s.q * s.h * s.d; a.q_token_stride = s.h * s.d; a.q_head_stride = s.d;
      a.k = k.data(); a.k_batch_stride = s.kv * s.h * s.d; a.k_token_stride = s.h * s.d; a.k_head_stride = s.d;
      a.v = v.data(); a.v_batch_stride = a.k_batch_stride; a.v_token_stride = a.k_token_stride; a.v_head_stride = s.d;
      a.out = out.data(); a.out_batch_stride = a.q_batch_stride; a.out_token_stride = a.q_token_stride; a.out_head_stride = s.d;
      a.kv_lengths = s.lengths ? lens.data() : nullptr; a.causal = s.causal;
      a.rel_bias = bias.data(); a.rel_bias_radius = s.radius;
      ASSERT_TRUE(cpu::attention_prefill(a, testing::ctx_for(isa)).is_ok());
      const double scale = 1.0 / std::sqrt(static_cast<double>(s.d));
      std::vector<double> want;
      for (std::int64_t b = 0; b < s.b; ++b)
        for (std::int64_t i = 0; i < s.q; ++i)
          for (std::int64_t h = 0; h < s.h; ++h) {
            const std::int64_t pi = i + (s.kv - s.q);
            const std::int64_t valid = s.lengths ? lens[static_cast<std::size_t>(b)] : s.kv;
            auto row = [&](const std::vector<float>& t, std::int64_t base) {
              return std::vector<double>(t.begin() + base, t.begin() + base + s.d);
            };
            std::vector<std::vector<double>> keys, vals;
            std::vector<double> bs;
            for (std::int64_t j = 0; j < valid && (!s.causal || j <= pi); ++j) {
              keys.push_back(row(k, ((b * s.kv + j) * s.h + h) * s.d));
              vals.push_back(row(v, ((b * s.kv + j) * s.h + h) * s.d));
              const std::int64_t dist = std::clamp<std::int64_t>(j - pi, -s.radius, s.radius);
              bs.push_back(bias[static_cast<std::size_t>(h * width + dist + s.radius)]);
            }
            for (double o : ref_attend(row(q, ((b * s.q + i) * s.h + h) * s.d), keys, vals, scale, bs)) want.push_back(o);
          }
      EXPECT_TRUE(testing::all_close(out, want, 2e-6, 1e-5));
    }
  }
  AttentionPrefillArgs bad;
  bad.rel_bias = reinterpret_cast<const float*>(&bad);
  EXPECT_FALSE(cpu::attention_prefill(bad).is_ok()) << "a bias table needs a radius > 0";
}

TEST(AttentionTest, DecodeOverPagedCache) {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    const std::int64_t batch = 3, heads = 8, kvh = 2, d = 24, page = 4, pages = 16, max_blocks = 5;
    const std::vector<std::int32_t> ctx_len = {1, 13, 0};
    // Write each sequence's keys/values token by token through kv_cache_write, pages shuffled.
    std::vector<std::int32_t> page_ids(static_cast<std::size_t>(pages));
    std::iota(page_ids.begin(), page_ids.end(), 0);
    std::shuffle(page_ids.begin(), page_ids.end(), std::mt19937(7));
    std::vector<std::int32_t> tables(static_cast<std::size_t>(batch * max_blocks), -1);
    for (std::int64_t s = 0, next = 0; s < batch; ++s)
      for (std::int64_t p = 0; p < (ctx_len[static_cast<std::size_t>(s)] + page - 1) / page; ++p)
        tables[static_cast<std::size_t>(s * max_blocks + p)] = page_ids[static_cast<std::size_t>(next++)];
    auto kc = testing::zero_buffer(t, static_cast<std::size_t>(pages * kvh * page * d));
    auto vc = testing::zero_buffer(t, static_cast<std::size_t>(pages * kvh * page * d));
    PagedKvCache cache;
    cache.k = kc.data(); cache.v = vc.data(); cache.num_pages = pages; cache.num_kv_heads = kvh; cache.page_size = page;
    cache.head_dim = d; cache.dtype = t;
    std::vector<testing::TypedBuffer> ks, vs;  // per sequence [len, kvh, d]
    for (std::int64_t s = 0; s < batch; ++s) {
      const std::int64_t len = ctx_len[static_cast<std::size_t>(s)];
      ks.push_back(testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(len * kvh * d), 10 + s)));
      vs.push_back(testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(len * kvh * d), 20 + s)));
      std::vector<std::int32_t> slots(static_cast<std::size_t>(len));
      for (std::int64_t p = 0; p < len; ++p)
        slots[static_cast<std::size_t>(p)] = tables[static_cast<std::size_t>(s * max_blocks + p / page)] * static_cast<std::int32_t>(page) + static_cast<std::int32_t>(p % page);
      KvCacheWriteArgs w;
      w.tokens = len; w.cache = cache; w.k = ks.back().data(); w.k_token_stride = kvh * d; w.k_head_stride = d;
      w.v = vs.back().data(); w.v_token_stride = kvh * d; w.v_head_stride = d; w.slot_mapping = slots.data();
      ASSERT_TRUE(cpu::kv_cache_write(w).is_ok());
    }
    auto q = testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(batch * heads * d), 30));
    auto out = testing::make_buffer(t, std::vector<float>(static_cast<std::size_t>(batch * heads * d), 5.0f));
    AttentionDecodeArgs a;
    a.batch = batch; a.num_heads = heads; a.cache = cache;
    a.q = q.data(); a.q_seq_stride = heads * d; a.q_head_stride = d;
    a.out = out.data(); a.out_seq_stride = heads * d; a.out_head_stride = d;
    a.block_tables = tables.data(); a.max_blocks_per_seq = max_blocks; a.context_lens = ctx_len.data();
    ASSERT_TRUE(cpu::attention_decode(a).is_ok());
    std::vector<double> want;
    for (std::int64_t s = 0; s < batch; ++s)
      for (std::int64_t h = 0; h < heads; ++h) {
        const std::int64_t g = h / (heads / kvh);
        std::vector<double> qv(static_cast<std::size_t>(d));
        for (std::int64_t x = 0; x < d; ++x) qv[static_cast<std::size_t>(x)] = q.values[static_cast<std::size_t>((s * heads + h) * d + x)];
        std::vector<std::vector<double>> keys, vals;
        for (std::int64_t p = 0; p < ctx_len[static_cast<std::size_t>(s)]; ++p) {
          std::vector<double> kr, vr;
          for (std::int64_t x = 0; x < d; ++x) {
            kr.push_back(ks[static_cast<std::size_t>(s)].values[static_cast<std::size_t>((p * kvh + g) * d + x)]);
            vr.push_back(vs[static_cast<std::size_t>(s)].values[static_cast<std::size_t>((p * kvh + g) * d + x)]);
          }
          keys.push_back(kr);
          vals.push_back(vr);
        }
        for (double o : ref_attend(qv, keys, vals, 1.0 / std::sqrt(static_cast<double>(d)))) want.push_back(o);
      }
    SCOPED_TRACE(std::string(engine::dtype_name(t)));
    EXPECT_TRUE(testing::all_close(testing::read_buffer(out, want.size()), want, 2e-6 + 2 * testing::eps_of(t), 2 * testing::eps_of(t)));

    // A page id outside the cache is OutOfRange, not a wild read.
    std::vector<std::int32_t> bad = tables;
    bad[static_cast<std::size_t>(1 * max_blocks + 2)] = static_cast<std::int32_t>(pages);
    a.block_tables = bad.data();
    EXPECT_EQ(cpu::attention_decode(a).code(), StatusCode::kOutOfRange);
  }
}

TEST(AttentionTest, KvCacheWriteRejectsSlotOutsideCache) {
  float k[4] = {}, cache_k[8] = {}, cache_v[8] = {};
  std::int32_t slot = 2;  // 1 page of 2 slots
  KvCacheWriteArgs w;
  w.tokens = 1; w.cache.k = cache_k; w.cache.v = cache_v; w.cache.num_pages = 1; w.cache.num_kv_heads = 1;
  w.cache.page_size = 2; w.cache.head_dim = 4; w.k = k; w.v = k; w.k_token_stride = 4; w.v_token_stride = 4;
  w.slot_mapping = &slot;
  EXPECT_EQ(cpu::kv_cache_write(w).code(), StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace parley::kernels
