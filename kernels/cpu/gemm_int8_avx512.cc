// AVX-512 VNNI INT8 GEMM: vpdpbusd dot products straight from [N,K] weight rows.
// Why: the fast CPU path for W8A8 linear layers. vpdpbusd multiplies unsigned by signed bytes, so
// the weights are flipped to unsigned on the fly (b ^ 0x80 = b + 128) and the extra
// 128 * sum_k a[i,k] is subtracted per row in the epilogue (row sums computed once per call).
// Two paths:
//  - M < 16 (decode, small batches): dot products on the weight rows as stored. Tiles of 4
//    activation rows x 4 weight rows keep 16 zmm accumulators; one shuffle tree reduces them to a
//    single vector whose 16 lanes are the tile's outputs, and the epilogue (scales, bias,
//    activation) runs on that vector. No packing: the weights are read exactly once.
//  - M >= 16: each task packs its weight slice into VNNI panels (see gemm_packed) and runs a
//    12 x 32 outer-product micro-kernel with 4-byte activation broadcasts; packing is amortized
//    over up to 96 rows.
// Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni (CMake); depends on simd_avx512.h.
#include <algorithm>
#include <cstring>
#include <memory>

#include "kernels/cpu/amx_tiles.h"
#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/simd_avx512.h"
#include "kernels/cpu/simd_math.h"
#include "kernels/cpu/vnni_tile_avx512.h"

namespace parley::kernels::cpu::detail {
namespace {  // internal linkage: compiled with AVX-512 flags (see simd_avx512.h)

using V = simd::Avx512;

using vnni::dpbusd;

// Sums each of 16 accumulators; lane l of the result = horizontal sum of acc[l].
inline __m512i reduce16(const __m512i* acc) {
  __m512i t[8];
  for (int p = 0; p < 8; ++p) {
    t[p] = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[2 * p], acc[2 * p + 1]),
                            _mm512_unpackhi_epi32(acc[2 * p], acc[2 * p + 1]));
  }
  __m512i u[4];
  for (int p = 0; p < 4; ++p) {
    u[p] = _mm512_add_epi32(_mm512_unpacklo_epi64(t[2 * p], t[2 * p + 1]),
                            _mm512_unpackhi_epi64(t[2 * p], t[2 * p + 1]));
  }
  const __m512i w01 = _mm512_add_epi32(_mm512_shuffle_i32x4(u[0], u[1], 0x44), _mm512_shuffle_i32x4(u[0], u[1], 0xEE));
  const __m512i w23 = _mm512_add_epi32(_mm512_shuffle_i32x4(u[2], u[3], 0x44), _mm512_shuffle_i32x4(u[2], u[3], 0xEE));
  return _mm512_add_epi32(_mm512_shuffle_i32x4(w01, w23, 0x88), _mm512_shuffle_i32x4(w01, w23, 0xDD));
}

inline __mmask64 tail_mask(std::int64_t n) { return n >= 64 ? ~0ull : ((1ull << n) - 1ull); }

// Lanes r*4 + c of the result = sum_k (b[c][k] + 128) * a[r][k].
template <int MR>
inline __m512i dot_tile(const std::int8_t* const* arow, const std::int8_t* const* brow, std::int64_t k) {
  __m512i acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_si512();
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  std::int64_t kk = 0;
  for (; kk + 64 <= k; kk += 64) {
    __m512i b[4];
    for (int c = 0; c < 4; ++c) b[c] = _mm512_xor_si512(_mm512_loadu_si512(brow[c] + kk), flip);
    for (int r = 0; r < MR; ++r) {
      const __m512i av = _mm512_loadu_si512(arow[r] + kk);
      for (int c = 0; c < 4; ++c) acc[r * 4 + c] = dpbusd(acc[r * 4 + c], b[c], av);
    }
  }
  if (kk < k) {
    const __mmask64 m = tail_mask(k - kk);
    __m512i b[4];
    for (int c = 0; c < 4; ++c) b[c] = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, brow[c] + kk), flip);
    for (int r = 0; r < MR; ++r) {
      const __m512i av = _mm512_maskz_loadu_epi8(m, arow[r] + kk);  // zeros cancel the flipped tail
      for (int c = 0; c < 4; ++c) acc[r * 4 + c] = dpbusd(acc[r * 4 + c], b[c], av);
    }
  }
  return reduce16(acc);
}

