// Shared parts of the AVX-512 direct convolutions (conv1d_avx512.cc: f32; conv1d_bf16_avx512.cc:
// bf16 products): the zero-padded input rows and the plan of a transposed convolution as
// `stride` interleaved stride-1 convolutions. Internal to kernels/cpu; defined in conv1d_avx512.cc.
// Depends on ops/conv1d.h, thread_pool.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/conv1d.h"

namespace parley::kernels::cpu::detail {

/// The input of one batch item as zero-padded rows xp[cin][lp]: `off` zeros, the row (through
/// the fused input transform when there is one), zeros to lp.
void pad_rows(const Conv1dArgs& a, const float* x, std::int64_t cin, std::int64_t lin, std::int64_t off,
              std::int64_t lp, float* xp, ThreadPool& pool);

/// Uninitialised scratch memory for a convolution's padded (and packed) input, reused by the
/// calling thread across calls. Why: the padded rows of a vocoder's last stages are megabytes; a
/// fresh zero-filled vector per call costs a memset (pad_rows and pack_rows write every element
/// anyway) plus the page faults of memory the allocator returned to the OS (~5% of a Piper
/// synthesis together). Each thread keeps one buffer per `slot` (its largest so far, up to 64 MiB;
/// larger requests, or a slot already taken on this thread, get memory of their own).
class ConvScratch {
 public:
  ConvScratch(int slot, std::size_t bytes);
  ~ConvScratch();
  ConvScratch(const ConvScratch&) = delete;
  ConvScratch& operator=(const ConvScratch&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  int slot_ = -1;  ///< the thread's slot held, or -1: data_ is this object's own allocation
};

/// One output phase ph of a transposed convolution: outputs o = j * stride + ph - padding for
/// j in [j_lo, j_hi) take `taps` kernel taps (k = ph + (taps - 1 - m) * stride, m = 0..taps-1).
struct TransposedPhase {
  std::int64_t taps = 0, j_lo = 0, j_hi = 0;
};
struct TransposedPlan {
  std::vector<TransposedPhase> phases;  ///< one per stride phase
  std::int64_t off = 0;                 ///< leading zeros of the padded rows (pad_rows' `off`)
  std::int64_t lp = 0;                  ///< padded row length (with `tile` positions of slack)
  std::int64_t tiles = 0;               ///< time tiles of `tile` outputs in the longest phase
};
TransposedPlan plan_transposed(const Conv1dArgs& a, std::int64_t lout, std::int64_t tile);

/// Outputs of a phase no kernel tap lands on: bias (+ residual), then the activation.
void transposed_bias_only(const Conv1dArgs& a, std::int64_t j0, int nt, std::int64_t ph, std::int64_t co0, int nco,
                          std::int64_t lout, float* y, const float* res);

}  // namespace parley::kernels::cpu::detail
