// CPU activations (plain and gated), row-parallel; scalar code the compiler vectorizes, except
// plain erf-GELU on AVX-512 (pointwise_avx512.cc). Why: GELU/SiLU/SwiGLU of the MLPs. Depends on
// ops/activation.h, act_math.h, dtype_io.h, isa.h, ops_internal.h, thread_pool.
#include "kernels/ops/activation.h"

#include <vector>

#include "kernels/cpu/act_math.h"
#include "kernels/cpu/dtype_io.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/ops_internal.h"
#include "kernels/cpu/thread_pool.h"

namespace parley::kernels {

float activation_ref(Activation a, float x) { return cpu::act_apply(a, x); }

namespace cpu {

Status activation(const ActivationArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  const std::int64_t grain = std::max<std::int64_t>(1, 16384 / a.cols);
  // Plain erf-GELU (BERT's FFN, kept apart from its GEMM while training): the GEMM epilogues'
  // vector form; libm's erfc per value was most of the op.
  const bool vector_gelu = !a.gate && a.activation == Activation::kGeluErf && resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni;
  pool.parallel_for(a.rows, grain, [&](std::int64_t r0, std::int64_t r1) {
    std::vector<float> x(static_cast<std::size_t>(a.cols)), g;
    if (a.gate) g.resize(static_cast<std::size_t>(a.cols));
    for (std::int64_t r = r0; r < r1; ++r) {
      load_row(offset_f(a.x, a.dtype, r * a.ldx), a.dtype, a.cols, x.data());
      if (a.gate) {
        load_row(offset_f(a.gate, a.dtype, r * a.ld_gate), a.dtype, a.cols, g.data());
        for (std::int64_t j = 0; j < a.cols; ++j) {
          x[static_cast<std::size_t>(j)] *= act_apply(a.activation, g[static_cast<std::size_t>(j)]);
        }
      } else if (vector_gelu) {
        detail::gelu_erf_avx512(x.data(), a.cols);
      } else {
        act_apply_n(a.activation, x.data(), a.cols);
      }
      store_row(x.data(), a.cols, offset_f(a.y, a.dtype, r * a.ldy), a.dtype);
    }
  });
  return Status::ok();
}

}  // namespace cpu
}  // namespace parley::kernels
