// ISA entry points for non-x86 builds: no AVX variants exist, so each forwards to the scalar
// reference (resolve_isa() never selects them there; this keeps the link whole).
// Depends on gemm_internal.h.
#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/gemm_q4_internal.h"

namespace parley::kernels::cpu::detail {

void gemm_f32_avx2(const GemmArgs& args, ThreadPool& pool) { gemm_f32_scalar(args, pool); }
void gemm_f32_avx512(const GemmArgs& args, ThreadPool& pool) { gemm_f32_scalar(args, pool); }
void gemm_f32_as_bf16_avx512(const GemmArgs& args, ThreadPool& pool, bool) { gemm_f32_scalar(args, pool); }
void gemm_int8_avx2(const GemmInt8Args& args, ThreadPool& pool) { gemm_int8_scalar(args, pool); }
void gemm_int8_avx512_vnni(const GemmInt8Args& args, ThreadPool& pool, bool) { gemm_int8_scalar(args, pool); }
void gemm_q4_avx2(const GemmQ4Plan& plan, ThreadPool& pool) { gemm_q4_scalar(plan, pool); }
void gemm_q4_avx512_vnni(const GemmQ4Plan& plan, ThreadPool& pool) { gemm_q4_scalar(plan, pool); }

}  // namespace parley::kernels::cpu::detail
