// CPU INT8 GEMM: validation, ISA dispatch and the scalar reference (exact int32 accumulation).
// Why: see ops/gemm_int8.h; the fast variants are gemm_int8_avx2.cc and gemm_int8_avx512.cc.
// Depends on ops/gemm_int8.h, gemm_internal.h, isa.h, dtype_io.h, act_math.h.
#include "kernels/ops/gemm_int8.h"

#include <algorithm>

#include "kernels/cpu/act_math.h"
#include "kernels/cpu/dtype_io.h"
#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/isa.h"

namespace parley::kernels::cpu {
namespace detail {

void int8_store_scalar(const GemmInt8Args& a, std::int64_t i, std::int64_t j, std::int32_t acc) {
  if (a.c_type == DType::kI32) {
    static_cast<std::int32_t*>(a.c)[i * a.ldc + j] = acc;
    return;
  }
  const float sa = a.a_per_tensor ? a.a_scales[0] : a.a_scales[i];
  const float sb = a.b_per_tensor ? a.b_scales[0] : a.b_scales[j];
  float v = static_cast<float>(acc) * (sa * sb);
  if (a.bias) v += a.bias[j];
  store_f(a.c, a.c_type, i * a.ldc + j, act_apply(a.activation, v));
}

void gemm_int8_scalar(const GemmInt8Args& a, ThreadPool& pool) {
  pool.parallel_for(a.n, std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(1, a.m * a.k)),
                    [&](std::int64_t j0, std::int64_t j1) {
    for (std::int64_t j = j0; j < j1; ++j) {
      const std::int8_t* b = a.b + j * a.ldb;
      for (std::int64_t i = 0; i < a.m; ++i) {
        const std::int8_t* x = a.a + i * a.lda;
        std::int32_t acc = 0;
        for (std::int64_t k = 0; k < a.k; ++k) acc += static_cast<std::int32_t>(x[k]) * static_cast<std::int32_t>(b[k]);
        int8_store_scalar(a, i, j, acc);
      }
    }
  });
}

}  // namespace detail

Status gemm_int8(const GemmInt8Args& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.m == 0 || a.n == 0) return Status::ok();
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  switch (resolve_isa(ctx.cpu_isa)) {
    case CpuIsa::kAvx512Vnni: detail::gemm_int8_avx512_vnni(a, pool, use_amx(ctx.cpu_isa)); break;
    case CpuIsa::kAvx2: detail::gemm_int8_avx2(a, pool); break;
    default: detail::gemm_int8_scalar(a, pool); break;
  }
  return Status::ok();
}

}  // namespace parley::kernels::cpu
