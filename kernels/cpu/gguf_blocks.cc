// GGUF block codecs: dequantization of every engine GGUF format as ggml computes it, ggml's
// reference quantizers for the legacy formats, and a direct min/max quantizer for the K-quants.
// Why: see gguf_blocks.h; the byte layouts are documented in kernels/ops/quantize.h.
// Depends on gguf_blocks.h, shared/engine/half.h.
#include "kernels/cpu/gguf_blocks.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "shared/engine/half.h"

namespace parley::kernels::cpu {
namespace {

using engine::DType;

float f16_at(const std::uint8_t* p) {
  std::uint16_t h = 0;
  std::memcpy(&h, p, 2);
  return engine::f16_to_f32(h);
}

void put_f16(std::uint8_t* p, float v) {
  const std::uint16_t h = engine::f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

// round half to even, then clamp to [lo, hi].
int rne_clamp(float v, int lo, int hi) {
  const float r = std::nearbyint(v);
  if (!(r >= static_cast<float>(lo))) return lo;  // also NaN
  if (r > static_cast<float>(hi)) return hi;
  return static_cast<int>(r);
}

// The value of largest magnitude (first one on ties), as ggml's Q4_0/Q5_0 quantizers pick it.
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, v = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      v = x[j];
    }
  }
  return v;
}

// ---- legacy 32-value blocks (ggml's reference quantizers, same float operations) ---------------

void quantize_legacy(const float* x, DType t, std::uint8_t* out) {
  switch (t) {
    case DType::kQ8_0: {
      float amax = 0.0f;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
      const float d = amax / 127.0f;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      put_f16(out, d);
      auto* q = reinterpret_cast<std::int8_t*>(out + 2);
      for (int j = 0; j < 32; ++j) q[j] = static_cast<std::int8_t>(std::round(x[j] * id));
      break;
    }
    case DType::kQ4_0:
    case DType::kQ5_0: {
      const bool five = t == DType::kQ5_0;
      const float mx = signed_absmax(x, 32);
      const float d = mx / (five ? -16.0f : -8.0f);
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      const float offset = five ? 16.5f : 8.5f;
      const int top = five ? 31 : 15;
      put_f16(out, d);
      std::uint8_t* qs = out + (five ? 6 : 2);
      std::uint32_t qh = 0;
      for (int j = 0; j < 16; ++j) {
        const int q0 = std::min<int>(top, static_cast<std::int8_t>(x[j] * id + offset));
        const int q1 = std::min<int>(top, static_cast<std::int8_t>(x[j + 16] * id + offset));
        qs[j] = static_cast<std::uint8_t>((q0 & 15) | ((q1 & 15) << 4));
        qh |= static_cast<std::uint32_t>((q0 & 0x10) >> 4) << j;
        qh |= static_cast<std::uint32_t>((q1 & 0x10) >> 4) << (j + 16);
      }
      if (five) std::memcpy(out + 2, &qh, 4);
      break;
    }
    case DType::kQ4_1:
    case DType::kQ5_1: {
      const bool five = t == DType::kQ5_1;
      float mn = FLT_MAX, mx = -FLT_MAX;
      for (int j = 0; j < 32; ++j) {
        mn = std::min(mn, x[j]);
        mx = std::max(mx, x[j]);
      }
      const float d = (mx - mn) / (five ? 31.0f : 15.0f);
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      put_f16(out, d);
      put_f16(out + 2, mn);
      std::uint8_t* qs = out + (five ? 8 : 4);
      std::uint32_t qh = 0;
      for (int j = 0; j < 16; ++j) {
        const float v0 = (x[j] - mn) * id + 0.5f, v1 = (x[j + 16] - mn) * id + 0.5f;
        // ggml: Q4_1 clamps an int8 conversion to 15, Q5_1 converts to uint8 (at most 31.5 -> 31).
        const int q0 = five ? static_cast<std::uint8_t>(v0) : std::min<int>(15, static_cast<std::int8_t>(v0));
        const int q1 = five ? static_cast<std::uint8_t>(v1) : std::min<int>(15, static_cast<std::int8_t>(v1));
        qs[j] = static_cast<std::uint8_t>((q0 & 15) | ((q1 & 15) << 4));
        qh |= static_cast<std::uint32_t>((q0 & 0x10) >> 4) << j;
        qh |= static_cast<std::uint32_t>((q1 & 0x10) >> 4) << (j + 16);
      }
      if (five) std::memcpy(out + 4, &qh, 4);
      break;
    }
    default: break;
  }
}

