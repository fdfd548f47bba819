// Regex: the one regular-expression engine for patterns that come from outside (bot slot
// patterns in the dialog's policy and the NLU's extractors), on RE2 — linear-time matching, no
// backtracking, bounded memory — so a pattern like "(a+)+$" cannot stall a thread (issue 15).
// Depends on RE2 (Debian libre2-dev, in regex.cc only), shared/common.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"

namespace re2 {
class RE2;
}

namespace parley::text {

/// Explicit bounds on what a pattern may cost. Matching time is O(pattern program × input) and
/// both are bounded here, so the worst case is known in advance.
struct RegexLimits {
  std::size_t max_pattern_bytes = 1024;
  /// RE2's memory budget for the compiled program and its DFA caches; a pattern whose program
  /// does not fit ("a{1000}{1000}") is refused at compile time. Above the budget at match time
  /// RE2 falls back to its NFA: slower, still linear.
  std::int64_t max_memory_bytes = 2 << 20;
  /// Matching sees at most this many leading bytes of a text (cut on a UTF-8 boundary).
  std::size_t max_input_bytes = 64 << 10;
};

/// A match: byte offsets [begin, end) into the text searched.
struct RegexMatch {
  std::size_t begin = 0;
  std::size_t end = 0;
};

/// A compiled pattern. RE2 syntax (Perl-like: classes, \d \w \s \b, {n,m}, non-greedy ?,
/// (?i) flags); backreferences and lookaround are not supported (they are what makes matching
/// exponential) and are refused with a clear error. Copies share the compiled program.
/// Threading: all const methods are thread-safe (RE2 is), any thread, never block.
///
///   auto re = Regex::compile("[A-Z]{2}[0-9]{4}");
///   if (!re.ok()) return re.status();          // INVALID_ARGUMENT naming the problem
///   bool whole = re->full_match("AB1234");
///   auto first = re->search("order AB1234 please");   // RegexMatch{6, 12}
class Regex {
 public:
  /// INVALID_ARGUMENT with RE2's reason ("missing ): (a", "invalid escape sequence: \1"), or when
  /// the pattern is longer than limits.max_pattern_bytes or its program exceeds the memory budget.
  static Result<Regex> compile(std::string_view pattern, const RegexLimits& limits = {});

  /// The whole text (its first max_input_bytes) matches.
  bool full_match(std::string_view text) const;
  /// The leftmost match (Perl/ECMAScript leftmost-first semantics), or nullopt.
  std::optional<RegexMatch> search(std::string_view text) const;
  /// Non-overlapping, non-empty matches left to right, at most `max_matches`; stops early (with
  /// what it found) once `deadline` has passed.
  std::vector<RegexMatch> find_all(std::string_view text, std::size_t max_matches = 64,
                                   std::chrono::steady_clock::time_point deadline =
                                       std::chrono::steady_clock::time_point::max()) const;

  const std::string& pattern() const;
  /// RE2's program size (a cost measure; tests and limits).
  int program_size() const;

 private:
  Regex(std::shared_ptr<const re2::RE2> re, std::size_t max_input) : re_(std::move(re)), max_input_(max_input) {}
  std::string_view bounded(std::string_view text) const;

  std::shared_ptr<const re2::RE2> re_;
  std::size_t max_input_ = 0;
};

}  // namespace parley::text
