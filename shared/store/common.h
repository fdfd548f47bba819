// Argument checks and error messages shared by the SessionStore implementations.
// Exists so MemoryStore and RedisStore reject the same inputs with the same words (tests run
// one contract suite against both). Depends on session_store.h.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "shared/store/session_store.h"

namespace parley::store::detail {

inline Status check_key(std::string_view key) {
  if (key.empty()) return invalid_argument("session store key is empty");
  return Status::ok();
}

inline Status check_put_args(std::string_view key, Version expected, std::chrono::milliseconds ttl) {
  PARLEY_RETURN_IF_ERROR(check_key(key));
  if (expected < kAnyVersion) {
    return invalid_argument("expected version " + std::to_string(expected) + " for key '" +
                            std::string(key) + "' is invalid (use >= 1, kMustNotExist or kAnyVersion)");
  }
  if (ttl.count() < 0) return invalid_argument("negative TTL for key '" + std::string(key) + "'");
  return Status::ok();
}

inline Status key_not_found(std::string_view key) {
  return not_found("no session store key '" + std::string(key) + "' (absent or expired)");
}

inline Status version_conflict(std::string_view key, Version expected, Version found) {
  return {StatusCode::kAborted,
          "version conflict on key '" + std::string(key) + "': expected " +
              (expected == kMustNotExist ? std::string("absent") : std::to_string(expected)) +
              ", found " + (found == 0 ? std::string("absent") : std::to_string(found))};
}

}  // namespace parley::store::detail
