// CUDA backend vs the CPU reference: each op on random inputs (odd shapes included), compared
// within the tolerance stated per test. Label gpu; every test skips with "no CUDA device" where
// none is present. Depends on kernels/backend.h (CPU reference), kernels/cuda, GoogleTest.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cuda/backend.h"
#include "kernels/cuda/nccl_communicator.h"
#include "kernels/cuda/sparse24_gemm.h"
#include "shared/engine/cuda/cuda_device.h"
#include "shared/engine/half.h"
#include "tests/unit/kernels/cuda/cuda_test_support.h"

namespace parley::kernels::cuda {
namespace {

TEST(CudaBackend, RegistersOnlyWithADevice) {
  const Backend* be = detail::cuda_backend();
  if (engine::cuda::cuda_device_count() == 0) {
    EXPECT_EQ(be, nullptr);
    const DType f = DType::kF32;
    EXPECT_FALSE(cuda_backend_table().supports(OpQuery{Op::kNorm, {&f, 1}, {}}));
    GTEST_SKIP() << "no CUDA device";
  }
  ASSERT_NE(be, nullptr);
  EXPECT_EQ(be->name, "cuda");
}

// f32 GEMM (cuBLASLt, TF32 not enabled: f32 compute) with bias + GELU(erf) epilogue: 1e-4 rel.
TEST(CudaBackend, GemmF32MatchesCpu) {
  SKIP_WITHOUT_GPU();
  for (auto [m, n, k] : {std::tuple<int, int, int>{1, 384, 1536}, {37, 29, 61}, {128, 576, 1536}}) {
    auto a = randf(static_cast<std::size_t>(m * k), 1), b = randf(static_cast<std::size_t>(n * k), 2),
         bias = randf(static_cast<std::size_t>(n), 3);
    std::vector<float> want(static_cast<std::size_t>(m * n));
    GemmArgs g;
    g.m = m, g.n = n, g.k = k, g.lda = k, g.ldb = k, g.ldc = n;
    g.bias = bias.data();
    g.activation = Activation::kGeluErf;
    g.a = a.data(), g.b = b.data(), g.c = want.data();
    ASSERT_TRUE(cpu::gemm(g).is_ok());
    Dev<float> da(a), db(b), dbias(bias), dc(want.size());
    g.a = da.get(), g.b = db.get(), g.c = dc.get(), g.bias = dbias.get();
    ASSERT_TRUE(cuda_backend_table().gemm(g, gpu_ctx()).is_ok());
    expect_close(dc.host(), want, 1e-3f, 1e-3f);
  }
}

// ExecContext::bf16_gemm (mixed-precision training): f32 operands with CUBLAS_COMPUTE_32F_FAST_16BF,
// both B layouts, alpha/beta. That compute type *allows* cuBLAS to round the operands to bf16
// (it may also keep f32), so every element must lie within bf16's error bound of the exact
// product (2^-7 relative per product: two operand roundings, any rounding mode), and the test
// prints whether the result tracks the bf16-rounded product or the f32 one. A layout or
// alpha/beta mistake is far outside the bound. (On an H100 the first version of this test,
// which demanded the bf16-rounded product, failed by 0.03 at bound 0.02.)
TEST(CudaBackend, GemmF32InBf16StaysWithinTheBf16Bound) {
  SKIP_WITHOUT_GPU();
  auto bf16 = [](float v) {
    std::uint32_t u;
    std::memcpy(&u, &v, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    float r;
    std::memcpy(&r, &u, 4);
    return static_cast<double>(r);
  };
  for (auto [m, n, k] : {std::tuple<int, int, int>{37, 29, 61}, {256, 384, 1536}}) {
    for (bool bt : {true, false}) {
      auto a = randf(static_cast<std::size_t>(m * k), 1), b = randf(static_cast<std::size_t>(n * k), 2),
           c0 = randf(static_cast<std::size_t>(m * n), 3);
      std::vector<double> exact(c0.size()), rounded(c0.size()), bound(c0.size());
      for (int i = 0; i < m; ++i) {
        for (int j = 0; j < n; ++j) {
          double v = 0, vb = 0, mag = 0;
          for (int t = 0; t < k; ++t) {
            const float av = a[static_cast<std::size_t>(i * k + t)];
            const float bv = b[static_cast<std::size_t>(bt ? j * k + t : t * n + j)];
            v += static_cast<double>(av) * bv;
            vb += bf16(av) * bf16(bv);
            mag += std::fabs(static_cast<double>(av) * bv);
          }
          const auto o = static_cast<std::size_t>(i * n + j);
          exact[o] = 0.5 * v + 0.25 * c0[o];
          rounded[o] = 0.5 * vb + 0.25 * c0[o];
          bound[o] = 0.5 * mag * (1.0 / 128.0) + 1e-4;
        }
      }
      Dev<float> da(a), db(b), dc(c0);
      GemmArgs g;
      g.m = m, g.n = n, g.k = k, g.lda = k, g.ldb = bt ? k : n, g.ldc = n, g.b_transposed = bt;
      g.alpha = 0.5f, g.beta = 0.25f;
      g.a = da.get(), g.b = db.get(), g.c = dc.get();
      ExecContext ctx = gpu_ctx();
      ctx.bf16_gemm = true;
      ASSERT_TRUE(cuda_backend_table().gemm(g, ctx).is_ok());
      const std::vector<float> got = dc.host();
      double to_exact = 0, to_rounded = 0, rounding = 0;
      for (std::size_t o = 0; o < got.size(); ++o) {
        ASSERT_LE(std::fabs(got[o] - exact[o]), bound[o]) << "at " << o << " (" << m << "x" << n << "x" << k << ")";
        to_exact += (got[o] - exact[o]) * (got[o] - exact[o]);
        to_rounded += (got[o] - rounded[o]) * (got[o] - rounded[o]);
        rounding += (rounded[o] - exact[o]) * (rounded[o] - exact[o]);
      }
      const auto rms = [&](double s) { return std::sqrt(s / static_cast<double>(got.size())); };
      std::cout << "[ INFO     ] bf16_gemm " << m << "x" << n << "x" << k << (bt ? " B^T" : " B")
                << ": rms vs the f32 product " << rms(to_exact) << ", vs the bf16-rounded product " << rms(to_rounded)
                << " (bf16 rounding itself: " << rms(rounding) << ")\n";
    }
  }
}

// INT8 GEMM: exact int32 products, dequantized; both the cuBLASLt path (K, N % 4 == 0) and the
// SIMT fallback (odd K). Tolerance 1e-5 relative (f32 scale arithmetic only).
TEST(CudaBackend, GemmInt8MatchesCpu) {
  SKIP_WITHOUT_GPU();
  for (auto [m, n, k] : {std::tuple<int, int, int>{1, 1536, 384}, {8, 384, 1536}, {33, 17, 45}}) {
    auto a = randi8(static_cast<std::size_t>(m * k), 4), b = randi8(static_cast<std::size_t>(n * k), 5);
    auto as = randf(static_cast<std::size_t>(m), 6, 0.01f, 0.02f), bs = randf(static_cast<std::size_t>(n), 7, 0.01f, 0.02f);
    auto bias = randf(static_cast<std::size_t>(n), 8);
    std::vector<float> want(static_cast<std::size_t>(m * n));
    GemmInt8Args g;
    g.m = m, g.n = n, g.k = k, g.lda = k, g.ldb = k, g.ldc = n;
    g.a = a.data(), g.b = b.data(), g.a_scales = as.data(), g.b_scales = bs.data(), g.bias = bias.data();
    g.activation = Activation::kSilu;
    g.c = want.data();
    ASSERT_TRUE(cpu::gemm_int8(g).is_ok());
    Dev<std::int8_t> da(a), db(b);
    Dev<float> das(as), dbs(bs), dbias(bias), dc(want.size());
    g.a = da.get(), g.b = db.get(), g.a_scales = das.get(), g.b_scales = dbs.get(), g.bias = dbias.get(), g.c = dc.get();
    ASSERT_TRUE(cuda_backend_table().gemm_int8(g, gpu_ctx()).is_ok());
    expect_close(dc.host(), want, 1e-4f, 1e-5f);
  }
}

// 2:4 sparse INT8 (sparse tensor cores): pruned + compressed on the CPU, packed by the CUDA
// backend, multiplied on the GPU; must equal the CPU's dense int8 GEMM of the pruned weight.
// What mma.sp m16n8k64 s8 does with each metadata nibble and each A byte, measured on the device
// (run_sparse24_probe): the A map must be sparse24_layout.h's, the metadata map must cover the
// tile once, and the calibration must find a map that reproduces a known product. Prints the
// measured metadata map (PTX gives it only in figures) and which documented reading it equals.
TEST(CudaBackend, Sparse24FragmentMapsMatchTheHardware) {
  SKIP_WITHOUT_GPU();
  Sparse24Probe probe;
  const Status st = run_sparse24_probe(&probe, nullptr);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  const Sparse24ProbeReading reading = read_sparse24_probe(probe);
  std::ostringstream map;
  for (int lane = 0; lane < 32; ++lane) {
    map << "  lane " << lane << ":";
    for (int j = 0; j < 8; ++j) map << " " << int{reading.meta.row[lane][j]} << "/" << int{reading.meta.group[lane][j]};
    map << "\n";
  }
  std::cout << "[ INFO     ] mma.sp m16n8k64 s8 metadata: nibble j of each lane -> row/group (255: no clean hit):\n"
            << map.str() << "[ INFO     ] " << reading.meta_clean << " of 256 nibbles clean; thread-quarter "
            << (reading.meta == sp24::meta_map(sp24::MetaConvention::kThreadQuarter) ? "matches" : "differs")
            << ", with-values " << (reading.meta == sp24::meta_map(sp24::MetaConvention::kWithValues) ? "matches" : "differs")
            << "; A bytes where documented: " << reading.a_documented << " of 512\n";
  EXPECT_EQ(reading.a_documented, 512) << "A fragment map differs:" << reading.a_mismatches;
  EXPECT_EQ(reading.meta_clean, 256) << "some metadata nibbles did not move exactly one (row, group)";
  EXPECT_TRUE(sp24::covers_tile_once(reading.meta));
  const auto calibrated = sparse24_meta_map(0);
  EXPECT_TRUE(calibrated.ok()) << calibrated.status().to_string();
}

TEST(CudaBackend, Sparse24Int8MatchesDenseCpu) {
  SKIP_WITHOUT_GPU();
  const Backend& be = cuda_backend_table();
  const DType q[3] = {DType::kI8, DType::kI8, DType::kF32};
  const std::int64_t d[3] = {8, 64, 128};
  // Every GPU the build targets (sm_80+) has sparse tensor cores: declining the op is a failure.
  ASSERT_TRUE(be.supports(OpQuery{Op::kSparse24Gemm, q, d})) << "2:4 sparse GEMM disabled (calibration failed; see log)";
  for (auto [m, n, k] : {std::tuple<int, int, int>{1, 384, 1536}, {70, 37, 192}, {128, 576, 1536}}) {
    auto w = randi8(static_cast<std::size_t>(n * k), 9);
    Prune24Args p;
    p.rows = n, p.cols = k, p.w = w.data(), p.ldw = k, p.dtype = DType::kI8;
    ASSERT_TRUE(prune24(p).is_ok());
    std::vector<std::int8_t> values(static_cast<std::size_t>(n * k / 2));
    std::vector<std::uint8_t> meta(static_cast<std::size_t>(n * sparse24_meta_bytes(k)));
    Compress24Args c;
    c.rows = n, c.cols = k, c.w = w.data(), c.ldw = k, c.dtype = DType::kI8;
    c.values = values.data(), c.values_ld = k / 2, c.meta = meta.data(), c.meta_ld = sparse24_meta_bytes(k);
    ASSERT_TRUE(compress24(c).is_ok());
    Sparse24Matrix src{n, k, DType::kI8, Sparse24Layout::kCpu, values.data(), k / 2, meta.data(), sparse24_meta_bytes(k)};
    const std::size_t bytes = be.sparse24_packed_bytes(src);
    ASSERT_GT(bytes, 0u);
    Dev<std::uint8_t> packed(bytes);
    ASSERT_TRUE(be.pack_sparse24(src, packed.get(), bytes, gpu_ctx()).is_ok());

    auto a = randi8(static_cast<std::size_t>(m * k), 10);
    auto as = randf(static_cast<std::size_t>(m), 11, 0.01f, 0.02f), bs = randf(static_cast<std::size_t>(n), 12, 0.01f, 0.02f);
    std::vector<float> want(static_cast<std::size_t>(m * n));
    GemmInt8Args g;
    g.m = m, g.n = n, g.k = k, g.lda = k, g.ldb = k, g.ldc = n;
    g.a = a.data(), g.b = w.data(), g.a_scales = as.data(), g.b_scales = bs.data(), g.c = want.data();
    ASSERT_TRUE(cpu::gemm_int8(g).is_ok());
    Dev<std::int8_t> da(a);
    Dev<float> das(as), dbs(bs), dc(want.size());
    Sparse24GemmArgs s;
    s.m = m, s.n = n, s.k = k, s.a = da.get(), s.lda = k, s.a_type = DType::kI8;
    s.b = Sparse24Matrix{n, k, DType::kI8, Sparse24Layout::kBackendPacked, packed.get(), 0, nullptr, 0};
    s.a_scales = das.get(), s.b_scales = dbs.get(), s.c = dc.get(), s.ldc = n, s.c_type = DType::kF32;
    ASSERT_TRUE(be.sparse24_gemm(s, gpu_ctx()).is_ok());
    expect_close(dc.host(), want, 1e-4f, 1e-5f);
  }
}

// LayerNorm / RMSNorm with residual (f32): 1e-5 abs.
TEST(CudaBackend, NormMatchesCpu) {
  SKIP_WITHOUT_GPU();
  for (NormKind kind : {NormKind::kLayerNorm, NormKind::kRmsNorm}) {
    const int rows = 7, cols = 333;
    auto x = randf(rows * cols, 13), r = randf(rows * cols, 14), gamma = randf(cols, 15), beta = randf(cols, 16);
    std::vector<float> y(rows * cols), ro(rows * cols);
    NormArgs a;
    a.kind = kind, a.rows = rows, a.cols = cols, a.ldx = cols, a.ld_residual = cols, a.ld_residual_out = cols, a.ldy = cols;
    a.x = x.data(), a.residual = r.data(), a.residual_out = ro.data(), a.gamma = gamma.data(), a.beta = beta.data(), a.y = y.data();
    ASSERT_TRUE(cpu::norm(a).is_ok());
    Dev<float> dx(x), dr(r), dg(gamma), db(beta), dy(y.size()), dro(ro.size());
    a.x = dx.get(), a.residual = dr.get(), a.residual_out = dro.get(), a.gamma = dg.get(), a.beta = db.get(), a.y = dy.get();
    ASSERT_TRUE(cuda_backend_table().norm(a, gpu_ctx()).is_ok());
    expect_close(dy.host(), y, 1e-4f, 1e-4f);
    expect_close(dro.host(), ro, 0.0f, 0.0f);
  }
}

// Softmax, causal with an additive key-padding mask (f32): 1e-6 abs.
TEST(CudaBackend, SoftmaxMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int rows = 12, cols = 301;
  auto x = randf(rows * cols, 17, -5.0f, 5.0f), mask = randf(2 * cols, 18, -2.0f, 0.0f);
  std::vector<float> y(rows * cols);
  SoftmaxArgs a;
  a.rows = rows, a.cols = cols, a.ldx = cols, a.ldy = cols, a.scale = 0.5f;
  a.mask = mask.data(), a.ld_mask = cols, a.mask_rows = 2, a.mask_row_div = 6;
  a.causal = true, a.causal_queries = 6, a.causal_offset = 290;
  a.x = x.data(), a.y = y.data();
  ASSERT_TRUE(cpu::softmax(a).is_ok());
  Dev<float> dx(x), dm(mask), dy(y.size());
  a.x = dx.get(), a.y = dy.get(), a.mask = dm.get();
  ASSERT_TRUE(cuda_backend_table().softmax(a, gpu_ctx()).is_ok());
  expect_close(dy.host(), y, 1e-6f, 1e-5f);
}

// Activation (SwiGLU, f32): 1e-6 rel.
TEST(CudaBackend, ActivationMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int rows = 5, cols = 77;
  auto x = randf(rows * cols, 19, -4.0f, 4.0f), gate = randf(rows * cols, 20, -4.0f, 4.0f);
  std::vector<float> y(rows * cols);
  ActivationArgs a;
  a.activation = Activation::kSilu, a.rows = rows, a.cols = cols, a.ldx = cols, a.ld_gate = cols, a.ldy = cols;
  a.x = x.data(), a.gate = gate.data(), a.y = y.data();
  ASSERT_TRUE(cpu::activation(a).is_ok());
  Dev<float> dx(x), dg(gate), dy(y.size());
  a.x = dx.get(), a.gate = dg.get(), a.y = dy.get();
  ASSERT_TRUE(cuda_backend_table().activation(a, gpu_ctx()).is_ok());
  expect_close(dy.host(), y, 1e-5f, 1e-5f);
}

// RoPE (half pairing, partial rotary, explicit positions; f32): 1e-5 abs.
TEST(CudaBackend, RopeMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int tokens = 9, heads = 3, hd = 64;
  auto x = randf(tokens * heads * hd, 21);
  std::vector<std::int32_t> pos = {0, 1, 2, 100, 511, 4095, 7, 8, 9};
  auto want = x;
  RopeArgs a;
  a.tokens = tokens, a.heads = heads, a.head_dim = hd, a.rotary_dim = 32, a.token_stride = heads * hd, a.head_stride = hd;
  a.x = want.data(), a.positions = pos.data();
  ASSERT_TRUE(cpu::rope(a).is_ok());
  Dev<float> dx(x);
  Dev<std::int32_t> dp(pos);
  a.x = dx.get(), a.positions = dp.get();
  ASSERT_TRUE(cuda_backend_table().rope(a, gpu_ctx()).is_ok());
  expect_close(dx.host(), want, 1e-5f, 1e-5f);
}

// Decode attention over a paged cache with GQA (f32): 1e-5 abs.
TEST(CudaBackend, AttentionDecodeMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int batch = 3, heads = 8, kv_heads = 2, hd = 64, page = 16, pages = 12, max_blocks = 4;
  auto k = randf(static_cast<std::size_t>(pages * kv_heads * page * hd), 22);
  auto v = randf(k.size(), 23), q = randf(static_cast<std::size_t>(batch * heads * hd), 24);
  std::vector<std::int32_t> table = {3, 7, 1, 0, 11, 2, 0, 0, 5, 6, 8, 9};
  std::vector<std::int32_t> lens = {40, 17, 64};
  std::vector<float> want(q.size());
  AttentionDecodeArgs a;
  a.batch = batch, a.num_heads = heads;
  a.cache = PagedKvCache{k.data(), v.data(), pages, kv_heads, page, hd, DType::kF32};
  a.q = q.data(), a.q_seq_stride = heads * hd, a.q_head_stride = hd;
  a.out = want.data(), a.out_seq_stride = heads * hd, a.out_head_stride = hd;
  a.block_tables = table.data(), a.max_blocks_per_seq = max_blocks, a.context_lens = lens.data();
  ASSERT_TRUE(cpu::attention_decode(a).is_ok());
  Dev<float> dk(k), dv(v), dq(q), dout(want.size());
  Dev<std::int32_t> dt(table), dl(lens);
  a.cache.k = dk.get(), a.cache.v = dv.get(), a.q = dq.get(), a.out = dout.get();
  a.block_tables = dt.get(), a.context_lens = dl.get();
  ASSERT_TRUE(cuda_backend_table().attention_decode(a, gpu_ctx()).is_ok());
  expect_close(dout.host(), want, 1e-5f, 1e-4f);
}

// Causal prefill with GQA and a padded batch (f32): 1e-5 abs.
TEST(CudaBackend, AttentionPrefillMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int b = 2, s = 19, h = 4, g = 2, hd = 32;
  auto q = randf(static_cast<std::size_t>(b * s * h * hd), 25), k = randf(static_cast<std::size_t>(b * s * g * hd), 26),
       v = randf(static_cast<std::size_t>(b * s * g * hd), 27);
  std::vector<std::int32_t> lens = {19, 11};
  std::vector<float> want(q.size());
  AttentionPrefillArgs a;
  a.batch = b, a.q_len = s, a.kv_len = s, a.num_heads = h, a.num_kv_heads = g, a.head_dim = hd, a.causal = true;
  a.q_batch_stride = s * h * hd, a.q_token_stride = h * hd, a.q_head_stride = hd;
  a.k_batch_stride = a.v_batch_stride = s * g * hd, a.k_token_stride = a.v_token_stride = g * hd, a.k_head_stride = a.v_head_stride = hd;
  a.out_batch_stride = s * h * hd, a.out_token_stride = h * hd, a.out_head_stride = hd;
  a.q = q.data(), a.k = k.data(), a.v = v.data(), a.out = want.data(), a.kv_lengths = lens.data();
  ASSERT_TRUE(cpu::attention_prefill(a).is_ok());
  Dev<float> dq(q), dk(k), dv(v), dout(want.size());
  Dev<std::int32_t> dl(lens);
  a.q = dq.get(), a.k = dk.get(), a.v = dv.get(), a.out = dout.get(), a.kv_lengths = dl.get();
  ASSERT_TRUE(cuda_backend_table().attention_prefill(a, gpu_ctx()).is_ok());
  expect_close(dout.host(), want, 1e-5f, 1e-4f);

  // MPNet's relative position bias (radius 4 < the length, so distances clamp), bidirectional.
  const auto bias = randf(static_cast<std::size_t>(h * 9), 29, -2.0f, 2.0f);
  Dev<float> dbias(bias);
  a.causal = false;
  a.q = q.data(), a.k = k.data(), a.v = v.data(), a.out = want.data(), a.kv_lengths = lens.data();
  a.rel_bias = bias.data(), a.rel_bias_radius = 4;
  ASSERT_TRUE(cpu::attention_prefill(a).is_ok());
  a.q = dq.get(), a.k = dk.get(), a.v = dv.get(), a.out = dout.get(), a.kv_lengths = dl.get(), a.rel_bias = dbias.get();
  ASSERT_TRUE(cuda_backend_table().attention_prefill(a, gpu_ctx()).is_ok());
  expect_close(dout.host(), want, 1e-5f, 1e-4f);
}

// Quantize per row then dequantize (f32): bit-exact int8 and scales.
TEST(CudaBackend, QuantizeMatchesCpuExactly) {
  SKIP_WITHOUT_GPU();
  const int rows = 6, cols = 129;
  auto x = randf(rows * cols, 28, -3.0f, 3.0f);
  std::vector<std::int8_t> want(rows * cols);
  std::vector<float> scales(rows);
  QuantizeArgs a;
  a.rows = rows, a.cols = cols, a.ldx = cols, a.ldy = cols, a.x = x.data(), a.y = want.data(), a.scales = scales.data();
  ASSERT_TRUE(cpu::quantize(a).is_ok());
  Dev<float> dx(x), ds(scales.size());
  Dev<std::int8_t> dy(want.size());
  a.x = dx.get(), a.y = dy.get(), a.scales = ds.get();
  ASSERT_TRUE(cuda_backend_table().quantize(a, gpu_ctx()).is_ok());
  EXPECT_EQ(dy.host(), want);
  EXPECT_EQ(ds.host(), scales);
}

// Conv1d and transposed conv1d with stride/padding/dilation/groups (f32): 1e-4.
TEST(CudaBackend, Conv1dMatchesCpu) {
  SKIP_WITHOUT_GPU();
  for (bool transposed : {false, true}) {
    Conv1dArgs a;
    a.transposed = transposed, a.batch = 2, a.in_channels = 4, a.out_channels = 6, a.in_length = 23, a.kernel_size = 5;
    a.stride = 2, a.padding = 2, a.dilation = 1, a.groups = 2, a.output_padding = transposed ? 1 : 0;
    a.activation = Activation::kGeluTanh;
    const std::int64_t out_len = conv1d_output_length(a);
    auto x = randf(static_cast<std::size_t>(2 * 4 * 23), 29);
    auto w = randf(static_cast<std::size_t>(transposed ? 4 * 3 * 5 : 6 * 2 * 5), 30), bias = randf(6, 31);
    std::vector<float> want(static_cast<std::size_t>(2 * 6 * out_len));
    a.x = x.data(), a.w = w.data(), a.bias = bias.data(), a.y = want.data();
    ASSERT_TRUE(cpu::conv1d(a).is_ok());
    Dev<float> dx(x), dw(w), db(bias), dy(want.size());
    a.x = dx.get(), a.w = dw.get(), a.bias = db.get(), a.y = dy.get();
    ASSERT_TRUE(cuda_backend_table().conv1d(a, gpu_ctx()).is_ok());
    expect_close(dy.host(), want, 1e-4f, 1e-4f);
  }
}

// Sampling: same token as the CPU for argmax and for seeded top-k/top-p draws (well separated
// logits, so float summation order cannot flip a draw).
TEST(CudaBackend, SampleMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int batch = 4, vocab = 1000;
  auto logits = randf(static_cast<std::size_t>(batch * vocab), 32, -8.0f, 8.0f);
  for (auto [temp, top_k, top_p] : {std::tuple<float, int, float>{0.0f, 0, 1.0f}, {0.8f, 40, 0.9f}, {1.0f, 200, 1.0f}}) {
    std::vector<std::int32_t> want(batch);
    std::vector<float> want_lp(batch);
    SampleArgs a;
    a.batch = batch, a.vocab = vocab, a.logits = logits.data(), a.ld_logits = vocab;
    a.temperature = temp, a.top_k = top_k, a.top_p = top_p, a.seed = 42, a.step = 3;
    a.out_tokens = want.data(), a.out_logprobs = want_lp.data();
    ASSERT_TRUE(cpu::sample(a).is_ok());
    Dev<float> dl(logits), dlp(want_lp.size());
    Dev<std::int32_t> dt(want.size());
    a.logits = dl.get(), a.out_tokens = dt.get(), a.out_logprobs = dlp.get();
    ASSERT_TRUE(cuda_backend_table().sample(a, gpu_ctx()).is_ok());
    EXPECT_EQ(dt.host(), want);
    expect_close(dlp.host(), want_lp, 1e-4f, 1e-5f);
  }
}

// NCCL at world size 1: all-reduce is the identity, all-gather a copy.
TEST(CudaBackend, NcclWorldOfOne) {
  SKIP_WITHOUT_GPU();
  if (!nccl_built()) GTEST_SKIP() << "built without NCCL";
  auto comm = make_nccl_single(0);
  ASSERT_TRUE(comm.ok()) << comm.status().to_string();
  auto x = randf(1000, 33);
  Dev<float> dx(x), dy(x.size());
  ASSERT_TRUE((*comm)->all_reduce_sum(dx.get(), 1000, gpu_ctx()).is_ok());
  ASSERT_TRUE((*comm)->all_gather(dx.get(), dy.get(), 1000, gpu_ctx()).is_ok());
  EXPECT_EQ(dx.host(), x);
  EXPECT_EQ(dy.host(), x);
}

}  // namespace
}  // namespace parley::kernels::cuda
