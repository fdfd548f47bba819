// Embedding lookup: gather rows of a (possibly quantized) table by token id.
// Why: the first layer of every text model; GGUF LMs ship the table in Q8_0/Q4_x and INT8
// engines keep it as per-row int8. Depends on kernels/ops/common.h.
#pragma once

#include <cstdint>

#include "shared/common/status.h"
#include "kernels/ops/common.h"

namespace parley::kernels {

/// out[t, :] = scale * dequant(table[ids[t], :])            (dim values per row)
/// table_type: f32, f16, bf16; i8 (row r scaled by row_scales[r]); q8_0, q4_0, q4_1 (dim % 32 == 0).
/// Row r of the table starts at byte r * table_row_bytes (0 = dense: row_bytes(table_type, dim)).
/// out_type f32, f16, bf16; ld_out in elements. An id outside [0, vocab) is InvalidArgument on
/// the CPU (nothing is written for that call); GPU backends write zeros for such rows.
struct EmbeddingArgs {
  std::int64_t num_tokens = 0, dim = 0, vocab = 0;
  const std::int32_t* ids = nullptr;
  const void* table = nullptr;
  DType table_type = DType::kF32;
  std::int64_t table_row_bytes = 0;
  const float* row_scales = nullptr;  ///< [vocab], i8 tables only
  void* out = nullptr;
  std::int64_t ld_out = 0;
  DType out_type = DType::kF32;
  float scale = 1.0f;  ///< e.g. sqrt(hidden) for Gemma-style models
};

Status validate(const EmbeddingArgs& args);

namespace cpu {
Status embedding(const EmbeddingArgs& args, const ExecContext& ctx = ExecContext::cpu());
}  // namespace cpu

}  // namespace parley::kernels