std::int32_t row_sum(const std::int8_t* a, std::int64_t k) {
  const __m512i ones = _mm512_set1_epi8(1);
  __m512i acc = _mm512_setzero_si512();
  std::int64_t kk = 0;
  for (; kk + 64 <= k; kk += 64) acc = _mm512_dpbusd_epi32(acc, ones, _mm512_loadu_si512(a + kk));
  if (kk < k) acc = _mm512_dpbusd_epi32(acc, ones, _mm512_maskz_loadu_epi8(tail_mask(k - kk), a + kk));
  alignas(64) std::int32_t lanes[16];
  _mm512_store_si512(lanes, acc);
  std::int32_t s = 0;
  for (int i = 0; i < 16; ++i) s += lanes[i];
  return s;
}

// ---- Packed path (M >= kPackedMinRows): outer-product micro-kernel on VNNI-packed weights. ----
// Each task packs its slice of weight rows (output columns) into panels of 32 columns:
// panel[q][g][c][t] = B[j0 + 16g + c][4q + t] ^ 0x80 (unsigned; 0 for padding, which contributes
// nothing), so one 64-byte load holds 4 k-values of 16 columns. A is used in place: 4 bytes of a
// row are broadcast as the signed operand. MR = 12 rows x 32 columns = 24 zmm accumulators.
constexpr int kPackedMr = 12;
constexpr std::int64_t kPackedMinRows = 16;

void pack_panel(const GemmInt8Args& a, std::int64_t j0, std::int64_t q_count, std::uint8_t* out) {
  std::memset(out, 0, static_cast<std::size_t>(q_count * 128));
  const std::int64_t k = a.k, full_q = k / 4;
  for (int c = 0; c < 32 && j0 + c < a.n; ++c) {
    const std::int8_t* row = a.b + (j0 + c) * a.ldb;
    std::uint8_t* dst = out + (c / 16) * 64 + (c % 16) * 4;
    for (std::int64_t q = 0; q < full_q; ++q) {
      std::uint32_t v;
      std::memcpy(&v, row + 4 * q, 4);
      v ^= 0x80808080u;
      std::memcpy(dst + q * 128, &v, 4);
    }
    for (std::int64_t t = full_q * 4; t < k; ++t) dst[full_q * 128 + (t - full_q * 4)] = static_cast<std::uint8_t>(row[t] ^ 0x80);
  }
}

void store_row16(const GemmInt8Args& a, std::int64_t i, std::int64_t j, int cols, __m512i acc, std::int32_t sum_a,
                 float scale_a, const float* sb, const float* bias) {
  const __mmask16 m = static_cast<__mmask16>((1u << cols) - 1u);
  acc = _mm512_sub_epi32(acc, _mm512_set1_epi32(sum_a * 128));
  if (a.c_type == DType::kI32) {
    _mm512_mask_storeu_epi32(static_cast<std::int32_t*>(a.c) + i * a.ldc + j, m, acc);
    return;
  }
  __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_mul_ps(_mm512_set1_ps(scale_a), _mm512_loadu_ps(sb)));
  if (bias) v = _mm512_add_ps(v, _mm512_loadu_ps(bias));
  v = simd::vact<V>(a.activation, v);
  if (a.c_type == DType::kF32) {
    _mm512_mask_storeu_ps(static_cast<float*>(a.c) + i * a.ldc + j, m, v);
  } else {
    alignas(64) std::uint16_t h[16];
    if (a.c_type == DType::kF16) V::store_f16(h, v);
    else V::store_bf16(h, v);
    std::memcpy(static_cast<std::uint16_t*>(a.c) + i * a.ldc + j, h, sizeof(std::uint16_t) * static_cast<std::size_t>(cols));
  }
}

