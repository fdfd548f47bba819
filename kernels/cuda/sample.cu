// Sampling, one 256-thread block per sequence, following kernels/ops/sample.h step by step:
// candidates are picked by repeated block argmax (largest z, lowest index first), which yields
// exactly the CPU's order (z descending, index ascending); the final draw is done by one thread
// over at most kMaxSampleCandidates values. Depends on cuda_utils.cuh, sample.h.
#include <cfloat>

#include "kernels/cuda/cuda_utils.cuh"
#include "kernels/cuda/sample.h"
#include "shared/engine/cuda/cuda_check.h"

namespace parley::kernels::cuda {
namespace {

constexpr int kThreads = 256;

struct Best {
  float v;
  int i;
};

__device__ __forceinline__ bool better(const Best& a, const Best& b) {
  return a.v > b.v || (a.v == b.v && a.i < b.i);
}

// Block-wide best (largest value, lowest index) among the entries ranked after `prev` in the
// order (value descending, index ascending): the candidates taken so far are exactly those
// ranked before it, so no list of taken ids is needed.
__device__ Best block_best(const float* row, std::int64_t vocab, Best prev, bool has_prev, Best* sm) {
  Best best{-INFINITY, 0x7fffffff};
  for (std::int64_t j = threadIdx.x; j < vocab; j += kThreads) {
    const Best c{row[j], static_cast<int>(j)};
    if (has_prev && !better(prev, c)) continue;
    if (best.i == 0x7fffffff || better(c, best)) best = c;
  }
  sm[threadIdx.x] = best;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      const Best o = sm[threadIdx.x + s];
      if (o.i != 0x7fffffff && (sm[threadIdx.x].i == 0x7fffffff || better(o, sm[threadIdx.x]))) sm[threadIdx.x] = o;
    }
    __syncthreads();
  }
  const Best r = sm[0];
  __syncthreads();
  return r;
}

__global__ void __launch_bounds__(kThreads) sample_kernel(SampleArgs a, int ncand) {
  __shared__ Best sm[kThreads];
  __shared__ int cand[kMaxSampleCandidates];
  __shared__ float scratch[32];
  const std::int64_t b = blockIdx.x;
  const float* row = a.logits + b * a.ld_logits;
  const bool greedy = a.temperature <= 0.0f || a.top_k == 1;
  const int rounds = greedy ? 1 : ncand;
  Best prev{0.0f, 0};
  for (int r = 0; r < rounds; ++r) {
    prev = block_best(row, a.vocab, prev, r > 0, sm);
    if (threadIdx.x == 0) cand[r] = prev.i;
  }
  __syncthreads();
  // log-softmax of the raw logits at the chosen token needs max and sum over the whole row.
  float mx = -INFINITY;
  for (std::int64_t j = threadIdx.x; j < a.vocab; j += kThreads) mx = fmaxf(mx, row[j]);
  mx = block_max(mx, scratch);
  float sum = 0.0f;
  for (std::int64_t j = threadIdx.x; j < a.vocab; j += kThreads) sum += expf(row[j] - mx);
  sum = block_sum(sum, scratch);
  if (threadIdx.x != 0) return;
  int token = cand[0];
  if (!greedy) {
    const float inv_t = 1.0f / a.temperature;
    const float z0 = row[cand[0]] * inv_t;  // largest z
    float p[kMaxSampleCandidates];
    float total = 0.0f;
    for (int i = 0; i < rounds; ++i) {
      p[i] = expf(row[cand[i]] * inv_t - z0);
      total += p[i];
    }
    int kept = rounds;
    if (a.top_p < 1.0f) {
      float cum = 0.0f;
      kept = 0;
      for (int i = 0; i < rounds; ++i) {
        cum += p[i] / total;
        ++kept;
        if (cum >= a.top_p) break;
      }
    }
    float kept_sum = 0.0f;
    for (int i = 0; i < kept; ++i) kept_sum += p[i] / total;
    const std::uint64_t seed = a.seeds != nullptr ? a.seeds[b] : a.seed + static_cast<std::uint64_t>(b);
    const float u = sample_uniform(seed, a.step);
    const float target = u * kept_sum;
    token = cand[kept - 1];
    float run = 0.0f;
    for (int i = 0; i < kept; ++i) {
      run += p[i] / total;
      if (run > target) {
        token = cand[i];
        break;
      }
    }
  }
  a.out_tokens[b] = token;
  if (a.out_logprobs != nullptr) a.out_logprobs[b] = row[token] - mx - logf(sum);
}

}  // namespace

Status launch_sample(const SampleArgs& a, cudaStream_t stream) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.batch == 0) return Status::ok();
  const bool greedy = a.temperature <= 0.0f || a.top_k == 1;
  std::int64_t ncand = (a.top_k <= 0 || a.top_k >= a.vocab) ? a.vocab : a.top_k;
  if (!greedy && ncand > kMaxSampleCandidates) {
    return unimplemented("CUDA sampling takes at most 256 candidates (top_k); use the CPU backend");
  }
  if (a.batch > 0x7fffffff || a.vocab > 0x7fffffff) return invalid_argument("sample: too large");
  sample_kernel<<<static_cast<unsigned>(a.batch), kThreads, 0, stream>>>(a, static_cast<int>(greedy ? 1 : ncand));
  PARLEY_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::ok();
}

}  // namespace parley::kernels::cuda
