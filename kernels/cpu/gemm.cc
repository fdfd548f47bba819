// CPU float GEMM: validation, ISA dispatch, and the scalar reference.
// Why: see ops/gemm.h; the AVX2 / AVX-512 variants live in gemm_avx2.cc / gemm_avx512.cc.
// Depends on ops/gemm.h, gemm_internal.h, ops_internal.h (cpu_has_avx512_bf16, bf16_packed_bytes),
// isa.h, dtype_io.h, act_math.h.
#include "kernels/ops/gemm.h"

#include <vector>

#include "kernels/cpu/act_math.h"
#include "kernels/cpu/dtype_io.h"
#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/ops_internal.h"

namespace parley::kernels::cpu {

namespace detail {

void gemm_f32_scalar(const GemmArgs& a, ThreadPool& pool) {
  // Row-parallel; B rows (or columns) are converted to f32 once per task.
  const std::int64_t bb = engine::block_bytes(a.b_type);
  pool.parallel_for(a.n, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(1, a.m * a.k / 64 + 1)),
                    [&](std::int64_t j0, std::int64_t j1) {
    std::vector<float> brow(static_cast<std::size_t>(a.k)), arow(static_cast<std::size_t>(a.k));
    for (std::int64_t j = j0; j < j1; ++j) {
      if (a.b_transposed) {
        const char* row = static_cast<const char*>(a.b) +
                          j * (a.ldb / engine::block_size(a.b_type)) * bb;
        load_row(row, a.b_type, a.k, brow.data());
      } else {
        for (std::int64_t k = 0; k < a.k; ++k) brow[static_cast<std::size_t>(k)] = load_f(a.b, a.b_type, k * a.ldb + j);
      }
      for (std::int64_t i = 0; i < a.m; ++i) {
        load_row(offset_f(a.a, a.a_type, i * a.lda), a.a_type, a.k, arow.data());
        // Plain sequential f32 accumulation: this is the reference the ISA variants are held to.
        float acc = 0.0f;
        for (std::int64_t k = 0; k < a.k; ++k) acc += arow[static_cast<std::size_t>(k)] * brow[static_cast<std::size_t>(k)];
        float v = a.alpha * acc;
        if (a.beta != 0.0f) v += a.beta * load_f(a.c, a.c_type, i * a.ldc + j);
        if (a.bias) v += a.bias[j];
        store_f(a.c, a.c_type, i * a.ldc + j, act_apply(a.activation, v));
      }
    }
  });
}

}  // namespace detail

Status gemm(const GemmArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.m == 0 || a.n == 0) return Status::ok();
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  // Mixed precision (ExecContext::bf16_gemm): worth its per-call packing of B only when each
  // packed value is used by a few rows of A; the packed B stays in the calling thread's scratch,
  // so a B past 64 MiB packed runs in f32 instead of growing that scratch without bound.
  constexpr std::int64_t kMaxPackedBytes = std::int64_t{64} << 20;
  if (ctx.bf16_gemm && a.a_type == DType::kF32 && a.b_type == DType::kF32 && a.c_type == DType::kF32 && a.k > 0 &&
      a.m >= 8 && bf16_packed_bytes(a.n, a.k) <= kMaxPackedBytes && resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni &&
      detail::cpu_has_avx512_bf16()) {
    detail::gemm_f32_as_bf16_avx512(a, pool, use_amx(ctx.cpu_isa));
    return Status::ok();
  }
  switch (resolve_isa(ctx.cpu_isa)) {
    case CpuIsa::kAvx512Vnni: detail::gemm_f32_avx512(a, pool); break;
    case CpuIsa::kAvx2: detail::gemm_f32_avx2(a, pool); break;
    default: detail::gemm_f32_scalar(a, pool); break;
  }
  return Status::ok();
}

}  // namespace parley::kernels::cpu
