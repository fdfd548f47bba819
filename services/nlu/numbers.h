// Numbers in text: digits ("4", "1,500", "2.5"), cardinal words ("four", "twenty-one",
// "two hundred and five", "a dozen") and ordinals ("3rd", "fourteenth"). Why: NUMBER slots and
// dates need the value, not the words. Depends on text_checks.h.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/nlu/text_checks.h"

namespace parley::nlu {

/// The value of `text` when all of it is one number (case-insensitive, surrounding spaces ok).
std::optional<double> parse_number(std::string_view text);
/// Same for ordinals ("3rd", "third", "twenty first"); nullopt otherwise.
std::optional<int> parse_ordinal(std::string_view text);

struct NumberMatch {
  ByteSpan span;
  double value = 0;
};
/// Every maximal number in `text`, left to right.
std::vector<NumberMatch> find_numbers(std::string_view text);

/// "4", "2.5", "-3" (no trailing zeros, no exponent for ordinary magnitudes).
std::string format_number(double value);

}  // namespace parley::nlu