void gemm_packed(const GemmInt8Args& a, const std::int32_t* sum_a, const float* scale_a, ThreadPool& pool, bool amx) {
  const std::int64_t m = a.m, n = a.n, k = a.k, q_count = (k + 3) / 4;
  constexpr std::int64_t kMb = kPackedMr * 8;
  // Column block: 64 columns, or fewer so both threads get work on small problems.
  const std::int64_t mt = (m + kMb - 1) / kMb;
  std::int64_t nb = 64;
  while (nb > 32 && mt * ((n + nb - 1) / nb) < 4 * pool.size()) nb -= 32;
  const std::int64_t nt = (n + nb - 1) / nb;
  pool.parallel_for(mt * nt, 1, [&](std::int64_t t0, std::int64_t t1) {
    amx::TileScope tiles(amx);
    alignas(64) std::int32_t block[32 * 32];
    std::unique_ptr<std::uint8_t[], void (*)(void*)> panels(
        static_cast<std::uint8_t*>(std::aligned_alloc(64, static_cast<std::size_t>((nb / 32) * q_count * 128))), &std::free);
    alignas(64) float sb[32], bias[32];
    __m512i acc[kPackedMr][2];
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t i_begin = (t % mt) * kMb, i_end = std::min(m, i_begin + kMb);
      const std::int64_t j_begin = (t / mt) * nb, j_end = std::min(n, j_begin + nb);
      for (std::int64_t j = j_begin; j < j_end; j += 32) pack_panel(a, j, q_count, panels.get() + ((j - j_begin) / 32) * q_count * 128);
      for (std::int64_t j = j_begin; j < j_end; j += 32) {
        const int cols = static_cast<int>(std::min<std::int64_t>(32, j_end - j));
        for (int c = 0; c < 32; ++c) {
          const std::int64_t jj = j + std::min(c, cols - 1);
          sb[c] = a.c_type == DType::kI32 ? 1.0f : (a.b_per_tensor ? a.b_scales[0] : a.b_scales[jj]);
          bias[c] = a.bias ? a.bias[jj] : 0.0f;
        }
        const std::uint8_t* panel = panels.get() + ((j - j_begin) / 32) * q_count * 128;
        if (amx) {  // blocks of 32 rows on AMX tiles (tdpbsud: signed rows x the flipped panel)
          for (std::int64_t i = i_begin; i < i_end; i += 32) {
            const int mr = static_cast<int>(std::min<std::int64_t>(32, i_end - i));
            amx::int8_block(amx::Int8Signs::kPanelUnsigned, a.a + i * a.lda, a.lda, mr, k, panel, block);
            for (int r = 0; r < mr; ++r) {
              for (int g = 0; g < 2 && g * 16 < cols; ++g) {
                store_row16(a, i + r, j + g * 16, std::min(16, cols - g * 16), _mm512_load_si512(block + r * 32 + g * 16),
                            sum_a[i + r], scale_a[i + r], sb + g * 16, a.bias ? bias + g * 16 : nullptr);
              }
            }
          }
          continue;
        }
        for (std::int64_t i = i_begin; i < i_end; i += kPackedMr) {
          const int mr = static_cast<int>(std::min<std::int64_t>(kPackedMr, i_end - i));
          const std::int8_t* arow[kPackedMr];
          for (int r = 0; r < kPackedMr; ++r) arow[r] = a.a + (i + std::min(r, mr - 1)) * a.lda;
          if (mr > 6) vnni::tile<kPackedMr, false>(arow, panel, k, acc);
          else if (mr > 3) vnni::tile<6, false>(arow, panel, k, acc);
          else vnni::tile<3, false>(arow, panel, k, acc);
          for (int r = 0; r < mr; ++r) {
            for (int g = 0; g < 2 && g * 16 < cols; ++g) {
              store_row16(a, i + r, j + g * 16, std::min(16, cols - g * 16), acc[r][g], sum_a[i + r], scale_a[i + r],
                          sb + g * 16, a.bias ? bias + g * 16 : nullptr);
            }
          }
        }
      }
    }
  });
}

}  // namespace

