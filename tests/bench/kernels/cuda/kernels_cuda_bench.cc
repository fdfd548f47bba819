// CUDA kernel benchmark: INT8 GEMM (cuBLASLt IMMA + our dequant epilogue) vs cuBLASLt FP16,
// 2:4 sparse INT8 (our mma.sp kernel) vs dense INT8, the Q4 decode GEMM (gemm_q4 on GGUF blocks)
// in GB/s of weights, and paged decode attention bandwidth as a fraction of the device's peak.
// Every call's Status is checked: a failed call is never timed, it is printed and the benchmark
// exits 1. The result of one call per shape is compared with the CPU backend (the reference) on
// the same inputs (the first rows of large products): a wrong result exits 1 too. Exits 0 with a
// message without a GPU. Depends on kernels/ (both backends), shared/engine/cuda.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cuda/backend.h"
#include "kernels/cuda/cublaslt_gemm.h"
#include "shared/engine/cuda/cuda_device.h"
#include "shared/engine/cuda/cuda_stream.h"
#include "shared/engine/cuda/device_buffer.h"
#include "shared/engine/half.h"

namespace {

using namespace parley;
using parley::engine::cuda::DeviceBuffer;

int g_failures = 0;

void fail(const std::string& what, const Status& st) {
  std::printf("FAILED: %s: %s\n", what.c_str(), st.to_string().c_str());
  ++g_failures;
}

/// Mean milliseconds of `fn` over `iters` after 3 warm-ups (events on the default stream); -1 when
/// any call failed (reported; the figure is not printed as a speed).
double time_ms(const std::string& what, const std::function<Status()>& fn, int iters = 20) {
  for (int i = 0; i < 3; ++i) {
    if (Status st = fn(); !st.is_ok()) {
      fail(what, st);
      return -1.0;
    }
  }
  auto start = engine::cuda::CudaEvent::create();
  auto stop = engine::cuda::CudaEvent::create();
  if (!start.ok() || !stop.ok()) {
    fail(what + " (events)", start.ok() ? stop.status() : start.status());
    return -1.0;
  }
  (void)start->record(nullptr);
  for (int i = 0; i < iters; ++i) {
    if (Status st = fn(); !st.is_ok()) {
      fail(what, st);
      return -1.0;
    }
  }
  (void)stop->record(nullptr);
  if (Status st = stop->synchronize(); !st.is_ok()) {
    fail(what + " (asynchronous error)", st);
    return -1.0;
  }
  auto ms = stop->elapsed_ms_since(*start);
  return ms.ok() ? *ms / iters : -1.0;
}

DeviceBuffer buffer(std::size_t bytes) {
  auto b = DeviceBuffer::allocate(bytes);
  if (!b.ok()) {
    std::printf("allocation failed: %s\n", b.status().to_string().c_str());
    std::exit(1);
  }
  (void)b->zero(nullptr);
  return std::move(*b);
}

template <typename T>
DeviceBuffer upload(const std::vector<T>& host) {
  DeviceBuffer b = buffer(host.size() * sizeof(T));
  if (Status st = b.copy_from_host(host.data(), host.size() * sizeof(T), nullptr); !st.is_ok()) {
    fail("upload", st);
    std::exit(1);
  }
  return b;
}

template <typename T>
std::vector<T> download(const DeviceBuffer& b, std::size_t n) {
  std::vector<T> host(n);
  if (cudaMemcpy(host.data(), b.data(), n * sizeof(T), cudaMemcpyDeviceToHost) != cudaSuccess) {
    fail("download", internal_error("cudaMemcpy"));
  }
  return host;
}

std::vector<float> randoms(std::size_t n, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::vector<float> v(n);
  std::uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (float& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = lo + (hi - lo) * static_cast<float>((s >> 40) & 0xFFFFFF) / 16777216.0f;
  }
  return v;
}

std::vector<std::int8_t> random_i8(std::size_t n, std::uint64_t seed) {
  std::vector<std::int8_t> v(n);
  std::uint64_t s = seed * 0x9E3779B97F4A7C15ull + 7;
  for (auto& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = static_cast<std::int8_t>(static_cast<int>((s >> 33) % 255) - 127);
  }
  return v;
}

std::vector<std::uint16_t> to_f16(const std::vector<float>& v) {
  std::vector<std::uint16_t> h(v.size());
  engine::f32_to_f16_n(v.data(), h.data(), v.size());
  return h;
}

/// Compares got with want (both row-major, `cols` wide, `rows` rows) within atol + rtol*|want|.
void verify(const std::string& what, const std::vector<float>& got, const std::vector<float>& want, double atol,
            double rtol) {
  double worst = 0.0;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double d = std::fabs(static_cast<double>(got[i]) - want[i]);
    worst = std::max(worst, d);
    if (!(d <= atol + rtol * std::fabs(want[i]))) ++bad;
  }
  if (bad > 0) {
    fail(what + " result", internal_error(std::to_string(bad) + " of " + std::to_string(want.size()) +
                                          " values off the CPU reference (max |diff| " + std::to_string(worst) + ")"));
  }
}

}  // namespace

