// CPU conv1d and transposed conv1d (direct loops, f32 accumulation, output-channel parallel), with
// the fused input transform and residual of ops/conv1d.h; the dispatcher to the fast paths.
// Why: see ops/conv1d.h. The inner loop runs over output positions so stride-1 convolutions
// vectorize. Depends on ops/conv1d.h, dtype_io.h, act_math.h, thread_pool.h.
#include "kernels/ops/conv1d.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/act_math.h"
#include "kernels/cpu/dtype_io.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/thread_pool.h"

namespace parley::kernels::cpu {

// f32, groups == 1: im2col/col2im + the packed GEMM (conv1d_gemm.cc); stride-1 convolutions
// and dilation-1 transposed ones on AVX-512 as register-tiled direct loops (conv1d_avx512.cc).
bool conv1d_gemm_applies(const Conv1dArgs& a);
Status conv1d_gemm(const Conv1dArgs& a, std::int64_t lout, const ExecContext& ctx);
namespace detail {
void conv1d_direct_f32_avx512(const Conv1dArgs& a, std::int64_t lout, ThreadPool& pool);
void conv1d_transposed_f32_avx512(const Conv1dArgs& a, std::int64_t lout, ThreadPool& pool);
void conv1d_direct_bf16_avx512(const Conv1dArgs& a, std::int64_t lout, ThreadPool& pool);
void conv1d_transposed_bf16_avx512(const Conv1dArgs& a, std::int64_t lout, ThreadPool& pool);
bool cpu_has_avx512_bf16();
}  // namespace detail

Status conv1d(const Conv1dArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  const std::int64_t lout = conv1d_output_length(a);
  if (a.batch == 0 || a.out_channels == 0 || lout <= 0) return Status::ok();
  // bf16 products when the caller allows them (ExecContext::allow_bf16) and the CPU has them;
  // only for long outputs (the weights are rounded and packed per call: at 512+ positions that
  // is under 1% of the work; text-rate layers would pay more for it than they save) and 8+
  // output channels (the f32 kernel's narrow tiles suit fewer).
  if (ctx.allow_bf16 && !a.transposed && a.dtype == DType::kF32 && a.groups == 1 && a.stride == 1 &&
      a.out_channels >= 8 && lout >= 512 && resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni && detail::cpu_has_avx512_bf16()) {
    detail::conv1d_direct_bf16_avx512(a, lout, ctx.threads ? *ctx.threads : ThreadPool::global());
    return Status::ok();
  }
  if (!a.transposed && a.dtype == DType::kF32 && a.groups == 1 && a.stride == 1 &&
      resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni) {
    detail::conv1d_direct_f32_avx512(a, lout, ctx.threads ? *ctx.threads : ThreadPool::global());
    return Status::ok();
  }
  // Transposed, dilation 1 (vocoder upsampling): interleaved stride-1 direct tiles, one per phase
  // (bf16 products on the same terms as above).
  if (ctx.allow_bf16 && a.transposed && a.dtype == DType::kF32 && a.groups == 1 && a.dilation == 1 &&
      a.out_channels >= 8 && lout >= 512 && resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni && detail::cpu_has_avx512_bf16()) {
    detail::conv1d_transposed_bf16_avx512(a, lout, ctx.threads ? *ctx.threads : ThreadPool::global());
    return Status::ok();
  }
  if (a.transposed && a.dtype == DType::kF32 && a.groups == 1 && a.dilation == 1 &&
      resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni) {
    detail::conv1d_transposed_f32_avx512(a, lout, ctx.threads ? *ctx.threads : ThreadPool::global());
    return Status::ok();
  }
  if (conv1d_gemm_applies(a)) return conv1d_gemm(a, lout, ctx);
  const std::int64_t cin_g = a.in_channels / a.groups, cout_g = a.out_channels / a.groups;
  const std::int64_t lin = a.in_length, ks = a.kernel_size;
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  const bool xform = conv1d_has_input_transform(a);
  pool.parallel_for(a.batch * a.out_channels, 1, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<float> acc(static_cast<std::size_t>(lout)), xrow(static_cast<std::size_t>(lin));
    std::vector<float> w(static_cast<std::size_t>(ks)), res(a.residual ? static_cast<std::size_t>(lout) : 0);
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t b = t / a.out_channels, oc = t % a.out_channels, g = oc / cout_g;
      std::fill(acc.begin(), acc.end(), a.bias ? a.bias[oc] : 0.0f);
      for (std::int64_t icg = 0; icg < cin_g; ++icg) {
        const std::int64_t ic = g * cin_g + icg;
        load_row(offset_f(a.x, a.dtype, (b * a.in_channels + ic) * lin), a.dtype, lin, xrow.data());
        if (xform) {
          for (float& v : xrow) v = conv1d_input_transform(a, v);
        }
        if (!a.transposed) {
          load_row(offset_f(a.w, a.dtype, (oc * cin_g + icg) * ks), a.dtype, ks, w.data());
          for (std::int64_t kk = 0; kk < ks; ++kk) {
            const float wv = w[static_cast<std::size_t>(kk)];
            // in = o*stride - padding + kk*dilation must be in [0, lin).
            const std::int64_t off = kk * a.dilation - a.padding;
            std::int64_t o0 = off >= 0 ? 0 : (-off + a.stride - 1) / a.stride;
            std::int64_t o1 = lin - off <= 0 ? 0 : std::min(lout, (lin - off + a.stride - 1) / a.stride);
            if (a.stride == 1) {
              for (std::int64_t o = o0; o < o1; ++o) acc[static_cast<std::size_t>(o)] += wv * xrow[static_cast<std::size_t>(o + off)];
            } else {
              for (std::int64_t o = o0; o < o1; ++o)
                acc[static_cast<std::size_t>(o)] += wv * xrow[static_cast<std::size_t>(o * a.stride + off)];
            }
          }
        } else {
          // w: [in_channels, out_channels/groups, ks]; out = in*stride - padding + kk*dilation.
          load_row(offset_f(a.w, a.dtype, (ic * cout_g + (oc - g * cout_g)) * ks), a.dtype, ks, w.data());
          for (std::int64_t kk = 0; kk < ks; ++kk) {
            const float wv = w[static_cast<std::size_t>(kk)];
            const std::int64_t off = kk * a.dilation - a.padding;
            for (std::int64_t i = 0; i < lin; ++i) {
              const std::int64_t o = i * a.stride + off;
              if (o >= 0 && o < lout) acc[static_cast<std::size_t>(o)] += wv * xrow[static_cast<std::size_t>(i)];
            }
          }
        }
      }
      if (a.residual) {
        load_row(offset_f(a.residual, a.dtype, (b * a.out_channels + oc) * lout), a.dtype, lout, res.data());
        for (std::int64_t o = 0; o < lout; ++o) acc[static_cast<std::size_t>(o)] += res[static_cast<std::size_t>(o)];
      }
      act_apply_n(a.activation, acc.data(), lout);
      store_row(acc.data(), lout, offset_f(a.y, a.dtype, (b * a.out_channels + oc) * lout), a.dtype);
    }
  });
  return Status::ok();
}

}  // namespace parley::kernels::cpu
