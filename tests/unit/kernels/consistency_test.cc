// Cross-backend consistency: one table of op cases (shapes, dtypes, tolerance), each run on every
// backend the registry knows ("cpu" with its best ISA, "cuda" when a device is present) and
// compared with the CPU reference (the CPU backend forced to its scalar variant).
// Why: STYLE.md "one consistency test runs every op on every backend against the CPU reference".
// A backend without a device, or one whose supports() declines a case, is GTEST_SKIPped with the
// reason, never silently passed.
//
// To add a case: append to make_cases() a Case with a name, the OpQuery inputs, a tolerance and a
// `run` that uploads inputs through the Arena, calls the backend's entry point and returns the
// outputs as floats. Inputs come from the case's own seed, so both runs see the same data.
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "shared/engine/device.h"
#include "tests/unit/kernels/test_util.h"

namespace parley::kernels {
namespace {

using testing::TypedBuffer;

/// Device memory for one run; freed at the end. Uses only the backend's host-side hooks.
class Arena {
 public:
  Arena(const Backend& be, const ExecContext& ctx) : be_(be), ctx_(ctx) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena() {
    for (void* p : ptrs_) be_.device_free(p, ctx_);
  }
  void* upload(const void* host, std::size_t bytes) {
    void* d = be_.device_alloc(bytes == 0 ? 1 : bytes, ctx_);
    EXPECT_NE(d, nullptr);
    ptrs_.push_back(d);
    if (bytes > 0) {
      EXPECT_TRUE(be_.copy_to_device(d, host, bytes, ctx_).is_ok());
    }
    return d;
  }
  template <typename T>
  T* up(const std::vector<T>& v) {
    return static_cast<T*>(upload(v.data(), v.size() * sizeof(T)));
  }
  void* up(const TypedBuffer& b) { return upload(b.bytes.data(), b.bytes.size()); }
  template <typename T>
  std::vector<T> down(const void* d, std::size_t n) {
    EXPECT_TRUE(be_.synchronize(ctx_).is_ok());
    std::vector<T> out(n);
    if (n > 0) {
      EXPECT_TRUE(be_.copy_to_host(out.data(), d, n * sizeof(T), ctx_).is_ok());
    }
    return out;
  }
  /// A float-typed device buffer read back as f32 values.
  std::vector<float> down_typed(const void* d, DType t, std::size_t n) {
    TypedBuffer b = testing::zero_buffer(t, n);
    auto bytes = down<std::uint8_t>(d, n * static_cast<std::size_t>(engine::block_bytes(t)));
    std::copy(bytes.begin(), bytes.end(), b.bytes.begin());
    return testing::read_buffer(b, n);
  }
  const Backend& backend() const { return be_; }
  const ExecContext& ctx() const { return ctx_; }

