// AVX2 float GEMM (8-wide FMA, 6x16 micro-tile). Compiled with -mavx2 -mfma -mf16c; reached only
// when CPUID reports AVX2. Depends on gemm_f32_impl.h.
#include "kernels/cpu/gemm_f32_impl.h"
#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/simd_avx2.h"

namespace parley::kernels::cpu::detail {

void gemm_f32_avx2(const GemmArgs& args, ThreadPool& pool) { simd::GemmF32<simd::Avx2, 6>::run(args, pool); }

}  // namespace parley::kernels::cpu::detail