int main() {
  if (engine::cuda::cuda_device_count() == 0) {
    std::printf("%s; skipping CUDA kernel benchmarks\n",
                engine::cuda::probe_cuda_devices().unavailable_reason.c_str());
    return 0;
  }
  const auto info = *engine::cuda::cuda_device_info(0);
  std::printf("device: %s (sm_%d%d, %d SMs)\n", info.name.c_str(), info.major, info.minor, info.multiprocessors);
  const kernels::Backend& be = kernels::cuda::cuda_backend_table();
  const kernels::Backend& cpu = kernels::cpu_backend();
  const kernels::ExecContext host = kernels::ExecContext::cpu();
  kernels::ExecContext ctx;
  ctx.stream = engine::Stream{engine::Device::cuda(0), nullptr};
  auto lt = kernels::cuda::CublasLt::create();
  if (!lt.ok()) {
    std::printf("cuBLASLt: %s\n", lt.status().to_string().c_str());
    return 1;
  }
  const bool sparse_ok = kernels::cuda::sparse24_meta_map(0).ok();

  std::printf("%-6s %-6s %-6s %12s %12s %12s %9s %9s\n", "M", "K", "N", "fp16 TOPS", "int8 TOPS", "sp24 TOPS",
              "i8/fp16", "sp24/i8");
  const int shapes[3][2] = {{384, 1536}, {576, 1536}, {2048, 8192}};
  for (const auto& kn : shapes) {
    const std::int64_t k = kn[0], n = kn[1];
    // Random operands (the same for every M: its first m rows).
    const auto xf = randoms(static_cast<std::size_t>(2048 * k), 1), wf = randoms(static_cast<std::size_t>(n * k), 2);
    const auto xi8 = random_i8(static_cast<std::size_t>(2048 * k), 3), wi8 = random_i8(static_cast<std::size_t>(n * k), 4);
    const auto sa_h = randoms(2048, 5, 1e-3f, 2e-3f), sb_h = randoms(static_cast<std::size_t>(n), 6, 1e-3f, 2e-3f);
    DeviceBuffer xh = upload(to_f16(xf)), wh = upload(to_f16(wf));
    DeviceBuffer xi = upload(xi8), wi = upload(wi8), sa = upload(sa_h), sb = upload(sb_h);
    for (std::int64_t m : {1, 8, 128, 2048}) {
      const std::string shape = std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n);
      const std::int64_t vr = std::min<std::int64_t>(m, 4);  // rows checked against the CPU
      DeviceBuffer yh = buffer(static_cast<std::size_t>(m * n * 2)), yf = buffer(static_cast<std::size_t>(m * n * 4));
      kernels::cuda::LtDenseGemm g;
      g.dtype = CUDA_R_16F;
      g.x = xh.data(), g.w = wh.data(), g.y = yh.data(), g.m = m, g.n = n, g.k = k;
      const double t16 = time_ms("fp16 gemm " + shape, [&] { return (*lt)->gemm(g, nullptr); });
      if (t16 > 0) {  // fp16 result vs the CPU's f32 product of the same f16 inputs
        const auto got16 = download<std::uint16_t>(yh, static_cast<std::size_t>(vr * n));
        std::vector<float> got(got16.size()), want(got16.size());
        engine::f16_to_f32_n(got16.data(), got.data(), got16.size());
        std::vector<float> xr(static_cast<std::size_t>(vr * k)), wr(wf.size());
        engine::f16_to_f32_n(to_f16(std::vector<float>(xf.begin(), xf.begin() + vr * k)).data(), xr.data(), xr.size());
        engine::f16_to_f32_n(to_f16(wf).data(), wr.data(), wr.size());
        kernels::GemmArgs c;
        c.m = vr, c.n = n, c.k = k, c.a = xr.data(), c.lda = k, c.b = wr.data(), c.ldb = k, c.c = want.data(), c.ldc = n;
        if (Status st = cpu.gemm(c, host); !st.is_ok()) fail("cpu reference", st);
        verify("fp16 gemm " + shape, got, want, 2e-2, 1e-2);
      }
      kernels::GemmInt8Args a;
      a.m = m, a.n = n, a.k = k, a.lda = k, a.ldb = k, a.ldc = n;
      a.a = xi.as<std::int8_t>(), a.b = wi.as<std::int8_t>(), a.a_scales = sa.as<float>(), a.b_scales = sb.as<float>();
      a.c = yf.data(), a.c_type = engine::DType::kF32;
      const double t8 = time_ms("int8 gemm " + shape, [&] { return be.gemm_int8(a, ctx); });
      if (t8 > 0) {
        const auto got = download<float>(yf, static_cast<std::size_t>(vr * n));
        std::vector<float> want(got.size());
        kernels::GemmInt8Args c = a;
        c.m = vr, c.a = xi8.data(), c.b = wi8.data(), c.a_scales = sa_h.data(), c.b_scales = sb_h.data(), c.c = want.data();
        if (Status st = cpu.gemm_int8(c, host); !st.is_ok()) fail("cpu reference", st);
        verify("int8 gemm " + shape, got, want, 1e-4, 1e-5);
      }
      double tsp = -1.0;
      if (sparse_ok) {
        // A valid 2:4 pattern (columns 0 and 1 of each group) packed by the backend.
        std::vector<std::int8_t> values(static_cast<std::size_t>(n * k / 2));
        for (std::size_t i = 0; i < values.size(); ++i) values[i] = wi8[i];
        std::vector<std::uint8_t> meta(static_cast<std::size_t>(n * k / 8), 0x44);
        kernels::Sparse24Matrix src{n, k, engine::DType::kI8, kernels::Sparse24Layout::kCpu, values.data(), k / 2, meta.data(), k / 8};
        const std::size_t bytes = be.sparse24_packed_bytes(src);
        DeviceBuffer packed = buffer(bytes);
        if (Status st = be.pack_sparse24(src, packed.data(), bytes, ctx); !st.is_ok()) {
          fail("sp24 pack " + shape, st);
        } else {
          kernels::Sparse24GemmArgs s;
          s.m = m, s.n = n, s.k = k, s.a = xi.data(), s.lda = k, s.a_type = engine::DType::kI8;
          s.b = kernels::Sparse24Matrix{n, k, engine::DType::kI8, kernels::Sparse24Layout::kBackendPacked, packed.data(), 0, nullptr, 0};
          s.a_scales = sa.as<float>(), s.b_scales = sb.as<float>(), s.c = yf.data(), s.ldc = n;
          tsp = time_ms("sp24 gemm " + shape, [&] { return be.sparse24_gemm(s, ctx); });
          if (tsp > 0) {
            const auto got = download<float>(yf, static_cast<std::size_t>(vr * n));
            std::vector<float> want(got.size());
            kernels::Sparse24GemmArgs c = s;
            c.m = vr, c.a = xi8.data(), c.b = src, c.a_scales = sa_h.data(), c.b_scales = sb_h.data(), c.c = want.data();
            if (Status st = cpu.sparse24_gemm(c, host); !st.is_ok()) fail("cpu reference", st);
            verify("sp24 gemm " + shape, got, want, 1e-4, 1e-5);
          }
        }
      }
      const double ops = 2.0 * static_cast<double>(m * n * k);
      auto tops = [&](double ms) { return ms > 0 ? ops / (ms * 1e-3) / 1e12 : 0.0; };
      std::printf("%-6lld %-6lld %-6lld %12.2f %12.2f %12.2f %9.2f %9.2f\n", static_cast<long long>(m),
                  static_cast<long long>(k), static_cast<long long>(n), tops(t16), tops(t8), tops(tsp),
                  t8 > 0 && t16 > 0 ? t16 / t8 : 0.0, tsp > 0 && t8 > 0 ? t8 / tsp : 0.0);
    }
  }

  // Q4 decode GEMM (GGUF q4_1 blocks, the LM's decode path) vs the INT8 GEMM, weights read per call.
  std::printf("\n%-6s %-6s %-6s %12s %12s %9s\n", "M", "K", "N", "q4_1 GB/s", "int8 GB/s", "q4/int8");
  for (const auto& kn : {std::pair<std::int64_t, std::int64_t>{576, 1536}, {2048, 8192}}) {
    const std::int64_t k = kn.first, n = kn.second;
    const auto wf = randoms(static_cast<std::size_t>(n * k), 7);
    std::vector<std::uint8_t> rows(static_cast<std::size_t>(n * engine::row_bytes(engine::DType::kQ4_1, k)));
    kernels::GgufQuantizeArgs q;
    q.rows = n, q.cols = k, q.x = wf.data(), q.ldx = k, q.type = engine::DType::kQ4_1, q.y = rows.data();
    if (Status st = cpu.gguf_quantize(q, host); !st.is_ok()) fail("q4_1 quantize", st);
    const std::int64_t gpu_bytes = be.gemm_q4_packed_bytes(engine::DType::kQ4_1, n, k);
    const std::int64_t cpu_bytes = cpu.gemm_q4_packed_bytes(engine::DType::kQ4_1, n, k);
    DeviceBuffer packed = buffer(static_cast<std::size_t>(gpu_bytes));
    std::vector<std::uint8_t> cpu_storage(static_cast<std::size_t>(cpu_bytes) + 64);
    // The CPU tiles are read with aligned 64-byte loads.
    std::uint8_t* cpu_packed = cpu_storage.data() + (64 - reinterpret_cast<std::uintptr_t>(cpu_storage.data()) % 64) % 64;
    kernels::GemmQ4PackArgs p;
    p.n = n, p.k = k, p.src = rows.data(), p.type = engine::DType::kQ4_1, p.dst = packed.data();
    if (Status st = be.pack_gemm_q4(p, ctx); !st.is_ok()) fail("q4_1 pack", st);
    p.dst = cpu_packed;
    if (Status st = cpu.pack_gemm_q4(p, host); !st.is_ok()) fail("q4_1 cpu pack", st);
    const auto xf = randoms(static_cast<std::size_t>(8 * k), 8);
    DeviceBuffer x = upload(xf), y = buffer(static_cast<std::size_t>(8 * n * 4));
    DeviceBuffer xi = upload(random_i8(static_cast<std::size_t>(8 * k), 9)), wi = upload(random_i8(static_cast<std::size_t>(n * k), 10));
    DeviceBuffer sa = upload(randoms(8, 11, 1e-3f, 2e-3f)), sb = upload(randoms(static_cast<std::size_t>(n), 12, 1e-3f, 2e-3f));
    for (std::int64_t m : {1, 8}) {
      const std::string shape = std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n);
      kernels::GemmQ4Args g;
      g.m = m, g.n = n, g.k = k, g.a = x.as<float>(), g.lda = k, g.b = packed.data(), g.b_type = engine::DType::kQ4_1;
      g.c = y.as<float>(), g.ldc = n;
      const double tq = time_ms("gemm_q4 " + shape, [&] { return be.gemm_q4(g, ctx); });
      if (tq > 0) {
        const auto got = download<float>(y, static_cast<std::size_t>(m * n));
        std::vector<float> want(got.size());
        kernels::GemmQ4Args c = g;
        c.a = xf.data(), c.b = cpu_packed, c.c = want.data();
        if (Status st = cpu.gemm_q4(c, host); !st.is_ok()) fail("cpu reference", st);
        verify("gemm_q4 " + shape, got, want, 1e-3, 1e-4);
      }
      kernels::GemmInt8Args a;
      a.m = m, a.n = n, a.k = k, a.lda = k, a.ldb = k, a.ldc = n;
      a.a = xi.as<std::int8_t>(), a.b = wi.as<std::int8_t>(), a.a_scales = sa.as<float>(), a.b_scales = sb.as<float>();
      a.c = y.data(), a.c_type = engine::DType::kF32;
      const double t8 = time_ms("int8 gemm " + shape, [&] { return be.gemm_int8(a, ctx); });
      auto gbs = [](double bytes, double ms) { return ms > 0 ? bytes / (ms * 1e-3) / 1e9 : 0.0; };
      std::printf("%-6lld %-6lld %-6lld %12.1f %12.1f %9.2f\n", static_cast<long long>(m), static_cast<long long>(k),
                  static_cast<long long>(n), gbs(static_cast<double>(gpu_bytes), tq),
                  gbs(static_cast<double>(n * k), t8), tq > 0 && t8 > 0 ? t8 / tq : 0.0);
    }
  }

  // Decode attention: 32 sequences x 1024 cached tokens, 32 heads (8 KV heads), head_dim 64, f16.
  {
    const int batch = 32, heads = 32, kv_heads = 8, hd = 64, page = 16, ctx_len = 1024;
    const int pages_per_seq = ctx_len / page, pages = batch * pages_per_seq;
    const std::size_t cache_elems = static_cast<std::size_t>(pages) * kv_heads * page * hd;
    auto k_h = to_f16(randoms(cache_elems, 13)), v_h = to_f16(randoms(cache_elems, 14));
    const auto q_h = to_f16(randoms(static_cast<std::size_t>(batch * heads * hd), 15));
    DeviceBuffer kc = upload(k_h), vc = upload(v_h), q = upload(q_h);
    DeviceBuffer out = buffer(static_cast<std::size_t>(batch * heads * hd * 2));
    std::vector<std::int32_t> table(static_cast<std::size_t>(batch * pages_per_seq)), lens(batch, ctx_len);
    for (std::size_t i = 0; i < table.size(); ++i) table[i] = static_cast<std::int32_t>(i);
    lens[1] = 17;  // a short one, checked too
    DeviceBuffer dt = upload(table), dl = upload(lens);
    kernels::AttentionDecodeArgs a;
    a.batch = batch, a.num_heads = heads;
    a.cache = kernels::PagedKvCache{kc.data(), vc.data(), pages, kv_heads, page, hd, engine::DType::kF16};
    a.q = q.data(), a.q_seq_stride = heads * hd, a.q_head_stride = hd;
    a.out = out.data(), a.out_seq_stride = heads * hd, a.out_head_stride = hd;
    a.block_tables = dt.as<std::int32_t>(), a.max_blocks_per_seq = pages_per_seq, a.context_lens = dl.as<std::int32_t>();
    const double ms = time_ms("attention decode", [&] { return be.attention_decode(a, ctx); });
    if (ms > 0) {
      const auto got16 = download<std::uint16_t>(out, static_cast<std::size_t>(batch * heads * hd));
      std::vector<std::uint16_t> want16(got16.size());
      kernels::AttentionDecodeArgs c = a;
      c.cache.k = k_h.data(), c.cache.v = v_h.data(), c.q = q_h.data(), c.out = want16.data();
      c.block_tables = table.data(), c.context_lens = lens.data();
      if (Status st = cpu.attention_decode(c, host); !st.is_ok()) fail("cpu reference", st);
      std::vector<float> got(got16.size()), want(got16.size());
      engine::f16_to_f32_n(got16.data(), got.data(), got.size());
      engine::f16_to_f32_n(want16.data(), want.data(), want.size());
      verify("attention decode", got, want, 4e-3, 4e-3);
      // Bytes: every sequence's K and V rows up to its length.
      double read = 0;
      for (int s = 0; s < batch; ++s) read += 2.0 * lens[static_cast<std::size_t>(s)] * kv_heads * hd * 2;
      const double gbs = read / (ms * 1e-3) / 1e9;
      const double peak = info.peak_memory_bandwidth_bytes_per_s / 1e9;
      std::printf("\nattention decode: %.3f ms, %.1f GB/s of K/V read", ms, gbs);
      if (peak > 0) std::printf(", %.1f%% of %.0f GB/s peak", 100.0 * gbs / peak, peak);
      std::printf("\n");
    }
  }
  if (g_failures > 0) {
    std::printf("\n%d call(s) failed or disagreed with the CPU reference: the figures above are not valid\n", g_failures);
    return 1;
  }
  std::printf("\nevery call succeeded; one call per shape matched the CPU reference\n");
  return 0;
}
