// English text normalisation for speech. Why: see text_normalizer.h. Depends on
// text_normalizer.h, number_words.h.
// GCC 12 reports a false -Wrestrict inside std::string concatenation (GCC PR 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

#include "services/tts/text_normalizer.h"

#include <array>
#include <cctype>
#include <cstdint>
#include <optional>
#include <tuple>

#include "services/tts/number_words.h"

namespace parley::tts {
namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }
bool alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// Reads [0-9]{min,max} at s[i]; returns the value and advances i.
std::optional<std::int64_t> read_digits(std::string_view s, std::size_t& i, std::size_t min, std::size_t max) {
  std::size_t j = i;
  std::int64_t v = 0;
  while (j < s.size() && digit(s[j]) && j - i < max) v = v * 10 + (s[j++] - '0');
  if (j - i < min || (j < s.size() && digit(s[j]))) return std::nullopt;
  i = j;
  return v;
}

bool boundary_before(std::string_view s, std::size_t i) { return i == 0 || !(alpha(s[i - 1]) || digit(s[i - 1])); }
bool boundary_after(std::string_view s, std::size_t i) { return i >= s.size() || !(alpha(s[i]) || digit(s[i])); }

constexpr std::array<const char*, 12> kMonths = {"January", "February", "March",     "April",   "May",      "June",
                                                 "July",    "August",   "September", "October", "November", "December"};

std::string date_words(std::int64_t y, std::int64_t m, std::int64_t d) {
  return std::string(kMonths[static_cast<std::size_t>(m - 1)]) + " " + ordinal_words(d) + ", " + year_words(y);
}

std::optional<std::string> match_iso_date(std::string_view s, std::size_t& i) {
  std::size_t j = i;
  auto y = read_digits(s, j, 4, 4);
  if (!y || j >= s.size() || s[j] != '-') return std::nullopt;
  ++j;
  auto m = read_digits(s, j, 2, 2);
  if (!m || j >= s.size() || s[j] != '-') return std::nullopt;
  ++j;
  auto d = read_digits(s, j, 2, 2);
  if (!d || *m < 1 || *m > 12 || *d < 1 || *d > 31 || !boundary_after(s, j)) return std::nullopt;
  i = j;
  return date_words(*y, *m, *d);
}

std::optional<std::string> match_slash_date(std::string_view s, std::size_t& i) {
  std::size_t j = i;
  auto m = read_digits(s, j, 1, 2);
  if (!m || j >= s.size() || s[j] != '/') return std::nullopt;
  ++j;
  auto d = read_digits(s, j, 1, 2);
  if (!d || j >= s.size() || s[j] != '/') return std::nullopt;
  ++j;
  auto y = read_digits(s, j, 4, 4);
  if (!y || *m < 1 || *m > 12 || *d < 1 || *d > 31 || !boundary_after(s, j)) return std::nullopt;
  i = j;
  return date_words(*y, *m, *d);
}

// "am"/"pm"/"a.m."/"p.m." after optional spaces; returns 'a', 'p' or 0 and advances.
char read_meridiem(std::string_view s, std::size_t& i) {
  std::size_t j = i;
  while (j < s.size() && s[j] == ' ') ++j;
  if (j >= s.size()) return 0;
  const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s[j])));
  if (c != 'a' && c != 'p') return 0;
  std::size_t k = j + 1;
  if (k < s.size() && s[k] == '.') ++k;
  if (k >= s.size() || std::tolower(static_cast<unsigned char>(s[k])) != 'm') return 0;
  ++k;
  if (k < s.size() && s[k] == '.') ++k;
  if (!boundary_after(s, k)) return 0;
  i = k;
  return c;
}

