// Depends on the C library's strtod/strtoll only.
#include "shared/common/cli_number.h"

#include <cerrno>
#include <cstdlib>
#include <iostream>

namespace parley::cli {

std::optional<double> parse_number(const std::string& text, double lo, double hi) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(text.c_str(), &end);
  if (errno != 0 || end == nullptr || *end != '\0' || !(x >= lo && x <= hi)) return std::nullopt;
  return x;
}

double number_or_exit(const std::string& flag, const std::string& text, double lo, double hi) {
  auto x = parse_number(text, lo, hi);
  if (!x) {
    std::cerr << flag << ": '" << text << "' is not a number in [" << lo << ", " << hi << "]\n";
    std::exit(2);
  }
  return *x;
}

long long integer_or_exit(const std::string& flag, const std::string& text, long long lo, long long hi) {
  char* end = nullptr;
  errno = 0;
  const long long x = text.empty() ? 0 : std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || errno != 0 || end == nullptr || *end != '\0' || x < lo || x > hi) {
    std::cerr << flag << ": '" << text << "' is not a whole number in [" << lo << ", " << hi << "]\n";
    std::exit(2);
  }
  return x;
}

}  // namespace parley::cli
