// Internal interface between the Q4 GEMM dispatcher (gemm_q4.cc) and its ISA variant files
// (gemm_q4_avx2.cc, gemm_q4_avx512.cc, compiled with their own -m flags).
// Why: the activation quantization and the layout arithmetic are shared, baseline code; only the
// tile loops are per ISA. Depends on kernels/ops/gemm_q4.h, thread_pool.h.
#pragma once

#include <cstdint>

#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/gemm_q4.h"

namespace parley::kernels::cpu::detail {

/// A validated, non-empty call with its activations already quantized and expanded to the tile
/// lanes: for token i and tile q, act[i*act_ld + q*512 + c*64 + l*4 + t] = q-code of value 4c+t
/// of block q*G + l%G (so one 64-byte load pairs with one 64-byte weight load), and
/// da/sa[i*nq*16 + q*16 + l] = that block's d and d*sum(q).
struct GemmQ4Plan {
  const GemmQ4Args* args = nullptr;
  int g = 16, r = 1;                    ///< blocks per lane group, rows per row group
  std::int64_t nq = 0, groups = 0;      ///< tiles per row group, row groups (ceil(N/R))
  std::int64_t tile_bytes = 0;
  const std::int8_t* act = nullptr;
  std::int64_t act_ld = 0;              ///< nq * 512
  const float* da = nullptr;
  const float* sa = nullptr;
};

/// Bytes of one packed tile; nibble/int8 bytes before the scales.
std::int64_t q4_tile_bytes(DType type);
std::int64_t q4_code_bytes(DType type);

void gemm_q4_scalar(const GemmQ4Plan& plan, ThreadPool& pool);
void gemm_q4_avx2(const GemmQ4Plan& plan, ThreadPool& pool);
void gemm_q4_avx512_vnni(const GemmQ4Plan& plan, ThreadPool& pool);

/// Row groups per parallel_for chunk: enough weight bytes that a chunk outweighs its dispatch.
inline std::int64_t q4_grain(const GemmQ4Plan& p) {
  const std::int64_t bytes = p.nq * p.tile_bytes;
  return bytes >= 16384 ? 1 : 16384 / (bytes > 0 ? bytes : 1);
}

}  // namespace parley::kernels::cpu::detail
