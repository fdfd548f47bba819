// Prometheus text format helpers: Go-compatible float formatting, escaping, UTF-8 repair.
// Why Go-compatible: histogram `le` values are label strings, so every client must spell a bound
// the same way for queries that aggregate across processes. Depends on <charconv>.
#include "shared/metrics/text_format.h"

#include <charconv>
#include <cmath>

namespace parley::metrics {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned int cp = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  // Reject overlong forms, surrogates and code points past U+10FFFF.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  if (cp > 0x10FFFF) return 0;
  return n;
}

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
      std::size_t n = utf8_sequence_length(s, i);
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
