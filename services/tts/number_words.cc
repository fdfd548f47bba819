// English number words. Why: see number_words.h. Depends on number_words.h.
// GCC 12 reports a false -Wrestrict inside std::string concatenation (GCC PR 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

#include "services/tts/number_words.h"

#include <array>

namespace parley::tts {
namespace {

constexpr std::array<const char*, 20> kOnes = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                                               "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                                               "seventeen", "eighteen", "nineteen"};
constexpr std::array<const char*, 10> kTens = {"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};

std::string below_thousand(std::int64_t n) {
  std::string out;
  if (n >= 100) {
    out = std::string(kOnes[static_cast<std::size_t>(n / 100)]) + " hundred";
    n %= 100;
    if (n == 0) return out;
    out += " ";
  }
  if (n < 20) return out + kOnes[static_cast<std::size_t>(n)];
  out += kTens[static_cast<std::size_t>(n / 10)];
  if (n % 10) out += std::string("-") + kOnes[static_cast<std::size_t>(n % 10)];
  return out;
}

}  // namespace

std::string cardinal_words(std::int64_t n) {
  if (n < 0) return "minus " + cardinal_words(-n);
  if (n < 1000) return below_thousand(n);
  static constexpr std::array<const char*, 5> kScales = {"", "thousand", "million", "billion", "trillion"};
  std::string out;
  std::int64_t scale = 1'000'000'000'000;
  for (int s = 4; s >= 1; --s, scale /= 1000) {
    if (n >= scale) {
      {
        if (!out.empty()) out += " ";
        out += below_thousand(n / scale) + " " + kScales[static_cast<std::size_t>(s)];
      }
      n %= scale;
    }
  }
  if (n > 0) out += " " + below_thousand(n);
  return out;
}

std::string ordinal_words(std::int64_t n) {
  std::string c = cardinal_words(n);
  // Replace the last word with its ordinal form.
  const std::size_t cut = c.find_last_of(" -");
  const std::string head = cut == std::string::npos ? "" : c.substr(0, cut + 1);
  const std::string last = cut == std::string::npos ? c : c.substr(cut + 1);
  static const std::pair<const char*, const char*> kIrregular[] = {
      {"one", "first"}, {"two", "second"}, {"three", "third"}, {"five", "fifth"}, {"eight", "eighth"},
      {"nine", "ninth"}, {"twelve", "twelfth"}};
  for (const auto& [w, o] : kIrregular) {
    if (last == w) return head + o;
  }
  if (!last.empty() && last.back() == 'y') return head + last.substr(0, last.size() - 1) + "ieth";
  return head + last + "th";
}

std::string year_words(std::int64_t y) {
  if (y < 1000 || y > 9999) return cardinal_words(y);
  const std::int64_t hi = y / 100, lo = y % 100;
  if (y >= 2000 && y < 2010) return cardinal_words(y);          // "two thousand five"
  if (lo == 0) return cardinal_words(hi) + " hundred";          // "nineteen hundred"
  if (lo < 10) return cardinal_words(hi) + " oh " + kOnes[static_cast<std::size_t>(lo)];  // "nineteen oh five"
  return cardinal_words(hi) + " " + cardinal_words(lo);         // "twenty twenty-six"
}

std::string digit_words(std::string_view digits) {
  std::string out;
  for (char c : digits) {
    if (c < '0' || c > '9') continue;
    {
        if (!out.empty()) out += " ";
        out += std::string(kOnes[static_cast<std::size_t>(c - '0')]);
      }
  }
  return out;
}

}  // namespace parley::tts
