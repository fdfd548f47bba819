// load(): flags > environment > YAML file > defaults, with one clear error on the first problem.
// Why one pass per source in precedence order: each value is parsed and validated where it was
// read, so the error can name that exact source. Depends on schema.h, yaml_file.h, suggest.h.
#include "shared/config/config.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <set>
#include <sstream>
#include <utility>

#include "shared/common/check.h"
#include "shared/config/suggest.h"
#include "shared/config/yaml_file.h"

extern char** environ;  // NOLINT: POSIX

namespace parley::config {
namespace {

constexpr std::string_view kEnvPrefix = "PARLEY_";
constexpr std::string_view kConfigEnv = "PARLEY_CONFIG";

// Variables the scripts and tests set: ignored unless a key claims the exact name; never typo
// candidates (a service must start under tools/test with these in its environment).
const std::set<std::string, std::less<>>& tool_variables() {
  static const std::set<std::string, std::less<>> kNames = {
      "PARLEY_CONFIG",        "PARLEY_BUILD_DIR",   "PARLEY_MODEL_DIR",     "PARLEY_CUDA",
      "PARLEY_CUDA_ARCHS",    "PARLEY_SOURCE_DIR",  "PARLEY_BINARY_DIR",    "PARLEY_TESTDATA",
      "PARLEY_SERVICES_FILE", "PARLEY_PORT_OFFSET", "PARLEY_RUN_DIR",       "PARLEY_READY_TIMEOUT",
      "PARLEY_STOP_GRACE",    "PARLEY_JOBS",        "PARLEY_SKIP_PACKAGES", "PARLEY_TEST_JOBS",
      "PARLEY_PACKAGES_FILE", "PARLEY_NUM_THREADS"};  // the CPU kernels' pool size (the chart sets it)
  return kNames;
}

std::string expected_phrase(Type type) {
  switch (type) {
    case Type::kString:
      return "expected a string";
    case Type::kInt:
      return "expected an integer";
    case Type::kDouble:
      return "expected a number";
    case Type::kBool:
      return "expected true or false";
    case Type::kDuration:
      return "expected a duration like 250ms, 2s or 1m";
    case Type::kStringList:
      return "expected a list";
  }
  return "expected a value";
}

std::string from(const std::string& where) { return " (from " + where + ")"; }

bool is_bool_literal(std::string_view s) {
  std::string problem;
  return parse_value(Type::kBool, s, &problem).has_value();
}

}  // namespace

// Builds a Config; a friend of Config so the result needs no public setters.
class Loader {
 public:
  Loader(const Schema& schema, const Environment& env, const std::vector<std::string>& args)
      : schema_(schema), env_(env), args_(args) {}

  Result<Config> run(const std::optional<std::string>& yaml_path) {
    Config config;
    config.schema_ = std::make_shared<const Schema>(schema_);
    for (const KeySpec* spec : schema_.keys()) {
      config.entries_.emplace(spec->name, Config::Entry{spec->default_value, Origin{}});
    }
    PARLEY_RETURN_IF_ERROR(scan_args());
    if (help_) {
      config.help_requested_ = true;
      return config;
    }
    std::optional<std::string> path = yaml_path;
    if (const auto it = env_.find(kConfigEnv); it != env_.end() && !it->second.empty()) {
      path = it->second;
    }
    if (config_flag_) path = config_flag_;
    if (path) {
      PARLEY_RETURN_IF_ERROR(apply_file(*path, config));
      config.file_ = path;
    }
    PARLEY_RETURN_IF_ERROR(apply_env(config));
    PARLEY_RETURN_IF_ERROR(apply_flags(config));
    return config;
  }

 private:
  struct FlagValue {
    const KeySpec* spec;
    std::string text;
    std::string flag;  // "--http.port"
  };

  std::vector<std::string> key_names() const {
    std::vector<std::string> names;
    for (const KeySpec* spec : schema_.keys()) names.push_back(spec->name);
    return names;
  }

