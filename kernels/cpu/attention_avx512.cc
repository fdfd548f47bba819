// AVX-512 attention prefill for f32: per (batch, head) task, K is transposed once into a
// [head_dim][keys] panel, then blocks of 8 queries run S = scale*Q.K^T (8 x 32 register tiles),
// a masked softmax with the vector exp, and O = P.V (8 x 32 tiles), normalizing at the store.
// Why: encoder sequences are short (<= 512 keys), where the generic path (two packed GEMM calls
// per 64 queries, scalar libm exp) cost more than the attention FLOPs. Compiled with the
// AVX-512 flags (CMake); depends on simd_avx512.h, simd_math.h, ops_internal.h.
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/cpu/ops_internal.h"
#include "kernels/cpu/simd_avx512.h"
#include "kernels/cpu/simd_math.h"

namespace parley::kernels::cpu::detail {
namespace {  // internal linkage: compiled with AVX-512 flags (see simd_avx512.h)

using V = simd::Avx512;
constexpr int kMr = 8;  // queries per block

inline __mmask16 lanes(std::int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : n <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << n) - 1u);
}

// sc[r][j..j+16*NV) = sum_x qs[r][x] * kt[x][j..]   (kMr rows)
template <int NV>
inline void score_tile(const float* qs, std::int64_t d, const float* kt, std::int64_t lp, std::int64_t j, float* sc) {
  __m512 acc[kMr][NV];
  for (int r = 0; r < kMr; ++r)
    for (int c = 0; c < NV; ++c) acc[r][c] = _mm512_setzero_ps();
  for (std::int64_t x = 0; x < d; ++x) {
    __m512 kv[NV];
    for (int c = 0; c < NV; ++c) kv[c] = _mm512_loadu_ps(kt + x * lp + j + 16 * c);
    for (int r = 0; r < kMr; ++r) {
      const __m512 q = _mm512_set1_ps(qs[r * d + x]);
      for (int c = 0; c < NV; ++c) acc[r][c] = _mm512_fmadd_ps(q, kv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < kMr; ++r)
    for (int c = 0; c < NV; ++c) _mm512_storeu_ps(sc + r * lp + j + 16 * c, acc[r][c]);
}

// out rows (up to `rows`) [c, c+w) = inv[r] * sum_{j < len} sc[r][j] * v[j][c..]
template <int NV>
inline void value_tile(const float* sc, std::int64_t lp, std::int64_t len, const float* v, std::int64_t vts,
                       std::int64_t c, std::int64_t w, const float* inv, int rows, float* out, std::int64_t ots) {
  __m512 acc[kMr][NV];
  for (int r = 0; r < kMr; ++r)
    for (int k = 0; k < NV; ++k) acc[r][k] = _mm512_setzero_ps();
  __mmask16 m[NV];
  for (int k = 0; k < NV; ++k) m[k] = lanes(w - 16 * k);
  for (std::int64_t j = 0; j < len; ++j) {
    __m512 vv[NV];
    for (int k = 0; k < NV; ++k) vv[k] = _mm512_maskz_loadu_ps(m[k], v + j * vts + c + 16 * k);
    for (int r = 0; r < kMr; ++r) {
      const __m512 p = _mm512_set1_ps(sc[r * lp + j]);
      for (int k = 0; k < NV; ++k) acc[r][k] = _mm512_fmadd_ps(p, vv[k], acc[r][k]);
    }
  }
  // Constant indices only (rows is checked inside): indexing acc with a run-time bound would
  // keep the accumulators in memory.
  for (int r = 0; r < kMr; ++r) {
    if (r >= rows) break;
    const __m512 s = _mm512_set1_ps(inv[r]);
    for (int k = 0; k < NV; ++k) _mm512_mask_storeu_ps(out + r * ots + c + 16 * k, m[k], _mm512_mul_ps(acc[r][k], s));
  }
}

// In-register 16 x 16 transpose: r[c] becomes column c of the block.
inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4i + k], 128-bit lane L = column 4L + k of rows 4i .. 4i+3.
  for (int i = 0; i < 4; ++i) {
    u[4 * i + 0] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int k = 0; k < 4; ++k) {
    const __m512 a0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88), a1 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xDD);
    const __m512 b0 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88), b1 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xDD);
    r[k] = _mm512_shuffle_f32x4(a0, b0, 0x88);
    r[k + 8] = _mm512_shuffle_f32x4(a0, b0, 0xDD);
    r[k + 4] = _mm512_shuffle_f32x4(a1, b1, 0x88);
    r[k + 12] = _mm512_shuffle_f32x4(a1, b1, 0xDD);
  }
}

// kt[x][j] = k[j][x] for j < valid, zeros for j in [valid, lp) (lp a multiple of 16).
void transpose_keys(const float* k, std::int64_t kts, std::int64_t valid, std::int64_t d, std::int64_t lp, float* kt) {
  __m512 r[16];
  for (std::int64_t j0 = 0; j0 < lp; j0 += 16) {
    for (std::int64_t x0 = 0; x0 < d; x0 += 16) {
      const __mmask16 m = lanes(d - x0);
      for (int i = 0; i < 16; ++i) {
        r[i] = j0 + i < valid ? _mm512_maskz_loadu_ps(m, k + (j0 + i) * kts + x0) : _mm512_setzero_ps();
      }
      transpose16(r);
      for (int c = 0; c < 16; ++c) {
        if (x0 + c < d) _mm512_storeu_ps(kt + (x0 + c) * lp + j0, r[c]);
      }
    }
  }
}

}  // namespace

