// Reads a YAML config file into flat (dotted key, value, line) leaves.
// Exists to keep yaml-cpp and its exceptions inside one file: callers get leaves with positions
// or one Status naming file:line:column. Depends on yaml-cpp and shared/common/status.h.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "shared/common/status.h"

namespace parley::config {

/// One leaf of the file: nested maps are joined with dots ("http: {port: 1}" -> "http.port").
struct YamlLeaf {
  enum class Kind : std::uint8_t { kScalar, kList, kNull, kMap };
  std::string key;
  Kind kind = Kind::kScalar;
  std::string scalar;              ///< kScalar
  std::vector<std::string> items;  ///< kList: every item is a scalar
  int line = 0;                    ///< 1-based line of the value (of the key for kNull)
  int column = 0;                  ///< 1-based column
};

/// Reads and flattens the YAML file at `path`. Errors (one Status): unreadable file (NOT_FOUND),
/// malformed YAML ("path:3:7: malformed YAML: ..."), a top level that is not a map, a key set
/// twice, a list with non-scalar items (INVALID_ARGUMENT). An empty file gives no leaves.
/// `is_value_key(dotted)` says which names are single values, so a map written where a value
/// belongs becomes one leaf of kind kMap (a clear type error) instead of a spray of unknown keys.
/// Blocking file I/O; call at start-up.
Result<std::vector<YamlLeaf>> read_yaml_file(
    const std::string& path, const std::function<bool(const std::string&)>& is_value_key);

}  // namespace parley::config
