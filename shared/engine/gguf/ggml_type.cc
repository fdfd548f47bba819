// GgmlType table: block sizes and bytes per block as in ggml (ggml-common.h) and gguf-py
// (GGML_QUANT_SIZES). Why: one table for the reader, the writer and the model tools.
// Depends on ggml_type.h.
#include "shared/engine/gguf/ggml_type.h"

#include <array>
#include <string>

namespace parley::engine::gguf {
namespace {

constexpr std::int64_t kQK = 256;  // super-block of the K-quants and most IQ types

struct Row {
  GgmlType type;
  std::string_view name;
  std::int64_t block_size;
  std::int64_t block_bytes;
  std::optional<DType> dtype;
};

constexpr std::array<Row, 32> kTable{{
    {GgmlType::kF32, "f32", 1, 4, DType::kF32},
    {GgmlType::kF16, "f16", 1, 2, DType::kF16},
    {GgmlType::kQ4_0, "q4_0", 32, 2 + 16, DType::kQ4_0},
    {GgmlType::kQ4_1, "q4_1", 32, 2 + 2 + 16, DType::kQ4_1},
    {GgmlType::kQ5_0, "q5_0", 32, 2 + 4 + 16, DType::kQ5_0},
    {GgmlType::kQ5_1, "q5_1", 32, 2 + 2 + 4 + 16, DType::kQ5_1},
    {GgmlType::kQ8_0, "q8_0", 32, 2 + 32, DType::kQ8_0},
    {GgmlType::kQ8_1, "q8_1", 32, 4 + 4 + 32, std::nullopt},
    {GgmlType::kQ2_K, "q2_k", kQK, 2 + 2 + kQK / 16 + kQK / 4, DType::kQ2_K},
    {GgmlType::kQ3_K, "q3_k", kQK, 2 + kQK / 4 + kQK / 8 + 12, DType::kQ3_K},
    {GgmlType::kQ4_K, "q4_k", kQK, 2 + 2 + kQK / 2 + 12, DType::kQ4_K},
    {GgmlType::kQ5_K, "q5_k", kQK, 2 + 2 + kQK / 2 + kQK / 8 + 12, DType::kQ5_K},
    {GgmlType::kQ6_K, "q6_k", kQK, 2 + kQK / 2 + kQK / 4 + kQK / 16, DType::kQ6_K},
    {GgmlType::kQ8_K, "q8_k", kQK, 4 + kQK + kQK / 8, std::nullopt},
    {GgmlType::kIQ2_XXS, "iq2_xxs", kQK, 2 + kQK / 4, std::nullopt},
    {GgmlType::kIQ2_XS, "iq2_xs", kQK, 2 + kQK / 4 + kQK / 32, std::nullopt},
    {GgmlType::kIQ3_XXS, "iq3_xxs", kQK, 2 + kQK / 4 + kQK / 8, std::nullopt},
    {GgmlType::kIQ1_S, "iq1_s", kQK, 2 + kQK / 8 + kQK / 16, std::nullopt},
    {GgmlType::kIQ4_NL, "iq4_nl", 32, 2 + 16, std::nullopt},
    {GgmlType::kIQ3_S, "iq3_s", kQK, 2 + kQK / 4 + kQK / 8 + kQK / 32 + 4, std::nullopt},
    {GgmlType::kIQ2_S, "iq2_s", kQK, 2 + kQK / 4 + kQK / 16, std::nullopt},
    {GgmlType::kIQ4_XS, "iq4_xs", kQK, 2 + 2 + kQK / 2 + kQK / 64, std::nullopt},
    {GgmlType::kI8, "i8", 1, 1, DType::kI8},
    {GgmlType::kI16, "i16", 1, 2, std::nullopt},
    {GgmlType::kI32, "i32", 1, 4, DType::kI32},
    {GgmlType::kI64, "i64", 1, 8, std::nullopt},
    {GgmlType::kF64, "f64", 1, 8, std::nullopt},
    {GgmlType::kIQ1_M, "iq1_m", kQK, kQK / 8 + kQK / 16 + kQK / 32, std::nullopt},
    {GgmlType::kBF16, "bf16", 1, 2, DType::kBF16},
    {GgmlType::kTQ1_0, "tq1_0", kQK, 2 + 4 * 13, std::nullopt},
    {GgmlType::kTQ2_0, "tq2_0", kQK, 2 + 64, std::nullopt},
    {GgmlType::kMXFP4, "mxfp4", 32, 1 + 16, std::nullopt},
}};

}  // namespace

std::optional<GgmlTypeInfo> ggml_type_info(std::uint32_t id) {
  for (const Row& r : kTable) {
    if (static_cast<std::uint32_t>(r.type) == id) {
      return GgmlTypeInfo{r.type, r.name, r.block_size, r.block_bytes, r.dtype};
    }
  }
  return std::nullopt;
}

GgmlTypeInfo ggml_type_info(GgmlType t) { return *ggml_type_info(static_cast<std::uint32_t>(t)); }

std::string ggml_type_name(std::uint32_t id) {
  auto info = ggml_type_info(id);
  return info ? std::string(info->name) : "type#" + std::to_string(id);
}

GgmlType ggml_type_from_dtype(DType t) {
  switch (t) {
    case DType::kF32: return GgmlType::kF32;
    case DType::kF16: return GgmlType::kF16;
    case DType::kBF16: return GgmlType::kBF16;
    case DType::kI8: return GgmlType::kI8;
    case DType::kI32: return GgmlType::kI32;
    case DType::kQ8_0: return GgmlType::kQ8_0;
    case DType::kQ4_0: return GgmlType::kQ4_0;
    case DType::kQ4_1: return GgmlType::kQ4_1;
    case DType::kQ5_0: return GgmlType::kQ5_0;
    case DType::kQ5_1: return GgmlType::kQ5_1;
    case DType::kQ2_K: return GgmlType::kQ2_K;
    case DType::kQ3_K: return GgmlType::kQ3_K;
    case DType::kQ4_K: return GgmlType::kQ4_K;
    case DType::kQ5_K: return GgmlType::kQ5_K;
    case DType::kQ6_K: return GgmlType::kQ6_K;
  }
  return GgmlType::kF32;
}

}  // namespace parley::engine::gguf
