// Regex on RE2 (see regex.h): compile with limits, full match, search, find all.
// Exists so no pattern from a bot ever runs on a backtracking engine.
// Depends on regex.h, RE2, shared/common/utf8.h.
#include "shared/text/regex.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>

#include "shared/common/utf8.h"

namespace parley::text {

Result<Regex> Regex::compile(std::string_view pattern, const RegexLimits& limits) {
  if (pattern.size() > limits.max_pattern_bytes) {
    return invalid_argument("pattern is " + std::to_string(pattern.size()) + " bytes; the limit is " +
                            std::to_string(limits.max_pattern_bytes));
  }
  if (auto bad = find_invalid_utf8(pattern)) {
    return invalid_argument("pattern is not valid UTF-8 (bad byte at offset " + std::to_string(*bad) + ")");
  }
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(limits.max_memory_bytes);
  o.set_encoding(RE2::Options::EncodingUTF8);
  auto re = std::make_shared<const RE2>(re2::StringPiece(pattern.data(), pattern.size()), o);
  if (!re->ok()) {
    std::string why = re->error();
    if (re->error_code() == RE2::ErrorPatternTooLarge) {
      why = "pattern too large: its compiled program exceeds " + std::to_string(limits.max_memory_bytes) + " bytes";
    } else if (why.find("invalid perl operator: (?=") != std::string::npos ||
               why.find("invalid perl operator: (?!") != std::string::npos ||
               why.find("invalid perl operator: (?<") != std::string::npos) {
      why += " (lookaround is not supported: patterns run on a linear-time engine)";
    } else if (why.find("invalid escape sequence: \\") != std::string::npos && why.size() >= 2 &&
               std::isdigit(static_cast<unsigned char>(why.back()))) {
      why += " (backreferences are not supported: patterns run on a linear-time engine)";
    }
    return invalid_argument(why);
  }
  return Regex(std::move(re), limits.max_input_bytes);
}

std::string_view Regex::bounded(std::string_view text) const {
  if (text.size() <= max_input_) return text;
  return text.substr(0, utf8_floor(text, max_input_));
}

bool Regex::full_match(std::string_view text) const {
  text = bounded(text);
  return RE2::FullMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

std::optional<RegexMatch> Regex::search(std::string_view text) const {
  text = bounded(text);
  re2::StringPiece input(text.data(), text.size());
  re2::StringPiece m;
  if (!re_->Match(input, 0, input.size(), RE2::UNANCHORED, &m, 1)) return std::nullopt;
  const auto begin = static_cast<std::size_t>(m.data() - text.data());
  return RegexMatch{begin, begin + m.size()};
}

std::vector<RegexMatch> Regex::find_all(std::string_view text, std::size_t max_matches,
                                        std::chrono::steady_clock::time_point deadline) const {
  std::vector<RegexMatch> out;
  text = bounded(text);
  re2::StringPiece input(text.data(), text.size());
  std::size_t pos = 0;
  while (pos <= text.size() && out.size() < max_matches) {
    if (std::chrono::steady_clock::now() >= deadline) break;
    re2::StringPiece m;
    if (!re_->Match(input, pos, input.size(), RE2::UNANCHORED, &m, 1)) break;
    const auto begin = static_cast<std::size_t>(m.data() - text.data());
    const auto end = begin + m.size();
    if (end > begin) {
      out.push_back({begin, end});
      pos = end;
    } else {
      // An empty match: step over one whole character so the search moves on.
      pos = begin + (begin < text.size() ? std::max<std::size_t>(1, utf8_length(text, begin)) : 1);
    }
  }
  return out;
}

const std::string& Regex::pattern() const { return re_->pattern(); }

int Regex::program_size() const { return re_->ProgramSize(); }

}  // namespace parley::text
