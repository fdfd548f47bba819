// mma.sp-based 2:4 INT8 GEMM. Block: 4 warps, 64 weight rows (16 per warp) x 64 tokens, K in
// steps of 64; activations staged through shared memory with cp.async double buffering,
// compressed weights and metadata loaded per lane straight into their fragment registers.
// Why: see sparse24_gemm.h. Bounds: tokens >= M are zero-filled on load and skipped on store;
// weight rows >= N exist (zero padding to 16) and are skipped on store.
// Depends on sparse24_layout.h, sparse24_pack.h, epilogue.cuh, shared/engine/cuda.
#include "kernels/cuda/sparse24_gemm.h"

#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cuda/epilogue.cuh"
#include "kernels/cuda/sparse24_pack.h"
#include "shared/engine/cuda/cuda_check.h"
#include "shared/engine/cuda/device_buffer.h"

namespace parley::kernels::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kBlockRows = 16 * kWarps;  // weight rows per block
constexpr int kBlockTokens = 64;         // tokens per block (8 n8 sub-tiles)
constexpr int kSmemStride = 80;          // bytes per staged token row: 64 + 16 pad (no bank conflicts)

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, int src_bytes) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait_1() { asm volatile("cp.async.wait_group 1;\n" ::); }

__device__ __forceinline__ void mma_sp_16864(std::int32_t (&c)[4], const std::uint32_t (&a)[4],
                                             const std::uint32_t (&b)[4], std::uint32_t e) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sp::ordered_metadata.sync.aligned.m16n8k64.row.col.s32.s8.s8.s32 "
      "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9,%10,%11}, {%0,%1,%2,%3}, %12, 0x0;\n"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]),
        "r"(e));
#else
  (void)c;
  (void)a;
  (void)b;
  (void)e;
  __trap();
#endif
}

__global__ void __launch_bounds__(kThreads)
    sparse24_gemm_kernel(const std::int8_t* __restrict__ x, std::int64_t ldx,
                         const std::int8_t* __restrict__ values,
                         const std::uint32_t* __restrict__ meta, std::int64_t m, std::int64_t n,
                         std::int64_t n_pad, std::int64_t k, DequantEpilogue e, std::int64_t ldo) {
  __shared__ __align__(16) std::int8_t xs[2][kBlockTokens * kSmemStride];
  const int tid = threadIdx.x;
  const int warp = tid >> 5;
  const int lane = tid & 31;
  const std::int64_t m0 = static_cast<std::int64_t>(blockIdx.x) * kBlockTokens;
  const std::int64_t row_base = static_cast<std::int64_t>(blockIdx.y) * kBlockRows + 16 * warp;
  const bool warp_active = row_base < n_pad;  // warp-uniform
  const std::int64_t half_k = k / 2;
  const std::int64_t ktiles = k / sp24::kTileK;

  std::int32_t acc[8][4];
#pragma unroll
  for (int j = 0; j < 8; ++j) {
#pragma unroll
    for (int i = 0; i < 4; ++i) acc[j][i] = 0;
  }

  // 64 token rows x 4 chunks of 16 bytes = 256 chunks, 2 per thread.
  auto stage = [&](std::int64_t kt, int buf) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int c = tid + kThreads * i;
      const int row = c >> 2;
      const int chunk = c & 3;
      const std::int64_t tok = m0 + row;
      const bool valid = tok < m;
      const std::int8_t* src = x + (valid ? tok : 0) * ldx + kt * sp24::kTileK + chunk * 16;
      cp_async16(&xs[buf][row * kSmemStride + chunk * 16], src, valid ? 16 : 0);
    }
    cp_async_commit();
  };

  stage(0, 0);
  for (std::int64_t kt = 0; kt < ktiles; ++kt) {
    if (kt + 1 < ktiles) {
      stage(kt + 1, static_cast<int>((kt + 1) & 1));
    } else {
      cp_async_commit();  // empty group keeps the wait count uniform
    }
    std::uint32_t a[4] = {0u, 0u, 0u, 0u};
    std::uint32_t ew = 0u;
    if (warp_active) {
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const std::int64_t row = row_base + sp24::a_frag_row(lane, r);
        const std::int64_t col = kt * (sp24::kTileK / 2) + sp24::a_frag_ccol(lane, r);
        a[r] = *reinterpret_cast<const std::uint32_t*>(values + row * half_k + col);
      }
      ew = meta[((row_base / sp24::kTileRows) * ktiles + kt) * 32 + lane];
    }
    cp_async_wait_1();
    __syncthreads();
    if (warp_active) {
      const std::int8_t* tile = xs[kt & 1];
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        if (m0 + 8 * j < m) {  // warp-uniform: skip sub-tiles past the last token
          std::uint32_t b[4];
          const int tok = 8 * j + sp24::b_frag_token(lane);
#pragma unroll
          for (int r = 0; r < 4; ++r) {
            b[r] = *reinterpret_cast<const std::uint32_t*>(tile + tok * kSmemStride + sp24::b_frag_k(lane, r));
          }
          mma_sp_16864(acc[j], a, b, ew);
        }
      }
    }
    __syncthreads();
  }

  if (!warp_active) return;
