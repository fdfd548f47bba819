// Vector math on a traits type V (simd_avx2.h / simd_avx512.h): exp, erfc, activations,
// and f32/f16/bf16 row conversion. Include only from ISA files.
// Why: epilogues (bias + GELU/SiLU) must run at GEMM speed, not at scalar libm speed.
// Accuracy (checked in tests against libm): exp ~2 ulp, erfc rel err < 2e-7.
// Depends on a traits type V and dtype_io.h.
#pragma once

#include <cstdint>

#include "kernels/cpu/dtype_io.h"
#include "kernels/ops/common.h"

namespace parley::kernels::cpu::simd {
// Internal linkage on purpose: this header is compiled under different -m flags in different
// files, and shared (weak) inline definitions could make the linker keep an AVX-512 copy for all.
namespace {

template <class V>
inline typename V::R vexp(typename V::R x) {
  using R = typename V::R;
  x = V::min(V::max(x, V::set1(-87.3f)), V::set1(88.7f));
  const R n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
  R r = V::fma(n, V::set1(-0.693359375f), x);
  r = V::fma(n, V::set1(2.12194440e-4f), r);
  R p = V::set1(1.9875691500e-4f);
  p = V::fma(p, r, V::set1(1.3981999507e-3f));
  p = V::fma(p, r, V::set1(8.3334519073e-3f));
  p = V::fma(p, r, V::set1(4.1665795894e-2f));
  p = V::fma(p, r, V::set1(1.6666665459e-1f));
  p = V::fma(p, r, V::set1(5.0000001201e-1f));
  const R y = V::add(V::fma(V::mul(p, r), r, r), V::set1(1.0f));
  return V::ldexp(y, n);
}

/// erfc(z) for z >= 0 (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7 everywhere).
/// GELU uses 1 + erf(x) = erfc(-x), which keeps relative accuracy in the negative tail where
/// 1 + erf(x) would cancel.
template <class V>
inline typename V::R verfc_nonneg(typename V::R z) {
  using R = typename V::R;
  const R t = V::div(V::set1(1.0f), V::fma(V::set1(0.5f), z, V::set1(1.0f)));
  R p = V::set1(0.17087277f);
  p = V::fma(p, t, V::set1(-0.82215223f));
  p = V::fma(p, t, V::set1(1.48851587f));
  p = V::fma(p, t, V::set1(-1.13520398f));
  p = V::fma(p, t, V::set1(0.27886807f));
  p = V::fma(p, t, V::set1(-0.18628806f));
  p = V::fma(p, t, V::set1(0.09678418f));
  p = V::fma(p, t, V::set1(0.37409196f));
  p = V::fma(p, t, V::set1(1.00002368f));
  p = V::fma(p, t, V::set1(-1.26551223f));
  return V::mul(t, vexp<V>(V::sub(p, V::mul(z, z))));
}

template <class V>
inline typename V::R vact(Activation act, typename V::R x) {
  switch (act) {
    case Activation::kNone: return x;
    case Activation::kRelu: return V::max(x, V::zero());
    case Activation::kGeluErf: {
      // 1 + erf(u) = erfc(-u): erfc(|u|) for u < 0, 2 - erfc(|u|) otherwise.
      const auto c = verfc_nonneg<V>(V::abs(V::mul(x, V::set1(0.70710678118654752f))));
      return V::mul(V::mul(V::set1(0.5f), x), V::select_neg(x, c, V::sub(V::set1(2.0f), c)));
    }
    case Activation::kGeluTanh: {
      // 0.5 x (1 + tanh(z)) == x * sigmoid(2z): no cancellation for negative x.
      const auto z2 = V::mul(V::set1(-1.5957691216057308f), V::fma(V::mul(V::mul(x, x), x), V::set1(0.044715f), x));
      return V::div(x, V::add(V::set1(1.0f), vexp<V>(z2)));
    }
    case Activation::kSilu:
      return V::div(x, V::add(V::set1(1.0f), vexp<V>(V::sub(V::zero(), x))));
  }
  return x;
}

/// Loads n <= W values of dtype t (f32/f16/bf16) as f32 (zeros beyond n).
template <class V>
inline typename V::R vload(const void* p, engine::DType t, int n) {
  if (t == engine::DType::kF32) {
    return n == V::W ? V::load(static_cast<const float*>(p)) : V::load_partial(static_cast<const float*>(p), n);
  }
  const auto* h = static_cast<const std::uint16_t*>(p);
  if (n == V::W) return t == engine::DType::kF16 ? V::load_f16(h) : V::load_bf16(h);
  alignas(64) std::uint16_t tmp[V::W] = {};
  for (int i = 0; i < n; ++i) tmp[i] = h[i];
  return t == engine::DType::kF16 ? V::load_f16(tmp) : V::load_bf16(tmp);
}

/// Stores the first n <= W lanes as dtype t.
template <class V>
inline void vstore(void* p, engine::DType t, typename V::R v, int n) {
  if (t == engine::DType::kF32) {
    if (n == V::W) V::store(static_cast<float*>(p), v);
    else V::store_partial(static_cast<float*>(p), v, n);
    return;
  }
  auto* h = static_cast<std::uint16_t*>(p);
  if (n == V::W) {
    if (t == engine::DType::kF16) V::store_f16(h, v);
    else V::store_bf16(h, v);
    return;
  }
  alignas(64) std::uint16_t tmp[V::W];
  if (t == engine::DType::kF16) V::store_f16(tmp, v);
  else V::store_bf16(tmp, v);
  for (int i = 0; i < n; ++i) h[i] = tmp[i];
}

/// n values of dtype t (f32/f16/bf16 or a GGUF block type) -> f32. q8_0/q4_0/q4_1 are decoded with
/// SIMD; the other block types through the scalar codec (gguf_blocks.h).
template <class V>
inline void vload_row(const void* src, engine::DType t, std::int64_t n, float* dst) {
  if (engine::is_block_quantized(t) && t != engine::DType::kQ8_0 && t != engine::DType::kQ4_0 &&
      t != engine::DType::kQ4_1) {
    load_row(src, t, n, dst);
    return;
  }
  if (engine::is_block_quantized(t)) {
    const int kind = t == engine::DType::kQ8_0 ? 0 : t == engine::DType::kQ4_0 ? 1 : 2;
    const auto* p = static_cast<const std::uint8_t*>(src);
    const std::int64_t bb = engine::block_bytes(t);
    for (std::int64_t b = 0; b < n / 32; ++b) V::dequant_block(p + b * bb, kind, dst + b * 32);
    return;
  }
  std::int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::store(dst + i, vload<V>(offset_f(src, t, i), t, V::W));
  if (i < n) V::store_partial(dst + i, vload<V>(offset_f(src, t, i), t, static_cast<int>(n - i)), static_cast<int>(n - i));
}

/// The GEMM epilogue on one row: out[j] = act(alpha*acc[j] + beta*out_old[j] + bias[j]), stored as t.
template <class V>
inline void epilogue_row(const float* acc, std::int64_t n, float alpha, float beta, const float* bias,
                         Activation act, void* out, engine::DType t) {
  using R = typename V::R;
  const R va = V::set1(alpha), vb = V::set1(beta);
  for (std::int64_t j = 0; j < n; j += V::W) {
    const int w = n - j >= V::W ? V::W : static_cast<int>(n - j);
    R v = V::mul(va, w == V::W ? V::load(acc + j) : V::load_partial(acc + j, w));
    if (beta != 0.0f) v = V::fma(vb, vload<V>(offset_f(out, t, j), t, w), v);
    if (bias) v = V::add(v, w == V::W ? V::load(bias + j) : V::load_partial(bias + j, w));
    vstore<V>(offset_f(out, t, j), t, vact<V>(act, v), w);
  }
}

}  // namespace
}  // namespace parley::kernels::cpu::simd
