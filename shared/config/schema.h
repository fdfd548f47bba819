// Schema: the declared config keys of one program (name, type, default, help, validator).
// Exists so every key a process reads is declared once, shows up in --help, and is checked with
// the same rules wherever its value comes from. Depends on value.h and shared/common/check.h.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/value.h"

namespace parley::config {

/// An extra rule on a parsed value. `check` returns nullopt when the value is fine, otherwise the
/// problem ("must be between 1 and 65535, got 70000"); `description` is shown in --help
/// ("1..65535").
struct Validator {
  std::function<std::optional<std::string>(const Value&)> check;
  std::string description;
};

/// int key within [lo, hi].
Validator int_range(std::int64_t lo, std::int64_t hi);
/// double key within [lo, hi].
Validator double_range(double lo, double hi);
/// duration key within [lo, hi].
Validator duration_range(Duration lo, Duration hi);
/// string key equal to one of `choices`, or list key whose every item is one of them.
Validator one_of(std::vector<std::string> choices);
/// string key that is not empty, or list key with at least one item.
Validator non_empty();

/// One declared key.
struct KeySpec {
  std::string name;  ///< dotted, lower case: "service.queue_capacity"
  Type type = Type::kString;
  Value default_value;
  std::string help;
  std::optional<Validator> validator;
};

/// The keys a program accepts. Build it once at start-up (not thread-safe while being built;
/// read-only afterwards, safe to share).
///
///   Schema s = service_base_schema("parley-echo", "Echo service: the template service.");
///   s.set_default("transport.bind", "tcp://127.0.0.1:7101");
///   s.add_duration("echo.delay", std::chrono::milliseconds(0), "Simulated work per request.",
///                  duration_range(Duration::zero(), std::chrono::seconds(10)));
///
/// Declaring a key twice, a malformed name, a default of the wrong type or one its validator
/// rejects are programming errors (PARLEY_CHECK).
class Schema {
 public:
  /// `program` and `description` head the --help text.
  explicit Schema(std::string program = "parley", std::string description = "");

  Schema& add(KeySpec spec);
  Schema& add_string(std::string name, std::string default_value, std::string help,
                     std::optional<Validator> validator = std::nullopt);
  Schema& add_int(std::string name, std::int64_t default_value, std::string help,
                  std::optional<Validator> validator = std::nullopt);
  Schema& add_double(std::string name, double default_value, std::string help,
                     std::optional<Validator> validator = std::nullopt);
  Schema& add_bool(std::string name, bool default_value, std::string help);
  Schema& add_duration(std::string name, Duration default_value, std::string help,
                       std::optional<Validator> validator = std::nullopt);
  Schema& add_list(std::string name, StringList default_value, std::string help,
                   std::optional<Validator> validator = std::nullopt);

  /// Replaces the default of an already declared key (a service picks its own port).
  Schema& set_default(std::string_view name, Value default_value);

  /// The key named `name`, or nullptr.
  const KeySpec* find(std::string_view name) const;
  /// The key whose environment variable is `env_name` ("PARLEY_HTTP_PORT"), or nullptr.
  const KeySpec* find_by_env(std::string_view env_name) const;
  /// All keys, sorted by name.
  std::vector<const KeySpec*> keys() const;

  const std::string& program() const { return program_; }
  const std::string& description() const { return description_; }

  /// The --help text: usage, precedence, then per key its flag, type, default, env var, allowed
  /// values and help.
  std::string help_text() const;

 private:
  std::string program_;
  std::string description_;
  std::map<std::string, KeySpec, std::less<>> keys_;
  std::map<std::string, std::string, std::less<>> env_to_key_;
};

/// "PARLEY_" + name with dots as underscores, upper case: "transport.bind" ->
/// "PARLEY_TRANSPORT_BIND".
std::string env_name(std::string_view key);

/// Checks `value` against the spec's type and validator; the problem text, or nullopt.
std::optional<std::string> validate(const KeySpec& spec, const Value& value);

}  // namespace parley::config