#pragma unroll
  for (int j = 0; j < 8; ++j) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const std::int64_t row = row_base + sp24::c_frag_row(lane, i);
      const std::int64_t tok = m0 + 8 * j + sp24::c_frag_col(lane, i);
      if (row < n && tok < m) epilogue_store(e, ldo, tok, row, acc[j][i]);
    }
  }
}

bool aligned(const void* p, std::uintptr_t a) { return reinterpret_cast<std::uintptr_t>(p) % a == 0; }

// ---- fragment probe (see Sparse24Probe): one warp per probe, one block per probe.
// B fragment per the documented map (sp24::b_frag_*): lane holds B[k][n] for n = its token.
// kind 0 (metadata): A all ones, metadata nibbles all 0b0100 (kept positions 0, 1) but nibble
//   (L, j) = 0b1110 (positions 2, 3); B_h[k][n] = 1 where k % 4 >= 2 and k / 4 == n + 8h.
//   D_h[row][n] = 2 exactly for the (row, group n + 8h) that nibble controls.
// kind 1 (A values): metadata all 0b0100; A byte (L, r, b) = 1, every other 0;
//   B[k][n] = 1 + (k % 4) + 2 * (k / 32) where (k / 4) % 8 == n and k % 4 < 2, else 0.
__global__ void sparse24_probe_kernel(int kind, std::int32_t* out) {
  const int p = blockIdx.x;
  const int lane = threadIdx.x;
  std::uint32_t a[4], e = 0x44444444u;
  for (int r = 0; r < 4; ++r) a[r] = kind == 0 ? 0x01010101u : 0u;
  if (kind == 0) {
    const int L = p / 8, j = p % 8;
    if (lane == L) e = (e & ~(0xfu << (4 * j))) | (0xeu << (4 * j));
  } else {
    const int L = p / 16, r = (p / 4) % 4, b = p % 4;
    if (lane == L) a[r] = 1u << (8 * b);
  }
  for (int h = 0; h < 2; ++h) {
    std::uint32_t bf[4];
    const int n = sp24::b_frag_token(lane);
    for (int r = 0; r < 4; ++r) {
      std::uint32_t w = 0;
      for (int byte = 0; byte < 4; ++byte) {
        const int k = sp24::b_frag_k(lane, r) + byte;
        int v = 0;
        if (kind == 0) {
          v = (k % 4 >= 2 && k / 4 == n + 8 * h) ? 1 : 0;
        } else if (h == 0) {
          v = ((k / 4) % 8 == n && k % 4 < 2) ? 1 + (k % 4) + 2 * (k / 32) : 0;
        }
        w |= static_cast<std::uint32_t>(v & 0xff) << (8 * byte);
      }
      bf[r] = w;
    }
    std::int32_t c[4] = {0, 0, 0, 0};
    mma_sp_16864(c, a, bf, e);
    for (int i = 0; i < 4; ++i) {
      out[((p * 2 + h) * 16 + sp24::c_frag_row(lane, i)) * 8 + sp24::c_frag_col(lane, i)] = c[i];
    }
  }
}

}  // namespace

