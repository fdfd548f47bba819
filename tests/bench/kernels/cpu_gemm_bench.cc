// CPU GEMM benchmark: our INT8 GEMM (AVX-512 VNNI and AVX2 variants) against our FP32 GEMM and
// OpenBLAS FP32 sgemm on the same shapes in the same run, plus 2:4-sparse INT8 against dense INT8
// and GGUF-quantized weights in the float GEMM against FP32 weights, and the small-M GGUF-block
// GEMM (gemm_q4, W4A8) against INT8 at M = 1..16, and the f32 GEMM with bf16 products
// (ExecContext::bf16_gemm, mixed-precision training) against FP32 and OpenBLAS on a step's products.
// "int8" and "bf16" are what a call gets by default (kAuto: AMX tiles where the CPU has them);
// the "vnni" columns cap the same call at the AVX-512 vector kernels.
// Shapes (K x N of the weight) come from real models: MiniLM (384x1536, 1536x384), SmolLM2-135M
// (576x1536), 1B-class LMs (2048x8192); M = tokens per call (1 = decode, 8, 128, 2048 = prefill).
// Prints GFLOP/s (2*M*N*K per call; "GOP/s" for integer math) and ratios. Time: best of several
// repetitions of >= ~60 ms each. Usage: kernels_cpu_bench [--quick]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/gemm.h"
#include "kernels/ops/gemm_int8.h"
#include "kernels/ops/gemm_q4.h"
#include "kernels/ops/quantize.h"
#include "kernels/ops/sparse24.h"
#include "shared/common/status.h"
#include "shared/engine/dtype.h"

#if defined(PARLEY_HAVE_OPENBLAS)
#include <cblas.h>
extern "C" char* openblas_get_corename(void);
extern "C" int openblas_get_num_threads(void);
#endif

namespace {

using namespace parley::kernels;
using Clock = std::chrono::steady_clock;

std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::vector<float> v(n);
  unsigned s = seed * 2654435761u + 1;
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>(static_cast<int>(s >> 9) % 2001 - 1000) / 1000.0f;
  }
  return v;
}

// Every call's Status is checked (a failing call returns at once and would look fast): the first
// failure prints what failed and ends the benchmark with exit code 1.
void check(const parley::Status& status, const char* what) {
  if (status.is_ok()) return;
  std::fprintf(stderr, "kernels_cpu_bench: %s failed: %s\n", what, status.to_string().c_str());
  std::exit(1);
}

// Seconds per call: best of `reps` batches, each batch long enough to be measurable.
double time_call(const std::function<void()>& fn, double min_batch_s) {
  fn();  // warm-up (page faults, caches, thread wake-up)
  int iters = 1;
  for (;;) {
    const auto t0 = Clock::now();
    for (int i = 0; i < iters; ++i) fn();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s >= min_batch_s || iters >= (1 << 20)) break;
    iters *= 2;
  }
  double best = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = Clock::now();
    for (int i = 0; i < iters; ++i) fn();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count() / iters);
  }
  return best;
}

struct Shape {
  const char* model;
  std::int64_t k, n;
};

}  // namespace

int main(int argc, char** argv) {
#if defined(PARLEY_HAVE_OPENBLAS)
  // OpenBLAS picks its kernels from CPUID when it loads; releases older than the CPU fall back to
  // Haswell (AVX2) kernels on AVX-512 machines. Give the reference its AVX-512 kernels by
  // re-running once with OPENBLAS_CORETYPE set (a user-set value is left alone).
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr && __builtin_cpu_supports("avx512f")) {
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    execv("/proc/self/exe", argv);  // returns only on failure: then run with what we have
  }
#endif
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const double batch_s = quick ? 0.01 : 0.06;
  ThreadPool& pool = ThreadPool::global();
  const CpuIsa best = cpu::detected_isa();
  std::printf("CPU GEMM benchmark: %d threads, best ISA %s\n", pool.size(), std::string(cpu_isa_name(best)).c_str());
