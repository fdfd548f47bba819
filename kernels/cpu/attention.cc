// CPU attention: prefill (f32 on AVX-512: the fused kernel of attention_avx512.cc; otherwise scores
// GEMM, masked softmax, value GEMM per batch/head/query block, on the ISA GEMM kernels) and paged decode (one query per sequence; the heads of a GQA group share
// each key/value row load), plus the KV-cache write.
// Why: see ops/attention.h. Depends on ops/attention.h, ops/gemm.h, dtype_io.h, thread_pool.h.
#include "kernels/ops/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu/dtype_io.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/ops_internal.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/gemm.h"

namespace parley::kernels::cpu {
namespace {

constexpr std::int64_t kQueryBlock = 64;

float default_scale(float scale, std::int64_t head_dim) {
  return scale != 0.0f ? scale : 1.0f / std::sqrt(static_cast<float>(std::max<std::int64_t>(1, head_dim)));
}

}  // namespace

Status attention_prefill(const AttentionPrefillArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.batch == 0 || a.q_len == 0 || a.num_heads == 0 || a.head_dim == 0) return Status::ok();
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  const float scale = default_scale(a.scale, a.head_dim);
  if (a.dtype == DType::kF32 && resolve_isa(ctx.cpu_isa) == CpuIsa::kAvx512Vnni) {
    detail::attention_prefill_f32_avx512(a, scale, pool);
    return Status::ok();
  }
  const std::int64_t group = a.num_heads / a.num_kv_heads;
  const std::int64_t qblocks = (a.q_len + kQueryBlock - 1) / kQueryBlock;
  const std::int64_t tasks = a.batch * a.num_heads * qblocks;
  const std::int64_t d = a.head_dim;
  pool.parallel_for(tasks, 1, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<float> scores(static_cast<std::size_t>(kQueryBlock * std::max<std::int64_t>(1, a.kv_len)));
    ExecContext inner = ctx;
    inner.threads = &pool;  // nested parallel_for runs inline
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t qb = t % qblocks, h = (t / qblocks) % a.num_heads, b = t / (qblocks * a.num_heads);
      const std::int64_t g = h / group;
      const std::int64_t i0 = qb * kQueryBlock, rows = std::min(kQueryBlock, a.q_len - i0);
      const std::int64_t valid = a.kv_lengths ? std::clamp<std::int64_t>(a.kv_lengths[b], 0, a.kv_len) : a.kv_len;
      void* out = offset_f(a.out, a.dtype, b * a.out_batch_stride + i0 * a.out_token_stride + h * a.out_head_stride);
      if (valid == 0) {
        for (std::int64_t r = 0; r < rows; ++r)
          for (std::int64_t x = 0; x < d; ++x) store_f(out, a.dtype, r * a.out_token_stride + x, 0.0f);
        continue;
      }
      // S = scale * Q K^T over the valid keys.
      GemmArgs s;
      s.m = rows; s.n = valid; s.k = d;
      s.a = offset_f(a.q, a.dtype, b * a.q_batch_stride + i0 * a.q_token_stride + h * a.q_head_stride);
      s.lda = a.q_token_stride; s.a_type = a.dtype;
      s.b = offset_f(a.k, a.dtype, b * a.k_batch_stride + g * a.k_head_stride);
      s.ldb = a.k_token_stride; s.b_type = a.dtype; s.b_transposed = true;
      s.c = scores.data(); s.ldc = valid; s.c_type = DType::kF32; s.alpha = scale;
      (void)gemm(s, inner);
      // Causal mask + softmax in place (a row with no visible key becomes zeros).
      for (std::int64_t r = 0; r < rows; ++r) {
        float* row = scores.data() + r * valid;
        if (a.rel_bias != nullptr) {
          const std::int64_t pi = i0 + r + (a.kv_len - a.q_len);
          for (std::int64_t j = 0; j < valid; ++j) row[j] += relative_bias(a.rel_bias, a.rel_bias_radius, h, pi, j);
        }
        std::int64_t limit = valid;
        if (a.causal) limit = std::clamp<std::int64_t>(i0 + r + (a.kv_len - a.q_len) + 1, 0, valid);
        if (limit == 0) {
          std::fill(row, row + valid, 0.0f);
          continue;
        }
        float mx = -std::numeric_limits<float>::infinity();
        for (std::int64_t j = 0; j < limit; ++j) mx = std::max(mx, row[j]);
        float sum = 0.0f;
        for (std::int64_t j = 0; j < limit; ++j) {
          row[j] = std::exp(row[j] - mx);
          sum += row[j];
        }
        const float inv = 1.0f / sum;
        for (std::int64_t j = 0; j < limit; ++j) row[j] *= inv;
        std::fill(row + limit, row + valid, 0.0f);
      }
      // O = P V.
      GemmArgs o;
      o.m = rows; o.n = d; o.k = valid;
      o.a = scores.data(); o.lda = valid; o.a_type = DType::kF32;
      o.b = offset_f(a.v, a.dtype, b * a.v_batch_stride + g * a.v_head_stride);
      o.ldb = a.v_token_stride; o.b_type = a.dtype; o.b_transposed = false;
      o.c = out; o.ldc = a.out_token_stride; o.c_type = a.dtype;
      (void)gemm(o, inner);
    }
  });
  return Status::ok();
}

