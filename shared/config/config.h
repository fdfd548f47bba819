// Config: the loaded, typed values of a Schema, and load(), which merges flags, environment,
// YAML file and defaults (in that precedence) into one Config or one clear error.
// Depends on schema.h, yaml_file.h (yaml-cpp), shared/common/status.h and check.h.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"
#include "shared/config/schema.h"
#include "shared/config/value.h"

namespace parley::config {

/// Where a value came from.
enum class Source : std::uint8_t { kDefault, kFile, kEnv, kFlag };

struct Origin {
  Source source = Source::kDefault;
  /// "default", "echo.yaml:12", "PARLEY_HTTP_PORT", "--http.port".
  std::string where = "default";
};

/// Environment variables by name (only PARLEY_* ones matter).
using Environment = std::map<std::string, std::string, std::less<>>;

/// The typed values of every key in a schema. Immutable after load(); safe to read from any
/// thread; cheap to copy (the schema is shared).
///
///   auto schema = service_base_schema("parley-echo", "Echo service.");
///   auto cfg = load(schema, std::nullopt, process_environment(), args_from_argv(argc, argv));
///   if (!cfg.ok()) { std::cerr << cfg.status().message() << "\n"; return 2; }
///   if (cfg->help_requested()) { std::cout << schema.help_text(); return 0; }
///   int port = cfg->get_int("http.port");
///
/// Getters take a declared key of the matching type; anything else is a bug (PARLEY_CHECK).
class Config {
 public:
  const std::string& get_string(std::string_view key) const;
  std::int64_t get_int(std::string_view key) const;
  double get_double(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  Duration get_duration(std::string_view key) const;
  const StringList& get_list(std::string_view key) const;

  /// The raw typed value of a declared key.
  const Value& value(std::string_view key) const;
  /// Where the value of a declared key came from.
  const Origin& origin(std::string_view key) const;

  /// True when --help was given; values are then the defaults and nothing else was checked.
  bool help_requested() const { return help_requested_; }
  /// The file that was read (from --config, PARLEY_CONFIG or load()'s argument), if any.
  const std::optional<std::string>& file() const { return file_; }
  const Schema& schema() const { return *schema_; }

  /// One line per key, "key = value (from origin)", sorted by key: for the start-up log.
  std::string describe() const;

 private:
  friend class Loader;
  struct Entry {
    Value value;
    Origin origin;
  };
  const Entry& entry(std::string_view key, Type expected) const;

  std::shared_ptr<const Schema> schema_;
  std::map<std::string, Entry, std::less<>> entries_;
  bool help_requested_ = false;
  std::optional<std::string> file_;
};

/// Merges, for every key of `schema`: a flag (`--key=value` or `--key value`; a bool flag alone
/// means true) over its environment variable PARLEY_<KEY> over the YAML file over the default.
/// The file is `--config PATH` if given, else $PARLEY_CONFIG, else `yaml_path` (none: no file).
/// `args` excludes argv[0] (see args_from_argv). `--help` anywhere returns at once with
/// help_requested() and the defaults.
///
/// Returns the first problem as one INVALID_ARGUMENT (NOT_FOUND for a missing file) Status whose
/// message names the key, the source and the problem, e.g.
///   "service.workers: expected an integer, got 'four' (from PARLEY_SERVICE_WORKERS)"
///   "unknown key 'servce.workers' (from echo.yaml:3); did you mean 'service.workers'?"
///   "echo.yaml:4:9: malformed YAML: illegal map value"
/// Unknown keys in the file and unknown flags are errors. Unknown PARLEY_* environment variables
/// are ignored (scripts share the prefix: PARLEY_BUILD_DIR, PARLEY_MODEL_DIR, ...) unless they are
/// a likely typo of a key's variable, which is an error with the hint.
/// Thread-safe (reads only its arguments); blocking file read.
Result<Config> load(const Schema& schema, const std::optional<std::string>& yaml_path,
                    const Environment& env, const std::vector<std::string>& args);

/// The PARLEY_* variables of this process's environment.
Environment process_environment();
/// argv[1..argc) as strings.
std::vector<std::string> args_from_argv(int argc, const char* const* argv);

/// For a main(): load() from the real environment and argv; prints the help text to stdout and
/// exits 0 on --help; prints "<program>: <error>" and a --help hint to stderr and exits 2 on error.
Config load_or_exit(const Schema& schema, int argc, const char* const* argv,
                    const std::optional<std::string>& yaml_path = std::nullopt);

}  // namespace parley::config