std::optional<std::string> match_time(std::string_view s, std::size_t& i) {
  std::size_t j = i;
  auto h = read_digits(s, j, 1, 2);
  if (!h || j >= s.size() || s[j] != ':') return std::nullopt;
  ++j;
  auto m = read_digits(s, j, 2, 2);
  if (!m || *h > 23 || *m > 59 || !boundary_after(s, j)) return std::nullopt;
  if (j < s.size() && s[j] == ':') return std::nullopt;  // seconds or ratios: leave them
  char mer = read_meridiem(s, j);
  std::int64_t hour = *h;
  std::string suffix;
  if (mer) {
    suffix = mer == 'a' ? " AM" : " PM";
  } else if (hour >= 13 || hour == 0 || (hour == 12 && *m > 0)) {
    suffix = hour >= 12 ? " PM" : " AM";
  }
  if (hour > 12) hour -= 12;
  if (hour == 0) hour = 12;
  std::string out = cardinal_words(hour);
  if (*m == 0) {
    out += suffix.empty() ? " o'clock" : "";
  } else if (*m < 10) {
    out += " oh " + cardinal_words(*m);
  } else {
    out += " " + cardinal_words(*m);
  }
  i = j;
  return out + suffix;
}

// A number with optional thousands commas and decimals at s[i]. Returns the integer part,
// the decimal digits (may be empty) and advances.
struct Number {
  std::int64_t integer = 0;
  std::string decimals;
  std::size_t int_digits = 0;
  bool grouped = false;
};

std::optional<Number> read_number(std::string_view s, std::size_t& i) {
  std::size_t j = i;
  Number n;
  if (j >= s.size() || !digit(s[j])) return std::nullopt;
  while (j < s.size()) {
    if (digit(s[j])) {
      if (n.int_digits >= 15) return std::nullopt;
      n.integer = n.integer * 10 + (s[j] - '0');
      ++n.int_digits;
      ++j;
    } else if (s[j] == ',' && n.int_digits > 0 && j + 3 < s.size() && digit(s[j + 1]) && digit(s[j + 2]) &&
               digit(s[j + 3]) && (j + 4 >= s.size() || !digit(s[j + 4]))) {
      n.grouped = true;
      ++j;
    } else {
      break;
    }
  }
  if (j + 1 < s.size() && s[j] == '.' && digit(s[j + 1])) {
    ++j;
    while (j < s.size() && digit(s[j])) n.decimals += s[j++];
  }
  i = j;
  return n;
}

std::string number_words(const Number& n) {
  std::string out = cardinal_words(n.integer);
  if (!n.decimals.empty()) out += " point " + digit_words(n.decimals);
  return out;
}

struct Currency {
  const char* symbol;  // prefix symbol or suffix code
  const char* one;
  const char* many;
  const char* cent_one;
  const char* cent_many;
};
constexpr std::array<Currency, 5> kCurrencies = {{{"$", "dollar", "dollars", "cent", "cents"},
                                                  {"\xE2\x82\xAC", "euro", "euros", "cent", "cents"},
                                                  {"\xC2\xA3", "pound", "pounds", "penny", "pence"},
                                                  {"\xC2\xA5", "yen", "yen", "sen", "sen"},
                                                  {"\xE2\x82\xB9", "rupee", "rupees", "paisa", "paise"}}};
constexpr std::array<std::pair<const char*, std::size_t>, 5> kCodes = {
    {{"USD", 0}, {"EUR", 1}, {"GBP", 2}, {"JPY", 3}, {"INR", 4}}};

std::string money_words(const Number& n, const Currency& c) {
  std::string out = cardinal_words(n.integer) + " " + (n.integer == 1 ? c.one : c.many);
  if (!n.decimals.empty()) {
    std::string d = n.decimals.substr(0, 2);
    if (d.size() == 1) d += '0';
    const std::int64_t cents = (d[0] - '0') * 10 + (d[1] - '0');
    if (cents > 0) out += " and " + cardinal_words(cents) + " " + (cents == 1 ? c.cent_one : c.cent_many);
  }
  return out;
}

