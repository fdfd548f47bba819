// CPU training ops: LayerNorm / activation / attention / embedding backward, softmax
// cross-entropy, AdamW (see ops/train.h). Plain loops the compiler vectorizes, parallel over rows,
// heads or elements; reductions in a fixed block order so results do not depend on thread count.
// GELU's gradient has an AVX-512 loop (pointwise_avx512.cc), libm's erfc being most of the op.
// Why: the backward passes per-bot fine-tuning needs. Depends on ops/train.h, thread_pool.h, isa.h,
// ops_internal.h.
#include "kernels/ops/train.h"
#include "kernels/ops/train_math.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/ops_internal.h"
#include "kernels/cpu/thread_pool.h"

namespace parley::kernels {

namespace {

Status bad(const char* op, const std::string& what) { return invalid_argument(std::string(op) + ": " + what); }

Status check_mat(const char* op, const char* name, const void* p, std::int64_t rows, std::int64_t cols,
                 std::int64_t ld) {
  if (rows < 0 || cols < 0) return bad(op, std::string(name) + " has a negative size");
  if (rows > 0 && cols > 0 && p == nullptr) return bad(op, std::string(name) + " is null");
  if (rows > 0 && ld < cols) return bad(op, std::string(name) + ": leading dimension " + std::to_string(ld) + " < " +
                                                 std::to_string(cols) + " columns");
  return Status::ok();
}

ThreadPool& pool_of(const ExecContext& ctx) { return ctx.threads ? *ctx.threads : ThreadPool::global(); }

// x . y with eight partial sums in a fixed order: the compiler vectorizes it (a single running
// sum it may not reorder), and the result does not depend on the ISA or thread count.
inline float dot8(const float* x, const float* y, std::int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::int64_t c = 0;
  for (; c + 8 <= n; c += 8) {
    for (int l = 0; l < 8; ++l) s[l] += x[c + l] * y[c + l];
  }
  float r = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  for (; c < n; ++c) r += x[c] * y[c];
  return r;
}

}  // namespace

Status validate(const NormBackwardArgs& a) {
  const char* op = "norm_backward";
  PARLEY_RETURN_IF_ERROR(check_mat(op, "h", a.h, a.rows, a.cols, a.ldh));
  PARLEY_RETURN_IF_ERROR(check_mat(op, "dy", a.dy, a.rows, a.cols, a.lddy));
  PARLEY_RETURN_IF_ERROR(check_mat(op, "dx", a.dx, a.rows, a.cols, a.lddx));
  if (a.dx == a.dy && a.dx_beta != 0.0f) return bad(op, "dx aliases dy: dx_beta must be 0");
  if (!(a.eps >= 0.0f)) return bad(op, "eps must be >= 0");
  return Status::ok();
}

Status validate(const ActivationBackwardArgs& a) {
  const char* op = "activation_backward";
  if (static_cast<int>(a.activation) > static_cast<int>(Activation::kSilu)) return bad(op, "unknown activation");
  PARLEY_RETURN_IF_ERROR(check_mat(op, "x", a.x, a.rows, a.cols, a.ldx));
  PARLEY_RETURN_IF_ERROR(check_mat(op, "dy", a.dy, a.rows, a.cols, a.lddy));
  return check_mat(op, "dx", a.dx, a.rows, a.cols, a.lddx);
}

Status validate(const AttentionBackwardArgs& a) {
  const char* op = "attention_backward";
  if (a.sequences < 0 || a.num_heads <= 0 || a.head_dim <= 0 || a.max_len < 0) return bad(op, "bad sizes");
  if (a.sequences > 0 && (a.offsets == nullptr || a.qkv == nullptr || a.dout == nullptr || a.dqkv == nullptr)) {
    return bad(op, "null pointer");
  }
  const std::int64_t hd = a.num_heads * a.head_dim;
  if (a.ld_qkv < 3 * hd || a.ld_dqkv < 3 * hd || a.ld_dout < hd) return bad(op, "leading dimension too small");
  if (a.rel_bias != nullptr && (a.rel_bias_radius <= 0 || a.rel_bias_radius > (1 << 20))) {
    return bad(op, "rel_bias_radius " + std::to_string(a.rel_bias_radius) + " is out of range (1 .. 2^20)");
  }
  return Status::ok();
}

Status validate_sizes(const EmbeddingBackwardArgs& a) {
  const char* op = "embedding_backward";
  if (a.num_tokens < 0 || a.dim < 0 || a.rows < 0) return bad(op, "negative size");
  if (a.num_tokens > 0 && (a.ids == nullptr || a.dy == nullptr)) return bad(op, "null ids or dy");
  if (a.lddy < a.dim && a.num_tokens > 0) return bad(op, "lddy < dim");
  return check_mat(op, "grad", a.grad, a.rows, a.dim, a.ld_grad);
}

Status validate(const EmbeddingBackwardArgs& a) {
  const char* op = "embedding_backward";
  PARLEY_RETURN_IF_ERROR(validate_sizes(a));
  for (std::int64_t t = 0; t < a.num_tokens; ++t) {
    if (a.ids[t] < 0 || a.ids[t] >= a.rows) {
      return bad(op, "id " + std::to_string(a.ids[t]) + " of token " + std::to_string(t) + " is outside [0, " +
                         std::to_string(a.rows) + ")");
    }
  }
  return Status::ok();
}

Status validate_sizes(const CrossEntropyArgs& a) {
  const char* op = "cross_entropy";
  if (a.classes <= 0 && a.rows > 0) return bad(op, "classes must be > 0");
  PARLEY_RETURN_IF_ERROR(check_mat(op, "logits", a.logits, a.rows, a.classes, a.ld_logits));
  PARLEY_RETURN_IF_ERROR(check_mat(op, "dlogits", a.dlogits, a.rows, a.classes, a.ld_dlogits));
  if (a.rows > 0 && a.labels == nullptr) return bad(op, "labels is null");
  if (!(a.label_smoothing >= 0.0f && a.label_smoothing < 1.0f)) return bad(op, "label_smoothing must be in [0, 1)");
  return Status::ok();
}

Status validate(const CrossEntropyArgs& a) {
  PARLEY_RETURN_IF_ERROR(validate_sizes(a));
  for (std::int64_t r = 0; r < a.rows; ++r) {
    if (a.labels[r] >= a.classes) {
      return bad("cross_entropy", "label " + std::to_string(a.labels[r]) + " of row " + std::to_string(r) + " >= classes");
    }
  }
  return Status::ok();
}

Status validate(const AdamWArgs& a) {
  const char* op = "adamw";
  if (a.n < 0) return bad(op, "negative size");
  if (a.n > 0 && (a.param == nullptr || a.grad == nullptr || a.m == nullptr || a.v == nullptr)) return bad(op, "null pointer");
  if (a.step < 1) return bad(op, "step is 1-based");
  if (!(a.beta1 >= 0.0f && a.beta1 < 1.0f && a.beta2 >= 0.0f && a.beta2 < 1.0f)) return bad(op, "betas must be in [0, 1)");
  return Status::ok();
}

float activation_grad_ref(Activation a, float x) { return train_math::activation_grad(a, x); }

namespace cpu {

Status norm_backward(const NormBackwardArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  const std::int64_t n = a.cols;
  // Fixed blocks of rows: per-block partial dgamma/dbeta summed in block order afterwards.
  const std::int64_t blocks = std::min<std::int64_t>(a.rows, 16);
  const bool want_params = a.dgamma != nullptr || a.dbeta != nullptr;
  std::vector<float> partial(want_params ? static_cast<std::size_t>(blocks * 2 * n) : 0, 0.0f);
  pool_of(ctx).parallel_for(blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
    std::vector<float> xhat(static_cast<std::size_t>(n)), g(static_cast<std::size_t>(n));
    for (std::int64_t b = b0; b < b1; ++b) {
      const std::int64_t r0 = a.rows * b / blocks, r1 = a.rows * (b + 1) / blocks;
      float* pg = want_params ? partial.data() + b * 2 * n : nullptr;
      for (std::int64_t r = r0; r < r1; ++r) {
        const float* h = a.h + r * a.ldh;
        const float* dy = a.dy + r * a.lddy;
        double s = 0.0;
        for (std::int64_t j = 0; j < n; ++j) s += h[j];
        const float mean = static_cast<float>(s / static_cast<double>(n));
        float ss = 0.0f;
        for (std::int64_t j = 0; j < n; ++j) ss += (h[j] - mean) * (h[j] - mean);
        const float rstd = 1.0f / std::sqrt(ss / static_cast<float>(n) + a.eps);
        float mg = 0.0f, mgx = 0.0f;
        for (std::int64_t j = 0; j < n; ++j) {
          const float xh = (h[j] - mean) * rstd;
          const float gj = dy[j] * (a.gamma ? a.gamma[j] : 1.0f);
          xhat[static_cast<std::size_t>(j)] = xh;
          g[static_cast<std::size_t>(j)] = gj;
          mg += gj;
          mgx += gj * xh;
          if (pg) {
            pg[j] += dy[j] * xh;
            pg[n + j] += dy[j];
          }
        }
        mg /= static_cast<float>(n);
        mgx /= static_cast<float>(n);
        float* dx = a.dx + r * a.lddx;
        for (std::int64_t j = 0; j < n; ++j) {
          const float v = rstd * (g[static_cast<std::size_t>(j)] - mg - xhat[static_cast<std::size_t>(j)] * mgx);
          dx[j] = a.dx_beta == 0.0f ? v : a.dx_beta * dx[j] + v;
        }
      }
    }
  });
  if (want_params) {
    for (std::int64_t j = 0; j < n; ++j) {
      float sg = 0.0f, sb = 0.0f;
      for (std::int64_t b = 0; b < blocks; ++b) {
        sg += partial[static_cast<std::size_t>(b * 2 * n + j)];
        sb += partial[static_cast<std::size_t>(b * 2 * n + n + j)];
      }
      if (a.dgamma) a.dgamma[j] = sg;
      if (a.dbeta) a.dbeta[j] = sb;
    }
  }
  return Status::ok();
}

Status activation_backward(const ActivationBackwardArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0 || a.cols == 0) return Status::ok();
  const std::int64_t grain = std::max<std::int64_t>(1, 16384 / a.cols);
  // GELU's erfc and exp per value were most of this op in libm (10% of a fine-tuning step).
  const bool vector = resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni;
  pool_of(ctx).parallel_for(a.rows, grain, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const float* x = a.x + r * a.ldx;
      const float* dy = a.dy + r * a.lddy;
      float* dx = a.dx + r * a.lddx;
      if (a.activation == Activation::kGeluErf && vector) {
        detail::gelu_erf_grad_avx512(x, dy, dx, a.cols);
      } else {
        for (std::int64_t j = 0; j < a.cols; ++j) dx[j] = dy[j] * train_math::activation_grad(a.activation, x[j]);
      }
    }
  });
  return Status::ok();
}

