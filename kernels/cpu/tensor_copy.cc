// CPU strided copy (see ops/tensor_copy.h). Why: transpose/slice/concat/pad/expand in graph
// models. Rows over the outer dims run in parallel; a contiguous innermost dim is one memcpy,
// otherwise an element loop specialised on 1/2/4/8-byte elements. Depends on ops/tensor_copy.h,
// thread_pool.h.
#include "kernels/ops/tensor_copy.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/thread_pool.h"

namespace parley::kernels::cpu {
namespace {

template <typename T>
void copy_row(const char* src, std::int64_t ss, char* dst, std::int64_t ds, std::int64_t n) {
  const T* s = reinterpret_cast<const T*>(src);
  T* d = reinterpret_cast<T*>(dst);
  if (ss == 0) {
    const T v = *s;
    for (std::int64_t i = 0; i < n; ++i) d[i * ds] = v;
  } else {
    for (std::int64_t i = 0; i < n; ++i) d[i * ds] = s[i * ss];
  }
}

}  // namespace

Status strided_copy(const StridedCopyArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  std::int64_t total = 1;
  for (int d = 0; d < a.rank; ++d) total *= a.dims[d];
  if (total == 0) return Status::ok();
  // Drop size-1 dims and merge dims that are contiguous in both src and dst.
  std::int64_t dims[kCopyMaxRank], ss[kCopyMaxRank], ds[kCopyMaxRank];
  int r = 0;
  for (int d = 0; d < a.rank; ++d) {
    if (a.dims[d] == 1) continue;
    if (r > 0 && ss[r - 1] == a.src_strides[d] * a.dims[d] && ds[r - 1] == a.dst_strides[d] * a.dims[d]) {
      dims[r - 1] *= a.dims[d];
      ss[r - 1] = a.src_strides[d];
      ds[r - 1] = a.dst_strides[d];
      continue;
    }
    dims[r] = a.dims[d];
    ss[r] = a.src_strides[d];
    ds[r] = a.dst_strides[d];
    ++r;
  }
  if (r == 0) {
    dims[0] = 1;
    ss[0] = ds[0] = 1;
    r = 1;
  }
  const std::int64_t inner = dims[r - 1], rows = total / inner, eb = a.elem_bytes;
  const std::int64_t isd = ss[r - 1], idd = ds[r - 1];
  const char* src = static_cast<const char*>(a.src);
  char* dst = static_cast<char*>(a.dst);
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  const std::int64_t grain = std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(1, inner * eb));
  pool.parallel_for(rows, grain, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t row = r0; row < r1; ++row) {
      std::int64_t os = 0, od = 0, rem = row;
      for (int d = r - 2; d >= 0; --d) {
        const std::int64_t i = rem % dims[d];
        rem /= dims[d];
        os += i * ss[d];
        od += i * ds[d];
      }
      const char* s = src + os * eb;
      char* t = dst + od * eb;
      if (isd == 1 && idd == 1) {
        std::memcpy(t, s, static_cast<std::size_t>(inner * eb));
        continue;
      }
      switch (eb) {
        case 1: copy_row<std::uint8_t>(s, isd, t, idd, inner); break;
        case 2: copy_row<std::uint16_t>(s, isd, t, idd, inner); break;
        case 4: copy_row<std::uint32_t>(s, isd, t, idd, inner); break;
        case 8: copy_row<std::uint64_t>(s, isd, t, idd, inner); break;
        default:
          for (std::int64_t i = 0; i < inner; ++i) std::memcpy(t + i * idd * eb, s + i * isd * eb, static_cast<std::size_t>(eb));
      }
    }
  });
  return Status::ok();
}

}  // namespace parley::kernels::cpu
