// GgmlType: the tensor element types a GGUF file may declare (ggml's numbering), with their block
// sizes and byte sizes, and the engine DType each maps to where the engine can compute on it.
// Why: the GGUF reader must size every tensor (even IQ types we cannot decode) to bounds-check it;
// model loaders must know which ones they can convert. Depends on shared/engine/dtype.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "shared/engine/dtype.h"

namespace parley::engine::gguf {

/// ggml_type ids as stored in GGUF tensor infos (never renumber: they are the file format).
/// Ids 4, 5 (old Q4_2/Q4_3) and 31-33 (removed Q4_0_4_x) are not valid in current files.
enum class GgmlType : std::uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
};

/// Size facts of one type: `block_size` values are stored in `block_bytes` bytes.
struct GgmlTypeInfo {
  GgmlType type = GgmlType::kF32;
  std::string_view name;          ///< "f32", "q4_1", "q4_k", ... (lower case, ggml's names)
  std::int64_t block_size = 1;
  std::int64_t block_bytes = 4;
  /// The engine dtype with the identical byte layout (f32, f16, bf16, i8, i32, q8_0, q4_0, q4_1,
  /// q5_0, q5_1, q2_k .. q6_k); nullopt for the types the engine cannot decode (IQ*, TQ*, ...).
  std::optional<DType> engine_dtype;
};

/// Facts for a raw id read from a file; nullopt for ids ggml does not define.
std::optional<GgmlTypeInfo> ggml_type_info(std::uint32_t id);
/// Facts for a known enumerator (always present).
GgmlTypeInfo ggml_type_info(GgmlType t);
/// "q4_1"; "type#<id>" for an unknown id.
std::string ggml_type_name(std::uint32_t id);
/// The ggml type with the same layout as an engine dtype (every engine dtype has one).
GgmlType ggml_type_from_dtype(DType t);

}  // namespace parley::engine::gguf
