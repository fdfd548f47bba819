// A small, strict JSON (RFC 8259) parser producing an immutable document tree.
// Why: model files carry JSON (safetensors headers, config.json, tokenizer.json); one strict,
// bounded parser serves them all (json.h only quotes strings for logs and HTTP).
// Depends on shared/common/status.h only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "shared/common/status.h"

namespace parley::json {

class Value;
/// Object members in document order (lookups are linear: model headers have a few hundred keys
/// at most; use index() for repeated lookups on big objects).
using Member = std::pair<std::string, Value>;
using Array = std::vector<Value>;
using Object = std::vector<Member>;

/// A number keeps its double value and, when the literal was an integer that fits, its exact
/// int64 value (offsets and sizes above 2^53 stay exact).
struct Number {
  double value = 0.0;
  std::optional<std::int64_t> integer;
};

enum class Type : std::uint8_t { kNull = 0, kBool, kNumber, kString, kArray, kObject };
std::string_view type_name(Type t);

/// One JSON value. Accessors of the wrong type return an empty/zero value (check type() or use
/// the get_* helpers that return Status).
class Value {
 public:
  Value() = default;
  explicit Value(bool b) : v_(b) {}
  explicit Value(Number n) : v_(n) {}
  explicit Value(std::string s) : v_(std::move(s)) {}
  explicit Value(Array a) : v_(std::move(a)) {}
  explicit Value(Object o) : v_(std::move(o)) {}

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_number() const { return type() == Type::kNumber; }
  bool is_string() const { return type() == Type::kString; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }

  bool as_bool() const { return is_bool() && std::get<bool>(v_); }
  double as_double() const { return is_number() ? std::get<Number>(v_).value : 0.0; }
  /// The exact integer value, or nullopt (not a number, has a fraction/exponent, or out of int64).
  std::optional<std::int64_t> as_int() const { return is_number() ? std::get<Number>(v_).integer : std::nullopt; }
  const std::string& as_string() const;
  const Array& as_array() const;
  const Object& as_object() const;

  /// Object member by key (first match), or nullptr (not an object, or no such key).
  const Value* find(std::string_view key) const;

 private:
  std::variant<std::monostate, bool, Number, std::string, Array, Object> v_;
};

struct ParseOptions {
  int max_depth = 64;                 ///< nesting limit (arrays + objects); deeper is an error
  bool allow_duplicate_keys = false;  ///< RFC allows them; we reject them by default (ambiguous)
};

/// Parses one JSON document (surrounding whitespace allowed, nothing else after it). Strict:
/// no comments, no trailing commas, no NaN/Infinity, no leading zeros, no raw control
/// characters in strings, valid UTF-8 only, \u escapes with proper surrogate pairs.
/// Errors are InvalidArgument "json: <problem> at line L column C (byte B)".
Result<Value> parse(std::string_view text, const ParseOptions& options = {});

/// Reads and parses a file; errors name the file.
Result<Value> parse_file(const std::string& path, const ParseOptions& options = {});

/// Typed member access for config readers: NotFound/InvalidArgument naming the key.
Result<std::int64_t> get_int(const Value& object, std::string_view key);
Result<double> get_double(const Value& object, std::string_view key);
Result<std::string> get_string(const Value& object, std::string_view key);
Result<bool> get_bool(const Value& object, std::string_view key);

}  // namespace parley::json
