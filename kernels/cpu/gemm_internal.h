// Internal interface between the GEMM dispatchers (gemm.cc, gemm_int8.cc) and the
// ISA variant files (*_avx2.cc, *_avx512.cc), which are compiled with their own -m flags.
// Why: only these files may contain AVX code; everything else stays baseline x86-64.
// Depends on kernels/ops/gemm.h, gemm_int8.h, thread_pool.h.
#pragma once

#include <cstdint>

#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/gemm.h"
#include "kernels/ops/gemm_int8.h"

namespace parley::kernels::cpu::detail {

/// Float GEMM (validated, non-empty args). Same contract as cpu::gemm.
void gemm_f32_avx2(const GemmArgs& args, ThreadPool& pool);
void gemm_f32_avx512(const GemmArgs& args, ThreadPool& pool);
/// All-f32 GEMM with bf16-rounded operands, f32 accumulation (ExecContext::bf16_gemm): B packed
/// into the calling thread's scratch, then bf16_linear's vdpbf16ps tiles (bf16_linear_avx512.cc;
/// needs cpu_has_avx512_bf16()), or its AMX tiles when `amx` (use_amx()).
void gemm_f32_as_bf16_avx512(const GemmArgs& args, ThreadPool& pool, bool amx);

/// INT8 GEMM (validated, non-empty args). Same contract as cpu::gemm_int8.
void gemm_int8_avx2(const GemmInt8Args& args, ThreadPool& pool);
/// `amx` (use_amx()): the packed path's blocks of 32 rows run on AMX tiles (amx_tiles.h).
void gemm_int8_avx512_vnni(const GemmInt8Args& args, ThreadPool& pool, bool amx);

/// Scalar references (always compiled in; also used for the tails the ISA files skip).
void gemm_f32_scalar(const GemmArgs& args, ThreadPool& pool);
void gemm_int8_scalar(const GemmInt8Args& args, ThreadPool& pool);

/// Epilogue of the INT8 paths: v = act(acc * a_scale * b_scale + bias), stored as c_type
/// (raw acc when c_type is i32). One element.
void int8_store_scalar(const GemmInt8Args& a, std::int64_t i, std::int64_t j, std::int32_t acc);

}  // namespace parley::kernels::cpu::detail
