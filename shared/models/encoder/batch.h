// TokenBatch: the input of the encoder, sequences of token ids of different lengths packed back
// to back (no padding). Why: its own header so model.h (calibration) and session.h share it.
// Depends on the standard library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace parley::encoder {

/// Sequences of token ids (with [CLS]/[SEP] already added), concatenated.
///
///   TokenBatch b;
///   b.add(ids_a);            // token types all 0
///   b.add(ids_b, types_b);   // e.g. question/passage pairs
struct TokenBatch {
  std::vector<std::int32_t> ids;       ///< all sequences back to back
  std::vector<std::int32_t> type_ids;  ///< same size as ids (0 where not given)
  std::vector<std::int32_t> lengths;   ///< one per sequence (>= 1)

  void add(std::span<const std::int32_t> seq_ids, std::span<const std::int32_t> seq_types = {});
  std::size_t size() const { return lengths.size(); }
  std::int64_t total_tokens() const { return static_cast<std::int64_t>(ids.size()); }
  void clear() {
    ids.clear();
    type_ids.clear();
    lengths.clear();
  }
};

}  // namespace parley::encoder