void dequantize_legacy(const std::uint8_t* p, DType t, float* out) {
  const float d = f16_at(p);
  switch (t) {
    case DType::kQ8_0: {
      const auto* q = reinterpret_cast<const std::int8_t*>(p + 2);
      for (int i = 0; i < 32; ++i) out[i] = static_cast<float>(q[i]) * d;
      break;
    }
    case DType::kQ4_0: {
      const std::uint8_t* q = p + 2;
      for (int i = 0; i < 16; ++i) {
        out[i] = static_cast<float>((q[i] & 15) - 8) * d;
        out[i + 16] = static_cast<float>((q[i] >> 4) - 8) * d;
      }
      break;
    }
    case DType::kQ4_1: {
      const float m = f16_at(p + 2);
      const std::uint8_t* q = p + 4;
      for (int i = 0; i < 16; ++i) {
        out[i] = static_cast<float>(q[i] & 15) * d + m;
        out[i + 16] = static_cast<float>(q[i] >> 4) * d + m;
      }
      break;
    }
    case DType::kQ5_0:
    case DType::kQ5_1: {
      const bool one = t == DType::kQ5_1;
      const float m = one ? f16_at(p + 2) : 0.0f;
      std::uint32_t qh = 0;
      std::memcpy(&qh, p + (one ? 4 : 2), 4);
      const std::uint8_t* q = p + (one ? 8 : 6);
      for (int i = 0; i < 16; ++i) {
        const int q0 = (q[i] & 15) | static_cast<int>(((qh >> i) & 1u) << 4);
        const int q1 = (q[i] >> 4) | static_cast<int>(((qh >> (i + 16)) & 1u) << 4);
        if (one) {
          out[i] = static_cast<float>(q0) * d + m;
          out[i + 16] = static_cast<float>(q1) * d + m;
        } else {
          out[i] = static_cast<float>(q0 - 16) * d;
          out[i + 16] = static_cast<float>(q1 - 16) * d;
        }
      }
      break;
    }
    default:
      for (int i = 0; i < 32; ++i) out[i] = 0.0f;
      break;
  }
}

// ---- K-quants (256-value super-blocks) -------------------------------------------------------

