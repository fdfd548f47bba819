// cli_number: a command-line option's numeric value, parsed whole and range-checked. Tools used
// std::atoi, which turns "abc" into 0 and "5x" into 5 without a word; a typo must be a usage
// error naming the option instead.
#pragma once

#include <optional>
#include <string>

namespace parley::cli {

/// The value of `text` if all of it is a number in [lo, hi]; nullopt otherwise.
std::optional<double> parse_number(const std::string& text, double lo, double hi);

/// parse_number, or a message naming the flag and the range on stderr and exit(2) (usage error).
double number_or_exit(const std::string& flag, const std::string& text, double lo, double hi);

/// The same for whole numbers: "2.5" is refused.
long long integer_or_exit(const std::string& flag, const std::string& text, long long lo, long long hi);

}  // namespace parley::cli
