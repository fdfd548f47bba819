// StopMatcher: finds stop strings in streamed text, holding back text that could still become one.
// Why: a stop string can span several tokens ("</answer>" in three pieces); a client must never
// see a part of it, yet everything else should stream out at once. Depends on nothing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace parley::lm {

/// One per generation stream. Not thread-safe.
///
///   StopMatcher stops({"\nUser:", "</s>"});
///   auto out = stops.push(delta);        // out.text: safe to send now
///   if (out.stopped) finish("stop");     // out.text ends right before the stop string
///   ...
///   send(stops.flush());                 // stream ended another way: release held-back text
///
/// Held back is only the longest tail of the text that is a proper prefix of some stop string;
/// since stop strings are valid UTF-8 and so is the text pushed in, what is sent stays valid.
class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops = {});

  struct Output {
    std::string text;
    bool stopped = false;
    std::size_t stop_index = 0;  ///< which stop string matched (when stopped)
  };

  /// Adds text; returns what may be sent. After a stop, further pushes return nothing.
  Output push(std::string_view text);
  /// Returns the held-back text (the stream ended without a stop string).
  std::string flush();
  std::size_t held_bytes() const { return held_.size(); }
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace parley::lm
