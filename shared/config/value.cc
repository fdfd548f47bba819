// Parsing and formatting of config values (see value.h for the accepted forms).
// Why strict: "4 " or "1O" silently read as 4 or 1 would hide a typo until production.
// Depends on the standard library only.
#include "shared/config/value.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

namespace parley::config {
namespace {

std::string quoted(std::string_view text) {
  std::string out = "'";
  out.append(text);
  out += "'";
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<std::int64_t> parse_int(std::string_view text, std::string* problem) {
  std::string_view t = text;
  if (!t.empty() && t.front() == '+') t.remove_prefix(1);
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec == std::errc::invalid_argument || ptr != t.data() + t.size()) {
    *problem = "expected an integer, got " + quoted(text);
    return std::nullopt;
  }
  if (ec == std::errc::result_out_of_range) {
    *problem = "integer " + quoted(text) + " is out of the 64-bit range";
    return std::nullopt;
  }
  return v;
}

std::optional<double> parse_double(std::string_view text, std::string* problem) {
  std::string_view t = text;
  if (!t.empty() && t.front() == '+') t.remove_prefix(1);
  double v = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || ptr != t.data() + t.size() || !std::isfinite(v)) {
    *problem = "expected a number, got " + quoted(text);
    return std::nullopt;
  }
  return v;
}

std::optional<bool> parse_bool(std::string_view text, std::string* problem) {
  const std::string t = lower(text);
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  *problem = "expected true or false, got " + quoted(text);
  return std::nullopt;
}

StringList parse_list(std::string_view text) {
  StringList out;
  while (true) {
    const auto comma = text.find(',');
    const std::string_view item = trim(text.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

// Nanoseconds per unit; longest suffixes first so "ms" is not read as "m" + "s".
struct Unit {
  std::string_view name;
  std::int64_t ns;
};
constexpr Unit kUnits[] = {
    {"ns", 1},
    {"us", 1'000},
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
};

}  // namespace

std::string_view type_name(Type type) {
  switch (type) {
    case Type::kString:
      return "string";
    case Type::kInt:
      return "int";
    case Type::kDouble:
      return "double";
    case Type::kBool:
      return "bool";
    case Type::kDuration:
      return "duration";
    case Type::kStringList:
      return "list";
  }
  return "?";
}

bool holds_type(const Value& value, Type type) {
  return value.index() == static_cast<std::size_t>(type);
}

std::optional<Duration> parse_duration(std::string_view text, std::string* problem) {
  const std::string_view original = text;
  auto fail = [&](std::string why) -> std::optional<Duration> {
    *problem = "expected a duration like 250ms, 2s or 1m, got " + quoted(original) + why;
    return std::nullopt;
  };
  text = trim(text);
  if (text.empty()) return fail("");
  if (text.front() == '-') {
    *problem = "a duration cannot be negative, got " + quoted(original);
    return std::nullopt;
  }
  if (text == "0") return Duration::zero();
  long double total_ns = 0;
  while (!text.empty()) {
    std::size_t n = 0;
    while (n < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[n])) || text[n] == '.')) {
      ++n;
    }
    if (n == 0) return fail("");
    double number = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + n, number);
    if (ec != std::errc() || ptr != text.data() + n) return fail("");
    text.remove_prefix(n);
    std::size_t u = 0;
    while (u < text.size() && std::isalpha(static_cast<unsigned char>(text[u]))) ++u;
    const std::string_view unit = text.substr(0, u);
    if (unit.empty()) return fail(text.size() == u ? " (missing unit: ns, us, ms, s, m or h)" : "");
    const auto it = std::find_if(std::begin(kUnits), std::end(kUnits),
                                 [&](const Unit& x) { return x.name == unit; });
    if (it == std::end(kUnits)) {
      return fail(" (unknown unit '" + std::string(unit) + "': use ns, us, ms, s, m or h)");
    }
    total_ns += static_cast<long double>(number) * static_cast<long double>(it->ns);
    text.remove_prefix(u);
  }
  // About 292 years fits in int64 nanoseconds; anything near that is certainly a typo.
  if (total_ns > static_cast<long double>(std::numeric_limits<std::int64_t>::max() / 2)) {
    *problem = "duration " + quoted(original) + " is too long";
    return std::nullopt;
  }
  return Duration(static_cast<std::int64_t>(std::llround(total_ns)));
}

std::optional<Value> parse_value(Type type, std::string_view text, std::string* problem) {
  switch (type) {
    case Type::kString:
      return Value(std::string(text));
    case Type::kInt: {
      auto v = parse_int(trim(text), problem);
      if (!v) return std::nullopt;
      return Value(*v);
    }
    case Type::kDouble: {
      auto v = parse_double(trim(text), problem);
      if (!v) return std::nullopt;
      return Value(*v);
    }
    case Type::kBool: {
      auto v = parse_bool(trim(text), problem);
      if (!v) return std::nullopt;
      return Value(*v);
    }
    case Type::kDuration: {
      auto v = parse_duration(text, problem);
      if (!v) return std::nullopt;
      return Value(*v);
    }
    case Type::kStringList:
      return Value(parse_list(text));
  }
  *problem = "unknown type";
  return std::nullopt;
}

std::string format_duration(Duration d) {
  if (d == Duration::zero()) return "0s";
  std::string out;
  std::int64_t ns = d.count();
  if (ns < 0) {
    out += '-';
    ns = -ns;
  }
  for (auto it = std::rbegin(kUnits); it != std::rend(kUnits); ++it) {
    if (ns >= it->ns) {
      out += std::to_string(ns / it->ns);
      out.append(it->name);
      ns %= it->ns;
    }
  }
  return out;
}

std::string format_value(const Value& value) {
  struct Formatter {
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(std::int64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const {
      char buf[64];
      auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
      return ec == std::errc() ? std::string(buf, ptr) : std::to_string(v);
    }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(Duration d) const { return format_duration(d); }
    std::string operator()(const StringList& list) const {
      std::string out;
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (i > 0) out += ',';
        out += list[i];
      }
      return out;
    }
  };
  return std::visit(Formatter{}, value);
}

}  // namespace parley::config
