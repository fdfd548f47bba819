// TokenBatch (see batch.h).
#include "shared/models/encoder/batch.h"

namespace parley::encoder {

void TokenBatch::add(std::span<const std::int32_t> seq_ids, std::span<const std::int32_t> seq_types) {
  ids.insert(ids.end(), seq_ids.begin(), seq_ids.end());
  if (seq_types.size() == seq_ids.size()) {
    type_ids.insert(type_ids.end(), seq_types.begin(), seq_types.end());
  } else {
    type_ids.resize(ids.size(), 0);
  }
  lengths.push_back(static_cast<std::int32_t>(seq_ids.size()));
}

}  // namespace parley::encoder
