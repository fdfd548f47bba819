// Schema: key declarations, validators and the --help text.
// Why checks here are fatal: a schema is code, so a bad declaration is a bug found at start-up,
// never a user error. Depends on value.h and shared/common/check.h.
#include "shared/config/schema.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <utility>

#include "shared/common/check.h"

namespace parley::config {
namespace {

bool valid_segment(std::string_view s) {
  if (s.empty() || !std::islower(static_cast<unsigned char>(s.front()))) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '_';
  });
}

bool valid_key_name(std::string_view name) {
  if (name.empty()) return false;
  while (true) {
    const auto dot = name.find('.');
    if (!valid_segment(name.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    name.remove_prefix(dot + 1);
  }
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.append(sep);
    out += items[i];
  }
  return out;
}

// Upper-case placeholder shown after the flag in --help.
std::string_view metavar(Type type) {
  switch (type) {
    case Type::kString:
      return "STRING";
    case Type::kInt:
      return "INT";
    case Type::kDouble:
      return "NUMBER";
    case Type::kBool:
      return "BOOL";
    case Type::kDuration:
      return "DURATION";
    case Type::kStringList:
      return "A,B,...";
  }
  return "VALUE";
}

}  // namespace

std::string env_name(std::string_view key) {
  std::string out = "PARLEY_";
  for (char c : key) {
    out += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

Validator int_range(std::int64_t lo, std::int64_t hi) {
  std::string desc = std::to_string(lo) + ".." + std::to_string(hi);
  return Validator{[lo, hi, desc](const Value& v) -> std::optional<std::string> {
                     const auto* x = std::get_if<std::int64_t>(&v);
                     if (x == nullptr || (*x >= lo && *x <= hi)) return std::nullopt;
                     return "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                            ", got " + std::to_string(*x);
                   },
                   desc};
}

Validator double_range(double lo, double hi) {
  std::string desc = format_value(lo) + ".." + format_value(hi);
  return Validator{[lo, hi](const Value& v) -> std::optional<std::string> {
                     const auto* x = std::get_if<double>(&v);
                     if (x == nullptr || (*x >= lo && *x <= hi)) return std::nullopt;
                     return "must be between " + format_value(lo) + " and " + format_value(hi) +
                            ", got " + format_value(*x);
                   },
                   desc};
}

Validator duration_range(Duration lo, Duration hi) {
  std::string desc = format_duration(lo) + ".." + format_duration(hi);
  return Validator{[lo, hi](const Value& v) -> std::optional<std::string> {
                     const auto* x = std::get_if<Duration>(&v);
                     if (x == nullptr || (*x >= lo && *x <= hi)) return std::nullopt;
                     return "must be between " + format_duration(lo) + " and " +
                            format_duration(hi) + ", got " + format_duration(*x);
                   },
                   desc};
}

Validator one_of(std::vector<std::string> choices) {
  std::string desc = "one of " + join(choices, "|");
  return Validator{[choices, desc](const Value& v) -> std::optional<std::string> {
                     auto allowed = [&](const std::string& s) {
                       return std::find(choices.begin(), choices.end(), s) != choices.end();
                     };
                     if (const auto* s = std::get_if<std::string>(&v)) {
                       if (allowed(*s)) return std::nullopt;
                       return "must be " + desc + ", got '" + *s + "'";
                     }
                     if (const auto* list = std::get_if<StringList>(&v)) {
                       for (const auto& item : *list) {
                         if (!allowed(item))
                           return "every item must be " + desc + ", got '" + item + "'";
                       }
                     }
                     return std::nullopt;
                   },
                   desc};
}

Validator non_empty() {
  return Validator{[](const Value& v) -> std::optional<std::string> {
                     if (const auto* s = std::get_if<std::string>(&v); s != nullptr && s->empty()) {
                       return "must not be empty";
                     }
                     if (const auto* l = std::get_if<StringList>(&v); l != nullptr && l->empty()) {
                       return "must have at least one item";
                     }
                     return std::nullopt;
                   },
                   "not empty"};
}

std::optional<std::string> validate(const KeySpec& spec, const Value& value) {
  if (!holds_type(value, spec.type)) {
    return "expected a value of type " + std::string(type_name(spec.type));
  }
  if (spec.validator && spec.validator->check) return spec.validator->check(value);
  return std::nullopt;
}

Schema::Schema(std::string program, std::string description)
    : program_(std::move(program)), description_(std::move(description)) {}

Schema& Schema::add(KeySpec spec) {
  PARLEY_CHECK(valid_key_name(spec.name))
      << "config key '" << spec.name << "' must be dotted lower-case words ([a-z][a-z0-9_]*)";
  PARLEY_CHECK(spec.name != "config" && spec.name != "help")
      << "config key '" << spec.name << "' is reserved for the --" << spec.name << " flag";
  PARLEY_CHECK(keys_.find(spec.name) == keys_.end())
      << "config key '" << spec.name << "' declared twice";
  const auto problem = validate(spec, spec.default_value);
  PARLEY_CHECK(!problem) << "default of config key '" << spec.name << "' is invalid: " << *problem;
  std::string env = env_name(spec.name);
  const auto clash = env_to_key_.find(env);
  PARLEY_CHECK(clash == env_to_key_.end()) << "config keys '" << spec.name << "' and '"
                                           << clash->second << "' share the variable " << env;
  env_to_key_.emplace(std::move(env), spec.name);
  std::string name = spec.name;
  keys_.emplace(std::move(name), std::move(spec));
  return *this;
}

Schema& Schema::add_string(std::string name, std::string default_value, std::string help,
                           std::optional<Validator> validator) {
  return add(KeySpec{std::move(name), Type::kString, Value(std::move(default_value)),
                     std::move(help), std::move(validator)});
}

Schema& Schema::add_int(std::string name, std::int64_t default_value, std::string help,
                        std::optional<Validator> validator) {
  return add(KeySpec{std::move(name), Type::kInt, Value(default_value), std::move(help),
                     std::move(validator)});
}

Schema& Schema::add_double(std::string name, double default_value, std::string help,
                           std::optional<Validator> validator) {
  return add(KeySpec{std::move(name), Type::kDouble, Value(default_value), std::move(help),
                     std::move(validator)});
}

Schema& Schema::add_bool(std::string name, bool default_value, std::string help) {
  return add(
      KeySpec{std::move(name), Type::kBool, Value(default_value), std::move(help), std::nullopt});
}

Schema& Schema::add_duration(std::string name, Duration default_value, std::string help,
                             std::optional<Validator> validator) {
  return add(KeySpec{std::move(name), Type::kDuration, Value(default_value), std::move(help),
                     std::move(validator)});
}

Schema& Schema::add_list(std::string name, StringList default_value, std::string help,
                         std::optional<Validator> validator) {
  return add(KeySpec{std::move(name), Type::kStringList, Value(std::move(default_value)),
                     std::move(help), std::move(validator)});
}

Schema& Schema::set_default(std::string_view name, Value default_value) {
  const auto it = keys_.find(name);
  PARLEY_CHECK(it != keys_.end()) << "set_default of undeclared config key '" << name << "'";
  KeySpec& spec = it->second;
  const auto problem = validate(spec, default_value);
  PARLEY_CHECK(!problem) << "new default of config key '" << name << "' is invalid: " << *problem;
  spec.default_value = std::move(default_value);
  return *this;
}

const KeySpec* Schema::find(std::string_view name) const {
  const auto it = keys_.find(name);
  return it == keys_.end() ? nullptr : &it->second;
}

const KeySpec* Schema::find_by_env(std::string_view env) const {
  const auto it = env_to_key_.find(env);
  return it == env_to_key_.end() ? nullptr : find(it->second);
}

std::vector<const KeySpec*> Schema::keys() const {
  std::vector<const KeySpec*> out;
  out.reserve(keys_.size());
  for (const auto& [name, spec] : keys_) out.push_back(&spec);
  return out;
}

std::string Schema::help_text() const {
  std::ostringstream out;
  out << "Usage: " << program_ << " [--config FILE.yaml] [--KEY=VALUE | --KEY VALUE]...\n";
  if (!description_.empty()) out << "\n" << description_ << "\n";
  out << "\nEach key is read from, highest precedence first: a flag --KEY=VALUE, the environment\n"
         "variable PARLEY_<KEY> (dots as underscores, upper case), the YAML file given by "
         "--config\n"
         "or PARLEY_CONFIG (nested maps or dotted names), then the default.\n"
         "Durations: 250ms, 2s, 1m30s (units ns, us, ms, s, m, h). Lists: a,b,c or a YAML list.\n"
         "\nKeys:\n";
  for (const KeySpec* spec : keys()) {
    out << "  --" << spec->name << "=" << metavar(spec->type) << "\n";
    out << "      " << spec->help << "\n";
    out << "      type " << type_name(spec->type);
    const std::string def = format_value(spec->default_value);
    out << ", default " << (def.empty() ? "\"\"" : def);
    if (spec->validator && !spec->validator->description.empty()) {
      out << ", " << spec->validator->description;
    }
    out << ", env " << env_name(spec->name) << "\n";
  }
  out << "  --config=FILE.yaml\n      YAML file of keys (env PARLEY_CONFIG).\n"
      << "  --help\n      Print this text and exit.\n";
  return out.str();
}

}  // namespace parley::config