Status attention_decode(const AttentionDecodeArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  const PagedKvCache& c = a.cache;
  if (a.batch == 0 || a.num_heads == 0 || c.head_dim == 0) return Status::ok();
  // Check the tables up front so a bad page id is a Status, never a wild read.
  for (std::int64_t s = 0; s < a.batch; ++s) {
    const std::int64_t len = a.context_lens[s];
    if (len < 0 || len > a.max_blocks_per_seq * c.page_size) {
      return out_of_range("attention_decode: context_lens[" + std::to_string(s) + "] = " + std::to_string(len) +
                          " exceeds max_blocks_per_seq * page_size");
    }
    for (std::int64_t p = 0; p < (len + c.page_size - 1) / c.page_size; ++p) {
      const std::int32_t page = a.block_tables[s * a.max_blocks_per_seq + p];
      if (page < 0 || page >= c.num_pages) {
        return out_of_range("attention_decode: block_tables[" + std::to_string(s) + "][" + std::to_string(p) +
                            "] = " + std::to_string(page) + " outside [0, " + std::to_string(c.num_pages) + ")");
      }
    }
  }
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  const float scale = default_scale(a.scale, c.head_dim);
  const std::int64_t group = a.num_heads / c.num_kv_heads, d = c.head_dim;
  pool.parallel_for(a.batch * c.num_kv_heads, 1, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<float> q(static_cast<std::size_t>(group * d)), acc(static_cast<std::size_t>(group * d)), kv(static_cast<std::size_t>(d));
    std::vector<float> scores;
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t s = t / c.num_kv_heads, g = t % c.num_kv_heads;
      const std::int64_t len = a.context_lens[s];
      for (std::int64_t hh = 0; hh < group; ++hh) {
        load_row(offset_f(a.q, c.dtype, s * a.q_seq_stride + (g * group + hh) * a.q_head_stride), c.dtype, d,
                 q.data() + hh * d);
      }
      scores.assign(static_cast<std::size_t>(group * len), 0.0f);
      auto row_at = [&](const void* base, std::int64_t pos) {
        const std::int64_t page = a.block_tables[s * a.max_blocks_per_seq + pos / c.page_size];
        return offset_f(base, c.dtype, ((page * c.num_kv_heads + g) * c.page_size + pos % c.page_size) * d);
      };
      for (std::int64_t p = 0; p < len; ++p) {
        load_row(row_at(c.k, p), c.dtype, d, kv.data());
        for (std::int64_t hh = 0; hh < group; ++hh) {
          const float* qh = q.data() + hh * d;
          const float* kr = kv.data();
          float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
          for (std::int64_t x = 0; x < d; ++x) dot += qh[x] * kr[x];
          scores[static_cast<std::size_t>(hh * len + p)] = dot * scale;
        }
      }
      for (std::int64_t hh = 0; hh < group; ++hh) {
        float* sc = scores.data() + hh * len;
        float mx = -std::numeric_limits<float>::infinity(), sum = 0.0f;
        for (std::int64_t p = 0; p < len; ++p) mx = std::max(mx, sc[p]);
        for (std::int64_t p = 0; p < len; ++p) {
          sc[p] = std::exp(sc[p] - mx);
          sum += sc[p];
        }
        const float inv = len > 0 ? 1.0f / sum : 0.0f;
        for (std::int64_t p = 0; p < len; ++p) sc[p] *= inv;
      }
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (std::int64_t p = 0; p < len; ++p) {
        load_row(row_at(c.v, p), c.dtype, d, kv.data());
        for (std::int64_t hh = 0; hh < group; ++hh) {
          const float w = scores[static_cast<std::size_t>(hh * len + p)];
          float* o = acc.data() + hh * d;
          const float* vr = kv.data();
#pragma omp simd
          for (std::int64_t x = 0; x < d; ++x) o[x] += w * vr[x];
        }
      }
      for (std::int64_t hh = 0; hh < group; ++hh) {
        store_row(acc.data() + hh * d, d,
                  offset_f(a.out, c.dtype, s * a.out_seq_stride + (g * group + hh) * a.out_head_stride), c.dtype);
      }
    }
  });
  return Status::ok();
}

Status kv_cache_write(const KvCacheWriteArgs& a, const ExecContext& ctx) {
  (void)ctx;
  PARLEY_RETURN_IF_ERROR(validate(a));
  const PagedKvCache& c = a.cache;
  const std::int64_t slots = c.num_pages * c.page_size, d = c.head_dim;
  const std::int64_t es = engine::block_bytes(c.dtype);
  for (std::int64_t t = 0; t < a.tokens; ++t) {  // check all first: nothing is written on error
    if (a.slot_mapping[t] >= slots) {
      return out_of_range("kv_cache_write: slot_mapping[" + std::to_string(t) + "] = " +
                          std::to_string(a.slot_mapping[t]) + " >= " + std::to_string(slots));
    }
  }
  for (std::int64_t t = 0; t < a.tokens; ++t) {
    const std::int64_t slot = a.slot_mapping[t];
    if (slot < 0) continue;
    const std::int64_t page = slot / c.page_size, off = slot % c.page_size;
    for (std::int64_t g = 0; g < c.num_kv_heads; ++g) {
      const std::int64_t dst = ((page * c.num_kv_heads + g) * c.page_size + off) * d;
      std::memcpy(offset_f(c.k, c.dtype, dst), offset_f(a.k, c.dtype, t * a.k_token_stride + g * a.k_head_stride),
                  static_cast<std::size_t>(d * es));
      std::memcpy(offset_f(c.v, c.dtype, dst), offset_f(a.v, c.dtype, t * a.v_token_stride + g * a.v_head_stride),
                  static_cast<std::size_t>(d * es));
    }
  }
  return Status::ok();
}

}  // namespace parley::kernels::cpu
