// StopMatcher implementation (see stop_matcher.h).
// Why a plain search: stop lists are a handful of short strings and the held text is shorter than
// the longest of them, so each push scans a few dozen bytes. Depends on stop_matcher.h.
#include "services/lm/stop_matcher.h"

#include <algorithm>

namespace parley::lm {

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (auto& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

StopMatcher::Output StopMatcher::push(std::string_view text) {
  Output out;
  if (stopped_) return out;
  held_.append(text);
  if (stops_.empty()) {
    out.text.swap(held_);
    return out;
  }
  // Earliest complete match wins (ties: the listed first).
  std::size_t best = std::string::npos;
  for (std::size_t i = 0; i < stops_.size(); ++i) {
    const std::size_t at = held_.find(stops_[i]);
    if (at != std::string::npos && at < best) {
      best = at;
      out.stop_index = i;
    }
  }
  if (best != std::string::npos) {
    out.text = held_.substr(0, best);
    out.stopped = true;
    stopped_ = true;
    held_.clear();
    return out;
  }
  // Hold back the longest tail that is a proper prefix of a stop string.
  std::size_t keep = 0;
  for (const auto& s : stops_) {
    const std::size_t max_len = std::min(s.size() - 1, held_.size());
    for (std::size_t len = max_len; len > keep; --len) {
      if (std::string_view(held_).substr(held_.size() - len) == std::string_view(s).substr(0, len)) {
        keep = len;
        break;
      }
    }
  }
  out.text = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopMatcher::flush() {
  std::string out;
  if (!stopped_) out.swap(held_);
  return out;
}

}  // namespace parley::lm
