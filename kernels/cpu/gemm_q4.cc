// CPU Q4 GEMM: validation, weight packing (every supported GGUF type into 16-lane tiles),
// per-32 activation quantization, ISA dispatch and the scalar reference.
// Why: see ops/gemm_q4.h; the fast tile loops are gemm_q4_avx2.cc and gemm_q4_avx512.cc.
// Depends on ops/gemm_q4.h, gemm_q4_internal.h, gguf_blocks.h, isa.h, shared/engine/half.h.
#include "kernels/ops/gemm_q4.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/gemm_q4_internal.h"
#include "kernels/cpu/gguf_blocks.h"
#include "kernels/cpu/isa.h"
#include "shared/engine/half.h"

namespace parley::kernels {
namespace {

Status bad(const std::string& what) { return invalid_argument("gemm_q4: " + what); }

std::string s(std::int64_t v) { return std::to_string(v); }

float f16_at(const std::uint8_t* p) {
  std::uint16_t h = 0;
  std::memcpy(&h, p, 2);
  return engine::f16_to_f32(h);
}

// One lane (32 values) of a GGUF row as stored: its codes (unsigned 0..63 for the 4/5/6-bit
// types, the raw int8 byte for Q8_0) and the raw scale bytes the tile keeps.
struct Lane {
  std::uint8_t code[32];
  const std::uint8_t* d = nullptr;     // f16: block d (legacy) or super-block d (K-quants)
  const std::uint8_t* m = nullptr;     // f16: Q4_1/Q5_1 min, Q4_K/Q5_K super-block dmin
  std::uint8_t sc[2] = {0, 0};         // K-quants: sub-block scale (Q6_K: values 0-15, 16-31)
  std::uint8_t mn = 0;                 // Q4_K/Q5_K: sub-block min
};

void read_lane(DType t, const std::uint8_t* row, std::int64_t b, Lane& L) {
  if (!engine::is_k_quant(t)) {
    const std::uint8_t* blk = row + b * engine::block_bytes(t);
    L.d = blk;
    switch (t) {
      case DType::kQ8_0:
        std::memcpy(L.code, blk + 2, 32);
        break;
      case DType::kQ4_0:
      case DType::kQ4_1: {
        if (t == DType::kQ4_1) L.m = blk + 2;
        const std::uint8_t* qs = blk + (t == DType::kQ4_1 ? 4 : 2);
        for (int v = 0; v < 32; ++v) L.code[v] = v < 16 ? (qs[v] & 15) : (qs[v - 16] >> 4);
        break;
      }
      default: {  // Q5_0 / Q5_1
        const bool one = t == DType::kQ5_1;
        if (one) L.m = blk + 2;
        std::uint32_t qh = 0;
        std::memcpy(&qh, blk + (one ? 4 : 2), 4);
        const std::uint8_t* qs = blk + (one ? 8 : 6);
        for (int v = 0; v < 32; ++v) {
          const int low = v < 16 ? (qs[v] & 15) : (qs[v - 16] >> 4);
          L.code[v] = static_cast<std::uint8_t>(low | (((qh >> v) & 1u) << 4));
        }
        break;
      }
    }
    return;
  }
  const std::uint8_t* sb = row + (b / 8) * engine::block_bytes(t);
  const int j = static_cast<int>(b % 8);
  if (t == DType::kQ6_K) {
    L.d = sb + 208;
    const auto* sc = sb + 192;
    L.sc[0] = sc[2 * j];
    L.sc[1] = sc[2 * j + 1];
    for (int l = 0; l < 32; ++l) {
      const int v = 32 * j + l, h = v / 128, w = v % 128;
      const int low = (sb[64 * h + w % 64] >> (4 * (w / 64))) & 15;
      const int high = (sb[128 + 32 * h + w % 32] >> (2 * (w / 32))) & 3;
      L.code[l] = static_cast<std::uint8_t>(low | (high << 4));
    }
    return;
  }
  // Q4_K / Q5_K
  const bool five = t == DType::kQ5_K;
  L.d = sb;
  L.m = sb + 2;
  cpu::kquant_scale_min(sb + 4, j, L.sc[0], L.mn);
  L.sc[1] = L.sc[0];
  const std::uint8_t* qs = sb + (five ? 48 : 16);
  for (int l = 0; l < 32; ++l) {
    int q = (qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 15;
    if (five) q |= ((sb[16 + l] >> j) & 1) << 4;
    L.code[l] = static_cast<std::uint8_t>(q);
  }
}

// Writes lane l of a tile (layout in ops/gemm_q4.h). The tile starts zeroed.
void write_lane(DType t, const Lane& L, int l, std::uint8_t* tile) {
  const cpu::detail::Q4TileLayout lay = cpu::detail::q4_tile_layout(t);
  std::uint8_t* hi = tile + lay.codes;
  std::uint8_t* so = tile + lay.scale_offset();
  for (int v = 0; v < 32; ++v) {
    const std::uint8_t code = L.code[v];
    if (t == DType::kQ8_0) {
      tile[(v / 4) * 64 + l * 4 + v % 4] = code ^ 0x80;
      continue;
    }
    std::uint8_t& byte = tile[(v / 8) * 64 + l * 4 + v % 4];
    byte = static_cast<std::uint8_t>((v % 8) < 4 ? ((byte & 0xF0) | (code & 15)) : ((byte & 0x0F) | ((code & 15) << 4)));
    if (lay.high == 64) hi[l * 4 + v % 4] |= static_cast<std::uint8_t>(((code >> 4) & 1) << (v / 4));
    if (lay.high == 128) {
      hi[64 * (v / 16) + l * 4 + v % 4] |= static_cast<std::uint8_t>(((code >> 4) & 3) << (2 * ((v / 4) % 4)));
    }
  }
  const int half = l < 8 ? 0 : 1;  // K-quants: lanes 0-7 are super-block A, 8-15 B
  switch (t) {
    case DType::kQ4_K:
    case DType::kQ5_K:
      so[l] = L.sc[0];
      so[16 + l] = L.mn;
      std::memcpy(so + 32 + 2 * half, L.d, 2);
      std::memcpy(so + 36 + 2 * half, L.m, 2);
      break;
    case DType::kQ6_K:
      so[l] = L.sc[0];
      so[16 + l] = L.sc[1];
      std::memcpy(so + 32 + 2 * half, L.d, 2);
      break;
    default:
      std::memcpy(so + 2 * l, L.d, 2);
      if (L.m != nullptr) std::memcpy(so + 32 + 2 * l, L.m, 2);
      break;
  }
}

}  // namespace

bool gemm_q4_type(DType t) { return cpu::detail::q4_tile_layout(t).codes > 0; }

int gemm_q4_group_blocks(std::int64_t k) {
  const std::int64_t blocks = k / 32;
  if (blocks <= 0) return 16;
  for (int g = 16; g > 1; g /= 2)
    if (blocks % g == 0) return g;
  return 1;
}

std::int64_t gemm_q4_packed_bytes(DType type, std::int64_t n, std::int64_t k) {
  if (!gemm_q4_type(type) || n < 0 || k < 0 || k % engine::block_size(type) != 0) return -1;
  const int g = gemm_q4_group_blocks(k), r = 16 / g;
  const std::int64_t groups = (n + r - 1) / r, nq = k / 32 / g;
  return groups * nq * cpu::detail::q4_tile_bytes(type);
}

Status validate(const GemmQ4Args& a) {
  if (a.m < 0 || a.n < 0 || a.k < 0) return bad("negative size");
  if (!gemm_q4_type(a.b_type)) {
    return bad("b_type " + std::string(engine::dtype_name(a.b_type)) +
               " is not q4_0, q4_1, q8_0, q5_0, q5_1, q4_k, q5_k or q6_k");
  }
  const std::int64_t bs = engine::block_size(a.b_type);
  if (a.k % bs != 0) return bad("K = " + s(a.k) + " is not a multiple of " + s(bs) + " (" + std::string(engine::dtype_name(a.b_type)) + ")");
  if (a.m == 0 || a.n == 0) return Status::ok();
  if (a.c == nullptr) return bad("c is null");
  if (a.ldc < a.n) return bad("ldc " + s(a.ldc) + " < N " + s(a.n));
  if (a.k == 0) return Status::ok();
  if (a.a == nullptr || a.b == nullptr) return bad("a or b is null");
  if (a.lda < a.k) return bad("lda " + s(a.lda) + " < K " + s(a.k));
  return Status::ok();
}

namespace cpu {
namespace detail {

std::int64_t q4_code_bytes(DType type) { return q4_tile_layout(type).codes; }

std::int64_t q4_tile_bytes(DType type) { return q4_tile_layout(type).bytes(); }

namespace {

// The code of value v of lane l in a tile (signed for Q8_0).
int tile_code(const std::uint8_t* tile, DType t, const Q4TileLayout& lay, int l, int v) {
  if (t == DType::kQ8_0) return static_cast<std::int8_t>(tile[(v / 4) * 64 + l * 4 + v % 4] ^ 0x80);
  const std::uint8_t byte = tile[(v / 8) * 64 + l * 4 + v % 4];
  int code = (v % 8) < 4 ? (byte & 15) : (byte >> 4);
  const std::uint8_t* hi = tile + lay.codes;
  if (lay.high == 64) code |= ((hi[l * 4 + v % 4] >> (v / 4)) & 1) << 4;
  if (lay.high == 128) code |= ((hi[64 * (v / 16) + l * 4 + v % 4] >> (2 * ((v / 4) % 4))) & 3) << 4;
  return code;
}

// Lane l's weight scale and the factor of the activation sum, per half lane (values 0-15, 16-31).
void lane_scales(const std::uint8_t* tile, DType t, const Q4TileLayout& lay, int l, float dw[2], float cw[2]) {
  const std::uint8_t* so = tile + lay.scale_offset();
  const int half = l < 8 ? 0 : 1;
  switch (t) {
    case DType::kQ4_K:
    case DType::kQ5_K:
      dw[0] = dw[1] = f16_at(so + 32 + 2 * half) * static_cast<float>(so[l]);
      cw[0] = cw[1] = -(f16_at(so + 36 + 2 * half) * static_cast<float>(so[16 + l]));
      return;
    case DType::kQ6_K:
      for (int h = 0; h < 2; ++h) {
        dw[h] = f16_at(so + 32 + 2 * half) * static_cast<float>(static_cast<std::int8_t>(so[16 * h + l]));
        cw[h] = -32.0f * dw[h];
      }
      return;
    default: {
      const float d = f16_at(so + 2 * l);
      dw[0] = dw[1] = d;
      switch (t) {
        case DType::kQ4_0: cw[0] = -8.0f * d; break;
        case DType::kQ5_0: cw[0] = -16.0f * d; break;
        case DType::kQ4_1:
        case DType::kQ5_1: cw[0] = f16_at(so + 32 + 2 * l); break;
        default: cw[0] = 0.0f; break;  // Q8_0: signed codes
      }
      cw[1] = cw[0];
      return;
    }
  }
}

}  // namespace

void gemm_q4_scalar(const GemmQ4Plan& p, ThreadPool& pool) {
  const GemmQ4Args& a = *p.args;
  const auto* w = static_cast<const std::uint8_t*>(a.b);
  const Q4TileLayout lay = q4_tile_layout(a.b_type);
  const bool halves = a.b_type == DType::kQ6_K;
  pool.parallel_for(p.groups, q4_grain(p), [&](std::int64_t g0, std::int64_t g1) {
    for (std::int64_t grp = g0; grp < g1; ++grp) {
      for (int r = 0; r < p.r; ++r) {
        const std::int64_t row = grp * p.r + r;
        if (row >= a.n) break;
        for (std::int64_t i = 0; i < a.m; ++i) {
          float acc = 0.0f;
          for (std::int64_t q = 0; q < p.nq; ++q) {
            const std::uint8_t* tile = w + (grp * p.nq + q) * p.tile_bytes;
            const std::int8_t* act = p.act + i * p.act_ld + q * 512;
            for (int j = 0; j < p.g; ++j) {
              const int l = r * p.g + j;
              std::int32_t dot[2] = {0, 0};
              for (int v = 0; v < 32; ++v) dot[v / 16] += tile_code(tile, a.b_type, lay, l, v) * act[(v / 4) * 64 + l * 4 + v % 4];
              float dw[2], cw[2];
              lane_scales(tile, a.b_type, lay, l, dw, cw);
              const float da = p.da[(i * p.nq + q) * 16 + l];
              if (halves) {
                const float* sh = p.sh + (i * p.nq + q) * 32;
                acc += da * (dw[0] * static_cast<float>(dot[0]) + dw[1] * static_cast<float>(dot[1]));
                acc += cw[0] * sh[l] + cw[1] * sh[16 + l];
              } else {
                acc += dw[0] * da * static_cast<float>(dot[0] + dot[1]);
                acc += cw[0] * p.sa[(i * p.nq + q) * 16 + l];
              }
            }
          }
          a.c[i * a.ldc + row] = acc + (a.bias ? a.bias[row] : 0.0f);
        }
      }
    }
  });
}

}  // namespace detail

Status pack_gemm_q4(const GemmQ4PackArgs& a, const ExecContext& ctx) {
  const std::int64_t total = gemm_q4_packed_bytes(a.type, a.n, a.k);
  if (total < 0) {
    return bad("cannot pack " + std::string(engine::dtype_name(a.type)) + " [" + s(a.n) + ", " + s(a.k) +
               "] (q4_0/q4_1/q8_0/q5_0/q5_1 with K % 32 == 0, q4_k/q5_k/q6_k with K % 256 == 0)");
  }
  if (total == 0) return Status::ok();
  const std::int64_t src_rb = a.src_row_bytes ? a.src_row_bytes : engine::row_bytes(a.type, a.k);
  if (a.src == nullptr || a.dst == nullptr) return bad("pack: src or dst is null");
  if (src_rb < engine::row_bytes(a.type, a.k)) return bad("pack: src_row_bytes " + s(src_rb) + " too small");
  const int g = gemm_q4_group_blocks(a.k), r = 16 / g;
  const std::int64_t nq = a.k / 32 / g, groups = (a.n + r - 1) / r, tb = detail::q4_tile_bytes(a.type);
  const auto* src = static_cast<const std::uint8_t*>(a.src);
  auto* dst = static_cast<std::uint8_t*>(a.dst);
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  pool.parallel_for(groups, 16, [&](std::int64_t g0, std::int64_t g1) {
    std::memset(dst + g0 * nq * tb, 0, static_cast<std::size_t>((g1 - g0) * nq * tb));  // padding rows: d = 0
    Lane lane;
    for (std::int64_t grp = g0; grp < g1; ++grp) {
      for (int rr = 0; rr < r && grp * r + rr < a.n; ++rr) {
        const std::uint8_t* row = src + (grp * r + rr) * src_rb;
        for (std::int64_t b = 0; b < a.k / 32; ++b) {
          read_lane(a.type, row, b, lane);
          write_lane(a.type, lane, rr * g + static_cast<int>(b % g), dst + (grp * nq + b / g) * tb);
        }
      }
    }
  });
  return Status::ok();
}

Status gemm_q4(const GemmQ4Args& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.m == 0 || a.n == 0) return Status::ok();
  if (a.k == 0) {
    for (std::int64_t i = 0; i < a.m; ++i) {
      for (std::int64_t j = 0; j < a.n; ++j) a.c[i * a.ldc + j] = a.bias ? a.bias[j] : 0.0f;
    }
    return Status::ok();
  }
  detail::GemmQ4Plan p;
  p.args = &a;
  p.g = gemm_q4_group_blocks(a.k);
  p.r = 16 / p.g;
  p.nq = a.k / 32 / p.g;
  p.groups = (a.n + p.r - 1) / p.r;
  p.tile_bytes = detail::q4_tile_bytes(a.b_type);
  p.act_ld = p.nq * 512;
  // Quantize each token per 32-block and write it in lane order (see GemmQ4Plan). Done on the
  // calling thread: M is small here and K at most a few thousand, so this is microseconds.
  std::vector<std::int8_t> act(static_cast<std::size_t>(a.m * p.act_ld));
  std::vector<float> da(static_cast<std::size_t>(a.m * p.nq * 16)), sa(da.size());
  const bool halves = a.b_type == DType::kQ6_K;  // per-16 weight scales: half-lane activation sums
  std::vector<float> sh(halves ? 2 * da.size() : 0);
  for (std::int64_t i = 0; i < a.m; ++i) {
    for (std::int64_t b = 0; b < a.k / 32; ++b) {
      const float* x = a.a + i * a.lda + b * 32;
      float amax = 0.0f;
      for (int t = 0; t < 32; ++t) amax = std::max(amax, std::abs(x[t]));
      const float d = amax / 127.0f;
      const float inv = d > 0.0f ? 1.0f / d : 0.0f;
      std::int8_t qv[32];
      std::int32_t half_sum[2] = {0, 0};
      constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: round half to even for |v| < 2^22
      for (int t = 0; t < 32; ++t) {
        const float v = std::clamp((x[t] * inv + kRound) - kRound, -127.0f, 127.0f);
        qv[t] = static_cast<std::int8_t>(v);
        half_sum[t / 16] += qv[t];
      }
      const std::int32_t sum = half_sum[0] + half_sum[1];
      const std::int64_t q = b / p.g;
      const int j = static_cast<int>(b % p.g);
      std::int8_t* dst = act.data() + i * p.act_ld + q * 512;
      for (int r = 0; r < p.r; ++r) {
        const int l = r * p.g + j;
        for (int c = 0; c < 8; ++c) std::memcpy(dst + c * 64 + l * 4, qv + 4 * c, 4);
        da[static_cast<std::size_t>((i * p.nq + q) * 16 + l)] = d;
        sa[static_cast<std::size_t>((i * p.nq + q) * 16 + l)] = d * static_cast<float>(sum);
        if (halves) {
          sh[static_cast<std::size_t>((i * p.nq + q) * 32 + l)] = d * static_cast<float>(half_sum[0]);
          sh[static_cast<std::size_t>((i * p.nq + q) * 32 + 16 + l)] = d * static_cast<float>(half_sum[1]);
        }
      }
    }
  }
  p.act = act.data();
  p.da = da.data();
  p.sa = sa.data();
  p.sh = halves ? sh.data() : nullptr;
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  switch (resolve_isa(ctx.cpu_isa)) {
    case CpuIsa::kAvx512Vnni: detail::gemm_q4_avx512_vnni(p, pool); break;
    case CpuIsa::kAvx2: detail::gemm_q4_avx2(p, pool); break;
    default: detail::gemm_q4_scalar(p, pool); break;
  }
  return Status::ok();
}

}  // namespace cpu
}  // namespace parley::kernels