std::optional<std::string> match_currency_prefix(std::string_view s, std::size_t& i) {
  for (const Currency& c : kCurrencies) {
    const std::string_view sym(c.symbol);
    if (s.substr(i, sym.size()) != sym) continue;
    std::size_t j = i + sym.size();
    while (j < s.size() && s[j] == ' ') ++j;
    auto n = read_number(s, j);
    if (!n) return std::nullopt;
    std::string scale;
    // "$5 million" / "$2.5k"
    if (j < s.size() && (s[j] == 'k' || s[j] == 'K') && boundary_after(s, j + 1)) {
      scale = " thousand";
      ++j;
    } else if (j < s.size() && (s[j] == 'm' || s[j] == 'M') && boundary_after(s, j + 1)) {
      scale = " million";
      ++j;
    }
    i = j;
    if (!scale.empty()) return number_words(*n) + scale + " " + c.many;
    return money_words(*n, c);
  }
  return std::nullopt;
}

const char* unit_word(std::string_view u, bool one) {
  static const std::array<std::tuple<const char*, const char*, const char*>, 14> kUnits = {{
      {"km", "kilometer", "kilometers"}, {"m", "meter", "meters"}, {"cm", "centimeter", "centimeters"},
      {"mm", "millimeter", "millimeters"}, {"kg", "kilogram", "kilograms"}, {"g", "gram", "grams"},
      {"mi", "mile", "miles"}, {"lb", "pound", "pounds"}, {"lbs", "pound", "pounds"}, {"min", "minute", "minutes"},
      {"h", "hour", "hours"}, {"hr", "hour", "hours"}, {"hrs", "hour", "hours"}, {"s", "second", "seconds"},
  }};
  for (const auto& [abbr, o, m] : kUnits) {
    if (u == abbr) return one ? o : m;
  }
  return nullptr;
}

std::optional<std::string> match_number(std::string_view s, std::size_t& i) {
  std::size_t j = i;
  bool negative = false;
  if (s[j] == '-' && j + 1 < s.size() && digit(s[j + 1]) && (j == 0 || s[j - 1] == ' ')) {
    negative = true;
    ++j;
  }
  auto n = read_number(s, j);
  if (!n) return std::nullopt;
  std::string out;
  // ordinals: 1st 2nd 3rd 4th
  if (n->decimals.empty() && !n->grouped && j + 2 <= s.size()) {
    std::string suf;
    for (std::size_t k = j; k < j + 2; ++k) suf += static_cast<char>(std::tolower(static_cast<unsigned char>(s[k])));
    if ((suf == "st" || suf == "nd" || suf == "rd" || suf == "th") && boundary_after(s, j + 2)) {
      i = j + 2;
      return (negative ? "minus " : "") + ordinal_words(n->integer);
    }
  }
  // currency codes after the number: "20 EUR", "20€"
  {
    std::size_t k = j;
    while (k < s.size() && s[k] == ' ') ++k;
    for (const Currency& c : kCurrencies) {
      const std::string_view sym(c.symbol);
      if (s.substr(k, sym.size()) == sym) {
        i = k + sym.size();
        return (negative ? "minus " : "") + money_words(*n, c);
      }
    }
    for (const auto& [code, idx] : kCodes) {
      const std::string_view cs(code);
      if (s.substr(k, cs.size()) == cs && boundary_after(s, k + cs.size())) {
        i = k + cs.size();
        return (negative ? "minus " : "") + money_words(*n, kCurrencies[idx]);
      }
    }
  }
  if (j < s.size() && s[j] == '%') {
    i = j + 1;
    return (negative ? "minus " : "") + number_words(*n) + " percent";
  }
  const bool year = !negative && n->decimals.empty() && !n->grouped && n->int_digits == 4 && n->integer >= 1100 && n->integer <= 2099;
  out = (negative ? "minus " : "") + (year ? year_words(n->integer) : number_words(*n));
  // units: "5 km", "3kg"
  std::size_t k = j;
  while (k < s.size() && s[k] == ' ' && k - j < 1) ++k;
  std::size_t e = k;
  while (e < s.size() && alpha(s[e])) ++e;
  if (e > k && boundary_after(s, e)) {
    if (const char* w = unit_word(s.substr(k, e - k), n->integer == 1 && n->decimals.empty())) {
      i = e;
      return out + " " + w;
    }
  }
  i = j;
  return out;
}