  // Syntax pass over argv: --help, --config, and which key each flag sets.
  Status scan_args() {
    for (std::size_t i = 0; i < args_.size(); ++i) {
      const std::string& arg = args_[i];
      if (arg == "--help" || arg == "-h") {
        help_ = true;
        return Status::ok();
      }
    }
    for (std::size_t i = 0; i < args_.size(); ++i) {
      const std::string& arg = args_[i];
      if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
        return invalid_argument("unexpected argument '" + arg +
                                "': settings are flags (--key=value); see --help");
      }
      const auto eq = arg.find('=');
      const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      const std::string flag = "--" + name;
      std::optional<std::string> text;
      if (eq != std::string::npos) text = arg.substr(eq + 1);

      const KeySpec* spec = schema_.find(name);
      if (name != "config" && spec == nullptr) {
        std::string msg = "unknown flag '" + flag + "'";
        if (auto hint = closest_match(name, key_names()))
          msg += "; did you mean '--" + *hint + "'?";
        return invalid_argument(msg + " (see --help)");
      }
      if (!text) {
        const bool has_next = i + 1 < args_.size() && args_[i + 1].compare(0, 2, "--") != 0;
        if (spec != nullptr && spec->type == Type::kBool) {
          // A bool flag alone means true; "--log.json false" is accepted too.
          text = "true";
          if (has_next && is_bool_literal(args_[i + 1])) text = args_[++i];
        } else if (has_next) {
          text = args_[++i];
        } else {
          return invalid_argument(flag + ": missing value (write " + flag + "=VALUE)");
        }
      }
      if (spec == nullptr) {
        if (text->empty()) return invalid_argument("--config: missing file name");
        config_flag_ = *text;
      } else {
        flags_.push_back(FlagValue{spec, *text, flag});
      }
    }
    return Status::ok();
  }

  // Parses and validates one text value; the error names key, problem and source.
  static Result<Value> typed(const KeySpec& spec, std::string_view text, const std::string& where) {
    std::string problem;
    auto value = parse_value(spec.type, text, &problem);
    if (!value) return invalid_argument(spec.name + ": " + problem + from(where));
    if (auto bad = validate(spec, *value))
      return invalid_argument(spec.name + ": " + *bad + from(where));
    return std::move(*value);
  }

  static void set(Config& config, const KeySpec& spec, Value value, Source source,
                  std::string where) {
    auto& entry = config.entries_.at(spec.name);
    entry.value = std::move(value);
    entry.origin = Origin{source, std::move(where)};
  }

  Status unknown_file_key(const YamlLeaf& leaf, const std::string& where) const {
    // A literal dotted key under a value key ("http.port.x: 1").
    for (auto dot = leaf.key.rfind('.'); dot != std::string::npos;
         dot = leaf.key.rfind('.', dot - 1)) {
      if (const KeySpec* parent = schema_.find(leaf.key.substr(0, dot))) {
        return invalid_argument("unknown key '" + leaf.key + "'" + from(where) + ": '" +
                                parent->name + "' is a single " +
                                std::string(type_name(parent->type)) + " value, not a map");
      }
      if (dot == 0) break;
    }
    std::string msg = "unknown key '" + leaf.key + "'" + from(where);
    std::vector<std::string> inside;
    for (const KeySpec* spec : schema_.keys()) {
      if (spec->name.compare(0, leaf.key.size() + 1, leaf.key + ".") == 0)
        inside.push_back(spec->name);
    }
    if (!inside.empty()) {
      msg += ": it is a section; set its keys instead (";
      for (std::size_t i = 0; i < inside.size(); ++i) msg += (i > 0 ? ", " : "") + inside[i];
      return invalid_argument(msg + ")");
    }
    if (auto hint = closest_match(leaf.key, key_names())) msg += "; did you mean '" + *hint + "'?";
    return invalid_argument(msg);
  }

  Status apply_file(const std::string& path, Config& config) {
    auto leaves = read_yaml_file(path, [this](const std::string& key) {
      const KeySpec* spec = schema_.find(key);
      return spec != nullptr;
    });
    if (!leaves.ok()) return leaves.status();
    for (const YamlLeaf& leaf : *leaves) {
      const std::string where = path + ":" + std::to_string(leaf.line);
      const KeySpec* spec = schema_.find(leaf.key);
      if (spec == nullptr) return unknown_file_key(leaf, where);
      Value value;
      switch (leaf.kind) {
        case YamlLeaf::Kind::kScalar: {
          PARLEY_ASSIGN_OR_RETURN(value, typed(*spec, leaf.scalar, where));
          break;
        }
        case YamlLeaf::Kind::kList: {
          if (spec->type != Type::kStringList) {
            return invalid_argument(spec->name + ": " + expected_phrase(spec->type) +
                                    ", got a list" + from(where));
          }
          value = StringList(leaf.items);
          if (auto bad = validate(*spec, value)) {
            return invalid_argument(spec->name + ": " + *bad + from(where));
          }
          break;
        }
        case YamlLeaf::Kind::kNull: {
          std::string hint = spec->type == Type::kString       ? " (write \"\" for an empty string)"
                             : spec->type == Type::kStringList ? " (write [] for an empty list)"
                                                               : "";
          return invalid_argument(spec->name + ": " + expected_phrase(spec->type) +
                                  ", got an empty value" + from(where) + hint);
        }
        case YamlLeaf::Kind::kMap:
          return invalid_argument(spec->name + ": " + expected_phrase(spec->type) + ", got a map" +
                                  from(where));
      }
      set(config, *spec, std::move(value), Source::kFile, where);
    }
    return Status::ok();
  }