#if defined(PARLEY_HAVE_OPENBLAS)
  openblas_set_num_threads(pool.size());
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::printf("reference: OpenBLAS %s core, %d threads (OPENBLAS_CORETYPE=%s%s)\n", openblas_get_corename(),
              openblas_get_num_threads(), coretype ? coretype : "unset", coretype && std::string(coretype) != "SkylakeX" &&
              __builtin_cpu_supports("avx512f") ? "; this CPU has AVX-512: OPENBLAS_CORETYPE=SkylakeX gives OpenBLAS its AVX-512 kernels" : "");
#else
  std::printf("reference: OpenBLAS not available at build time (install libopenblas-dev); its columns are skipped\n");
#endif
  std::printf("AMX tiles: %s\n", cpu::amx_ready() ? "yes (int8 and bf16 columns; vnni columns without)" : "no");
  std::printf("\n%-13s %5s %5s %5s | %9s %9s %9s | %9s %9s | %8s %8s %8s\n", "model", "K", "N", "M", "int8", "int8vnni",
              "int8avx2", "fp32", "openblas", "i8/fp32", "i8/blas", "fp32/bl");
  std::printf("%-13s %5s %5s %5s | %9s %9s %9s | %9s %9s | %8s %8s %8s\n", "", "", "", "", "GOP/s", "GOP/s", "GOP/s",
              "GFLOP/s", "GFLOP/s", "", "", "");

  const Shape shapes[] = {{"MiniLM", 384, 1536}, {"MiniLM", 1536, 384}, {"SmolLM2-135M", 576, 1536}, {"1B LM", 2048, 8192}};
  for (const Shape& s : shapes) {
    std::vector<std::int64_t> ms = {1, 8, 128};
    if (s.k * s.n <= 1536 * 1536 && !quick) ms.push_back(2048);
    const std::int64_t max_m = ms.back();
    const auto a = random_floats(static_cast<std::size_t>(max_m * s.k), 1);
    const auto w = random_floats(static_cast<std::size_t>(s.n * s.k), 2);
    std::vector<float> c(static_cast<std::size_t>(max_m * s.n));
    // INT8 operands: weights per output channel, activations per token.
    std::vector<std::int8_t> aq(a.size()), wq(w.size());
    std::vector<float> as(static_cast<std::size_t>(max_m)), ws(static_cast<std::size_t>(s.n));
    QuantizeArgs q;
    q.rows = max_m; q.cols = s.k; q.x = a.data(); q.ldx = s.k; q.y = aq.data(); q.ldy = s.k; q.scales = as.data();
    check(cpu::quantize(q), "quantize");
    q.rows = s.n; q.x = w.data(); q.y = wq.data(); q.scales = ws.data();
    check(cpu::quantize(q), "quantize");
    for (std::int64_t m : ms) {
      const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(s.n) * static_cast<double>(s.k);
      GemmInt8Args gi;
      gi.m = m; gi.n = s.n; gi.k = s.k; gi.a = aq.data(); gi.lda = s.k; gi.b = wq.data(); gi.ldb = s.k;
      gi.a_scales = as.data(); gi.b_scales = ws.data(); gi.c = c.data(); gi.ldc = s.n;
      ExecContext ctx;
      const double t_i8 = time_call([&] { check(cpu::gemm_int8(gi, ctx), "gemm_int8"); }, batch_s);
      ExecContext vnni;
      vnni.cpu_isa = CpuIsa::kAvx512Vnni;
      const double t_i8_vnni = best >= CpuIsa::kAvx512Vnni ? time_call([&] { check(cpu::gemm_int8(gi, vnni), "gemm_int8"); }, batch_s) : 0.0;
      ExecContext ctx2;
      ctx2.cpu_isa = CpuIsa::kAvx2;
      const double t_i8_avx2 = best >= CpuIsa::kAvx2 ? time_call([&] { check(cpu::gemm_int8(gi, ctx2), "gemm_int8"); }, batch_s) : 0.0;
      GemmArgs gf;
      gf.m = m; gf.n = s.n; gf.k = s.k; gf.a = a.data(); gf.lda = s.k; gf.b = w.data(); gf.ldb = s.k;
      gf.c = c.data(); gf.ldc = s.n;
      const double t_f32 = time_call([&] { check(cpu::gemm(gf, ctx), "gemm"); }, batch_s);
      double t_blas = 0.0;
#if defined(PARLEY_HAVE_OPENBLAS)
      t_blas = time_call([&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(s.n), static_cast<int>(s.k),
                    1.0f, a.data(), static_cast<int>(s.k), w.data(), static_cast<int>(s.k), 0.0f, c.data(), static_cast<int>(s.n));
      }, batch_s);
#endif
      auto rate = [&](double t) { return t > 0 ? flops / t / 1e9 : 0.0; };
      std::printf("%-13s %5lld %5lld %5lld | %9.1f %9.1f %9.1f | %9.1f %9.1f | %7.2fx %7.2fx %7.2fx\n", s.model,
                  static_cast<long long>(s.k), static_cast<long long>(s.n), static_cast<long long>(m), rate(t_i8),
                  rate(t_i8_vnni), rate(t_i8_avx2), rate(t_f32), rate(t_blas), t_f32 / t_i8, t_blas > 0 ? t_blas / t_i8 : 0.0,
                  t_blas > 0 ? t_blas / t_f32 : 0.0);
      std::fflush(stdout);
    }
  }

  // 2:4 sparse INT8 (weights half-size; expanded per strip on the CPU) vs dense INT8.
  std::printf("\n2:4 sparse INT8 vs dense INT8 (the CPU has no sparse math units: the gain is memory only)\n");
  std::printf("%-13s %5s %5s %5s | %9s %9s | %8s\n", "model", "K", "N", "M", "dense", "2:4", "2:4/dense");
  for (const Shape& s : {Shape{"MiniLM", 384, 1536}, Shape{"1B LM", 2048, 8192}}) {
    auto w = random_floats(static_cast<std::size_t>(s.n * s.k), 3);
    Prune24Args p;
    p.rows = s.n; p.cols = s.k; p.w = w.data(); p.ldw = s.k;
    check(prune24(p), "prune24");
    std::vector<std::int8_t> wq(w.size());
    std::vector<float> ws(static_cast<std::size_t>(s.n));
    QuantizeArgs q;
    q.rows = s.n; q.cols = s.k; q.x = w.data(); q.ldx = s.k; q.y = wq.data(); q.ldy = s.k; q.scales = ws.data();
    check(cpu::quantize(q), "quantize");
    std::vector<std::int8_t> vals(static_cast<std::size_t>(s.n * s.k / 2));
    std::vector<std::uint8_t> meta(static_cast<std::size_t>(s.n * sparse24_meta_bytes(s.k)));
    Compress24Args cp;
    cp.rows = s.n; cp.cols = s.k; cp.w = wq.data(); cp.ldw = s.k; cp.dtype = parley::engine::DType::kI8;
    cp.values = vals.data(); cp.values_ld = s.k / 2; cp.meta = meta.data(); cp.meta_ld = sparse24_meta_bytes(s.k);
    check(compress24(cp), "compress24");
    for (std::int64_t m : {1, 128}) {
      const auto a = random_floats(static_cast<std::size_t>(m * s.k), 4);
      std::vector<std::int8_t> aq(a.size());
      std::vector<float> as(static_cast<std::size_t>(m)), c(static_cast<std::size_t>(m * s.n));
      q.rows = m; q.x = a.data(); q.y = aq.data(); q.scales = as.data();
      check(cpu::quantize(q), "quantize");
      GemmInt8Args gi;
      gi.m = m; gi.n = s.n; gi.k = s.k; gi.a = aq.data(); gi.lda = s.k; gi.b = wq.data(); gi.ldb = s.k;
      gi.a_scales = as.data(); gi.b_scales = ws.data(); gi.c = c.data(); gi.ldc = s.n;
      Sparse24GemmArgs gs;
      gs.m = m; gs.n = s.n; gs.k = s.k; gs.a = aq.data(); gs.lda = s.k; gs.a_type = parley::engine::DType::kI8;
      gs.b.rows = s.n; gs.b.cols = s.k; gs.b.dtype = parley::engine::DType::kI8; gs.b.values = vals.data();
      gs.b.values_ld = s.k / 2; gs.b.meta = meta.data(); gs.b.meta_ld = cp.meta_ld;
      gs.a_scales = as.data(); gs.b_scales = ws.data(); gs.c = c.data(); gs.ldc = s.n;
      const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(s.n) * static_cast<double>(s.k);
      const double td = time_call([&] { check(cpu::gemm_int8(gi), "gemm_int8"); }, batch_s);
      const double ts = time_call([&] { check(cpu::sparse24_gemm(gs), "sparse24_gemm"); }, batch_s);
      std::printf("%-13s %5lld %5lld %5lld | %9.1f %9.1f | %7.2fx\n", s.model, static_cast<long long>(s.k),
                  static_cast<long long>(s.n), static_cast<long long>(m), flops / td / 1e9, flops / ts / 1e9, td / ts);
    }
  }
  // GGUF-typed weights through the float GEMM (dequantized on the fly) vs INT8 and FP32 weights.
  std::printf("\nGGUF weights in the float GEMM (f32 activations; dequantized while reading) vs FP32 weights\n");
  std::printf("%-13s %5s %5s %5s | %9s %9s %9s | %9s\n", "model", "K", "N", "M", "f32 GF/s", "q8_0", "q4_0", "q4_0/f32");
  for (const Shape& s : {Shape{"SmolLM2-135M", 576, 1536}, Shape{"1B LM", 2048, 8192}}) {
    const auto w = random_floats(static_cast<std::size_t>(s.n * s.k), 5);
    std::vector<std::uint8_t> q8(static_cast<std::size_t>(s.n * parley::engine::row_bytes(parley::engine::DType::kQ8_0, s.k)));
    std::vector<std::uint8_t> q4(static_cast<std::size_t>(s.n * parley::engine::row_bytes(parley::engine::DType::kQ4_0, s.k)));
    GgufQuantizeArgs gq;
    gq.rows = s.n; gq.cols = s.k; gq.x = w.data(); gq.ldx = s.k; gq.type = parley::engine::DType::kQ8_0; gq.y = q8.data();
    check(cpu::gguf_quantize(gq), "gguf_quantize");
    gq.type = parley::engine::DType::kQ4_0; gq.y = q4.data();
    check(cpu::gguf_quantize(gq), "gguf_quantize");
    for (std::int64_t m : {1, 128}) {
      const auto a = random_floats(static_cast<std::size_t>(m * s.k), 6);
      std::vector<float> c(static_cast<std::size_t>(m * s.n));
      GemmArgs g;
      g.m = m; g.n = s.n; g.k = s.k; g.a = a.data(); g.lda = s.k; g.ldb = s.k; g.c = c.data(); g.ldc = s.n;
      const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(s.n) * static_cast<double>(s.k);
      g.b = w.data(); g.b_type = parley::engine::DType::kF32;
      const double tf = time_call([&] { check(cpu::gemm(g), "gemm"); }, batch_s);
      g.b = q8.data(); g.b_type = parley::engine::DType::kQ8_0;
      const double t8 = time_call([&] { check(cpu::gemm(g), "gemm"); }, batch_s);
      g.b = q4.data(); g.b_type = parley::engine::DType::kQ4_0;
      const double t4 = time_call([&] { check(cpu::gemm(g), "gemm"); }, batch_s);
      std::printf("%-13s %5lld %5lld %5lld | %9.1f %9.1f %9.1f | %8.2fx\n", s.model, static_cast<long long>(s.k),
                  static_cast<long long>(s.n), static_cast<long long>(m), flops / tf / 1e9, flops / t8 / 1e9, flops / t4 / 1e9, tf / t4);
    }
  }
  // Small-M GEMM on GGUF 4-bit blocks (gemm_q4: W4A8, activations quantized per 32-block inside
  // the call) vs INT8 (per-token activation quantization + gemm_int8: W8A8). Both timed from f32
  // activations, as a model layer calls them. GB/s = weight bytes read per second.
  std::printf("\nQ4 GEMM (GGUF blocks, W4A8) vs INT8 GEMM (W8A8), f32 activations in, incl. activation quantization\n");
  std::printf("%-13s %5s %5s %5s | %9s %9s %9s %9s %9s | %8s %8s | %9s %9s\n", "model", "K", "N", "M", "int8 GOP",
              "q4_0", "q4_1", "q8_0", "q4_1avx2", "q4_1/i8", "q4_0/i8", "i8 GB/s", "q4_1 GB/s");
  for (const Shape& s : {Shape{"SmolLM2-135M", 576, 1536}, Shape{"SmolLM2-135M", 1536, 576}, Shape{"1B LM", 2048, 8192}}) {
    using parley::engine::DType;
    const auto w = random_floats(static_cast<std::size_t>(s.n * s.k), 7);
    std::vector<std::int8_t> wq(w.size());
    std::vector<float> ws(static_cast<std::size_t>(s.n));
    QuantizeArgs q;
    q.rows = s.n; q.cols = s.k; q.x = w.data(); q.ldx = s.k; q.y = wq.data(); q.ldy = s.k; q.scales = ws.data();
    check(cpu::quantize(q), "quantize");
    std::vector<std::vector<std::uint8_t>> packed;
    for (DType t : {DType::kQ4_0, DType::kQ4_1, DType::kQ8_0}) {
      std::vector<std::uint8_t> blocks(static_cast<std::size_t>(s.n * parley::engine::row_bytes(t, s.k)));
      GgufQuantizeArgs gq;
      gq.rows = s.n; gq.cols = s.k; gq.x = w.data(); gq.ldx = s.k; gq.type = t; gq.y = blocks.data();
      check(cpu::gguf_quantize(gq), "gguf_quantize");
      packed.emplace_back(static_cast<std::size_t>(gemm_q4_packed_bytes(t, s.n, s.k)));
      GemmQ4PackArgs pa;
      pa.n = s.n; pa.k = s.k; pa.src = blocks.data(); pa.type = t; pa.dst = packed.back().data();
      check(cpu::pack_gemm_q4(pa), "pack_gemm_q4");
    }
    for (std::int64_t m : {1, 2, 4, 8, 16}) {
      const auto a = random_floats(static_cast<std::size_t>(m * s.k), 8);
      std::vector<std::int8_t> aq(a.size());
      std::vector<float> as(static_cast<std::size_t>(m)), c(static_cast<std::size_t>(m * s.n));
      QuantizeArgs qa = q;
      qa.rows = m; qa.x = a.data(); qa.y = aq.data(); qa.scales = as.data();
      GemmInt8Args gi;
      gi.m = m; gi.n = s.n; gi.k = s.k; gi.a = aq.data(); gi.lda = s.k; gi.b = wq.data(); gi.ldb = s.k;
      gi.a_scales = as.data(); gi.b_scales = ws.data(); gi.c = c.data(); gi.ldc = s.n;
      const double t_i8 = time_call([&] { check(cpu::quantize(qa), "quantize"); check(cpu::gemm_int8(gi), "gemm_int8"); }, batch_s);
      GemmQ4Args g4;
      g4.m = m; g4.n = s.n; g4.k = s.k; g4.a = a.data(); g4.lda = s.k; g4.c = c.data(); g4.ldc = s.n;
      double t[3];
      const DType types[3] = {DType::kQ4_0, DType::kQ4_1, DType::kQ8_0};
      for (int v = 0; v < 3; ++v) {
        g4.b = packed[static_cast<std::size_t>(v)].data(); g4.b_type = types[v];
        t[v] = time_call([&] { check(cpu::gemm_q4(g4), "gemm_q4"); }, batch_s);
      }
      ExecContext ctx2;
      ctx2.cpu_isa = CpuIsa::kAvx2;
      g4.b = packed[1].data(); g4.b_type = DType::kQ4_1;
      const double t_avx2 = best >= CpuIsa::kAvx2 ? time_call([&] { check(cpu::gemm_q4(g4, ctx2), "gemm_q4"); }, batch_s) : 0.0;
      const double ops = 2.0 * static_cast<double>(m) * static_cast<double>(s.n) * static_cast<double>(s.k);
      auto rate = [&](double x) { return x > 0 ? ops / x / 1e9 : 0.0; };
      const double i8_bytes = static_cast<double>(s.n * s.k), q41_bytes = static_cast<double>(packed[1].size());
      std::printf("%-13s %5lld %5lld %5lld | %9.1f %9.1f %9.1f %9.1f %9.1f | %7.2fx %7.2fx | %9.1f %9.1f\n", s.model,
                  static_cast<long long>(s.k), static_cast<long long>(s.n), static_cast<long long>(m), rate(t_i8),
                  rate(t[0]), rate(t[1]), rate(t[2]), rate(t_avx2), t_i8 / t[1], t_i8 / t[0], i8_bytes / t_i8 / 1e9,
                  q41_bytes / t[1] / 1e9);
      std::fflush(stdout);
    }
  }
  // Mixed-precision training (ExecContext::bf16_gemm): the three products of a MiniLM linear in
  // one fine-tuning step (512 tokens), all-f32 arguments, against our FP32 GEMM and OpenBLAS
  // sgemm on the same call. bf16 includes packing B on every call (what the trainer pays).
  std::printf("\nMixed precision (bf16_gemm, B packed per call) vs FP32, a fine-tuning step's products, 512 tokens\n");
  std::printf("%-13s %-12s %5s %5s %5s | %9s %9s %9s %9s | %8s %8s\n", "model", "product", "M", "N", "K", "f32 GF/s",
              "bf16", "bf16vnni", "OpenBLAS", "bf16/f32", "bf16/BLAS");
  const std::int64_t tokens = 512;
  for (const Shape& s : {Shape{"MiniLM", 384, 1536}, Shape{"MiniLM", 1536, 384}}) {
    const auto w = random_floats(static_cast<std::size_t>(s.n * s.k), 7);
    const auto x = random_floats(static_cast<std::size_t>(tokens * std::max(s.k, s.n)), 8);
    const auto dyt = random_floats(static_cast<std::size_t>(s.n * tokens), 9);
    std::vector<float> c(static_cast<std::size_t>(std::max(tokens, s.n) * std::max(s.k, s.n)));
    struct Product {
      const char* name;
      std::int64_t m, n, k;
      const float* a;
      const float* b;
      bool bt;
    };
    // forward y = x W^T; input gradient dx = dy W (W read as [K, N]); weight gradient dW = dy^T x.
    const Product products[] = {{"forward", tokens, s.n, s.k, x.data(), w.data(), true},
                                {"input grad", tokens, s.k, s.n, x.data(), w.data(), false},
                                {"weight grad", s.n, s.k, tokens, dyt.data(), x.data(), false}};
    for (const Product& pr : products) {
      GemmArgs g;
      g.m = pr.m; g.n = pr.n; g.k = pr.k; g.a = pr.a; g.lda = pr.k; g.b = pr.b; g.ldb = pr.bt ? pr.k : pr.n;
      g.b_transposed = pr.bt; g.c = c.data(); g.ldc = pr.n;
      const double flops = 2.0 * static_cast<double>(pr.m) * static_cast<double>(pr.n) * static_cast<double>(pr.k);
      ExecContext f32, b16;
      b16.bf16_gemm = true;
      const double t_f32 = time_call([&] { check(cpu::gemm(g, f32), "gemm"); }, batch_s);
      const double t_b16 = time_call([&] { check(cpu::gemm(g, b16), "gemm bf16"); }, batch_s);
      ExecContext b16v = b16;
      b16v.cpu_isa = CpuIsa::kAvx512Vnni;
      const double t_b16v = time_call([&] { check(cpu::gemm(g, b16v), "gemm bf16"); }, batch_s);
      double t_blas = 0.0;
#if defined(PARLEY_HAVE_OPENBLAS)
      t_blas = time_call([&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, pr.bt ? CblasTrans : CblasNoTrans, static_cast<int>(pr.m),
                    static_cast<int>(pr.n), static_cast<int>(pr.k), 1.0f, pr.a, static_cast<int>(pr.k), pr.b,
                    static_cast<int>(g.ldb), 0.0f, c.data(), static_cast<int>(pr.n));
      }, batch_s);
#endif
      auto rate = [&](double t) { return t > 0 ? flops / t / 1e9 : 0.0; };
      std::printf("%-13s %-12s %5lld %5lld %5lld | %9.1f %9.1f %9.1f %9.1f | %7.2fx %7.2fx\n", s.model, pr.name,
                  static_cast<long long>(pr.m), static_cast<long long>(pr.n), static_cast<long long>(pr.k), rate(t_f32),
                  rate(t_b16), rate(t_b16v), rate(t_blas), t_f32 / t_b16, t_blas > 0 ? t_blas / t_b16 : 0.0);
      std::fflush(stdout);
    }
  }
  return 0;
}
