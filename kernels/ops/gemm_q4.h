// Small-M GEMM on GGUF block weights (Q4_0, Q4_1, Q8_0) with activations quantized per 32-block
// to int8 (llama.cpp's W4A8 arithmetic), the weights repacked once into 16-lane tiles.
// Why: batch-1 decode of an LM is bound by weight bandwidth; Q4 weights are 4.5-5 bits/weight
// against 8 for gemm_int8, and they are the file's own (no requantization). Depends on ops/common.h.
#pragma once

#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

/// Packed weight layout (CPU). W is [N, K] in GGUF blocks of 32 values along K (K % 32 == 0).
/// G = blocks per lane group = the largest of {16, 8, 4, 2, 1} dividing K/32; R = 16/G rows per
/// row group (N padded with zero rows to a multiple of R); nq = K/(32 G) tiles per row group.
/// Tile (row group g, q) holds 16 lanes, lane l = r*G + j = block q*G + j of row g*R + r:
///   Q4_0 / Q4_1: 256 bytes of nibbles: byte [i*64 + l*4 + t] (i < 4, t < 4) holds value 8i+t of
///                the lane's block in its low nibble and value 8i+4+t in its high nibble (the
///                GGUF 4-bit codes 0..15); then d[16] (f16); Q4_1: then m[16] (f16).
///                Sizes 288 (Q4_0) / 320 (Q4_1) bytes = exactly the GGUF bytes of 16 blocks.
///   Q8_0:        512 bytes: byte [c*64 + l*4 + t] (c < 8) = value 4c+t ^ 0x80 (unsigned, +128);
///                then d[16] (f16). 544 bytes.
/// Tiles are stored row group by row group, q fastest. So one 64-byte load gives 4 values of 16
/// blocks, vpdpbusd sums them per lane, and each lane's sum is scaled by its own block scale with
/// one vector multiply-add per 16 blocks (no per-block scalar work).
struct GemmQ4PackArgs {
  std::int64_t n = 0, k = 0;
  const void* src = nullptr;         ///< GGUF blocks: row j at src + j * src_row_bytes
  std::int64_t src_row_bytes = 0;    ///< 0 = dense (engine::row_bytes(type, k))
  DType type = DType::kQ4_1;         ///< kQ4_0, kQ4_1, kQ8_0
  void* dst = nullptr;               ///< gemm_q4_packed_bytes(type, n, k) bytes
};

/// Bytes of the packed layout; -1 for an unsupported type, negative sizes or K % 32 != 0.
std::int64_t gemm_q4_packed_bytes(DType type, std::int64_t n, std::int64_t k);
/// G of the layout above for this K (16 when K == 0).
int gemm_q4_group_blocks(std::int64_t k);

/// C[M,N] = A[M,K] . W^T, f32 in and out, W packed as above.
/// A is quantized inside the call per token and per 32-block (llama.cpp's Q8_0/Q8_1 rule):
///   d = absmax/127, inv = d > 0 ? 1/d : 0 (f32), q = clamp(rne(x * inv), -127, 127), s = d * sum(q);
///   then C[i,j] = sum over blocks b of  d_w d_a dot(w_code, q) + (Q4_0: -8 d_w s; Q4_1: m_w s),
/// i.e. exact products of the dequantized weights with the quantized activations, summed in f32.
/// Meant for few tokens (decode); larger M works but re-reads each tile per 4 tokens.
/// Empty sizes are valid (K == 0 writes zeros).
struct GemmQ4Args {
  std::int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  std::int64_t lda = 0;
  const void* b = nullptr;           ///< packed by pack_gemm_q4
  DType b_type = DType::kQ4_1;
  float* c = nullptr;
  std::int64_t ldc = 0;
};

Status validate(const GemmQ4Args& args);

namespace cpu {
/// GGUF blocks -> packed tiles (one pass; run once at load).
Status pack_gemm_q4(const GemmQ4PackArgs& args, const ExecContext& ctx = ExecContext::cpu());
/// Scalar reference, AVX2 (vpmaddubsw) and AVX-512 VNNI (vpdpbusd) variants, threaded over row
/// groups. Blocks until done.
Status gemm_q4(const GemmQ4Args& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
