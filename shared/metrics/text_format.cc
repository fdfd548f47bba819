// Prometheus text format helpers: Go-compatible float formatting, escaping, UTF-8 repair.
// Why Go-compatible: histogram `le` values are label strings, so every client must spell a bound
// the same way for queries that aggregate across processes. Depends on <charconv>, common/utf8.h.
#include "shared/metrics/text_format.h"

#include <charconv>
#include <cmath>

#include "shared/common/utf8.h"

namespace parley::metrics {
namespace {

template <bool kEscapeQuote>
void append_escaped(std::string& out, std::string_view s) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  for (std::size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (kEscapeQuote && c == '"') {
      out += "\\\"";
    } else if (static_cast<unsigned char>(c) < 0x80) {
      out += c;
    } else {
      std::size_t n = utf8_length(s, i);
      if (n == 0) {
        out += kReplacement;
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    ++i;
  }
}

}  // namespace

void append_double(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (value == 0) {
    out += std::signbit(value) ? "-0" : "0";
    return;
  }
  // strconv.FormatFloat(v, 'g', -1, 64): shortest round-trip digits, laid out in %e form when
  // the decimal exponent is < -4 or >= 6 (a fixed 6 in shortest mode, ftoa.go), else in %f form.
  // Both C++ and Go print at least two exponent digits ("1e+06").
  char sci[64];
  auto r = std::to_chars(sci, sci + sizeof(sci), value, std::chars_format::scientific);
  std::string_view s(sci, static_cast<std::size_t>(r.ptr - sci));
  auto e = s.find('e');
  int exponent = 0;
  const char* exp_begin = s.data() + e + 1;
  if (*exp_begin == '+') ++exp_begin;  // from_chars takes '-' but not '+'
  std::from_chars(exp_begin, s.data() + s.size(), exponent);
  if (exponent < -4 || exponent >= 6) {
    out.append(s);
    return;
  }
  char fixed[64];
  auto f = std::to_chars(fixed, fixed + sizeof(fixed), value, std::chars_format::fixed);
  out.append(fixed, static_cast<std::size_t>(f.ptr - fixed));
}

std::string format_double(double value) {
  std::string out;
  append_double(out, value);
  return out;
}

void append_escaped_label_value(std::string& out, std::string_view value) {
  append_escaped<true>(out, value);
}

void append_escaped_help(std::string& out, std::string_view help) { append_escaped<false>(out, help); }

}  // namespace parley::metrics