bool sparse24_launch_supported(const Sparse24Launch& s) {
  const std::int64_t ldx = s.ldx == 0 ? s.k : s.ldx;
  return s.k > 0 && s.k % sp24::kTileK == 0 && ldx >= s.k && ldx % 16 == 0 && aligned(s.x, 16) &&
         aligned(s.packed, 16) && s.n > 0 && s.m >= 0 && (s.n + kBlockRows - 1) / kBlockRows <= 65535;
}

Status launch_sparse24_gemm(const Sparse24Launch& s, cudaStream_t stream) {
  if (s.m == 0 || s.n == 0) return Status::ok();
  if (!sparse24_launch_supported(s)) {
    return invalid_argument(
        "sparse24 CUDA GEMM needs K % 64 == 0, 16-byte aligned activations with a row stride "
        "multiple of 16, and a 16-byte aligned packed weight");
  }
  if (s.epilogue.out == nullptr) return invalid_argument("sparse24 CUDA GEMM: null output");
  const sp24::PackedDims d = sp24::packed_dims(s.n, s.k);
  const auto* base = static_cast<const std::uint8_t*>(s.packed);
  const auto* values = reinterpret_cast<const std::int8_t*>(base);
  const auto* meta = reinterpret_cast<const std::uint32_t*>(base + d.meta_offset);
  const std::int64_t ldx = s.ldx == 0 ? s.k : s.ldx;
  const std::int64_t ldo = s.epilogue.ldo == 0 ? s.n : s.epilogue.ldo;
  if (ldo < s.n) return invalid_argument("sparse24 CUDA GEMM: output row stride shorter than N");
  const std::int64_t gx = (s.m + kBlockTokens - 1) / kBlockTokens;
  const std::int64_t gy = (d.n_pad + kBlockRows - 1) / kBlockRows;
  if (gx > 0x7fffffff) return invalid_argument("sparse24 CUDA GEMM: M too large");
  sparse24_gemm_kernel<<<dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy)), kThreads, 0, stream>>>(
      s.x, ldx, values, meta, s.m, s.n, d.n_pad, s.k, s.epilogue, ldo);
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

Status run_sparse24_probe(Sparse24Probe* probe, cudaStream_t stream) {
  int device = 0, major = 0;
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  PARLEY_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  if (major < 8) return unavailable("sparse tensor cores need sm_80 or newer");
  for (int kind = 0; kind < 2; ++kind) {
    const int probes = kind == 0 ? 32 * 8 : 32 * 16;
    std::vector<std::int32_t>& host = kind == 0 ? probe->meta : probe->a;
    host.assign(static_cast<std::size_t>(probes) * 2 * 16 * 8, 0);
    PARLEY_ASSIGN_OR_RETURN(auto dout, engine::cuda::DeviceBuffer::allocate(host.size() * sizeof(std::int32_t)));
    PARLEY_RETURN_IF_ERROR(dout.zero(stream));
    sparse24_probe_kernel<<<static_cast<unsigned>(probes), 32, 0, stream>>>(kind, dout.as<std::int32_t>());
    PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
    PARLEY_RETURN_IF_ERROR(dout.copy_to_host(host.data(), host.size() * sizeof(std::int32_t), stream));
    PARLEY_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
  }
  return Status::ok();
}

