// CPU Q4 GEMM: validation, weight packing, per-block activation quantization, ISA dispatch and
// the scalar reference.
// Why: see ops/gemm_q4.h; the fast tile loops are gemm_q4_avx2.cc and gemm_q4_avx512.cc.
// Depends on ops/gemm_q4.h, gemm_q4_internal.h, isa.h, shared/engine/half.h.
#include "kernels/ops/gemm_q4.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/gemm_q4_internal.h"
#include "kernels/cpu/isa.h"
#include "shared/engine/half.h"

namespace parley::kernels {
namespace {

bool q4_type(DType t) { return t == DType::kQ4_0 || t == DType::kQ4_1 || t == DType::kQ8_0; }

Status bad(const std::string& what) { return invalid_argument("gemm_q4: " + what); }

std::string s(std::int64_t v) { return std::to_string(v); }

}  // namespace

int gemm_q4_group_blocks(std::int64_t k) {
  const std::int64_t blocks = k / 32;
  if (blocks <= 0) return 16;
  for (int g = 16; g > 1; g /= 2)
    if (blocks % g == 0) return g;
  return 1;
}

std::int64_t gemm_q4_packed_bytes(DType type, std::int64_t n, std::int64_t k) {
  if (!q4_type(type) || n < 0 || k < 0 || k % 32 != 0) return -1;
  const int g = gemm_q4_group_blocks(k), r = 16 / g;
  const std::int64_t groups = (n + r - 1) / r, nq = k / 32 / g;
  return groups * nq * cpu::detail::q4_tile_bytes(type);
}

Status validate(const GemmQ4Args& a) {
  if (a.m < 0 || a.n < 0 || a.k < 0) return bad("negative size");
  if (!q4_type(a.b_type)) return bad("b_type " + std::string(engine::dtype_name(a.b_type)) + " is not q4_0, q4_1 or q8_0");
  if (a.k % 32 != 0) return bad("K = " + s(a.k) + " is not a multiple of 32");
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

std::int64_t q4_code_bytes(DType type) { return type == DType::kQ8_0 ? 512 : 256; }

std::int64_t q4_tile_bytes(DType type) {
  switch (type) {
    case DType::kQ4_0: return 256 + 32;
    case DType::kQ4_1: return 256 + 64;
    case DType::kQ8_0: return 512 + 32;
    default: return 0;
  }
}

void gemm_q4_scalar(const GemmQ4Plan& p, ThreadPool& pool) {
  const GemmQ4Args& a = *p.args;
  const auto* w = static_cast<const std::uint8_t*>(a.b);
  const std::int64_t codes = q4_code_bytes(a.b_type);
  pool.parallel_for(p.groups, q4_grain(p), [&](std::int64_t g0, std::int64_t g1) {
    for (std::int64_t grp = g0; grp < g1; ++grp) {
      for (int r = 0; r < p.r; ++r) {
        const std::int64_t row = grp * p.r + r;
        if (row >= a.n) break;
        for (std::int64_t i = 0; i < a.m; ++i) {
          float acc = 0.0f;
          for (std::int64_t q = 0; q < p.nq; ++q) {
            const std::uint8_t* tile = w + (grp * p.nq + q) * p.tile_bytes;
            std::uint16_t dh[16], mh[16] = {};
            std::memcpy(dh, tile + codes, sizeof(dh));
            if (a.b_type == DType::kQ4_1) std::memcpy(mh, tile + codes + 32, sizeof(mh));
            const std::int8_t* act = p.act + i * p.act_ld + q * 512;
            for (int j = 0; j < p.g; ++j) {
              const int l = r * p.g + j;
              std::int32_t dot = 0;
              for (int v = 0; v < 32; ++v) {
                std::int32_t code;
                if (a.b_type == DType::kQ8_0) {
                  code = static_cast<std::int8_t>(tile[(v / 4) * 64 + l * 4 + v % 4] ^ 0x80);
                } else {
                  const std::uint8_t byte = tile[(v / 8) * 64 + l * 4 + v % 4];
                  code = (v % 8) < 4 ? (byte & 15) : (byte >> 4);
                }
                dot += code * act[(v / 4) * 64 + l * 4 + v % 4];
              }
              const float dw = engine::f16_to_f32(dh[l]);
              const float da = p.da[(i * p.nq + q) * 16 + l], sa = p.sa[(i * p.nq + q) * 16 + l];
              acc += dw * da * static_cast<float>(dot);
              if (a.b_type == DType::kQ4_0) acc += -8.0f * dw * sa;
              if (a.b_type == DType::kQ4_1) acc += engine::f16_to_f32(mh[l]) * sa;
            }
          }
          a.c[i * a.ldc + row] = acc;
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
               "] (q4_0/q4_1/q8_0, K % 32 == 0)");
  }
  if (total == 0) return Status::ok();
  const std::int64_t src_rb = a.src_row_bytes ? a.src_row_bytes : engine::row_bytes(a.type, a.k);
  if (a.src == nullptr || a.dst == nullptr) return bad("pack: src or dst is null");
  if (src_rb < engine::row_bytes(a.type, a.k)) return bad("pack: src_row_bytes " + s(src_rb) + " too small");
  const int g = gemm_q4_group_blocks(a.k), r = 16 / g;
  const std::int64_t nq = a.k / 32 / g, groups = (a.n + r - 1) / r, tb = detail::q4_tile_bytes(a.type);
  const std::int64_t codes = detail::q4_code_bytes(a.type), bb = engine::block_bytes(a.type);
  const auto* src = static_cast<const std::uint8_t*>(a.src);
  auto* dst = static_cast<std::uint8_t*>(a.dst);
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  pool.parallel_for(groups, 16, [&](std::int64_t g0, std::int64_t g1) {
    std::memset(dst + g0 * nq * tb, 0, static_cast<std::size_t>((g1 - g0) * nq * tb));  // padding rows: d = 0
    for (std::int64_t grp = g0; grp < g1; ++grp) {
      for (int rr = 0; rr < r && grp * r + rr < a.n; ++rr) {
        const std::uint8_t* row = src + (grp * r + rr) * src_rb;
        for (std::int64_t b = 0; b < a.k / 32; ++b) {
          const std::uint8_t* blk = row + b * bb;
          const std::int64_t q = b / g;
          const int l = rr * g + static_cast<int>(b % g);
          std::uint8_t* tile = dst + (grp * nq + q) * tb;
          std::memcpy(tile + codes + 2 * l, blk, 2);                                  // d
          if (a.type == DType::kQ4_1) std::memcpy(tile + codes + 32 + 2 * l, blk + 2, 2);  // m
          if (a.type == DType::kQ8_0) {
            for (int v = 0; v < 32; ++v) tile[(v / 4) * 64 + l * 4 + v % 4] = blk[2 + v] ^ 0x80;
          } else {
            const std::uint8_t* qs = blk + (a.type == DType::kQ4_1 ? 4 : 2);
            for (int v = 0; v < 32; ++v) {
              const std::uint8_t code = v < 16 ? (qs[v] & 15) : (qs[v - 16] >> 4);
              std::uint8_t& byte = tile[(v / 8) * 64 + l * 4 + v % 4];
              byte = static_cast<std::uint8_t>((v % 8) < 4 ? ((byte & 0xF0) | code) : ((byte & 0x0F) | (code << 4)));
            }
          }
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
    for (std::int64_t i = 0; i < a.m; ++i) std::fill(a.c + i * a.ldc, a.c + i * a.ldc + a.n, 0.0f);
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
  for (std::int64_t i = 0; i < a.m; ++i) {
    for (std::int64_t b = 0; b < a.k / 32; ++b) {
      const float* x = a.a + i * a.lda + b * 32;
      float amax = 0.0f;
      for (int t = 0; t < 32; ++t) amax = std::max(amax, std::abs(x[t]));
      const float d = amax / 127.0f;
      const float inv = d > 0.0f ? 1.0f / d : 0.0f;
      std::int8_t qv[32];
      std::int32_t sum = 0;
      constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: round half to even for |v| < 2^22
      for (int t = 0; t < 32; ++t) {
        const float v = std::clamp((x[t] * inv + kRound) - kRound, -127.0f, 127.0f);
        qv[t] = static_cast<std::int8_t>(v);
        sum += qv[t];
      }
      const std::int64_t q = b / p.g;
      const int j = static_cast<int>(b % p.g);
      std::int8_t* dst = act.data() + i * p.act_ld + q * 512;
      for (int r = 0; r < p.r; ++r) {
        const int l = r * p.g + j;
        for (int c = 0; c < 8; ++c) std::memcpy(dst + c * 64 + l * 4, qv + 4 * c, 4);
        da[static_cast<std::size_t>((i * p.nq + q) * 16 + l)] = d;
        sa[static_cast<std::size_t>((i * p.nq + q) * 16 + l)] = d * static_cast<float>(sum);
      }
    }
  }
  p.act = act.data();
  p.da = da.data();
  p.sa = sa.data();
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
