// Small-M GEMM on GGUF block weights (Q4_0, Q4_1, Q8_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K) with
// activations quantized per 32 values to int8 (llama.cpp's W4A8 arithmetic), the weights repacked
// once into 16-lane tiles. Why: batch-1 decode of an LM is bound by weight bandwidth; these
// weights are 4.5-6.6 bits/weight against 8 for gemm_int8, and they are the file's own (no
// requantization). Depends on ops/common.h.
#pragma once

#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

/// Packed weight layout (CPU). W is [N, K] in GGUF blocks along K (K % 32 == 0; K % 256 == 0 for
/// the K-quants). A "lane" is 32 consecutive values of a row (one legacy block, or one 32-value
/// sub-block of a K-quant super-block). G = lanes per row and tile = the largest of {16, 8, 4, 2,
/// 1} dividing K/32 (K-quants: 8 or 16); R = 16/G rows per row group (N padded with zero rows to a
/// multiple of R); nq = K/(32 G) tiles per row group. Tile (row group g, q) holds 16 lanes, lane
/// l = r*G + j = lane q*G + j of row g*R + r. A tile is: codes, then high bits, then scales.
///   codes: 4-bit types (all but Q8_0): 256 bytes: byte [i*64 + l*4 + t] (i < 4, t < 4) holds the
///          low 4 bits of value 8i+t of lane l in its low nibble and of value 8i+4+t in its high
///          nibble. Q8_0: 512 bytes: byte [c*64 + l*4 + t] (c < 8) = value 4c+t ^ 0x80 (+128).
///   high:  Q5_0 / Q5_1 / Q5_K: 64 bytes, bit c of byte [l*4 + t] = bit 4 of value 4c+t.
///          Q6_K: 128 bytes, bits 2k..2k+1 of byte [64p + l*4 + t] = bits 4-5 of value 4(4p+k)+t.
///   scales (per lane l): Q4_0 / Q8_0 / Q5_0: d[16] f16. Q4_1 / Q5_1: d[16], m[16] f16.
///          Q4_K / Q5_K: sc[16] u8, mn[16] u8 (the 6-bit sub-block scale and min), then f16
///          {d_A, d_B, dmin_A, dmin_B}: lanes 0-7 belong to super-block A, lanes 8-15 to B.
///          Q6_K: sc[32] i8 (lane l's values 0-15 at [l], values 16-31 at [16 + l]), f16 {d_A, d_B}.
/// Tile bytes: Q4_0 288, Q4_1 320, Q8_0 544, Q5_0 352, Q5_1 384 (= the GGUF bytes of 16 blocks),
/// Q4_K 296, Q5_K 360, Q6_K 420 (GGUF: 288, 352, 420 for 512 values).
/// Tiles are stored row group by row group, q fastest. So one 64-byte load gives 4 values of 16
/// lanes, vpdpbusd sums them per lane, and each lane's sum is scaled by its own scale with one
/// vector multiply-add per 16 lanes (no per-block scalar work).
struct GemmQ4PackArgs {
  std::int64_t n = 0, k = 0;
  const void* src = nullptr;         ///< GGUF blocks: row j at src + j * src_row_bytes
  std::int64_t src_row_bytes = 0;    ///< 0 = dense (engine::row_bytes(type, k))
  DType type = DType::kQ4_1;         ///< kQ4_0, kQ4_1, kQ8_0, kQ5_0, kQ5_1, kQ4_K, kQ5_K, kQ6_K
  void* dst = nullptr;               ///< gemm_q4_packed_bytes(type, n, k) bytes
};

/// Bytes of the packed layout; -1 for an unsupported type, negative sizes or K not a multiple of
/// the type's block size.
std::int64_t gemm_q4_packed_bytes(DType type, std::int64_t n, std::int64_t k);
/// G of the layout above for this K (16 when K == 0).
int gemm_q4_group_blocks(std::int64_t k);

/// C[M,N] = A[M,K] . W^T, f32 in and out, W packed as above.
/// A is quantized inside the call per token and per 32-block (llama.cpp's Q8_0/Q8_1 rule):
///   d = absmax/127, inv = d > 0 ? 1/d : 0 (f32), q = clamp(rne(x * inv), -127, 127), s = d * sum(q);
///   then C[i,j] = bias[j] + sum over lanes b of  d_w d_a dot(w_code, q) + c_w s, with the lane's
///   weight scale d_w and offset term c_w: Q4_0 -8 d_w, Q5_0 -16 d_w, Q8_0 none, Q4_1/Q5_1 m_w;
///   Q4_K/Q5_K d_w = d*sc, c_w = -dmin*mn; Q6_K per 16 values d_w = d*sc, c_w = -32 d_w (with the
///   half-lane sums of q),
/// i.e. exact products of the dequantized weights with the quantized activations, summed in f32.
/// (llama.cpp quantizes the activations of K-quant weights per 256 values; this op keeps one
/// scale per 32, which is at least as accurate.) Meant for few tokens (decode); larger M works but
/// re-reads each tile per 4 tokens. Empty sizes are valid (K == 0 writes the bias or zeros).
struct GemmQ4Args {
  std::int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  std::int64_t lda = 0;
  const void* b = nullptr;           ///< packed by pack_gemm_q4
  DType b_type = DType::kQ4_1;
  float* c = nullptr;
  std::int64_t ldc = 0;
  const float* bias = nullptr;       ///< N floats added to every row (nullptr = none)
};

/// True for the weight types gemm_q4 packs (q4_0, q4_1, q8_0, q5_0, q5_1, q4_k, q5_k, q6_k).
bool gemm_q4_type(DType type);

Status validate(const GemmQ4Args& args);

namespace cpu {
/// GGUF blocks -> packed tiles (one pass; run once at load).
Status pack_gemm_q4(const GemmQ4PackArgs& args, const ExecContext& ctx = ExecContext::cpu());
/// Scalar reference, AVX2 (vpmaddubsw) and AVX-512 VNNI (vpdpbusd) variants, threaded over row
/// groups. Blocks until done.
Status gemm_q4(const GemmQ4Args& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