Sparse24ProbeReading read_sparse24_probe(const Sparse24Probe& probe) {
  Sparse24ProbeReading out;
  for (int lane = 0; lane < 32; ++lane) {
    for (int j = 0; j < 8; ++j) {
      int hits = 0, row = -1, group = -1;
      bool odd = false;
      for (int h = 0; h < 2; ++h) {
        for (int r = 0; r < 16; ++r) {
          for (int n = 0; n < 8; ++n) {
            const std::size_t at = static_cast<std::size_t>(((lane * 8 + j) * 2 + h) * 128 + r * 8 + n);
            const std::int32_t v = at < probe.meta.size() ? probe.meta[at] : 0;
            if (v == 0) continue;
            odd = odd || v != 2;
            ++hits;
            row = r;
            group = n + 8 * h;
          }
        }
      }
      const bool clean = hits == 1 && !odd;
      out.meta.row[lane][j] = static_cast<std::uint8_t>(clean ? row : 0xff);
      out.meta.group[lane][j] = static_cast<std::uint8_t>(clean ? group : 0xff);
      out.meta_clean += clean ? 1 : 0;
    }
  }
  std::ostringstream mismatches;
  for (int lane = 0; lane < 32; ++lane) {
    for (int r = 0; r < 4; ++r) {
      for (int b = 0; b < 4; ++b) {
        const int p = (lane * 4 + r) * 4 + b;
        int hits = 0, row = -1, col = -1;
        for (int rr = 0; rr < 16; ++rr) {
          for (int n = 0; n < 8; ++n) {
            const std::size_t at = static_cast<std::size_t>((p * 2) * 128 + rr * 8 + n);
            const std::int32_t v = at < probe.a.size() ? probe.a[at] : 0;
            if (v == 0) continue;
            ++hits;
            row = rr;
            col = v >= 1 && v <= 4 ? 2 * (n + 8 * ((v - 1) / 2)) + (v - 1) % 2 : -1;
          }
        }
        if (hits == 1 && row == sp24::a_frag_row(lane, r) && col == sp24::a_frag_ccol(lane, r) + b) {
          ++out.a_documented;
        } else if (mismatches.tellp() < 1500) {
          mismatches << " (lane " << lane << " reg " << r << " byte " << b << ": row " << row << " col " << col << ", "
                     << hits << " hits)";
        }
      }
    }
  }
  out.a_mismatches = mismatches.str();
  return out;
}

