// The two non-Status error tiers: PARLEY_BUG (should not happen: logged, counted, survived) and
// PARLEY_CHECK (fatal: prints the condition and file:line, then aborts).
// Depends on log.h.
#pragma once

#include <cstdint>
#include <cstdlib>

#include "shared/common/log.h"

namespace parley {

/// Number of PARLEY_BUG hits in this process (exported as parley_bugs_total).
std::uint64_t bug_count();
void note_bug();

namespace detail {
/// Logs the failed check and aborts when destroyed.
class FatalLine {
 public:
  FatalLine(const char* cond, const char* file, int line);
  FatalLine(const FatalLine&) = delete;
  FatalLine& operator=(const FatalLine&) = delete;
  [[noreturn]] ~FatalLine();
  template <typename T>
  FatalLine& operator<<(const T& v) {
    line_ << v;
    return *this;
  }

 private:
  log::Line line_;
};
}  // namespace detail

}  // namespace parley

#define PARLEY_CHECK(cond) \
  if (cond) {              \
  } else                   \
    ::parley::detail::FatalLine(#cond, __FILE__, __LINE__)

#define PARLEY_BUG()         \
  ::parley::note_bug(), ::parley::log::Line(::parley::log::Level::kError, __FILE__, __LINE__) << "BUG: "