void attention_prefill_f32_avx512(const AttentionPrefillArgs& a, float scale, ThreadPool& pool) {
  const std::int64_t group = a.num_heads / a.num_kv_heads, d = a.head_dim;
  pool.parallel_for(a.batch * a.num_heads, 1, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<float> kt, sc, qs(static_cast<std::size_t>(kMr * d));
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t b = t / a.num_heads, h = t % a.num_heads, g = h / group;
      const std::int64_t valid = a.kv_lengths ? std::clamp<std::int64_t>(a.kv_lengths[b], 0, a.kv_len) : a.kv_len;
      const float* q = static_cast<const float*>(a.q) + b * a.q_batch_stride + h * a.q_head_stride;
      const float* k = static_cast<const float*>(a.k) + b * a.k_batch_stride + g * a.k_head_stride;
      const float* v = static_cast<const float*>(a.v) + b * a.v_batch_stride + g * a.v_head_stride;
      float* out = static_cast<float*>(a.out) + b * a.out_batch_stride + h * a.out_head_stride;
      auto zero_rows = [&](std::int64_t i0, std::int64_t n) {
        for (std::int64_t i = i0; i < i0 + n; ++i) std::memset(out + i * a.out_token_stride, 0, sizeof(float) * static_cast<std::size_t>(d));
      };
      if (valid == 0) {
        zero_rows(0, a.q_len);
        continue;
      }
      // K^T panel, keys padded with zeros to a multiple of 16.
      const std::int64_t lp = (valid + 15) / 16 * 16;
      if (kt.size() < static_cast<std::size_t>(d * lp)) kt.resize(static_cast<std::size_t>(d * lp));
      if (sc.size() < static_cast<std::size_t>(kMr * lp)) sc.resize(static_cast<std::size_t>(kMr * lp));
      transpose_keys(k, a.k_token_stride, valid, d, lp, kt.data());
      for (std::int64_t i0 = 0; i0 < a.q_len; i0 += kMr) {
        const int rows = static_cast<int>(std::min<std::int64_t>(kMr, a.q_len - i0));
        std::int64_t lim[kMr], lmax = 0;
        for (int r = 0; r < kMr; ++r) {
          const std::int64_t i = i0 + std::min(r, rows - 1);  // extra rows repeat the last one
          lim[r] = a.causal ? std::clamp<std::int64_t>(i + (a.kv_len - a.q_len) + 1, 0, valid) : valid;
          lmax = std::max(lmax, lim[r]);
          const float* qr = q + i * a.q_token_stride;
          for (std::int64_t x = 0; x < d; ++x) qs[static_cast<std::size_t>(r * d + x)] = qr[x] * scale;
        }
        if (lmax == 0) {
          zero_rows(i0, rows);
          continue;
        }
        const std::int64_t lcols = (lmax + 15) / 16 * 16;
        std::int64_t j = 0;
        for (; j + 32 <= lcols; j += 32) score_tile<2>(qs.data(), d, kt.data(), lp, j, sc.data());
        if (j < lcols) score_tile<1>(qs.data(), d, kt.data(), lp, j, sc.data());
        // Softmax over each row's visible keys; masked keys become exact zeros.
        float inv[kMr];
        for (int r = 0; r < kMr; ++r) {
          float* row = sc.data() + r * lp;
          const std::int64_t len = lim[r];
          if (a.rel_bias != nullptr) {
            // The bias row of this query is a window of the head's table (clamped at the ends).
            const std::int64_t pi = i0 + std::min(r, rows - 1) + (a.kv_len - a.q_len);
            // Not kernels::relative_bias: an inline function emitted in this AVX-512 file could be
            // the copy the linker keeps for every caller.
            const std::int64_t rad = a.rel_bias_radius;
            const float* tb = a.rel_bias + h * (2 * rad + 1) + rad;
            for (std::int64_t j = 0; j < len; ++j) row[j] += tb[std::clamp<std::int64_t>(j - pi, -rad, rad)];
          }
          if (len == 0) {
            std::fill(row, row + lcols, 0.0f);
            inv[r] = 0.0f;
            continue;
          }
          __m512 mx = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
          for (std::int64_t c = 0; c < len; c += 16) mx = _mm512_mask_max_ps(mx, lanes(len - c), mx, _mm512_loadu_ps(row + c));
          const __m512 vmx = _mm512_set1_ps(V::reduce_max(mx));
          __m512 sum = _mm512_setzero_ps();
          for (std::int64_t c = 0; c < lcols; c += 16) {
            const __m512 e = _mm512_maskz_mov_ps(lanes(len - c), simd::vexp<V>(_mm512_sub_ps(_mm512_loadu_ps(row + c), vmx)));
            _mm512_storeu_ps(row + c, e);
            sum = _mm512_add_ps(sum, e);
          }
          inv[r] = 1.0f / V::reduce_add(sum);
        }
        float* orow = out + i0 * a.out_token_stride;
        for (std::int64_t c = 0; c < d; c += 32) {
          const std::int64_t w = std::min<std::int64_t>(32, d - c);
          if (w > 16) value_tile<2>(sc.data(), lp, lmax, v, a.v_token_stride, c, w, inv, rows, orow, a.out_token_stride);
          else value_tile<1>(sc.data(), lp, lmax, v, a.v_token_stride, c, w, inv, rows, orow, a.out_token_stride);
        }
      }
    }
  });
}

}  // namespace parley::kernels::cpu::detail
