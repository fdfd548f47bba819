// Internal interface between the Q4 GEMM dispatcher (gemm_q4.cc) and its ISA variant files
// (gemm_q4_avx2.cc, gemm_q4_avx512.cc, compiled with their own -m flags): the tile layout of every
// weight type and the quantized activations.
// Why: the activation quantization and the layout arithmetic are shared, baseline code; only the
// tile loops are per ISA. Depends on kernels/ops/gemm_q4.h, thread_pool.h.
#pragma once

#include <cstdint>

#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/gemm_q4.h"

namespace parley::kernels::cpu::detail {

/// Byte sizes of the parts of one packed tile (ops/gemm_q4.h): codes, high bits, scales.
/// All zero for a type gemm_q4 does not pack.
/// (ISA files read the fields of a constexpr instance only, so no inline function of this header
/// is compiled with their -m flags.)
struct Q4TileLayout {
  std::int64_t codes = 0, high = 0, scales = 0;
  constexpr std::int64_t bytes() const { return codes + high + scales; }
  constexpr std::int64_t scale_offset() const { return codes + high; }
};
constexpr Q4TileLayout q4_tile_layout(DType type) {
  switch (type) {
    case DType::kQ4_0: return {256, 0, 32};
    case DType::kQ4_1: return {256, 0, 64};
    case DType::kQ8_0: return {512, 0, 32};
    case DType::kQ5_0: return {256, 64, 32};
    case DType::kQ5_1: return {256, 64, 64};
    case DType::kQ4_K: return {256, 0, 40};
    case DType::kQ5_K: return {256, 64, 40};
    case DType::kQ6_K: return {256, 128, 36};
    default: return {};
  }
}

/// A validated, non-empty call with its activations already quantized and expanded to the tile
/// lanes: for token i and tile q, act[i*act_ld + q*512 + c*64 + l*4 + t] = q-code of value 4c+t
/// of lane q*G + l%G (so one 64-byte load pairs with one 64-byte weight load), and
/// da/sa[i*nq*16 + q*16 + l] = that lane's d and d*sum(q). Q6_K also needs the half-lane sums:
/// sh[i*nq*32 + q*32 + h*16 + l] = d * sum of q over values 16h..16h+15 of the lane.
struct GemmQ4Plan {
  const GemmQ4Args* args = nullptr;
  int g = 16, r = 1;                    ///< lanes per row in a tile, rows per row group
  std::int64_t nq = 0, groups = 0;      ///< tiles per row group, row groups (ceil(N/R))
  std::int64_t tile_bytes = 0;
  const std::int8_t* act = nullptr;
  std::int64_t act_ld = 0;              ///< nq * 512
  const float* da = nullptr;
  const float* sa = nullptr;
  const float* sh = nullptr;            ///< Q6_K only
};

/// Bytes of one packed tile; code bytes before the high bits and scales.
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
