// CPU 2:4 sparsity: prune by magnitude, compress to the kCpu layout (ops/sparse24.h), expand, and
// sparse x dense GEMM (f32, int8).
// Why: the CPU has no sparse tensor cores, so the fast path expands strips of 64 weight rows into
// a dense scratch (table-driven, 8 values per metadata byte) and runs the dense ISA kernel on
// each strip: weights stay half-size in memory and the math runs at dense speed. The scalar
// reference multiplies straight from the compressed form.
// Depends on ops/sparse24.h, ops/gemm.h, ops/gemm_int8.h, isa.h, dtype_io.h, act_math.h.
#include "kernels/ops/sparse24.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/act_math.h"
#include "kernels/cpu/dtype_io.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/gemm.h"
#include "kernels/ops/gemm_int8.h"

namespace parley::kernels::cpu {
namespace {

float magnitude(const void* w, DType t, std::int64_t i) {
  return t == DType::kI8 ? static_cast<float>(std::abs(static_cast<const std::int8_t*>(w)[i]))
                         : std::fabs(static_cast<const float*>(w)[i]);
}

bool is_zero(const void* w, DType t, std::int64_t i) {
  return t == DType::kI8 ? static_cast<const std::int8_t*>(w)[i] == 0 : static_cast<const float*>(w)[i] == 0.0f;
}

std::int64_t elem(DType t) { return t == DType::kI8 ? 1 : 4; }

Status check_dtype(const char* op, DType t) {
  if (t != DType::kF32 && t != DType::kI8) return invalid_argument(std::string(op) + ": dtype must be f32 or i8");
  return Status::ok();
}

// The kCpu view of a matrix given in either layout (CPU kBackendPacked = values then meta, dense).
Sparse24Matrix as_cpu_layout(const Sparse24Matrix& m) {
  if (m.layout == Sparse24Layout::kCpu) return m;
  Sparse24Matrix v = m;
  v.layout = Sparse24Layout::kCpu;
  v.values_ld = m.cols / 2;
  v.meta_ld = sparse24_meta_bytes(m.cols);
  v.meta = static_cast<const std::uint8_t*>(m.values) + m.rows * v.values_ld * elem(m.dtype);
  return v;
}

// Column offsets for each metadata byte value: (low nibble -> 2 columns, high nibble -> 2 columns).
struct ExpandTable {
  std::array<std::array<std::uint8_t, 4>, 256> cols;
  ExpandTable() {
    for (int b = 0; b < 256; ++b) {
      cols[static_cast<std::size_t>(b)] = {static_cast<std::uint8_t>(b & 3), static_cast<std::uint8_t>((b >> 2) & 3),
                                           static_cast<std::uint8_t>(4 + ((b >> 4) & 3)), static_cast<std::uint8_t>(4 + ((b >> 6) & 3))};
    }
  }
};
const ExpandTable& expand_table() {
  static const ExpandTable t;
  return t;
}

// Expands rows [r0, r1) of a kCpu matrix into dense rows of `cols` elements at dst (ld = cols).
template <typename T>
void expand_rows(const Sparse24Matrix& m, std::int64_t r0, std::int64_t r1, T* dst) {
  const ExpandTable& tab = expand_table();
  const std::int64_t groups = m.cols / 4;
  for (std::int64_t r = r0; r < r1; ++r) {
    const T* vals = static_cast<const T*>(m.values) + r * m.values_ld;
    const std::uint8_t* meta = m.meta + r * m.meta_ld;
    T* out = dst + (r - r0) * m.cols;
    std::memset(out, 0, sizeof(T) * static_cast<std::size_t>(m.cols));
    std::int64_t g = 0;
    for (; g + 2 <= groups; g += 2) {
      const auto& c = tab.cols[meta[g / 2]];
      T* o = out + g * 4;
      const T* v = vals + g * 2;
      o[c[0]] = v[0];
      o[c[1]] = v[1];
      o[c[2]] = v[2];
      o[c[3]] = v[3];
    }
    if (g < groups) {  // odd group count: low nibble of the last byte
      const auto& c = tab.cols[meta[g / 2]];
      out[g * 4 + c[0]] = vals[g * 2];
      out[g * 4 + c[1]] = vals[g * 2 + 1];
    }
  }
}

void store_out(const Sparse24GemmArgs& a, std::int64_t i, std::int64_t j, float v) {
  if (a.bias) v += a.bias[j];
  store_f(a.c, a.c_type, i * a.ldc + j, act_apply(a.activation, v));
}

void sparse_scalar(const Sparse24GemmArgs& a, const Sparse24Matrix& b, ThreadPool& pool) {
  const std::int64_t groups = a.k / 4;
  pool.parallel_for(a.n, 8, [&](std::int64_t j0, std::int64_t j1) {
    for (std::int64_t j = j0; j < j1; ++j) {
      const std::uint8_t* meta = b.meta + j * b.meta_ld;
      for (std::int64_t i = 0; i < a.m; ++i) {
        if (a.a_type == DType::kF32) {
          const float* x = static_cast<const float*>(a.a) + i * a.lda;
          const float* v = static_cast<const float*>(b.values) + j * b.values_ld;
          float acc = 0.0f;
          for (std::int64_t g = 0; g < groups; ++g) {
            const int nib = (meta[g / 2] >> ((g & 1) * 4)) & 15;
            acc += v[2 * g] * x[4 * g + (nib & 3)] + v[2 * g + 1] * x[4 * g + (nib >> 2)];
          }
          store_out(a, i, j, acc);
        } else {
          const std::int8_t* x = static_cast<const std::int8_t*>(a.a) + i * a.lda;
          const std::int8_t* v = static_cast<const std::int8_t*>(b.values) + j * b.values_ld;
          std::int32_t acc = 0;
          for (std::int64_t g = 0; g < groups; ++g) {
            const int nib = (meta[g / 2] >> ((g & 1) * 4)) & 15;
            acc += static_cast<std::int32_t>(v[2 * g]) * x[4 * g + (nib & 3)] +
                   static_cast<std::int32_t>(v[2 * g + 1]) * x[4 * g + (nib >> 2)];
          }
          const float sa = a.a_per_tensor ? a.a_scales[0] : a.a_scales[i];
          const float sb = a.b_per_tensor ? a.b_scales[0] : a.b_scales[j];
          store_out(a, i, j, static_cast<float>(acc) * (sa * sb));
        }
      }
    }
  });
}

// Expand strips of weight rows and run the dense ISA GEMM on each (nested pool calls run inline).
void sparse_expanded(const Sparse24GemmArgs& a, const Sparse24Matrix& b, const ExecContext& ctx, ThreadPool& pool) {
  constexpr std::int64_t kStrip = 64;
  const std::int64_t strips = (a.n + kStrip - 1) / kStrip;
  pool.parallel_for(strips, 1, [&](std::int64_t s0, std::int64_t s1) {
    std::vector<std::uint8_t> dense(static_cast<std::size_t>(kStrip * a.k * elem(b.dtype)));
    for (std::int64_t s = s0; s < s1; ++s) {
      const std::int64_t j0 = s * kStrip, rows = std::min(kStrip, a.n - j0);
      ExecContext inner = ctx;
      inner.threads = &pool;
      Status st;
      if (b.dtype == DType::kI8) {
        expand_rows<std::int8_t>(b, j0, j0 + rows, reinterpret_cast<std::int8_t*>(dense.data()));
        GemmInt8Args g;
        g.m = a.m; g.n = rows; g.k = a.k;
        g.a = static_cast<const std::int8_t*>(a.a); g.lda = a.lda;
        g.b = reinterpret_cast<const std::int8_t*>(dense.data()); g.ldb = a.k;
        g.a_scales = a.a_scales; g.a_per_tensor = a.a_per_tensor;
        g.b_scales = a.b_per_tensor ? a.b_scales : a.b_scales + j0; g.b_per_tensor = a.b_per_tensor;
        g.bias = a.bias ? a.bias + j0 : nullptr; g.activation = a.activation;
        g.c = offset_f(a.c, a.c_type, j0); g.ldc = a.ldc; g.c_type = a.c_type;
        st = gemm_int8(g, inner);
      } else {
        expand_rows<float>(b, j0, j0 + rows, reinterpret_cast<float*>(dense.data()));
        GemmArgs g;
        g.m = a.m; g.n = rows; g.k = a.k;
        g.a = a.a; g.lda = a.lda; g.a_type = DType::kF32;
        g.b = dense.data(); g.ldb = a.k; g.b_type = DType::kF32; g.b_transposed = true;
        g.c = offset_f(a.c, a.c_type, j0); g.ldc = a.ldc; g.c_type = a.c_type;
        g.bias = a.bias ? a.bias + j0 : nullptr; g.activation = a.activation;
        st = gemm(g, inner);
      }
      (void)st;  // args were validated as a whole; the strip views cannot fail validation
    }
  });
}

}  // namespace

Status prune24_host(const Prune24Args& a) {
  PARLEY_RETURN_IF_ERROR(check_dtype("prune24", a.dtype));
  if (a.rows < 0 || a.cols < 0 || a.cols % 4 != 0) return invalid_argument("prune24: cols must be a multiple of 4");
  if (a.rows > 0 && a.cols > 0 && (a.w == nullptr || a.ldw < a.cols)) return invalid_argument("prune24: bad w / ldw");
  for (std::int64_t r = 0; r < a.rows; ++r) {
    for (std::int64_t g = 0; g < a.cols / 4; ++g) {
      const std::int64_t base = r * a.ldw + g * 4;
      std::array<int, 4> idx = {0, 1, 2, 3};
      // Largest magnitude first; equal magnitudes keep the lower column.
      std::stable_sort(idx.begin(), idx.end(), [&](int x, int y) {
        return magnitude(a.w, a.dtype, base + x) > magnitude(a.w, a.dtype, base + y);
      });
      for (int q = 2; q < 4; ++q) {
        if (a.dtype == DType::kI8) static_cast<std::int8_t*>(a.w)[base + idx[static_cast<std::size_t>(q)]] = 0;
        else static_cast<float*>(a.w)[base + idx[static_cast<std::size_t>(q)]] = 0.0f;
      }
    }
  }
  return Status::ok();
}

Status compress24_host(const Compress24Args& a) {
  PARLEY_RETURN_IF_ERROR(check_dtype("compress24", a.dtype));
  if (a.rows < 0 || a.cols < 0 || a.cols % 4 != 0) return invalid_argument("compress24: cols must be a multiple of 4");
  if (a.rows > 0 && a.cols > 0) {
    if (a.w == nullptr || a.values == nullptr || a.meta == nullptr) return invalid_argument("compress24: null pointer");
    if (a.ldw < a.cols || a.values_ld < a.cols / 2 || a.meta_ld < sparse24_meta_bytes(a.cols)) {
      return invalid_argument("compress24: leading dimension too small");
    }
  }
  const std::int64_t es = elem(a.dtype);
  for (std::int64_t r = 0; r < a.rows; ++r) {
    std::uint8_t* meta = a.meta + r * a.meta_ld;
    std::memset(meta, 0, static_cast<std::size_t>(sparse24_meta_bytes(a.cols)));
    for (std::int64_t g = 0; g < a.cols / 4; ++g) {
      const std::int64_t base = r * a.ldw + g * 4;
      int kept[2];
      int count = 0;
      for (int q = 0; q < 4; ++q) {
        if (!is_zero(a.w, a.dtype, base + q)) {
          if (count == 2) {
            return invalid_argument("compress24: row " + std::to_string(r) + " group " + std::to_string(g) +
                                    " has more than 2 non-zeros (prune24 first)");
          }
          kept[count++] = q;
        }
      }
      // Fill with zero positions (lowest free columns) so every group has two entries.
      for (int q = 0; q < 4 && count < 2; ++q) {
        if (count == 1 && kept[0] == q) continue;
        kept[count++] = q;
      }
      if (kept[0] > kept[1]) std::swap(kept[0], kept[1]);
      char* vals = static_cast<char*>(a.values) + (r * a.values_ld + g * 2) * es;
      std::memcpy(vals, static_cast<const char*>(a.w) + (base + kept[0]) * es, static_cast<std::size_t>(es));
      std::memcpy(vals + es, static_cast<const char*>(a.w) + (base + kept[1]) * es, static_cast<std::size_t>(es));
      meta[g / 2] = static_cast<std::uint8_t>(meta[g / 2] | ((kept[0] | (kept[1] << 2)) << ((g & 1) * 4)));
    }
  }
  return Status::ok();
}

Status decompress24_host(const Decompress24Args& a) {
  const Sparse24Matrix m = as_cpu_layout(a.src);
  PARLEY_RETURN_IF_ERROR(check_dtype("decompress24", m.dtype));
  if (m.rows < 0 || m.cols < 0 || m.cols % 4 != 0) return invalid_argument("decompress24: cols must be a multiple of 4");
  if (m.rows == 0 || m.cols == 0) return Status::ok();
  if (a.w == nullptr || a.ldw < m.cols || m.values == nullptr || m.meta == nullptr) {
    return invalid_argument("decompress24: null pointer or ldw < cols");
  }
  for (std::int64_t r = 0; r < m.rows; ++r) {
    if (m.dtype == DType::kI8) {
      expand_rows<std::int8_t>(m, r, r + 1, static_cast<std::int8_t*>(a.w) + r * a.ldw);
    } else {
      expand_rows<float>(m, r, r + 1, static_cast<float*>(a.w) + r * a.ldw);
    }
  }
  return Status::ok();
}

std::size_t sparse24_packed_bytes(const Sparse24Matrix& src) {
  return static_cast<std::size_t>(src.rows * (src.cols / 2) * elem(src.dtype) + src.rows * sparse24_meta_bytes(src.cols));
}

Status pack_sparse24(const Sparse24Matrix& src, void* dst, std::size_t dst_bytes, const ExecContext&) {
  PARLEY_RETURN_IF_ERROR(check_dtype("pack_sparse24", src.dtype));
  if (src.layout != Sparse24Layout::kCpu) return invalid_argument("pack_sparse24: source must be in the kCpu layout");
  if (dst_bytes < sparse24_packed_bytes(src)) return invalid_argument("pack_sparse24: dst too small");
  const std::int64_t es = elem(src.dtype), vrow = src.cols / 2 * es, mrow = sparse24_meta_bytes(src.cols);
  auto* out = static_cast<char*>(dst);
  for (std::int64_t r = 0; r < src.rows; ++r) {
    std::memcpy(out + r * vrow, static_cast<const char*>(src.values) + r * src.values_ld * es, static_cast<std::size_t>(vrow));
  }
  out += src.rows * vrow;
  for (std::int64_t r = 0; r < src.rows; ++r) {
    std::memcpy(out + r * mrow, src.meta + r * src.meta_ld, static_cast<std::size_t>(mrow));
  }
  return Status::ok();
}

Status sparse24_gemm(const Sparse24GemmArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.m == 0 || a.n == 0) return Status::ok();
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  const Sparse24Matrix b = as_cpu_layout(a.b);
  if (a.k == 0) {
    for (std::int64_t i = 0; i < a.m; ++i)
      for (std::int64_t j = 0; j < a.n; ++j) store_out(a, i, j, 0.0f);
    return Status::ok();
  }
  if (resolve_isa(ctx.cpu_isa) == CpuIsa::kScalar) {
    sparse_scalar(a, b, pool);
  } else {
    sparse_expanded(a, b, ctx, pool);
  }
  return Status::ok();
}

}  // namespace parley::kernels::cpu

namespace parley::kernels {

// The host-side format tools (declared outside cpu:: in ops/sparse24.h: every device's model uses
// them at load) share this file's helpers.
Status prune24(const Prune24Args& a) { return cpu::prune24_host(a); }
Status compress24(const Compress24Args& a) { return cpu::compress24_host(a); }
Status decompress24(const Decompress24Args& a) { return cpu::decompress24_host(a); }

}  // namespace parley::kernels
