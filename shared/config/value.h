// Config value types and their text forms: parsing "250ms", "true", "4", "a,b" into typed values.
// Exists so that a YAML scalar, an environment variable and a flag are parsed by one function and
// reject the same bad input with the same words. Depends on nothing but the standard library.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace parley::config {

/// The types a config key can have.
enum class Type : std::uint8_t { kString, kInt, kDouble, kBool, kDuration, kStringList };

using Duration = std::chrono::nanoseconds;
using StringList = std::vector<std::string>;

/// One typed value; the alternative always matches the key's Type (same order as Type).
using Value = std::variant<std::string, std::int64_t, double, bool, Duration, StringList>;

/// "string", "int", "double", "bool", "duration", "list".
std::string_view type_name(Type type);
/// True when `value` holds the alternative that `type` expects.
bool holds_type(const Value& value, Type type);

/// Parses `text` as `type`. On failure returns nullopt and sets `*problem` to the end of an error
/// message a user can act on, e.g. "expected an integer, got 'four'".
///
/// Accepted forms: int — optional sign and decimal digits (64-bit); double — decimal or exponent
/// notation; bool — true/false, yes/no, on/off, 1/0 (any case); duration — one or more
/// <number><unit> with units ns, us, ms, s, m, h ("250ms", "1.5s", "1m30s"; "0" needs no unit;
/// never negative); list — comma-separated items, blanks trimmed, empty items dropped.
std::optional<Value> parse_value(Type type, std::string_view text, std::string* problem);

/// Parses a duration as described above.
std::optional<Duration> parse_duration(std::string_view text, std::string* problem);

/// The canonical text of a value, parseable by parse_value: "250ms", "true", "a,b", "2.5".
std::string format_value(const Value& value);
/// "1m30s", "250ms", "0s": the shortest exact form using whole units.
std::string format_duration(Duration d);

}  // namespace parley::config
