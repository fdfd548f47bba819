// Loading a bot definition: YAML -> validated Bot, with every problem reported as
// file:line:column, a message and a hint (unknown keys included, with a did-you-mean).
// Exists so a bot builder gets all the mistakes of a file at once, precisely located.
// Depends on bot.h, annotation.h, yaml-cpp (only in loader.cc), shared/config/suggest.h.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "services/dialog/bot/bot.h"
#include "services/dialog/bot/limits.h"
#include "shared/common/status.h"

namespace parley::dialog {

/// One problem in a bot file. line/column are 1-based (0 when unknown).
struct BotError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
  std::string hint;
  /// "bots/demo/bot.yaml:12:5: unknown key 'exampels' (hint: did you mean 'examples'?)"
  std::string to_string() const;
};

/// The outcome of loading: the bot, or every error found (up to a limit).
struct LoadResult {
  std::shared_ptr<const Bot> bot;  ///< null when errors is not empty
  std::vector<BotError> errors;
  /// The definition crossed a BotLimits cap (it was not read further).
  bool over_limit = false;
  bool ok() const { return bot != nullptr; }
  /// INVALID_ARGUMENT with one error per line (NOT_FOUND when the file is missing, OUT_OF_RANGE
  /// when over a limit); OK with a bot.
  Status status() const;
};

/// Parses and validates `yaml`. `file_name` labels errors; `base_dir` resolves knowledge-base
/// document files (relative paths only, never outside base_dir). The text is checked against
/// `limits` before a tree is built (check_yaml_limits), the counts as it is read. Never throws.
LoadResult parse_bot(std::string_view yaml, const std::string& file_name, const std::string& base_dir,
                     const BotLimits& limits = {});

/// Reads `path` and parses it (base_dir = the file's folder).
LoadResult load_bot_file(const std::string& path, const BotLimits& limits = {});

/// The keys the loader accepts in each kind of mapping, keyed by the name of the matching
/// definition in bot.schema.json's "$defs" ("bot_file", "bot", "slot", "intent", "rule", "form",
/// "form_slot", "knowledge_base", "document", "lm_fallback", "action", "thresholds").
/// The schema test checks that both agree.
const std::map<std::string, std::vector<std::string>>& accepted_keys();

/// Builtin action names usable in rules and form submissions.
const std::vector<std::string>& builtin_actions();

}  // namespace parley::dialog