void gemm_int8_avx512_vnni(const GemmInt8Args& a, ThreadPool& pool, bool amx) {
  const std::int64_t m = a.m, n = a.n, k = a.k;
  const bool raw = a.c_type == DType::kI32;
  // Row sums of A (for the +128 correction), padded to a multiple of 4 rows.
  const std::int64_t m4 = (m + 3) / 4 * 4;
  std::unique_ptr<std::int32_t[]> sum_a(new std::int32_t[static_cast<std::size_t>(m4)]);
  std::unique_ptr<float[]> scale_a(new float[static_cast<std::size_t>(m4)]);
  for (std::int64_t i = 0; i < m4; ++i) {
    const std::int64_t src = std::min(i, m - 1);
    sum_a[static_cast<std::size_t>(i)] = i < m ? row_sum(a.a + i * a.lda, k) : 0;
    scale_a[static_cast<std::size_t>(i)] = raw ? 1.0f : (a.a_per_tensor ? a.a_scales[0] : a.a_scales[src]);
  }

  if (m >= kPackedMinRows) {
    gemm_packed(a, sum_a.get(), scale_a.get(), pool, amx);
    return;
  }
  constexpr std::int64_t kMb = 64;
  const std::int64_t threads = pool.size();
  std::int64_t nb = std::max<std::int64_t>(4, (n + threads * 2 - 1) / (threads * 2));
  nb = std::min<std::int64_t>(nb, std::max<std::int64_t>(4, (256 * 1024) / std::max<std::int64_t>(1, k)));
  nb = (nb + 3) / 4 * 4;
  const std::int64_t mt = (m + kMb - 1) / kMb, nt = (n + nb - 1) / nb;
  const __m512i row_of_lane = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);

  pool.parallel_for(mt * nt, 1, [&](std::int64_t t0, std::int64_t t1) {
    alignas(64) float out[16];
    alignas(64) std::int32_t outi[16];
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t i_begin = (t % mt) * kMb, i_end = std::min(m, i_begin + kMb);
      const std::int64_t j_begin = (t / mt) * nb, j_end = std::min(n, j_begin + nb);
      for (std::int64_t j = j_begin; j < j_end; j += 4) {
        const int nc = static_cast<int>(std::min<std::int64_t>(4, j_end - j));
        const std::int8_t* brow[4];
        alignas(16) float sb[4] = {1, 1, 1, 1}, bias[4] = {0, 0, 0, 0};
        for (int c = 0; c < 4; ++c) {
          const std::int64_t jj = j + std::min(c, nc - 1);
          brow[c] = a.b + jj * a.ldb;
          if (!raw) sb[c] = a.b_per_tensor ? a.b_scales[0] : a.b_scales[jj];
          if (a.bias) bias[c] = a.bias[jj];
        }
        const __m512 vsb = _mm512_broadcast_f32x4(_mm_load_ps(sb));
        const __m512 vbias = _mm512_broadcast_f32x4(_mm_load_ps(bias));
        for (std::int64_t i = i_begin; i < i_end; i += 4) {
          const int mr = static_cast<int>(std::min<std::int64_t>(4, i_end - i));
          const std::int8_t* arow[4];
          for (int r = 0; r < 4; ++r) arow[r] = a.a + (i + std::min(r, mr - 1)) * a.lda;
          __m512i s;
          switch (mr) {
            case 1: s = dot_tile<1>(arow, brow, k); break;
            case 2: s = dot_tile<2>(arow, brow, k); break;
            case 3: s = dot_tile<3>(arow, brow, k); break;
            default: s = dot_tile<4>(arow, brow, k); break;
          }
          const __m512i corr = _mm512_permutexvar_epi32(
              row_of_lane, _mm512_zextsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sum_a.get() + i))));
          s = _mm512_sub_epi32(s, _mm512_slli_epi32(corr, 7));
          if (raw) {
            _mm512_store_si512(outi, s);
            for (int r = 0; r < mr; ++r)
              std::memcpy(static_cast<std::int32_t*>(a.c) + (i + r) * a.ldc + j, outi + r * 4, sizeof(std::int32_t) * static_cast<std::size_t>(nc));
            continue;
          }
          const __m512 vsa = _mm512_permutexvar_ps(row_of_lane, _mm512_zextps128_ps512(_mm_loadu_ps(scale_a.get() + i)));
          __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(vsa, vsb), vbias);
          v = simd::vact<V>(a.activation, v);
          if (a.c_type == DType::kF32) {
            _mm512_store_ps(out, v);
            for (int r = 0; r < mr; ++r)
              std::memcpy(static_cast<float*>(a.c) + (i + r) * a.ldc + j, out + r * 4, sizeof(float) * static_cast<std::size_t>(nc));
          } else {
            alignas(64) std::uint16_t h[16];
            if (a.c_type == DType::kF16) V::store_f16(h, v);
            else V::store_bf16(h, v);
            for (int r = 0; r < mr; ++r)
              std::memcpy(static_cast<std::uint16_t*>(a.c) + (i + r) * a.ldc + j, h + r * 4, sizeof(std::uint16_t) * static_cast<std::size_t>(nc));
          }
        }
      }
    }
  });
}

}  // namespace parley::kernels::cpu::detail