void dequantize_kquant(const std::uint8_t* p, DType t, float* y) {
  switch (t) {
    case DType::kQ2_K: {
      const std::uint8_t* sc = p;
      const std::uint8_t* qs = p + 16;
      const float d = f16_at(p + 80), dmin = f16_at(p + 82);
      for (int v = 0; v < 256; ++v) {
        const int h = v / 128, w = v % 128, s = w / 32;
        const int q = (qs[32 * h + w % 32] >> (2 * s)) & 3;
        const std::uint8_t scale = sc[v / 16];
        const float dl = d * static_cast<float>(scale & 0xF), ml = dmin * static_cast<float>(scale >> 4);
        y[v] = dl * static_cast<float>(q) - ml;
      }
      break;
    }
    case DType::kQ3_K: {
      const std::uint8_t* hm = p;
      const std::uint8_t* qs = p + 32;
      const std::uint8_t* sc = p + 96;
      const float d = f16_at(p + 108);
      for (int v = 0; v < 256; ++v) {
        const int h = v / 128, w = v % 128, s = w / 32;
        const int low = (qs[32 * h + w % 32] >> (2 * s)) & 3;
        const int high = (hm[v % 32] >> (v / 32)) & 1;
        const float dl = d * static_cast<float>(q3k_scale(sc, v / 16));
        y[v] = dl * static_cast<float>(low - (high ? 0 : 4));
      }
      break;
    }
    case DType::kQ4_K:
    case DType::kQ5_K: {
      const bool five = t == DType::kQ5_K;
      const float d = f16_at(p), dmin = f16_at(p + 2);
      const std::uint8_t* sc = p + 4;
      const std::uint8_t* qh = p + 16;
      const std::uint8_t* qs = p + (five ? 48 : 16);
      for (int j = 0; j < 8; ++j) {
        std::uint8_t s = 0, m = 0;
        kquant_scale_min(sc, j, s, m);
        const float d1 = d * static_cast<float>(s), m1 = dmin * static_cast<float>(m);
        for (int l = 0; l < 32; ++l) {
          int q = (qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 15;
          if (five) q |= ((qh[l] >> j) & 1) << 4;
          y[32 * j + l] = d1 * static_cast<float>(q) - m1;
        }
      }
      break;
    }
    case DType::kQ6_K: {
      const std::uint8_t* ql = p;
      const std::uint8_t* qh = p + 128;
      const auto* sc = reinterpret_cast<const std::int8_t*>(p + 192);
      const float d = f16_at(p + 208);
      for (int v = 0; v < 256; ++v) {
        const int h = v / 128, w = v % 128;
        const int low = (ql[64 * h + w % 64] >> (4 * (w / 64))) & 15;
        const int high = (qh[32 * h + w % 32] >> (2 * (w / 32))) & 3;
        y[v] = d * static_cast<float>(sc[v / 16]) * static_cast<float>((low | (high << 4)) - 32);
      }
      break;
    }
    default:
      for (int v = 0; v < 256; ++v) y[v] = 0.0f;
      break;
  }
}

// Sub-block scale and min for an asymmetric code range [0, top]: x ~ scale * q - min, min >= 0.
void asym_range(const float* x, int n, int top, float& scale, float& min) {
  float mn = 0.0f, mx = 0.0f;
  for (int j = 0; j < n; ++j) {
    mn = std::min(mn, x[j]);
    mx = std::max(mx, x[j]);
  }
  scale = (mx - mn) / static_cast<float>(top);
  min = -mn;
}

// Codes of an asymmetric sub-block with the stored (rounded) scale dl and min ml.
int asym_code(float x, float dl, float ml, int top) { return dl > 0.0f ? rne_clamp((x + ml) / dl, 0, top) : 0; }

void quantize_kquant(const float* x, DType t, std::uint8_t* out) {
  std::memset(out, 0, static_cast<std::size_t>(engine::block_bytes(t)));
  switch (t) {
    case DType::kQ2_K: {
      float scales[16], mins[16], max_s = 0.0f, max_m = 0.0f;
      for (int j = 0; j < 16; ++j) {
        asym_range(x + 16 * j, 16, 3, scales[j], mins[j]);
        max_s = std::max(max_s, scales[j]);
        max_m = std::max(max_m, mins[j]);
      }
      put_f16(out + 80, max_s / 15.0f);
      put_f16(out + 82, max_m / 15.0f);
      const float d = f16_at(out + 80), dmin = f16_at(out + 82);
      for (int j = 0; j < 16; ++j) {
        const int ls = d > 0.0f ? rne_clamp(scales[j] / d, 0, 15) : 0;
        const int lm = dmin > 0.0f ? rne_clamp(mins[j] / dmin, 0, 15) : 0;
        out[j] = static_cast<std::uint8_t>(ls | (lm << 4));
        const float dl = d * static_cast<float>(ls), ml = dmin * static_cast<float>(lm);
        for (int l = 0; l < 16; ++l) {
          const int v = 16 * j + l, h = v / 128, w = v % 128;
          out[16 + 32 * h + w % 32] |= static_cast<std::uint8_t>(asym_code(x[v], dl, ml, 3) << (2 * (w / 32)));
        }
      }
      break;
    }
    case DType::kQ3_K: {
      float scales[16], max_s = 0.0f;
      for (int j = 0; j < 16; ++j) {
        scales[j] = signed_absmax(x + 16 * j, 16) / -4.0f;
        max_s = std::max(max_s, std::fabs(scales[j]));
      }
      put_f16(out + 108, max_s / 31.0f);
      const float d = f16_at(out + 108);
      for (int j = 0; j < 16; ++j) {
        const int ls = d > 0.0f ? rne_clamp(scales[j] / d, -32, 31) : 0;
        const int u = ls + 32;
        out[96 + (j < 8 ? j : j - 8)] |= static_cast<std::uint8_t>((u & 0xF) << (j < 8 ? 0 : 4));
        out[96 + 8 + j % 4] |= static_cast<std::uint8_t>((u >> 4) << (2 * (j / 4)));
        const float dl = d * static_cast<float>(ls);
        for (int l = 0; l < 16; ++l) {
          const int v = 16 * j + l, h = v / 128, w = v % 128;
          const int code = dl != 0.0f ? rne_clamp(x[v] / dl + 4.0f, 0, 7) : 4;
          out[32 + 32 * h + w % 32] |= static_cast<std::uint8_t>((code & 3) << (2 * (w / 32)));
          out[v % 32] |= static_cast<std::uint8_t>((code >> 2) << (v / 32));
        }
      }
      break;
    }
    case DType::kQ4_K:
    case DType::kQ5_K: {
      const bool five = t == DType::kQ5_K;
      const int top = five ? 31 : 15;
      float scales[8], mins[8], max_s = 0.0f, max_m = 0.0f;
      for (int j = 0; j < 8; ++j) {
        asym_range(x + 32 * j, 32, top, scales[j], mins[j]);
        max_s = std::max(max_s, scales[j]);
        max_m = std::max(max_m, mins[j]);
      }
      put_f16(out, max_s / 63.0f);
      put_f16(out + 2, max_m / 63.0f);
      const float d = f16_at(out), dmin = f16_at(out + 2);
      std::uint8_t* sc = out + 4;
      std::uint8_t* qh = out + 16;
      std::uint8_t* qs = out + (five ? 48 : 16);
      for (int j = 0; j < 8; ++j) {
        const int ls = d > 0.0f ? rne_clamp(scales[j] / d, 0, 63) : 0;
        const int lm = dmin > 0.0f ? rne_clamp(mins[j] / dmin, 0, 63) : 0;
        if (j < 4) {
          sc[j] = static_cast<std::uint8_t>(ls);
          sc[j + 4] = static_cast<std::uint8_t>(lm);
        } else {
          sc[j + 4] = static_cast<std::uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
          sc[j - 4] |= static_cast<std::uint8_t>((ls >> 4) << 6);
          sc[j] |= static_cast<std::uint8_t>((lm >> 4) << 6);
        }
        const float dl = d * static_cast<float>(ls), ml = dmin * static_cast<float>(lm);
        for (int l = 0; l < 32; ++l) {
          const int q = asym_code(x[32 * j + l], dl, ml, top);
          qs[32 * (j / 2) + l] |= static_cast<std::uint8_t>((q & 15) << (4 * (j % 2)));
          if (five) qh[l] |= static_cast<std::uint8_t>((q >> 4) << j);
        }
      }
      break;
    }
    case DType::kQ6_K: {
      float scales[16], max_s = 0.0f;
      for (int j = 0; j < 16; ++j) {
        scales[j] = signed_absmax(x + 16 * j, 16) / -32.0f;
        max_s = std::max(max_s, std::fabs(scales[j]));
      }
      put_f16(out + 208, max_s / 127.0f);
      const float d = f16_at(out + 208);
      auto* sc = reinterpret_cast<std::int8_t*>(out + 192);
      for (int j = 0; j < 16; ++j) {
        const int ls = d > 0.0f ? rne_clamp(scales[j] / d, -128, 127) : 0;
        sc[j] = static_cast<std::int8_t>(ls);
        const float dl = d * static_cast<float>(ls);
        for (int l = 0; l < 16; ++l) {
          const int v = 16 * j + l, h = v / 128, w = v % 128;
          const int code = dl != 0.0f ? rne_clamp(x[v] / dl + 32.0f, 0, 63) : 32;
          out[64 * h + w % 64] |= static_cast<std::uint8_t>((code & 15) << (4 * (w / 64)));
          out[128 + 32 * h + w % 32] |= static_cast<std::uint8_t>((code >> 4) << (2 * (w / 32)));
        }
      }
      break;
    }
    default: break;
  }
}

}  // namespace

void dequantize_gguf_block(const std::uint8_t* block, DType t, float* out) {
  if (engine::is_k_quant(t)) {
    dequantize_kquant(block, t, out);
  } else {
    dequantize_legacy(block, t, out);
  }
}

void quantize_gguf_block(const float* x, DType t, std::uint8_t* out) {
  if (engine::is_k_quant(t)) {
    quantize_kquant(x, t, out);
  } else {
    quantize_legacy(x, t, out);
  }
}

}  // namespace parley::kernels::cpu