Status attention_backward(const AttentionBackwardArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.sequences == 0) return Status::ok();
  for (std::int64_t s = 0; s < a.sequences; ++s) {
    const std::int64_t len = a.offsets[s + 1] - a.offsets[s];
    if (len < 0 || len > a.max_len) {
      return bad("attention_backward", "sequence " + std::to_string(s) + " has length " + std::to_string(len) +
                                           " (max_len " + std::to_string(a.max_len) + ")");
    }
  }
  const std::int64_t hd = a.num_heads * a.head_dim, d = a.head_dim;
  const float scale = a.scale != 0.0f ? a.scale : 1.0f / std::sqrt(static_cast<float>(d));
  pool_of(ctx).parallel_for(a.sequences * a.num_heads, 1, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<float> p, dp;
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t s = t / a.num_heads, head = t % a.num_heads;
      const std::int64_t row0 = a.offsets[s], len = a.offsets[s + 1] - row0;
      if (len == 0) continue;
      p.assign(static_cast<std::size_t>(len * len), 0.0f);
      dp.assign(static_cast<std::size_t>(len * len), 0.0f);
      auto q = [&](std::int64_t i) { return a.qkv + (row0 + i) * a.ld_qkv + head * d; };
      auto k = [&](std::int64_t i) { return a.qkv + (row0 + i) * a.ld_qkv + hd + head * d; };
      auto v = [&](std::int64_t i) { return a.qkv + (row0 + i) * a.ld_qkv + 2 * hd + head * d; };
      auto go = [&](std::int64_t i) { return a.dout + (row0 + i) * a.ld_dout + head * d; };
      auto dq = [&](std::int64_t i) { return a.dqkv + (row0 + i) * a.ld_dqkv + head * d; };
      auto dk = [&](std::int64_t i) { return a.dqkv + (row0 + i) * a.ld_dqkv + hd + head * d; };
      auto dv = [&](std::int64_t i) { return a.dqkv + (row0 + i) * a.ld_dqkv + 2 * hd + head * d; };
      for (std::int64_t i = 0; i < len; ++i) {
        float* pi = p.data() + i * len;
        float mx = -3.0e38f;
        for (std::int64_t j = 0; j < len; ++j) {
          pi[j] = dot8(q(i), k(j), d) * scale;
          if (a.rel_bias != nullptr) pi[j] += relative_bias(a.rel_bias, a.rel_bias_radius, head, i, j);
          mx = std::max(mx, pi[j]);
        }
        float sum = 0.0f;
        for (std::int64_t j = 0; j < len; ++j) {
          pi[j] = std::exp(pi[j] - mx);
          sum += pi[j];
        }
        const float inv = 1.0f / sum;
        for (std::int64_t j = 0; j < len; ++j) pi[j] *= inv;
        // dP_ij = dO_i . v_j, then dS = P (dP - rowsum(P dP)) (kept in dp).
        float* dpi = dp.data() + i * len;
        float rs = 0.0f;
        for (std::int64_t j = 0; j < len; ++j) {
          const float dot = dot8(go(i), v(j), d);
          dpi[j] = dot;
          rs += dot * pi[j];
        }
        for (std::int64_t j = 0; j < len; ++j) dpi[j] = pi[j] * (dpi[j] - rs) * scale;
      }
      for (std::int64_t i = 0; i < len; ++i) {
        float* dqi = dq(i);
        float* dki = dk(i);
        float* dvi = dv(i);
        for (std::int64_t c = 0; c < d; ++c) dqi[c] = dki[c] = dvi[c] = 0.0f;
        for (std::int64_t j = 0; j < len; ++j) {
          const float sij = dp[static_cast<std::size_t>(i * len + j)];  // dS_ij (scaled)
          const float sji = dp[static_cast<std::size_t>(j * len + i)];  // dS_ji
          const float pji = p[static_cast<std::size_t>(j * len + i)];
          const float* kj = k(j);
          const float* qj = q(j);
          const float* gj = go(j);
          for (std::int64_t c = 0; c < d; ++c) {
            dqi[c] += sij * kj[c];
            dki[c] += sji * qj[c];
            dvi[c] += pji * gj[c];
          }
        }
      }
    }
  });
  return Status::ok();
}

