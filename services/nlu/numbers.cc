// Number words and digits (see numbers.h).
#include "services/nlu/numbers.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace parley::nlu {

namespace {

struct WordValue {
  std::string_view word;
  int value;
};
constexpr std::array<WordValue, 28> kCardinals{{
    {"zero", 0},      {"one", 1},       {"two", 2},       {"three", 3},    {"four", 4},     {"five", 5},
    {"six", 6},       {"seven", 7},     {"eight", 8},     {"nine", 9},     {"ten", 10},     {"eleven", 11},
    {"twelve", 12},   {"thirteen", 13}, {"fourteen", 14}, {"fifteen", 15}, {"sixteen", 16}, {"seventeen", 17},
    {"eighteen", 18}, {"nineteen", 19}, {"twenty", 20},   {"thirty", 30},  {"forty", 40},   {"fifty", 50},
    {"sixty", 60},    {"seventy", 70},  {"eighty", 80},   {"ninety", 90},
}};
constexpr std::array<WordValue, 22> kOrdinals{{
    {"first", 1},      {"second", 2},       {"third", 3},       {"fourth", 4},      {"fifth", 5},
    {"sixth", 6},      {"seventh", 7},      {"eighth", 8},      {"ninth", 9},       {"tenth", 10},
    {"eleventh", 11},  {"twelfth", 12},     {"thirteenth", 13}, {"fourteenth", 14}, {"fifteenth", 15},
    {"sixteenth", 16}, {"seventeenth", 17}, {"eighteenth", 18}, {"nineteenth", 19}, {"twentieth", 20},
    {"thirtieth", 30}, {"fortieth", 40},
}};

int lookup(std::string_view w, const auto& table) {
  for (const auto& e : table) {
    if (e.word == w) return e.value;
  }
  return -1;
}

// Lower-case words of `text` with their spans, '-' joining words ("twenty-one") split off.
struct Tok {
  std::string w;
  ByteSpan span;
};
std::vector<Tok> tokens(std::string_view text) {
  std::vector<Tok> out;
  auto is_sep = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '-' || c == ',' || c == '?' || c == '!' ||
           c == ';' || c == ':' || c == '(' || c == ')' || c == '"' || c == '/';
  };
  auto digit = [&](std::size_t k) { return k < text.size() && text[k] >= '0' && text[k] <= '9'; };
  std::size_t i = 0;
  while (i < text.size()) {
    if (is_sep(text[i])) {
      ++i;
      continue;
    }
    std::size_t b = i;
    while (i < text.size()) {
      // A comma inside digits groups thousands ("1,500"), it does not end the number.
      if (text[i] == ',' && i > b && digit(i - 1) && digit(i + 1) && digit(i + 2) && digit(i + 3) && !digit(i + 4)) {
        ++i;
        continue;
      }
      if (is_sep(text[i])) break;
      ++i;
    }
    std::size_t e = i;
    // A trailing '.' ends a sentence, it is not a decimal point.
    while (e > b && text[e - 1] == '.') --e;
    if (e > b)
      out.push_back(
          {ascii_lower(text.substr(b, e - b)), {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(e)}});
  }
  return out;
}

std::optional<double> parse_digits(const std::string& w) {
  std::string s;
  bool digit = false;
  for (std::size_t i = 0; i < w.size(); ++i) {
    char c = w[i];
    if (c >= '0' && c <= '9') {
      digit = true;
      s.push_back(c);
    } else if (c == ',') {
      continue;
    } else if (c == '.' && i + 1 < w.size()) {
      s.push_back(c);
    } else if ((c == '-' || c == '+') && i == 0) {
      s.push_back(c);
    } else {
      return std::nullopt;
    }
  }
  if (!digit) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return v;
}

// Parses a number starting at tokens[i]; returns the token count used (0: none).
std::size_t parse_at(const std::vector<Tok>& t, std::size_t i, double& value) {
  if (i >= t.size()) return 0;
  if (auto d = parse_digits(t[i].w)) {
    value = *d;
    return 1;
  }
  if (t[i].w == "dozen" || ((t[i].w == "a" || t[i].w == "one") && i + 1 < t.size() && t[i + 1].w == "dozen")) {
    value = 12;
    return t[i].w == "dozen" ? 1 : 2;
  }
  double total = 0, current = 0;
  std::size_t j = i;
  bool any = false;
  while (j < t.size()) {
    const std::string& w = t[j].w;
    int v = lookup(w, kCardinals);
    if (v >= 0) {
      // "twenty one" adds; "one two" is two numbers.
      if (any && current > 0 &&
          !(static_cast<int>(current) % 100 >= 20 && static_cast<int>(current) % 10 == 0 && v < 10) &&
          !(static_cast<int>(current) % 100 == 0 && v < 100)) {
        break;
      }
      current += v;
      any = true;
      ++j;
      continue;
    }
    if ((w == "hundred" || w == "thousand" || w == "million") && any) {
      double mult = w == "hundred" ? 100 : w == "thousand" ? 1000 : 1e6;
      if (w == "hundred") {
        current = (current == 0 ? 1 : current) * mult;
      } else {
        total += (current == 0 ? 1 : current) * mult;
        current = 0;
      }
      ++j;
      continue;
    }
    if ((w == "a" || w == "an") && !any && j + 1 < t.size() &&
        (t[j + 1].w == "hundred" || t[j + 1].w == "thousand" || t[j + 1].w == "million")) {
      current = 1;
      any = true;
      ++j;
      continue;
    }
    if (w == "and" && any && j + 1 < t.size() && lookup(t[j + 1].w, kCardinals) >= 0 &&
        (total > 0 || static_cast<int>(current) % 100 == 0) && current + total >= 100) {
      ++j;
      continue;
    }
    break;
  }
  if (!any) return 0;
  value = total + current;
  return j - i;
}

}  // namespace

std::optional<double> parse_number(std::string_view text) {
  auto t = tokens(text);
  if (t.empty()) return std::nullopt;
  double v = 0;
  std::size_t used = parse_at(t, 0, v);
  if (used == 0 || used != t.size()) return std::nullopt;
  return v;
}

std::optional<int> parse_ordinal(std::string_view text) {
  auto t = tokens(text);
  if (t.empty() || t.size() > 2) return std::nullopt;
  if (t.size() == 1) {
    const std::string& w = t[0].w;
    int v = lookup(w, kOrdinals);
    if (v >= 0) return v;
    if (w.size() >= 3) {
      std::string suffix = w.substr(w.size() - 2);
      if (suffix == "st" || suffix == "nd" || suffix == "rd" || suffix == "th") {
        auto d = parse_digits(w.substr(0, w.size() - 2));
        if (d && *d >= 0 && *d == std::floor(*d) && *d < 1e6) return static_cast<int>(*d);
      }
    }
    return std::nullopt;
  }
  int tens = lookup(t[0].w, kCardinals);
  int unit = lookup(t[1].w, kOrdinals);
  if (tens >= 20 && tens % 10 == 0 && unit >= 1 && unit <= 9) return tens + unit;
  return std::nullopt;
}

std::vector<NumberMatch> find_numbers(std::string_view text) {
  auto t = tokens(text);
  std::vector<NumberMatch> out;
  for (std::size_t i = 0; i < t.size();) {
    double v = 0;
    std::size_t used = parse_at(t, i, v);
    if (used == 0) {
      ++i;
      continue;
    }
    out.push_back({{t[i].span.begin, t[i + used - 1].span.end}, v});
    i += used;
  }
  return out;
}

std::string format_number(double value) {
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<long long>(value));
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.10g", value);
  return buf;
}

}  // namespace parley::nlu
