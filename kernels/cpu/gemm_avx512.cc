// AVX-512 float GEMM (16-wide FMA, 12x32 micro-tile). Compiled with AVX-512 flags (CMake
// set_source_files_properties); reached only when CPUID reports AVX-512. Depends on gemm_f32_impl.h.
#include "kernels/cpu/gemm_f32_impl.h"
#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/simd_avx512.h"

namespace parley::kernels::cpu::detail {

void gemm_f32_avx512(const GemmArgs& args, ThreadPool& pool) { simd::GemmF32<simd::Avx512, 12>::run(args, pool); }

}  // namespace parley::kernels::cpu::detail