struct Abbrev {
  const char* from;
  const char* to;
};
constexpr std::array<Abbrev, 22> kAbbrevs = {{{"Dr.", "Doctor"},       {"Mr.", "Mister"},     {"Mrs.", "Missus"},
                                              {"Ms.", "Miz"},          {"Prof.", "Professor"}, {"St.", "Street"},
                                              {"Ave.", "Avenue"},      {"Rd.", "Road"},       {"Blvd.", "Boulevard"},
                                              {"Jr.", "Junior"},       {"Sr.", "Senior"},     {"vs.", "versus"},
                                              {"etc.", "et cetera"},   {"e.g.", "for example"}, {"i.e.", "that is"},
                                              {"approx.", "approximately"}, {"Mt.", "Mount"}, {"Inc.", "Incorporated"},
                                              {"Ltd.", "Limited"},     {"Co.", "Company"},    {"Dept.", "Department"},
                                              {"Apt.", "Apartment"}}};

std::optional<std::string> match_abbrev(std::string_view s, std::size_t& i) {
  if (!boundary_before(s, i)) return std::nullopt;
  for (const Abbrev& a : kAbbrevs) {
    const std::string_view f(a.from);
    if (s.substr(i, f.size()) == f) {
      i += f.size();
      return std::string(a.to);
    }
  }
  // "No. 5" -> "number 5"
  if (s.substr(i, 3) == "No." && i + 4 < s.size() && s[i + 3] == ' ' && digit(s[i + 4])) {
    i += 3;
    return std::string("number");
  }
  return std::nullopt;
}

std::optional<std::string> match_symbol(std::string_view s, std::size_t& i) {
  static const std::array<std::pair<const char*, const char*>, 8> kSymbols = {{
      {"&", " and "}, {"@", " at "}, {"+", " plus "}, {"=", " equals "}, {"\xC2\xB0", " degrees "},
      {"#", " number "}, {"\xE2\x80\x94", ", "}, {"\xE2\x80\x93", " to "},
  }};
  for (const auto& [sym, w] : kSymbols) {
    const std::string_view sv(sym);
    if (s.substr(i, sv.size()) == sv) {
      i += sv.size();
      return std::string(w);
    }
  }
  return std::nullopt;
}

}  // namespace

std::string normalize_for_speech(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    std::optional<std::string> r;
    if (digit(c)) {
      if (boundary_before(s, i) || alpha(s[i - 1])) {  // "A4", "MP3": the digits are a number of their own
        if (!(r = match_iso_date(s, i)) && !(r = match_slash_date(s, i)) && !(r = match_time(s, i))) r = match_number(s, i);
      }
    } else if (c == '-' && i + 1 < s.size() && digit(s[i + 1])) {
      r = match_number(s, i);
    } else if (static_cast<unsigned char>(c) >= 0x80 || c == '$') {
      if (!(r = match_currency_prefix(s, i))) r = match_symbol(s, i);
    } else if (alpha(c)) {
      r = match_abbrev(s, i);
    } else {
      r = match_symbol(s, i);
    }
    if (r) {
      // Keep words apart from what surrounds them.
      if (!out.empty() && out.back() != ' ' && !r->empty() && r->front() != ' ' && r->front() != ',') out += ' ';
      out += *r;
      if (i < s.size() && (alpha(s[i]) || digit(s[i]))) out += ' ';
      continue;
    }
    // A run of letters or one other byte, copied as is.
    if (alpha(c)) {
      while (i < s.size() && (alpha(s[i]) || s[i] == '\'')) out += s[i++];
      if (i < s.size() && digit(s[i])) out += ' ';  // "A4" -> "A four"
    } else {
      out += s[i++];
    }
  }
  // Collapse runs of spaces.
  std::string clean;
  for (char ch : out) {
    if (ch == ' ' && (clean.empty() || clean.back() == ' ')) continue;
    clean += ch;
  }
  while (!clean.empty() && clean.back() == ' ') clean.pop_back();
  return clean;
}

}  // namespace parley::tts
