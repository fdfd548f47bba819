// CPU embedding lookup for f32/f16/bf16, per-row int8 and GGUF block tables.
// Why: see ops/embedding.h. Depends on ops/embedding.h, dtype_io.h, thread_pool.h.
#include "kernels/ops/embedding.h"

#include <string>
#include <vector>

#include "kernels/cpu/dtype_io.h"
#include "kernels/cpu/thread_pool.h"

namespace parley::kernels::cpu {

Status embedding(const EmbeddingArgs& a, const ExecContext& ctx) {
  PARLEY_RETURN_IF_ERROR(validate(a));
  if (a.num_tokens == 0 || a.dim == 0) return Status::ok();
  for (std::int64_t t = 0; t < a.num_tokens; ++t) {
    if (a.ids[t] < 0 || a.ids[t] >= a.vocab) {
      return invalid_argument("embedding: ids[" + std::to_string(t) + "] = " + std::to_string(a.ids[t]) +
                              " outside [0, " + std::to_string(a.vocab) + ")");
    }
  }
  const std::int64_t row_bytes = a.table_row_bytes != 0 ? a.table_row_bytes : engine::row_bytes(a.table_type, a.dim);
  ThreadPool& pool = ctx.threads ? *ctx.threads : ThreadPool::global();
  pool.parallel_for(a.num_tokens, 16, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<float> row(static_cast<std::size_t>(a.dim));
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t id = a.ids[t];
      const char* src = static_cast<const char*>(a.table) + id * row_bytes;
      if (a.table_type == DType::kI8) {
        const auto* q = reinterpret_cast<const std::int8_t*>(src);
        const float s = a.row_scales[id];
        for (std::int64_t j = 0; j < a.dim; ++j) row[static_cast<std::size_t>(j)] = static_cast<float>(q[j]) * s;
      } else {
        load_row(src, a.table_type, a.dim, row.data());
      }
      if (a.scale != 1.0f) {
        for (float& v : row) v *= a.scale;
      }
      store_row(row.data(), a.dim, offset_f(a.out, a.out_type, t * a.ld_out), a.out_type);
    }
  });
  return Status::ok();
}

}  // namespace parley::kernels::cpu