Result<Sparse24Calibration> calibrate_sparse24(cudaStream_t stream) {
  int device = 0;
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  int major = 0;
  PARLEY_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  if (major < 8) return unavailable("sparse tensor cores need sm_80 or newer");

  // A 32 x 128 weight (two row tiles, two K tiles) times 24 tokens: every fragment position and
  // every metadata pattern is exercised, and a wrong convention cannot match by accident.
  constexpr std::int64_t kN = 32, kK = 128, kM = 24;
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> val(-127, 127);
  std::uniform_int_distribution<int> pick(0, 5);
  static const int kPairs[6][2] = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
  std::vector<std::int8_t> cpu_values(kN * kK / 2);
  std::vector<std::uint8_t> cpu_meta(kN * kK / 8, 0);
  std::vector<std::int8_t> dense(kN * kK, 0);
  for (std::int64_t r = 0; r < kN; ++r) {
    for (std::int64_t g = 0; g < kK / 4; ++g) {
      const int* p = kPairs[pick(rng)];
      const auto v0 = static_cast<std::int8_t>(val(rng));
      const auto v1 = static_cast<std::int8_t>(val(rng));
      cpu_values[r * kK / 2 + 2 * g] = v0;
      cpu_values[r * kK / 2 + 2 * g + 1] = v1;
      dense[r * kK + 4 * g + p[0]] = v0;
      dense[r * kK + 4 * g + p[1]] = v1;
      const auto nib = static_cast<std::uint8_t>(p[0] | (p[1] << 2));
      cpu_meta[r * kK / 8 + g / 2] |= static_cast<std::uint8_t>(g % 2 == 0 ? nib : nib << 4);
    }
  }
  std::vector<std::int8_t> xh(kM * kK);
  for (auto& v : xh) v = static_cast<std::int8_t>(val(rng));
  std::vector<float> want(kM * kN);
  for (std::int64_t i = 0; i < kM; ++i) {
    for (std::int64_t j = 0; j < kN; ++j) {
      std::int32_t s = 0;
      for (std::int64_t kk = 0; kk < kK; ++kk) s += xh[i * kK + kk] * dense[j * kK + kk];
      want[i * kN + j] = static_cast<float>(s);  // |s| < 2^24: exact in f32
    }
  }

  PARLEY_ASSIGN_OR_RETURN(auto dx, engine::cuda::DeviceBuffer::allocate(xh.size()));
  PARLEY_ASSIGN_OR_RETURN(auto dout, engine::cuda::DeviceBuffer::allocate(want.size() * sizeof(float)));
  PARLEY_RETURN_IF_ERROR(dx.copy_from_host(xh.data(), xh.size(), stream));
  // Runs the known product with `map`: true when it is reproduced exactly.
  auto reproduces = [&](const sp24::MetaMap& map) -> Result<bool> {
    std::vector<std::uint8_t> packed;
    PARLEY_RETURN_IF_ERROR(pack_sparse24_host(
        Sparse24CpuView{kN, kK, cpu_values.data(), kK / 2, cpu_meta.data(), kK / 8}, map, &packed));
    PARLEY_ASSIGN_OR_RETURN(auto dw, engine::cuda::DeviceBuffer::allocate(packed.size()));
    PARLEY_RETURN_IF_ERROR(dw.copy_from_host(packed.data(), packed.size(), stream));
    PARLEY_RETURN_IF_ERROR(dout.zero(stream));
    Sparse24Launch s;
    s.x = dx.as<std::int8_t>();
    s.packed = dw.data();
    s.m = kM;
    s.n = kN;
    s.k = kK;
    s.epilogue.out = dout.data();
    s.epilogue.out_type = ElemType::kF32;
    PARLEY_RETURN_IF_ERROR(launch_sparse24_gemm(s, stream));
    std::vector<float> got(want.size());
    PARLEY_RETURN_IF_ERROR(dout.copy_to_host(got.data(), got.size() * sizeof(float), stream));
    PARLEY_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
    return std::memcmp(got.data(), want.data(), want.size() * sizeof(float)) == 0;
  };
  for (const Sparse24Calibration& cand : {Sparse24Calibration{sp24::meta_map(sp24::MetaConvention::kThreadQuarter), "thread-quarter"},
                                          Sparse24Calibration{sp24::meta_map(sp24::MetaConvention::kWithValues), "with-values"}}) {
    PARLEY_ASSIGN_OR_RETURN(const bool ok, reproduces(cand.map));
    if (ok) return cand;
  }
  // PTX shows the metadata layout only in figures: when neither reading works, measure it.
  Sparse24Probe probe;
  if (const Status st = run_sparse24_probe(&probe, stream); !st.is_ok()) {
    return unimplemented("sparse24: neither documented metadata reading reproduces a known product, and the "
                         "fragment probe failed: " + st.to_string());
  }
  const Sparse24ProbeReading reading = read_sparse24_probe(probe);
  if (reading.a_documented == 512 && reading.meta_clean == 256 && sp24::covers_tile_once(reading.meta)) {
    PARLEY_ASSIGN_OR_RETURN(const bool ok, reproduces(reading.meta));
    if (ok) return Sparse24Calibration{reading.meta, "measured"};
  }
  return unimplemented("sparse24: no metadata map reproduces a known product on this device (probe: " +
                       std::to_string(reading.meta_clean) + " of 256 nibbles clean, " +
                       std::to_string(reading.a_documented) + " of 512 A bytes where documented)");
}

}  // namespace parley::kernels::cuda
