// Structured logging with levels, plain or JSON lines, and rate limiting.
// Exists so every process logs the same way (operators grep one format; JSON for log shippers).
// Thread-safe: lines are written whole to stderr under a mutex. Depends on nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::log {

enum class Level : std::uint8_t { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

void set_level(Level level);
Level level();
/// JSON lines: {"ts":..,"level":..,"msg":..,"file":..,"line":..,<fields>}.
void set_json(bool json);
/// Name shown in each line (service name), e.g. "echo".
void set_component(std::string component);
/// "debug" | "info" | "warn" | "error" | "off" (case-insensitive).
bool parse_level(std::string_view text, Level* out);
inline bool enabled(Level l) { return l >= level(); }

/// Collects one line; writes it when destroyed.
class Line {
 public:
  Line(Level level, const char* file, int line) : level_(level), file_(file), line_(line) {}
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;
  ~Line();

  template <typename T>
  Line& operator<<(const T& value) {
    msg_ << value;
    return *this;
  }
  /// A structured key/value (a JSON field, or " key=value" in plain mode).
  template <typename T>
  Line& kv(std::string key, const T& value) {
    std::ostringstream s;
    s << value;
    fields_.emplace_back(std::move(key), s.str());
    return *this;
  }

 private:
  Level level_;
  const char* file_;
  int line_;
  std::ostringstream msg_;
  std::vector<std::pair<std::string, std::string>> fields_;
};

/// True at most once per `period` for one call site (rate-limited logging of hostile input).
class RateLimiter {
 public:
  explicit RateLimiter(std::chrono::milliseconds period) : period_(period) {}
  bool allow();
  /// Lines suppressed since the last allowed one (reported with the next).
  std::uint64_t take_suppressed() { return suppressed_.exchange(0); }

 private:
  std::chrono::milliseconds period_;
  std::atomic<std::int64_t> next_allowed_ns_{0};
  std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace parley::log

#define PARLEY_LOG(level_name)                                                  \
  if (!::parley::log::enabled(::parley::log::Level::level_name)) {              \
  } else                                                                        \
    ::parley::log::Line(::parley::log::Level::level_name, __FILE__, __LINE__)

/// Logs at most once per `ms` milliseconds from this call site; notes how many were dropped.
#define PARLEY_LOG_EVERY_MS(level_name, ms)                                              \
  static ::parley::log::RateLimiter PARLEY_CONCAT_(parley_rl_, __LINE__){                \
      std::chrono::milliseconds(ms)};                                                    \
  if (!::parley::log::enabled(::parley::log::Level::level_name) ||                       \
      !PARLEY_CONCAT_(parley_rl_, __LINE__).allow()) {                                   \
  } else                                                                                 \
    ::parley::log::Line(::parley::log::Level::level_name, __FILE__, __LINE__)            \
        .kv("suppressed", PARLEY_CONCAT_(parley_rl_, __LINE__).take_suppressed())

#ifndef PARLEY_CONCAT_
#define PARLEY_CONCAT_INNER_(a, b) a##b
#define PARLEY_CONCAT_(a, b) PARLEY_CONCAT_INNER_(a, b)
#endif