Status embedding_backward(const EmbeddingBackwardArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.dim == 0) return Status::ok();
  ThreadPool& pool = pool_of(ctx);
  if (a.zero_grad && a.rows > 0) {
    pool.parallel_for(a.rows, 64, [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) std::fill_n(a.grad + r * a.ld_grad, a.dim, 0.0f);
    });
  }
  // Columns split between threads: repeated ids never race.
  const std::int64_t chunk = 16, chunks = (a.dim + chunk - 1) / chunk;
  pool.parallel_for(chunks, 1, [&](std::int64_t c0, std::int64_t c1) {
    const std::int64_t j0 = c0 * chunk, j1 = std::min(a.dim, c1 * chunk);
    for (std::int64_t t = 0; t < a.num_tokens; ++t) {
      float* g = a.grad + static_cast<std::int64_t>(a.ids[t]) * a.ld_grad;
      const float* dy = a.dy + t * a.lddy;
      for (std::int64_t j = j0; j < j1; ++j) g[j] += dy[j];
    }
  });
  return Status::ok();
}

Status cross_entropy(const CrossEntropyArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.rows == 0) return Status::ok();
  const std::int64_t c = a.classes;
  const float e = a.label_smoothing;
  pool_of(ctx).parallel_for(a.rows, std::max<std::int64_t>(1, 4096 / c), [&](std::int64_t r0, std::int64_t r1) {
    std::vector<float> pr(static_cast<std::size_t>(c));
    for (std::int64_t r = r0; r < r1; ++r) {
      const float* x = a.logits + r * a.ld_logits;
      float* dx = a.dlogits + r * a.ld_dlogits;
      const std::int32_t y = a.labels[r];
      if (y < 0) {
        std::fill_n(dx, c, 0.0f);
        if (a.loss) a.loss[r] = 0.0f;
        continue;
      }
      float mx = x[0];
      for (std::int64_t j = 1; j < c; ++j) mx = std::max(mx, x[j]);
      double sum = 0.0;
      for (std::int64_t j = 0; j < c; ++j) {
        pr[static_cast<std::size_t>(j)] = std::exp(x[j] - mx);
        sum += pr[static_cast<std::size_t>(j)];
      }
      const float lse = mx + static_cast<float>(std::log(sum));
      float loss = 0.0f;
      for (std::int64_t j = 0; j < c; ++j) {
        const float target = (j == y ? 1.0f - e : 0.0f) + e / static_cast<float>(c);
        if (target > 0.0f) loss -= target * (x[j] - lse);
        const float pj = static_cast<float>(pr[static_cast<std::size_t>(j)] / sum);
        dx[j] = a.scale * (pj - target);
      }
      if (a.loss) a.loss[r] = loss;
    }
  });
  return Status::ok();
}

Status adamw(const AdamWArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.n == 0) return Status::ok();
  const train_math::AdamWCorrections c = train_math::adamw_corrections(a);
  pool_of(ctx).parallel_for(a.n, 16384, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) train_math::adamw_element(a, c, i);
  });
  return Status::ok();
}

}  // namespace cpu
}  // namespace parley::kernels
