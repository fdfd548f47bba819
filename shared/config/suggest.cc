// Did-you-mean: edit distance and the closeness rule (see suggest.h).
// Why a threshold relative to length: short keys differ by one letter from unrelated short keys.
// Depends on the standard library only.
#include "shared/config/suggest.h"

#include <algorithm>
#include <numeric>

namespace parley::config {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string> closest_match(std::string_view unknown,
                                         const std::vector<std::string>& candidates) {
  const std::size_t limit = std::max<std::size_t>(1, std::min<std::size_t>(3, unknown.size() / 3));
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(unknown, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  if (best) return best;
  // "port" for "http.port": the user knew the leaf but not its section.
  std::optional<std::string> by_leaf;
  for (const auto& c : candidates) {
    const auto dot = c.rfind('.');
    if (dot != std::string::npos && std::string_view(c).substr(dot + 1) == unknown) {
      if (by_leaf) return std::nullopt;  // ambiguous
      by_leaf = c;
    }
  }
  return by_leaf;
}

}  // namespace parley::config
