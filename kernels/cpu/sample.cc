// CPU sampling: argmax, temperature, top-k, top-p with the counter-based RNG of ops/sample.h.
// Why: see ops/sample.h; the candidate order and the draw are defined exactly so that other
// backends can reproduce the same token. Depends on ops/sample.h, thread_pool.h.
#include "kernels/ops/sample.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/cpu/thread_pool.h"

namespace parley::kernels::cpu {
namespace {

std::int32_t argmax(const float* x, std::int64_t n) {
  std::int64_t best = 0;
  for (std::int64_t j = 1; j < n; ++j) {
    if (x[j] > x[best]) best = j;
  }
  return static_cast<std::int32_t>(best);
}

float log_softmax_at(const float* x, std::int64_t n, std::int64_t idx) {
  float mx = x[0];
  for (std::int64_t j = 1; j < n; ++j) mx = std::max(mx, x[j]);
  double sum = 0.0;
  for (std::int64_t j = 0; j < n; ++j) sum += std::exp(static_cast<double>(x[j] - mx));
  return static_cast<float>(static_cast<double>(x[idx] - mx) - std::log(sum));
}

}  // namespace

Status sample(const SampleArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  for (std::int64_t b = 0; b < a.batch; ++b) {
    const float* x = a.logits + b * a.ld_logits;
    for (std::int64_t j = 0; j < a.vocab; ++j) {
      if (std::isnan(x[j])) return invalid_argument("sample: logits[" + std::to_string(b) + "][" + std::to_string(j) + "] is NaN");
    }
  }
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  pool.parallel_for(a.batch, 1, [&](std::int64_t b0, std::int64_t b1) {
    std::vector<std::int32_t> idx;
    std::vector<float> p;
    for (std::int64_t b = b0; b < b1; ++b) {
      const float* x = a.logits + b * a.ld_logits;
      std::int32_t token;
      if (a.temperature <= 0.0f || a.top_k == 1) {
        token = argmax(x, a.vocab);
      } else {
        const float inv_t = 1.0f / a.temperature;
        const std::int64_t k = (a.top_k <= 0 || a.top_k >= a.vocab) ? a.vocab : a.top_k;
        idx.resize(static_cast<std::size_t>(a.vocab));
        std::iota(idx.begin(), idx.end(), 0);
        auto before = [&](std::int32_t u, std::int32_t v) { return x[u] > x[v] || (x[u] == x[v] && u < v); };
        if (k < a.vocab) {
          std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), before);
          idx.resize(static_cast<std::size_t>(k));
        } else {
          std::sort(idx.begin(), idx.end(), before);
        }
        p.resize(idx.size());
        const float zmax = x[idx[0]] * inv_t;
        float sum = 0.0f;
        for (std::size_t i = 0; i < idx.size(); ++i) {
          p[i] = std::exp(x[idx[i]] * inv_t - zmax);
          sum += p[i];
        }
        std::size_t kept = idx.size();
        float kept_sum = 0.0f;
        if (a.top_p < 1.0f) {
          const float target = a.top_p * sum;
          kept = 0;
          while (kept < idx.size()) {
            kept_sum += p[kept++];
            if (kept_sum >= target) break;
          }
        } else {
          kept_sum = sum;
        }
        const std::uint64_t seed = a.seeds ? a.seeds[b] : a.seed + static_cast<std::uint64_t>(b);
        const float u = sample_uniform(seed, a.step) * kept_sum;
        token = idx[kept - 1];
        float run = 0.0f;
        for (std::size_t i = 0; i < kept; ++i) {
          run += p[i];
          if (run > u) {
            token = idx[i];
            break;
          }
        }
      }
      a.out_tokens[b] = token;
      if (a.out_logprobs) a.out_logprobs[b] = log_softmax_at(x, a.vocab, token);
    }
  });
  return Status::ok();
}

}  // namespace parley::kernels::cpu
