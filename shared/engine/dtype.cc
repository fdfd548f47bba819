// DType names. Why: logs, model tools and errors name dtypes the same way everywhere.
// Depends on dtype.h.
#include "shared/engine/dtype.h"

#include <array>

namespace parley::engine {
namespace {
constexpr std::array<std::string_view, kDTypeCount> kNames = {
    "f32", "f16", "bf16", "i8", "i32", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k"};
}  // namespace

std::string_view dtype_name(DType t) {
  const auto i = static_cast<std::size_t>(t);
  return i < kNames.size() ? kNames[i] : std::string_view("unknown");
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<DType>(i);
  }
  return std::nullopt;
}

}  // namespace parley::engine