 private:
  const Backend& be_;
  ExecContext ctx_;
  std::vector<void*> ptrs_;
};

struct Case {
  std::string name;
  Op op;
  std::vector<DType> dtypes;
  std::vector<std::int64_t> dims;
  double atol = 1e-5, rtol = 1e-5;
  std::function<std::vector<float>(Arena&)> run;
};

template <typename T>
std::vector<float> as_float(const std::vector<T>& v) {
  return std::vector<float>(v.begin(), v.end());
}

std::vector<Case> make_cases() {
  std::vector<Case> cases;
  // ---- GEMM -----------------------------------------------------------------------------------
  struct G { std::int64_t m, n, k; DType a, b, c; Activation act; };
  for (const G g : {G{1, 384, 384, DType::kF32, DType::kF32, DType::kF32, Activation::kNone},
                    G{7, 1536, 384, DType::kF32, DType::kF32, DType::kF32, Activation::kGeluErf},
                    G{33, 65, 129, DType::kF16, DType::kF16, DType::kF16, Activation::kSilu},
                    G{128, 384, 1536, DType::kBF16, DType::kBF16, DType::kF32, Activation::kNone},
                    G{3, 96, 64, DType::kF32, DType::kQ4_0, DType::kF32, Activation::kNone},
                    G{5, 40, 96, DType::kF32, DType::kQ8_0, DType::kF32, Activation::kRelu},
                    G{3, 40, 64, DType::kF32, DType::kQ5_0, DType::kF32, Activation::kNone},
                    G{2, 24, 512, DType::kF32, DType::kQ4_K, DType::kF32, Activation::kNone},
                    G{9, 17, 256, DType::kF32, DType::kQ6_K, DType::kF32, Activation::kSilu}}) {
    Case c;
    c.name = "gemm_" + std::string(engine::dtype_name(g.a)) + "x" + std::string(engine::dtype_name(g.b)) + "_" +
             std::to_string(g.m) + "x" + std::to_string(g.n) + "x" + std::to_string(g.k);
    c.op = Op::kGemm;
    c.dtypes = {g.a, g.b, g.c};
    c.dims = {g.m, g.n, g.k};
    c.atol = 1e-4 + 2 * testing::eps_of(g.c) * 4;
    c.rtol = 1e-4 + 2 * testing::eps_of(g.c);
    c.run = [g](Arena& ar) {
      TypedBuffer a = testing::make_buffer(g.a, testing::random_floats(static_cast<std::size_t>(g.m * g.k), 1));
      std::vector<std::uint8_t> b_bytes;
      if (engine::is_block_quantized(g.b)) {
        const auto w = testing::random_floats(static_cast<std::size_t>(g.n * g.k), 2);
        b_bytes.resize(static_cast<std::size_t>(g.n * engine::row_bytes(g.b, g.k)));
        GgufQuantizeArgs q;
        q.rows = g.n; q.cols = g.k; q.x = w.data(); q.ldx = g.k; q.type = g.b; q.y = b_bytes.data();
        EXPECT_TRUE(cpu::gguf_quantize(q).is_ok());
      } else {
        b_bytes = testing::make_buffer(g.b, testing::random_floats(static_cast<std::size_t>(g.n * g.k), 2)).bytes;
      }
      const auto bias = testing::random_floats(static_cast<std::size_t>(g.n), 3);
      GemmArgs args;
      args.m = g.m; args.n = g.n; args.k = g.k;
      args.a = ar.up(a); args.lda = g.k; args.a_type = g.a;
      args.b = ar.up(b_bytes); args.ldb = g.k; args.b_type = g.b;
      void* c = ar.up(testing::zero_buffer(g.c, static_cast<std::size_t>(g.m * g.n)));
      args.c = c; args.ldc = g.n; args.c_type = g.c; args.bias = ar.up(bias); args.activation = g.act;
      EXPECT_TRUE(ar.backend().gemm(args, ar.ctx()).is_ok());
      return ar.down_typed(c, g.c, static_cast<std::size_t>(g.m * g.n));
    };
    cases.push_back(std::move(c));
  }
  // ---- INT8 GEMM -------------------------------------------------------------------------------
  for (const G g : {G{1, 1536, 384, DType::kI8, DType::kI8, DType::kF32, Activation::kGeluErf},
                    G{8, 384, 1536, DType::kI8, DType::kI8, DType::kF16, Activation::kNone},
                    G{37, 70, 129, DType::kI8, DType::kI8, DType::kI32, Activation::kNone},
                    G{128, 576, 576, DType::kI8, DType::kI8, DType::kBF16, Activation::kSilu}}) {
    Case c;
    c.name = "gemm_int8_" + std::string(engine::dtype_name(g.c)) + "_" + std::to_string(g.m) + "x" + std::to_string(g.n) +
             "x" + std::to_string(g.k);
    c.op = Op::kGemmInt8;
    c.dtypes = {g.c};
    c.dims = {g.m, g.n, g.k};
    c.atol = g.c == DType::kI32 ? 0.0 : 1e-4 + 2 * testing::eps_of(g.c);
    c.rtol = g.c == DType::kI32 ? 0.0 : 1e-5 + 2 * testing::eps_of(g.c);
    c.run = [g](Arena& ar) {
      const auto a = testing::random_int8(static_cast<std::size_t>(g.m * g.k), 4);
      const auto b = testing::random_int8(static_cast<std::size_t>(g.n * g.k), 5);
      const auto sa = testing::random_floats(static_cast<std::size_t>(g.m), 6, 1e-3f, 3e-3f);
      const auto sb = testing::random_floats(static_cast<std::size_t>(g.n), 7, 1e-3f, 3e-3f);
      const auto bias = testing::random_floats(static_cast<std::size_t>(g.n), 8);
      GemmInt8Args args;
      args.m = g.m; args.n = g.n; args.k = g.k;
      args.a = ar.up(a); args.lda = g.k; args.b = ar.up(b); args.ldb = g.k;
      args.a_scales = ar.up(sa); args.b_scales = ar.up(sb); args.bias = ar.up(bias); args.activation = g.act;
      const std::size_t n = static_cast<std::size_t>(g.m * g.n);
      void* c = g.c == DType::kI32 ? ar.up(std::vector<std::int32_t>(n)) : ar.up(testing::zero_buffer(g.c, n));
      args.c = c; args.ldc = g.n; args.c_type = g.c;
      EXPECT_TRUE(ar.backend().gemm_int8(args, ar.ctx()).is_ok());
      return g.c == DType::kI32 ? as_float(ar.down<std::int32_t>(c, n)) : ar.down_typed(c, g.c, n);
    };
    cases.push_back(std::move(c));
  }
  // ---- 2:4 sparse GEMM (through the backend's pack hook) ----------------------------------------
  for (const bool int8 : {false, true}) {
    for (const G g : {G{1, 384, 384, DType::kF32, DType::kF32, DType::kF32, Activation::kNone},
                      G{64, 256, 512, DType::kF32, DType::kF32, DType::kF32, Activation::kGeluErf}}) {
      Case c;
      c.name = std::string("sparse24_") + (int8 ? "int8_" : "f32_") + std::to_string(g.m) + "x" + std::to_string(g.n) + "x" + std::to_string(g.k);
      c.op = Op::kSparse24Gemm;
      const DType t = int8 ? DType::kI8 : DType::kF32;
      c.dtypes = {t, t, DType::kF32};
      c.dims = {g.m, g.n, g.k};
      c.atol = 1e-4;
      c.rtol = 1e-4;
      c.run = [g, int8, t](Arena& ar) {
        const std::int64_t es = int8 ? 1 : 4;
        std::vector<std::uint8_t> w(static_cast<std::size_t>(g.n * g.k * es));
        if (int8) {
          auto v = testing::random_int8(w.size(), 9);
          std::memcpy(w.data(), v.data(), w.size());
        } else {
          auto v = testing::random_floats(static_cast<std::size_t>(g.n * g.k), 9);
          std::memcpy(w.data(), v.data(), w.size());
        }
        Prune24Args p;
        p.rows = g.n; p.cols = g.k; p.w = w.data(); p.ldw = g.k; p.dtype = t;
        EXPECT_TRUE(prune24(p).is_ok());
        std::vector<std::uint8_t> vals(static_cast<std::size_t>(g.n * g.k / 2 * es)), meta(static_cast<std::size_t>(g.n * sparse24_meta_bytes(g.k)));
        Compress24Args cp;
        cp.rows = g.n; cp.cols = g.k; cp.w = w.data(); cp.ldw = g.k; cp.dtype = t; cp.values = vals.data();
        cp.values_ld = g.k / 2; cp.meta = meta.data(); cp.meta_ld = sparse24_meta_bytes(g.k);
        EXPECT_TRUE(compress24(cp).is_ok());
        Sparse24Matrix host;
        host.rows = g.n; host.cols = g.k; host.dtype = t; host.values = vals.data(); host.values_ld = g.k / 2;
        host.meta = meta.data(); host.meta_ld = cp.meta_ld;
        const std::size_t packed_bytes = ar.backend().sparse24_packed_bytes(host);
        void* packed = ar.upload(std::vector<std::uint8_t>(packed_bytes).data(), packed_bytes);
        EXPECT_TRUE(ar.backend().pack_sparse24(host, packed, packed_bytes, ar.ctx()).is_ok());
        Sparse24GemmArgs args;
        args.m = g.m; args.n = g.n; args.k = g.k; args.a_type = t; args.lda = g.k;
        args.a = int8 ? static_cast<const void*>(ar.up(testing::random_int8(static_cast<std::size_t>(g.m * g.k), 10)))
                      : static_cast<const void*>(ar.up(testing::random_floats(static_cast<std::size_t>(g.m * g.k), 10)));
        args.b = host;
        args.b.layout = Sparse24Layout::kBackendPacked;
        args.b.values = packed;
        args.b.meta = nullptr;
        args.a_scales = ar.up(testing::random_floats(static_cast<std::size_t>(g.m), 11, 0.01f, 0.02f));
        args.b_scales = ar.up(testing::random_floats(static_cast<std::size_t>(g.n), 12, 0.01f, 0.02f));
        args.bias = ar.up(testing::random_floats(static_cast<std::size_t>(g.n), 13));
        args.activation = g.act;
        float* out = ar.up(std::vector<float>(static_cast<std::size_t>(g.m * g.n)));
        args.c = out; args.ldc = g.n;
        EXPECT_TRUE(ar.backend().sparse24_gemm(args, ar.ctx()).is_ok());
        return ar.down<float>(out, static_cast<std::size_t>(g.m * g.n));
      };
      cases.push_back(std::move(c));
    }
  }
  // ---- Norms, activations, softmax, rope ---------------------------------------------------------
  for (const NormKind kind : {NormKind::kLayerNorm, NormKind::kRmsNorm}) {
    for (const DType t : {DType::kF32, DType::kF16}) {
      Case c;
      c.name = std::string(kind == NormKind::kLayerNorm ? "layernorm_" : "rmsnorm_") + std::string(engine::dtype_name(t)) + "_residual";
      c.op = Op::kNorm;
      c.dtypes = {t};
      c.dims = {9, 576};
      c.atol = 1e-4 + 4 * testing::eps_of(t);
      c.rtol = 2 * testing::eps_of(t) + 1e-5;
      c.run = [kind, t](Arena& ar) {
        const std::int64_t rows = 9, cols = 576;
        const std::size_t n = static_cast<std::size_t>(rows * cols);
        NormArgs a;
        a.kind = kind; a.rows = rows; a.cols = cols; a.dtype = t;
        a.x = ar.up(testing::make_buffer(t, testing::random_floats(n, 14, -2, 3))); a.ldx = cols;
        a.residual = ar.up(testing::make_buffer(t, testing::random_floats(n, 15))); a.ld_residual = cols;
        void* hout = ar.up(testing::zero_buffer(t, n));
        void* y = ar.up(testing::zero_buffer(t, n));
        a.residual_out = hout; a.ld_residual_out = cols; a.y = y; a.ldy = cols;
        a.gamma = ar.up(testing::random_floats(static_cast<std::size_t>(cols), 16, 0.5f, 1.5f));
        a.beta = ar.up(testing::random_floats(static_cast<std::size_t>(cols), 17));
        EXPECT_TRUE(ar.backend().norm(a, ar.ctx()).is_ok());
        auto out = ar.down_typed(y, t, n);
        auto h = ar.down_typed(hout, t, n);
        out.insert(out.end(), h.begin(), h.end());
        return out;
      };
      cases.push_back(std::move(c));
    }
  }
  for (const Activation act : {Activation::kGeluErf, Activation::kGeluTanh, Activation::kSilu}) {
    for (const bool gated : {false, true}) {
      Case c;
      c.name = "activation_" + std::string(activation_name(act)) + (gated ? "_gated_bf16" : "_f32");
      const DType t = gated ? DType::kBF16 : DType::kF32;
      c.op = Op::kActivation;
      c.dtypes = {t};
      c.dims = {5, 1536};
      c.atol = 1e-5 + 2 * testing::eps_of(t);
      c.rtol = 2 * testing::eps_of(t) + 1e-5;
      c.run = [act, gated, t](Arena& ar) {
        const std::int64_t rows = 5, cols = 1536;
        const std::size_t es = static_cast<std::size_t>(engine::block_bytes(t));
        auto* p = static_cast<std::uint8_t*>(ar.up(testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(rows * 2 * cols), 18, -6, 6))));
        void* y = ar.up(testing::zero_buffer(t, static_cast<std::size_t>(rows * cols)));
        ActivationArgs a;
        a.activation = act; a.rows = rows; a.cols = cols; a.dtype = t;
        a.x = p + (gated ? cols * es : 0); a.ldx = 2 * cols;
        if (gated) { a.gate = p; a.ld_gate = 2 * cols; }
        a.y = y; a.ldy = cols;
        EXPECT_TRUE(ar.backend().activation(a, ar.ctx()).is_ok());
        return ar.down_typed(y, t, static_cast<std::size_t>(rows * cols));
      };
      cases.push_back(std::move(c));
    }
  }
  {
    Case c;
    c.name = "softmax_masked_causal_f16";
    c.op = Op::kSoftmax;
    c.dtypes = {DType::kF16};
    c.dims = {2 * 4 * 16, 40};
    c.atol = 2e-3;
    c.rtol = 2e-3;
    c.run = [](Arena& ar) {
      const std::int64_t B = 2, H = 4, Q = 16, K = 40, rows = B * H * Q;
      std::vector<float> mask(static_cast<std::size_t>(B * K), 0.0f);
      for (std::int64_t j = 30; j < K; ++j) mask[static_cast<std::size_t>(K + j)] = -std::numeric_limits<float>::infinity();
      void* y = ar.up(testing::zero_buffer(DType::kF16, static_cast<std::size_t>(rows * K)));
      SoftmaxArgs a;
      a.rows = rows; a.cols = K; a.dtype = DType::kF16; a.y = y; a.ldy = K; a.ldx = K;
      a.x = ar.up(testing::make_buffer(DType::kF16, testing::random_floats(static_cast<std::size_t>(rows * K), 19, -5, 5)));
      a.scale = 0.25f; a.mask = ar.up(mask); a.ld_mask = K; a.mask_rows = B; a.mask_row_div = H * Q;
      a.causal = true; a.causal_queries = Q; a.causal_offset = K - Q;
      EXPECT_TRUE(ar.backend().softmax(a, ar.ctx()).is_ok());
      return ar.down_typed(y, DType::kF16, static_cast<std::size_t>(rows * K));
    };
    cases.push_back(std::move(c));
  }
  for (const RopeStyle style : {RopeStyle::kHalf, RopeStyle::kInterleaved}) {
    Case c;
    c.name = std::string("rope_") + (style == RopeStyle::kHalf ? "half" : "interleaved") + "_f32";
    c.op = Op::kRope;
    c.dtypes = {DType::kF32};
    c.dims = {7, 9, 64};
    c.atol = 2e-5;
    c.rtol = 2e-5;
    c.run = [style](Arena& ar) {
      const std::int64_t tokens = 7, heads = 9, hd = 64;
      const std::vector<std::int32_t> pos = {0, 1, 2, 100, 2047, 5, 9};
      float* x = ar.up(testing::random_floats(static_cast<std::size_t>(tokens * heads * hd), 20));
      RopeArgs a;
      a.style = style; a.tokens = tokens; a.heads = heads; a.head_dim = hd; a.x = x; a.token_stride = heads * hd;
      a.head_stride = hd; a.positions = ar.up(pos); a.theta = 10000.0f;
      EXPECT_TRUE(ar.backend().rope(a, ar.ctx()).is_ok());
      return ar.down<float>(x, static_cast<std::size_t>(tokens * heads * hd));
    };
    cases.push_back(std::move(c));
  }
  // ---- Attention ------------------------------------------------------------------------------
  for (const DType t : {DType::kF32, DType::kF16}) {
    for (const bool causal : {true, false}) {
      Case c;
      c.name = std::string("attention_prefill_") + (causal ? "causal_gqa_" : "padded_") + std::string(engine::dtype_name(t));
      c.op = Op::kAttentionPrefill;
      c.dtypes = {t};
      c.dims = {8, causal ? 2 : 8, 64};
      c.atol = 1e-4 + 4 * testing::eps_of(t);
      c.rtol = 2 * testing::eps_of(t) + 1e-4;
      c.run = [t, causal](Arena& ar) {
        const std::int64_t B = 2, T = 37, H = 8, HKV = causal ? 2 : 8, D = 64;
        const std::vector<std::int32_t> lens = {37, 20};
        AttentionPrefillArgs a;
        a.batch = B; a.q_len = T; a.kv_len = T; a.num_heads = H; a.num_kv_heads = HKV; a.head_dim = D; a.dtype = t;
        a.q = ar.up(testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(B * T * H * D), 21)));
        a.k = ar.up(testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(B * T * HKV * D), 22)));
        a.v = ar.up(testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(B * T * HKV * D), 23)));
        void* out = ar.up(testing::zero_buffer(t, static_cast<std::size_t>(B * T * H * D)));
        a.out = out;
        a.q_batch_stride = a.out_batch_stride = T * H * D; a.q_token_stride = a.out_token_stride = H * D;
        a.q_head_stride = a.out_head_stride = D;
        a.k_batch_stride = a.v_batch_stride = T * HKV * D; a.k_token_stride = a.v_token_stride = HKV * D;
        a.k_head_stride = a.v_head_stride = D;
        a.causal = causal; a.kv_lengths = causal ? nullptr : ar.up(lens);
        EXPECT_TRUE(ar.backend().attention_prefill(a, ar.ctx()).is_ok());
        return ar.down_typed(out, t, static_cast<std::size_t>(B * T * H * D));
      };
      cases.push_back(std::move(c));
    }
    Case c;
    c.name = "attention_decode_paged_" + std::string(engine::dtype_name(t));
    c.op = Op::kAttentionDecode;
    c.dtypes = {t};
    c.dims = {16, 4, 64};
    c.atol = 1e-4 + 4 * testing::eps_of(t);
    c.rtol = 2 * testing::eps_of(t) + 1e-4;
    c.run = [t](Arena& ar) {
      const std::int64_t batch = 3, H = 16, HKV = 4, D = 64, page = 16, pages = 24, max_blocks = 8;
      const std::vector<std::int32_t> lens = {1, 100, 33};
      std::vector<std::int32_t> tables(static_cast<std::size_t>(batch * max_blocks), 0), slots;
      std::int32_t next = pages - 1;  // pages handed out in reverse order
      for (std::int64_t s = 0; s < batch; ++s) {
        for (std::int64_t p = 0; p < (lens[static_cast<std::size_t>(s)] + page - 1) / page; ++p) tables[static_cast<std::size_t>(s * max_blocks + p)] = next--;
        for (std::int64_t p = 0; p < lens[static_cast<std::size_t>(s)]; ++p)
          slots.push_back(tables[static_cast<std::size_t>(s * max_blocks + p / page)] * static_cast<std::int32_t>(page) + static_cast<std::int32_t>(p % page));
      }
      const std::int64_t total = static_cast<std::int64_t>(slots.size());
      PagedKvCache cache;
      cache.num_pages = pages; cache.num_kv_heads = HKV; cache.page_size = page; cache.head_dim = D; cache.dtype = t;
      cache.k = ar.up(testing::zero_buffer(t, static_cast<std::size_t>(pages * HKV * page * D)));
      cache.v = ar.up(testing::zero_buffer(t, static_cast<std::size_t>(pages * HKV * page * D)));
      KvCacheWriteArgs w;
      w.tokens = total; w.cache = cache;
      w.k = ar.up(testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(total * HKV * D), 24)));
      w.v = ar.up(testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(total * HKV * D), 25)));
      w.k_token_stride = w.v_token_stride = HKV * D; w.k_head_stride = w.v_head_stride = D;
      w.slot_mapping = ar.up(slots);
      EXPECT_TRUE(ar.backend().kv_cache_write(w, ar.ctx()).is_ok());
      AttentionDecodeArgs a;
      a.batch = batch; a.num_heads = H; a.cache = cache;
      a.q = ar.up(testing::make_buffer(t, testing::random_floats(static_cast<std::size_t>(batch * H * D), 26)));
      a.q_seq_stride = H * D; a.q_head_stride = D;
      void* out = ar.up(testing::zero_buffer(t, static_cast<std::size_t>(batch * H * D)));
      a.out = out; a.out_seq_stride = H * D; a.out_head_stride = D;
      a.block_tables = ar.up(tables); a.max_blocks_per_seq = max_blocks; a.context_lens = ar.up(lens);
      EXPECT_TRUE(ar.backend().attention_decode(a, ar.ctx()).is_ok());
      return ar.down_typed(out, t, static_cast<std::size_t>(batch * H * D));
    };
    cases.push_back(std::move(c));
  }
  // ---- Embedding, quantization --------------------------------------------------------------------
  for (const DType tt : {DType::kF16, DType::kQ8_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ4_K, DType::kQ6_K}) {
    Case c;
    const std::int64_t dim = engine::is_k_quant(tt) ? 256 : 64;
    c.name = "embedding_" + std::string(engine::dtype_name(tt));
    c.op = Op::kEmbedding;
    c.dtypes = {tt, DType::kF32};
    c.dims = {dim};
    c.atol = 1e-6;
    c.rtol = 1e-6;
    c.run = [tt, dim](Arena& ar) {
      const std::int64_t vocab = 50;
      const std::vector<std::int32_t> ids = {0, 49, 7, 7, 13};
      const auto table = testing::random_floats(static_cast<std::size_t>(vocab * dim), 27);
      std::vector<std::uint8_t> bytes;
      if (engine::is_float(tt)) {
        bytes = testing::make_buffer(tt, table).bytes;
      } else {
        bytes.resize(static_cast<std::size_t>(vocab * engine::row_bytes(tt, dim)));
        GgufQuantizeArgs q;
        q.rows = vocab; q.cols = dim; q.x = table.data(); q.ldx = dim; q.type = tt; q.y = bytes.data();
        EXPECT_TRUE(cpu::gguf_quantize(q).is_ok());
      }
      float* out = ar.up(std::vector<float>(ids.size() * static_cast<std::size_t>(dim)));
      EmbeddingArgs a;
      a.num_tokens = static_cast<std::int64_t>(ids.size()); a.dim = dim; a.vocab = vocab; a.ids = ar.up(ids);
      a.table = ar.up(bytes); a.table_type = tt; a.out = out; a.ld_out = dim;
      EXPECT_TRUE(ar.backend().embedding(a, ar.ctx()).is_ok());
      return ar.down<float>(out, ids.size() * static_cast<std::size_t>(dim));
    };
    cases.push_back(std::move(c));
  }
  for (const QuantGranularity g : {QuantGranularity::kPerRow, QuantGranularity::kPerTensor, QuantGranularity::kPerColumn}) {
    Case c;
    c.name = std::string("quantize_int8_") + (g == QuantGranularity::kPerRow ? "per_row" : g == QuantGranularity::kPerTensor ? "per_tensor" : "per_column");
    c.op = Op::kQuantize;
    c.dtypes = {DType::kF32};
    c.dims = {17, 300};
    c.atol = 1.0;  // a value exactly between two steps may round either way after a 1-ulp scale difference
    c.rtol = 0.0;
    c.run = [g](Arena& ar) {
      const std::int64_t rows = 17, cols = 300;
      std::int8_t* y = ar.up(std::vector<std::int8_t>(static_cast<std::size_t>(rows * cols)));
      float* scales = ar.up(std::vector<float>(static_cast<std::size_t>(cols)));
      QuantizeArgs a;
      a.rows = rows; a.cols = cols; a.x = ar.up(testing::random_floats(static_cast<std::size_t>(rows * cols), 28, -4, 4));
      a.ldx = cols; a.y = y; a.ldy = cols; a.scales = scales; a.granularity = g;
      EXPECT_TRUE(ar.backend().quantize(a, ar.ctx()).is_ok());
      return as_float(ar.down<std::int8_t>(y, static_cast<std::size_t>(rows * cols)));
    };
    cases.push_back(std::move(c));
  }
  for (const DType qt : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1}) {
    Case c;
    c.name = "gguf_roundtrip_" + std::string(engine::dtype_name(qt));
    c.op = Op::kGgufQuantize;
    c.dtypes = {qt};
    c.atol = 1e-6;
    c.rtol = 1e-6;
    c.run = [qt](Arena& ar) {
      const std::int64_t rows = 6, cols = 128;
      const std::size_t qbytes = static_cast<std::size_t>(rows * engine::row_bytes(qt, cols));
      void* q = ar.up(std::vector<std::uint8_t>(qbytes));
      GgufQuantizeArgs a;
      a.rows = rows; a.cols = cols; a.x = ar.up(testing::random_floats(static_cast<std::size_t>(rows * cols), 29, -3, 3));
      a.ldx = cols; a.type = qt; a.y = q;
      EXPECT_TRUE(ar.backend().gguf_quantize(a, ar.ctx()).is_ok());
      float* y = ar.up(std::vector<float>(static_cast<std::size_t>(rows * cols)));
      GgufDequantizeArgs d;
      d.rows = rows; d.cols = cols; d.x = q; d.type = qt; d.y = y; d.ldy = cols;
      EXPECT_TRUE(ar.backend().gguf_dequantize(d, ar.ctx()).is_ok());
      auto out = ar.down<float>(y, static_cast<std::size_t>(rows * cols));
      auto bytes = as_float(ar.down<std::uint8_t>(q, qbytes));  // the blocks themselves must match bit for bit
      out.insert(out.end(), bytes.begin(), bytes.end());
      return out;
    };
    cases.push_back(std::move(c));
  }
  // Every GGUF block type: blocks written on the host, dequantized by each backend.
  for (const DType qt : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ2_K,
                         DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    Case c;
    c.name = "gguf_dequantize_" + std::string(engine::dtype_name(qt));
    c.op = Op::kGgufDequantize;
    c.dtypes = {qt, DType::kF32};
    c.atol = 1e-6;
    c.rtol = 1e-6;
    c.run = [qt](Arena& ar) {
      const std::int64_t rows = 5, cols = 512;
      std::vector<std::uint8_t> qbytes(static_cast<std::size_t>(rows * engine::row_bytes(qt, cols)));
      GgufQuantizeArgs a;
      const auto x = testing::random_floats(static_cast<std::size_t>(rows * cols), 34, -3, 3);
      a.rows = rows; a.cols = cols; a.x = x.data(); a.ldx = cols; a.type = qt; a.y = qbytes.data();
      EXPECT_TRUE(cpu_backend().gguf_quantize(a, ExecContext::cpu()).is_ok());
      float* y = ar.up(std::vector<float>(static_cast<std::size_t>(rows * cols)));
      GgufDequantizeArgs d;
      d.rows = rows; d.cols = cols; d.x = ar.up(qbytes); d.type = qt; d.y = y; d.ldy = cols;
      EXPECT_TRUE(ar.backend().gguf_dequantize(d, ar.ctx()).is_ok());
      return ar.down<float>(y, static_cast<std::size_t>(rows * cols));
    };
    cases.push_back(std::move(c));
  }
  // ---- conv1d, sampling ------------------------------------------------------------------------
  for (const bool tr : {false, true}) {
    Case c;
    c.name = tr ? "conv_transpose1d_upsample" : "conv1d_strided_grouped";
    c.op = Op::kConv1d;
    c.dtypes = {DType::kF32};
    c.dims = {tr ? 16 : 5, tr ? 1 : 2};
    c.atol = 1e-4;
    c.rtol = 1e-4;
    c.run = [tr](Arena& ar) {
      Conv1dArgs a;
      a.transposed = tr; a.batch = 2; a.in_channels = tr ? 32 : 8; a.out_channels = tr ? 16 : 12; a.in_length = 50;
      a.kernel_size = tr ? 16 : 5; a.stride = tr ? 8 : 2; a.padding = tr ? 4 : 2; a.groups = tr ? 1 : 2;
      a.activation = Activation::kGeluTanh;
      const std::int64_t wn = tr ? a.in_channels * a.out_channels * a.kernel_size : a.out_channels * (a.in_channels / 2) * a.kernel_size;
      const std::int64_t lout = conv1d_output_length(a);
      a.x = ar.up(testing::random_floats(static_cast<std::size_t>(a.batch * a.in_channels * a.in_length), 30));
      a.w = ar.up(testing::random_floats(static_cast<std::size_t>(wn), 31));
      a.bias = ar.up(testing::random_floats(static_cast<std::size_t>(a.out_channels), 32));
      float* y = ar.up(std::vector<float>(static_cast<std::size_t>(a.batch * a.out_channels * lout)));
      a.y = y;
      EXPECT_TRUE(ar.backend().conv1d(a, ar.ctx()).is_ok());
      return ar.down<float>(y, static_cast<std::size_t>(a.batch * a.out_channels * lout));
    };
    cases.push_back(std::move(c));
  }
  for (const int top_k : {1, 5, 0}) {
    Case c;
    c.name = "sample_top_k_" + std::to_string(top_k);
    c.op = Op::kSample;
    c.dims = {32000, top_k, 1};  // temperature 0.8
    c.atol = 0.0;
    c.rtol = 0.0;
    c.run = [top_k](Arena& ar) {
      const std::int64_t batch = 4, vocab = 32000;
      std::int32_t* toks = ar.up(std::vector<std::int32_t>(static_cast<std::size_t>(batch)));
      SampleArgs a;
      a.batch = batch; a.vocab = vocab; a.ld_logits = vocab;
      a.logits = ar.up(testing::random_floats(static_cast<std::size_t>(batch * vocab), 33, -10, 10));
      a.temperature = 0.8f; a.top_k = top_k; a.top_p = top_k == 0 ? 0.9f : 1.0f; a.seed = 1234; a.step = 17;
      a.out_tokens = toks;
      EXPECT_TRUE(ar.backend().sample(a, ar.ctx()).is_ok());
      return as_float(ar.down<std::int32_t>(toks, static_cast<std::size_t>(batch)));
    };
    cases.push_back(std::move(c));
  }
  // ---- Q4 GEMM (GGUF blocks through each backend's pack hook) -----------------------------------
  struct Q { std::int64_t m, n, k; DType t; bool bias = false; };
  for (const Q g : {Q{1, 64, 256, DType::kQ4_0}, Q{5, 40, 576, DType::kQ4_1}, Q{8, 33, 96, DType::kQ8_0},
                    Q{1, 45, 896, DType::kQ5_0, true}, Q{3, 20, 160, DType::kQ5_1}, Q{2, 37, 512, DType::kQ4_K, true},
                    Q{1, 19, 256, DType::kQ5_K}, Q{4, 30, 768, DType::kQ6_K, true}}) {
    Case c;
    c.name = "gemm_q4_" + std::string(engine::dtype_name(g.t)) + "_" + std::to_string(g.m) + "x" + std::to_string(g.n) +
             "x" + std::to_string(g.k) + (g.bias ? "_bias" : "");
    c.op = Op::kGemmQ4;
    c.dtypes = {g.t};
    c.dims = {g.m, g.n, g.k};
    c.atol = 1e-4;
    c.rtol = 1e-4;
    c.run = [g](Arena& ar) {
      const auto w = testing::random_floats(static_cast<std::size_t>(g.n * g.k), 40);
      std::vector<std::uint8_t> rows(static_cast<std::size_t>(g.n * engine::row_bytes(g.t, g.k)));
      GgufQuantizeArgs q;
      q.rows = g.n; q.cols = g.k; q.x = w.data(); q.ldx = g.k; q.type = g.t; q.y = rows.data();
      EXPECT_TRUE(cpu_backend().gguf_quantize(q, ExecContext::cpu()).is_ok());
      const std::int64_t bytes = ar.backend().gemm_q4_packed_bytes(g.t, g.n, g.k);
      EXPECT_GT(bytes, 0);
      void* packed = ar.upload(std::vector<std::uint8_t>(static_cast<std::size_t>(bytes)).data(), static_cast<std::size_t>(bytes));
      GemmQ4PackArgs p;
      p.n = g.n; p.k = g.k; p.src = rows.data(); p.type = g.t; p.dst = packed;
      EXPECT_TRUE(ar.backend().pack_gemm_q4(p, ar.ctx()).is_ok());
      GemmQ4Args a;
      a.m = g.m; a.n = g.n; a.k = g.k; a.lda = g.k + 3; a.ldc = g.n + 1;
      a.a = ar.up(testing::random_floats(static_cast<std::size_t>(g.m * a.lda), 41, -2, 2));
      a.b = packed; a.b_type = g.t;
      if (g.bias) a.bias = ar.up(testing::random_floats(static_cast<std::size_t>(g.n), 43));
      float* c_out = ar.up(std::vector<float>(static_cast<std::size_t>(g.m * a.ldc)));
      a.c = c_out;
      EXPECT_TRUE(ar.backend().gemm_q4(a, ar.ctx()).is_ok());
      auto out = ar.down<float>(c_out, static_cast<std::size_t>(g.m * a.ldc));
      for (std::int64_t i = 0; i < g.m; ++i) out[static_cast<std::size_t>(i * a.ldc + g.n)] = 0.0f;  // padding column
      return out;
    };
    cases.push_back(std::move(c));
  }
  // ---- BF16 linear (each backend packs the same f32 weights) --------------------------------------
  for (const G g : {G{1, 384, 384, DType::kF32, DType::kBF16, DType::kF32, Activation::kNone},
                    G{7, 70, 97, DType::kF32, DType::kBF16, DType::kF32, Activation::kGeluErf}}) {
    Case c;
    c.name = "bf16_linear_" + std::to_string(g.m) + "x" + std::to_string(g.n) + "x" + std::to_string(g.k);
    c.op = Op::kBf16Linear;
    c.dims = {g.m, g.n, g.k};
    c.atol = 1e-4;
    c.rtol = 1e-4;
    c.run = [g](Arena& ar) {
      const auto w = testing::random_floats(static_cast<std::size_t>(g.n * g.k), 42);
      const std::int64_t bytes = ar.backend().bf16_packed_bytes(g.n, g.k);
      EXPECT_GT(bytes, 0);
      void* packed = ar.upload(std::vector<std::uint8_t>(static_cast<std::size_t>(bytes)).data(), static_cast<std::size_t>(bytes));
      Bf16PackArgs p;
      p.n = g.n; p.k = g.k; p.w = w.data(); p.ldw = g.k; p.dst = packed; p.dst_bytes = static_cast<std::size_t>(bytes);
      EXPECT_TRUE(ar.backend().pack_bf16(p, ar.ctx()).is_ok());
      Bf16LinearArgs a;
      a.m = g.m; a.n = g.n; a.k = g.k; a.lda = g.k; a.ldc = g.n;
      a.a = ar.up(testing::random_floats(static_cast<std::size_t>(g.m * g.k), 43));
      a.w = packed;
      a.bias = ar.up(testing::random_floats(static_cast<std::size_t>(g.n), 44));
      a.activation = g.act;
      float* y = ar.up(std::vector<float>(static_cast<std::size_t>(g.m * g.n)));
      a.c = y;
      EXPECT_TRUE(ar.backend().bf16_linear(a, ar.ctx()).is_ok());
      return ar.down<float>(y, static_cast<std::size_t>(g.m * g.n));
    };
    cases.push_back(std::move(c));
  }
  // ---- INT8 linear of QDQ models (each backend packs the same int8 weights; exact int32 sums) -----
  for (const G g : {G{1, 384, 384, DType::kF32, DType::kI8, DType::kF32, Activation::kNone},
                    G{29, 70, 97, DType::kF32, DType::kI8, DType::kF32, Activation::kGeluErf}}) {
    Case c;
    c.name = "int8_linear_" + std::to_string(g.m) + "x" + std::to_string(g.n) + "x" + std::to_string(g.k);
    c.op = Op::kInt8Linear;
    c.dims = {g.m, g.n, g.k};
    c.atol = 1e-5;
    c.rtol = 1e-5;
    c.run = [g](Arena& ar) {
      std::vector<std::int8_t> w(static_cast<std::size_t>(g.n * g.k));
      std::vector<std::uint8_t> x(static_cast<std::size_t>(g.m * g.k));
      for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<std::int8_t>(static_cast<int>((i * 37) % 256) - 128);
      for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<std::uint8_t>((i * 53) % 256);
      const std::int64_t bytes = ar.backend().int8_packed_bytes(g.n, g.k);
      EXPECT_GT(bytes, 0);
      void* packed = ar.upload(std::vector<std::uint8_t>(static_cast<std::size_t>(bytes)).data(), static_cast<std::size_t>(bytes));
      Int8PackArgs p;
      p.n = g.n; p.k = g.k; p.w = w.data(); p.ldw = g.k; p.dst = packed; p.dst_bytes = static_cast<std::size_t>(bytes);
      EXPECT_TRUE(ar.backend().pack_int8(p, ar.ctx()).is_ok());
      Int8LinearArgs a;
      a.m = g.m; a.n = g.n; a.k = g.k; a.lda = g.k; a.ldc = g.n; a.a_zero = 131;
      a.a = ar.up(x);
      a.w = packed;
      a.scales = ar.up(testing::random_floats(static_cast<std::size_t>(g.n), 47, 1e-5f, 1e-4f));
      a.bias = ar.up(testing::random_floats(static_cast<std::size_t>(g.n), 48));
      a.activation = g.act;
      float* y = ar.up(std::vector<float>(static_cast<std::size_t>(g.m * g.n)));
      a.c = y;
      EXPECT_TRUE(ar.backend().int8_linear(a, ar.ctx()).is_ok());
      return ar.down<float>(y, static_cast<std::size_t>(g.m * g.n));
    };
    cases.push_back(std::move(c));
  }
  // ---- quantize_rows (exact on every backend) and dequantize_sum -----------------------------------
  for (const std::int64_t rotate : {std::int64_t{0}, std::int64_t{64}}) {
    Case c;
    c.name = rotate == 0 ? "quantize_rows_smooth_two_pass" : "quantize_rows_rotated_two_pass";
    c.op = Op::kQuantizeRows;
    c.dims = {6, 576, rotate};
    c.atol = 0.0;
    c.rtol = 0.0;
    c.run = [rotate](Arena& ar) {
      const std::int64_t rows = 6, cols = 576, ld = 600;
      std::vector<float> x = testing::random_floats(static_cast<std::size_t>(rows * ld), 45, -3, 3);
      for (std::int64_t j = 0; j < cols; j += 97) x[static_cast<std::size_t>(j)] = 40.0f;  // outliers
      std::fill(x.begin() + 2 * ld, x.begin() + 3 * ld, 0.0f);                               // an all-zero row
      QuantizeRowsArgs a;
      a.rows = rows; a.cols = cols; a.ldx = ld; a.x = ar.up(x);
      if (rotate == 0) a.col_scale = ar.up(testing::random_floats(static_cast<std::size_t>(cols), 46, 0.25f, 2.0f));
      a.rotate_block = rotate;
      auto* q = ar.up(std::vector<std::int8_t>(static_cast<std::size_t>(2 * rows * cols)));
      float* s = ar.up(std::vector<float>(static_cast<std::size_t>(2 * rows)));
      a.q = q; a.ldq = cols; a.scales = s;
      a.q2 = q + rows * cols; a.ldq2 = cols; a.scales2 = s + rows;
      EXPECT_TRUE(ar.backend().quantize_rows(a, ar.ctx()).is_ok());
      auto out = as_float(ar.down<std::int8_t>(q, static_cast<std::size_t>(2 * rows * cols)));
      const auto sc = ar.down<float>(s, static_cast<std::size_t>(2 * rows));
      out.insert(out.end(), sc.begin(), sc.end());
      return out;
    };
    cases.push_back(std::move(c));
  }
  {
    Case c;
    c.name = "dequantize_sum_two_terms_gelu";
    c.op = Op::kDequantizeSum;
    c.dims = {9, 130};
    c.atol = 1e-5;
    c.rtol = 1e-5;
    c.run = [](Arena& ar) {
      const std::int64_t rows = 9, cols = 130, ld = 2 * cols;
      std::vector<std::int32_t> acc(static_cast<std::size_t>(2 * rows * ld));
      std::uint64_t st = 47;
      for (auto& v : acc) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        v = static_cast<std::int32_t>((st >> 33) % 400001) - 200000;
      }
      const std::int32_t* d_acc = ar.up(acc);
      const float* sa = ar.up(testing::random_floats(static_cast<std::size_t>(2 * rows), 48, 1e-4f, 1e-3f));
      const float* sb = ar.up(testing::random_floats(static_cast<std::size_t>(2 * cols), 49, 1e-4f, 1e-3f));
      DequantizeSumArgs a;
      a.rows = rows; a.cols = cols;
      a.terms[a.num_terms++] = {d_acc, ld, sa, sb};
      a.terms[a.num_terms++] = {d_acc + cols, ld, sa, sb + cols};
      a.terms[a.num_terms++] = {d_acc + rows * ld, ld, sa + rows, sb};
      a.bias = ar.up(testing::random_floats(static_cast<std::size_t>(cols), 50));
      a.activation = Activation::kGeluErf;
      float* y = ar.up(std::vector<float>(static_cast<std::size_t>(rows * cols)));
      a.y = y; a.ldy = cols;
      EXPECT_TRUE(ar.backend().dequantize_sum(a, ar.ctx()).is_ok());
      return ar.down<float>(y, static_cast<std::size_t>(rows * cols));
    };
    cases.push_back(std::move(c));
  }
  return cases;
}

