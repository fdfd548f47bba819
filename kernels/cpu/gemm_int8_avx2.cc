// AVX2 INT8 GEMM: vpmaddubsw/vpmaddwd dot products straight from [N,K] weight rows.
// Why: the INT8 path for CPUs without VNNI. vpmaddubsw needs one unsigned operand, so the
// classic sign trick is used: |a| (unsigned) times b * sign(a) (vpsignb) equals a*b, and with
// values in [-127, 127] a pair sum (<= 2*128*127) never saturates int16. vpmaddwd with ones then
// widens to int32. Tiles: 2 activation rows x 4 weight rows (8 ymm accumulators: AVX2 has 16
// registers). Same blocking and epilogue scheme as the AVX-512 file.
// Compiled with -mavx2 -mfma -mf16c (CMake); depends on simd_avx2.h.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/simd_avx2.h"
#include "kernels/cpu/simd_math.h"

namespace parley::kernels::cpu::detail {
namespace {  // internal linkage: compiled with AVX2 flags (see simd_avx2.h)

using V = simd::Avx2;

// Lane l of the result = horizontal sum of acc[l] (8 accumulators).
inline __m256i reduce8(const __m256i* acc) {
  __m256i t[4];
  for (int p = 0; p < 4; ++p) {
    t[p] = _mm256_add_epi32(_mm256_unpacklo_epi32(acc[2 * p], acc[2 * p + 1]),
                            _mm256_unpackhi_epi32(acc[2 * p], acc[2 * p + 1]));
  }
  const __m256i u0 = _mm256_add_epi32(_mm256_unpacklo_epi64(t[0], t[1]), _mm256_unpackhi_epi64(t[0], t[1]));
  const __m256i u1 = _mm256_add_epi32(_mm256_unpacklo_epi64(t[2], t[3]), _mm256_unpackhi_epi64(t[2], t[3]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(u0, u1, 0x20), _mm256_permute2x128_si256(u0, u1, 0x31));
}

template <int MR>
inline void dot_step(const __m256i* av, const std::int8_t* const* brow, std::int64_t kk, const __m256i* bt,
                     __m256i* acc) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int r = 0; r < MR; ++r) {
    const __m256i ua = _mm256_abs_epi8(av[r]);
    for (int c = 0; c < 4; ++c) {
      const __m256i b = bt ? bt[c] : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(brow[c] + kk));
      const __m256i p16 = _mm256_maddubs_epi16(ua, _mm256_sign_epi8(b, av[r]));
      acc[r * 4 + c] = _mm256_add_epi32(acc[r * 4 + c], _mm256_madd_epi16(p16, ones));
    }
  }
}

// Lanes r*4 + c of the result = sum_k a[r][k] * b[c][k].
template <int MR>
inline __m256i dot_tile(const std::int8_t* const* arow, const std::int8_t* const* brow, std::int64_t k) {
  __m256i acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_si256();
  std::int64_t kk = 0;
  for (; kk + 32 <= k; kk += 32) {
    __m256i av[MR];
    for (int r = 0; r < MR; ++r) av[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(arow[r] + kk));
    dot_step<MR>(av, brow, kk, nullptr, acc);
  }
  if (kk < k) {
    // Tail: zero-padded copies (no masked byte loads in AVX2).
    alignas(32) std::int8_t ta[MR][32] = {};
    alignas(32) std::int8_t tb[4][32] = {};
    const auto rest = static_cast<std::size_t>(k - kk);
    __m256i av[MR], bt[4];
    for (int r = 0; r < MR; ++r) {
      std::memcpy(ta[r], arow[r] + kk, rest);
      av[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(ta[r]));
    }
    for (int c = 0; c < 4; ++c) {
      std::memcpy(tb[c], brow[c] + kk, rest);
      bt[c] = _mm256_load_si256(reinterpret_cast<const __m256i*>(tb[c]));
    }
    dot_step<MR>(av, brow, kk, bt, acc);
  }
  return reduce8(acc);
}

}  // namespace

void gemm_int8_avx2(const GemmInt8Args& a, ThreadPool& pool) {
  const std::int64_t m = a.m, n = a.n, k = a.k;
  const bool raw = a.c_type == DType::kI32;
  constexpr std::int64_t kMb = 64;
  const std::int64_t threads = pool.size();
  std::int64_t nb = std::max<std::int64_t>(4, (n + threads * 2 - 1) / (threads * 2));
  nb = std::min<std::int64_t>(nb, std::max<std::int64_t>(4, (256 * 1024) / std::max<std::int64_t>(1, k)));
  nb = (nb + 3) / 4 * 4;
  const std::int64_t mt = (m + kMb - 1) / kMb, nt = (n + nb - 1) / nb;
  const __m256i row_of_lane = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);

  pool.parallel_for(mt * nt, 1, [&](std::int64_t t0, std::int64_t t1) {
    alignas(32) float out[8];
    alignas(32) std::int32_t outi[8];
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
        const __m256 vsb = _mm256_broadcast_ps(reinterpret_cast<const __m128*>(sb));
        const __m256 vbias = _mm256_broadcast_ps(reinterpret_cast<const __m128*>(bias));
        for (std::int64_t i = i_begin; i < i_end; i += 2) {
          const int mr = static_cast<int>(std::min<std::int64_t>(2, i_end - i));
          const std::int8_t* arow[2] = {a.a + i * a.lda, a.a + (i + mr - 1) * a.lda};
          const __m256i s = mr == 2 ? dot_tile<2>(arow, brow, k) : dot_tile<1>(arow, brow, k);
          if (raw) {
            _mm256_store_si256(reinterpret_cast<__m256i*>(outi), s);
            for (int r = 0; r < mr; ++r)
              std::memcpy(static_cast<std::int32_t*>(a.c) + (i + r) * a.ldc + j, outi + r * 4, sizeof(std::int32_t) * static_cast<std::size_t>(nc));
            continue;
          }
          alignas(16) float sa[4];
          for (int r = 0; r < 2; ++r) {
            const std::int64_t ii = i + std::min(r, mr - 1);
            sa[r] = a.a_per_tensor ? a.a_scales[0] : a.a_scales[ii];
          }
          sa[2] = sa[3] = 0.0f;
          const __m256 vsa = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_load_ps(sa)), row_of_lane);
          __m256 v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(vsa, vsb), vbias);
          v = simd::vact<V>(a.activation, v);
          if (a.c_type == DType::kF32) {
            _mm256_store_ps(out, v);
            for (int r = 0; r < mr; ++r)
              std::memcpy(static_cast<float*>(a.c) + (i + r) * a.ldc + j, out + r * 4, sizeof(float) * static_cast<std::size_t>(nc));
          } else {
            alignas(32) std::uint16_t h[8];
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
