// CUDA kernel benchmark: INT8 GEMM (cuBLASLt IMMA + our dequant epilogue) vs cuBLASLt FP16,
// 2:4 sparse INT8 (our mma.sp kernel) vs dense INT8, and paged decode attention bandwidth as a
// fraction of the device's peak. Prints TOPS and ratios; exits 0 with a message without a GPU.
// Depends on kernels/cuda, shared/engine/cuda.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <utility>
#include <functional>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cuda/backend.h"
#include "kernels/cuda/cublaslt_gemm.h"
#include "shared/engine/cuda/cuda_device.h"
#include "shared/engine/cuda/cuda_stream.h"
#include "shared/engine/cuda/device_buffer.h"

namespace {

using namespace parley;
using parley::engine::cuda::DeviceBuffer;

/// Mean milliseconds of `fn` over `iters` after 3 warm-ups (events on the default stream).
double time_ms(const std::function<void()>& fn, int iters = 20) {
  for (int i = 0; i < 3; ++i) fn();
  auto start = engine::cuda::CudaEvent::create();
  auto stop = engine::cuda::CudaEvent::create();
  if (!start.ok() || !stop.ok()) return -1.0;
  (void)start->record(nullptr);
  for (int i = 0; i < iters; ++i) fn();
  (void)stop->record(nullptr);
  (void)stop->synchronize();
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
  kernels::ExecContext ctx;
  ctx.stream = engine::Stream{engine::Device::cuda(0), nullptr};
  auto lt = kernels::cuda::CublasLt::create();
  if (!lt.ok()) {
    std::printf("cuBLASLt: %s\n", lt.status().to_string().c_str());
    return 1;
  }
  const bool sparse_ok = kernels::cuda::sparse24_convention(0).ok();

  std::printf("%-6s %-6s %-6s %12s %12s %12s %9s %9s\n", "M", "K", "N", "fp16 TOPS", "int8 TOPS", "sp24 TOPS",
              "i8/fp16", "sp24/i8");
  const int shapes[3][2] = {{384, 1536}, {576, 1536}, {2048, 8192}};
  for (const auto& kn : shapes) {
    const std::int64_t k = kn[0], n = kn[1];
    for (std::int64_t m : {1, 8, 128, 2048}) {
      DeviceBuffer xh = buffer(static_cast<std::size_t>(m * k * 2)), wh = buffer(static_cast<std::size_t>(n * k * 2)),
                   yh = buffer(static_cast<std::size_t>(m * n * 2));
      DeviceBuffer xi = buffer(static_cast<std::size_t>(m * k)), wi = buffer(static_cast<std::size_t>(n * k)),
                   yf = buffer(static_cast<std::size_t>(m * n * 4)), sa = buffer(static_cast<std::size_t>(m * 4)),
                   sb = buffer(static_cast<std::size_t>(n * 4));
      kernels::cuda::LtDenseGemm g;
      g.dtype = CUDA_R_16F;
      g.x = xh.data(), g.w = wh.data(), g.y = yh.data(), g.m = m, g.n = n, g.k = k;
      const double t16 = time_ms([&] { (void)(*lt)->gemm(g, nullptr); });
      kernels::GemmInt8Args a;
      a.m = m, a.n = n, a.k = k, a.lda = k, a.ldb = k, a.ldc = n;
      a.a = xi.as<std::int8_t>(), a.b = wi.as<std::int8_t>(), a.a_scales = sa.as<float>(), a.b_scales = sb.as<float>();
      a.c = yf.data(), a.c_type = engine::DType::kF32;
      const double t8 = time_ms([&] { (void)be.gemm_int8(a, ctx); });
      double tsp = -1.0;
      if (sparse_ok) {
        // A valid 2:4 pattern (columns 0 and 1 of each group) packed by the backend.
        std::vector<std::int8_t> values(static_cast<std::size_t>(n * k / 2), 1);
        std::vector<std::uint8_t> meta(static_cast<std::size_t>(n * k / 8), 0x44);
        kernels::Sparse24Matrix src{n, k, engine::DType::kI8, kernels::Sparse24Layout::kCpu, values.data(), k / 2, meta.data(), k / 8};
        const std::size_t bytes = be.sparse24_packed_bytes(src);
        DeviceBuffer packed = buffer(bytes);
        if (be.pack_sparse24(src, packed.data(), bytes, ctx).is_ok()) {
          kernels::Sparse24GemmArgs s;
          s.m = m, s.n = n, s.k = k, s.a = xi.data(), s.lda = k, s.a_type = engine::DType::kI8;
          s.b = kernels::Sparse24Matrix{n, k, engine::DType::kI8, kernels::Sparse24Layout::kBackendPacked, packed.data(), 0, nullptr, 0};
          s.a_scales = sa.as<float>(), s.b_scales = sb.as<float>(), s.c = yf.data(), s.ldc = n;
          tsp = time_ms([&] { (void)be.sparse24_gemm(s, ctx); });
        }
      }
      const double ops = 2.0 * static_cast<double>(m * n * k);
      auto tops = [&](double ms) { return ms > 0 ? ops / (ms * 1e-3) / 1e12 : 0.0; };
      std::printf("%-6lld %-6lld %-6lld %12.2f %12.2f %12.2f %9.2f %9.2f\n", static_cast<long long>(m),
                  static_cast<long long>(k), static_cast<long long>(n), tops(t16), tops(t8), tops(tsp),
                  t8 > 0 ? t16 / t8 : 0.0, tsp > 0 ? t8 / tsp : 0.0);
    }
  }

  // Decode attention: 32 sequences x 1024 cached tokens, 32 heads (8 KV heads), head_dim 64, f16.
  {
    const int batch = 32, heads = 32, kv_heads = 8, hd = 64, page = 16, ctx_len = 1024;
    const int pages_per_seq = ctx_len / page, pages = batch * pages_per_seq;
    const std::size_t cache_bytes = static_cast<std::size_t>(pages) * kv_heads * page * hd * 2;
    DeviceBuffer kc = buffer(cache_bytes), vc = buffer(cache_bytes);
    DeviceBuffer q = buffer(static_cast<std::size_t>(batch * heads * hd * 2)), out = buffer(static_cast<std::size_t>(batch * heads * hd * 2));
    std::vector<std::int32_t> table(static_cast<std::size_t>(batch * pages_per_seq)), lens(batch, ctx_len);
    for (std::size_t i = 0; i < table.size(); ++i) table[i] = static_cast<std::int32_t>(i);
    DeviceBuffer dt = buffer(table.size() * 4), dl = buffer(lens.size() * 4);
    (void)dt.copy_from_host(table.data(), table.size() * 4, nullptr);
    (void)dl.copy_from_host(lens.data(), lens.size() * 4, nullptr);
    kernels::AttentionDecodeArgs a;
    a.batch = batch, a.num_heads = heads;
    a.cache = kernels::PagedKvCache{kc.data(), vc.data(), pages, kv_heads, page, hd, engine::DType::kF16};
    a.q = q.data(), a.q_seq_stride = heads * hd, a.q_head_stride = hd;
    a.out = out.data(), a.out_seq_stride = heads * hd, a.out_head_stride = hd;
    a.block_tables = dt.as<std::int32_t>(), a.max_blocks_per_seq = pages_per_seq, a.context_lens = dl.as<std::int32_t>();
    const double ms = time_ms([&] { (void)be.attention_decode(a, ctx); });
    const double gbs = 2.0 * static_cast<double>(cache_bytes) / (ms * 1e-3) / 1e9;
    const double peak = info.peak_memory_bandwidth_bytes_per_s / 1e9;
    std::printf("attention decode: %.3f ms, %.1f GB/s of K/V read", ms, gbs);
    if (peak > 0) std::printf(", %.1f%% of %.0f GB/s peak", 100.0 * gbs / peak, peak);
    std::printf("\n");
  }
  return 0;
}