  Status apply_env(Config& config) {
    std::vector<std::string> env_keys;
    for (const KeySpec* spec : schema_.keys()) {
      env_keys.push_back(env_name(spec->name).substr(kEnvPrefix.size()));
    }
    for (const auto& [name, text] : env_) {
      if (name.compare(0, kEnvPrefix.size(), kEnvPrefix) != 0) continue;
      const KeySpec* spec = schema_.find_by_env(name);
      if (spec == nullptr) {
        if (tool_variables().count(name) > 0) continue;
        // Other programs share the prefix, so only a near miss of a key's variable is an error.
        if (auto hint = closest_match(name.substr(kEnvPrefix.size()), env_keys)) {
          const std::string var = std::string(kEnvPrefix) + *hint;
          return invalid_argument("unknown environment variable " + name + "; did you mean " + var +
                                  " (" + schema_.find_by_env(var)->name + ")?");
        }
        continue;
      }
      PARLEY_ASSIGN_OR_RETURN(Value value, typed(*spec, text, name));
      set(config, *spec, std::move(value), Source::kEnv, name);
    }
    return Status::ok();
  }

  Status apply_flags(Config& config) {
    for (const FlagValue& f : flags_) {
      PARLEY_ASSIGN_OR_RETURN(Value value, typed(*f.spec, f.text, f.flag));
      set(config, *f.spec, std::move(value), Source::kFlag, f.flag);
    }
    return Status::ok();
  }

  const Schema& schema_;
  const Environment& env_;
  const std::vector<std::string>& args_;
  bool help_ = false;
  std::optional<std::string> config_flag_;
  std::vector<FlagValue> flags_;
};

const Config::Entry& Config::entry(std::string_view key, Type expected) const {
  const auto it = entries_.find(key);
  PARLEY_CHECK(it != entries_.end()) << "config key '" << key << "' is not declared in the schema";
  PARLEY_CHECK(holds_type(it->second.value, expected))
      << "config key '" << key << "' is read as " << type_name(expected) << " but declared as "
      << type_name(schema_->find(key)->type);
  return it->second;
}

const std::string& Config::get_string(std::string_view key) const {
  return std::get<std::string>(entry(key, Type::kString).value);
}
std::int64_t Config::get_int(std::string_view key) const {
  return std::get<std::int64_t>(entry(key, Type::kInt).value);
}
double Config::get_double(std::string_view key) const {
  return std::get<double>(entry(key, Type::kDouble).value);
}
bool Config::get_bool(std::string_view key) const {
  return std::get<bool>(entry(key, Type::kBool).value);
}
Duration Config::get_duration(std::string_view key) const {
  return std::get<Duration>(entry(key, Type::kDuration).value);
}
const StringList& Config::get_list(std::string_view key) const {
  return std::get<StringList>(entry(key, Type::kStringList).value);
}

const Value& Config::value(std::string_view key) const {
  const auto it = entries_.find(key);
  PARLEY_CHECK(it != entries_.end()) << "config key '" << key << "' is not declared in the schema";
  return it->second.value;
}

const Origin& Config::origin(std::string_view key) const {
  const auto it = entries_.find(key);
  PARLEY_CHECK(it != entries_.end()) << "config key '" << key << "' is not declared in the schema";
  return it->second.origin;
}

std::string Config::describe() const {
  std::ostringstream out;
  for (const auto& [key, e] : entries_) {
    out << key << " = " << format_value(e.value) << " (from " << e.origin.where << ")\n";
  }
  return out.str();
}

Result<Config> load(const Schema& schema, const std::optional<std::string>& yaml_path,
                    const Environment& env, const std::vector<std::string>& args) {
  return Loader(schema, env, args).run(yaml_path);
}

Environment process_environment() {
  Environment env;
  for (char** p = environ; p != nullptr && *p != nullptr; ++p) {
    const std::string_view entry(*p);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view name = entry.substr(0, eq);
    if (name.compare(0, kEnvPrefix.size(), kEnvPrefix) != 0) continue;
    env.emplace(std::string(name), std::string(entry.substr(eq + 1)));
  }
  return env;
}

std::vector<std::string> args_from_argv(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return args;
}

Config load_or_exit(const Schema& schema, int argc, const char* const* argv,
                    const std::optional<std::string>& yaml_path) {
  auto config = load(schema, yaml_path, process_environment(), args_from_argv(argc, argv));
  if (!config.ok()) {
    std::cerr << schema.program() << ": " << config.status().message() << "\n"
              << "Run '" << schema.program() << " --help' for the keys and their types.\n";
    std::exit(2);
  }
  if (config->help_requested()) {
    std::cout << schema.help_text();
    std::cout.flush();
    std::exit(0);
  }
  return std::move(config).value();
}

}  // namespace parley::config