const std::vector<Case>& all_cases() {
  static const std::vector<Case> cases = make_cases();
  return cases;
}

struct Param {
  std::string backend;
  std::size_t index;
};

class ConsistencyTest : public ::testing::TestWithParam<Param> {};

TEST_P(ConsistencyTest, MatchesCpuReference) {
  const Param& p = GetParam();
  const Case& c = all_cases()[p.index];
  const BackendRegistry& reg = BackendRegistry::instance();
  const Backend* be = nullptr;
  ExecContext ctx;
  if (p.backend == "cpu") {
    be = &reg.cpu();
  } else {
    be = reg.cuda();
    if (be == nullptr) GTEST_SKIP() << "no CUDA device";
    ctx.stream = engine::Stream{engine::Device::cuda(0), nullptr};
  }
  if (be->supports == nullptr || !be->supports({c.op, c.dtypes, c.dims})) {
    // The CPU backend is the reference: it must run every case. Another backend may decline one.
    if (p.backend == "cpu") FAIL() << "the CPU backend declines " << c.name;
    GTEST_SKIP() << p.backend << " backend does not support " << c.name;
  }
  ExecContext ref_ctx;
  ref_ctx.cpu_isa = CpuIsa::kScalar;
  std::vector<float> want;
  {
    Arena ar(reg.cpu(), ref_ctx);
    want = c.run(ar);
  }
  std::vector<float> got;
  {
    Arena ar(*be, ctx);
    got = c.run(ar);
  }
  EXPECT_TRUE(testing::all_close(got, std::vector<double>(want.begin(), want.end()), c.atol, c.rtol))
      << c.name << " on " << p.backend;
}

std::vector<Param> params() {
  std::vector<Param> out;
  for (const char* be : {"cpu", "cuda"})
    for (std::size_t i = 0; i < all_cases().size(); ++i) out.push_back({be, i});
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllOps, ConsistencyTest, ::testing::ValuesIn(params()),
                         [](const ::testing::TestParamInfo<Param>& info) {
                           return info.param.backend + "_" + all_cases()[info.param.index].name;
                         });

}  // namespace
}  // namespace parley::kernels
