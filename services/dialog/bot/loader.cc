// Bot YAML loader and validator: walks the yaml-cpp tree with the node marks at hand, collects
// every error with file:line:column and a hint, then cross-checks references (actions, prompts,
// slots in templates and annotations). Depends on loader.h, annotation.h, yaml-cpp, config/suggest.
#include "services/dialog/bot/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "services/dialog/bot/annotation.h"
#include "shared/common/utf8.h"
#include "shared/config/suggest.h"

namespace parley::dialog {
namespace {

constexpr std::size_t kMaxErrors = 50;

const std::map<std::string, std::vector<std::string>> kKeys = {
    {"bot_file", {"bot", "thresholds", "nlu", "slots", "intents", "responses", "rules", "forms", "knowledge_base",
                  "lm_fallback", "actions"}},
    {"bot", {"id", "name", "description", "version"}},
    {"thresholds", {"nlu_fallback", "handoff_after"}},
    {"nlu", {"fine_tune"}},
    {"slot", {"type", "values", "pattern", "min", "max", "description"}},
    {"intent", {"examples", "description"}},
    {"rule", {"intent", "actions"}},
    {"form", {"intents", "slots", "confirm", "affirm_intents", "deny_intents", "cancel_intents", "on_submit",
              "on_cancel", "digressions", "allow_digressions"}},
    {"form_slot", {"slot", "prompt", "min", "max", "pattern", "invalid"}},
    {"knowledge_base", {"answer_mode", "min_score", "top_k", "documents", "no_answer"}},
    {"document", {"id", "title", "text", "file"}},
    {"lm_fallback", {"enabled", "system_prompt", "max_tokens", "temperature", "history_turns"}},
    {"action", {"url", "timeout_ms"}},
};

const std::vector<std::string> kBuiltins = {"answer_from_kb", "generate", "handoff", "reset_slots"};
const std::vector<std::string> kSlotTypes = {"categorical", "regex", "number", "date", "time", "datetime", "text"};

bool valid_identifier(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  if (!(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool valid_bot_id(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  auto ok_first = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!ok_first(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return ok_first(c) || c == '_' || c == '-'; });
}

/// Thrown inside the loader when a count crosses a BotLimits cap: reading stops there.
struct OverLimit {};

class Loader {
 public:
  Loader(std::string file, std::string base_dir, const BotLimits& limits)
      : file_(std::move(file)), base_dir_(std::move(base_dir)), limits_(limits) {}

  LoadResult run(std::string_view text) {
    Status scanned = check_yaml_limits(text, file_, limits_);
    if (scanned.code() == StatusCode::kOutOfRange) {
      // The message already says file:line:col; keep it whole as one error.
      errors_.push_back(BotError{"", 0, 0, scanned.message(), ""});
      over_limit_ = true;
      return finish();
    }
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::ParserException& e) {
      add(e.mark, "malformed YAML: " + e.msg, "check indentation and quoting around this point");
      return finish();
    } catch (const std::exception& e) {
      add_at(0, 0, std::string("malformed YAML: ") + e.what(), "");
      return finish();
    }
    try {
      load_root(root);
      if (errors_.empty()) cross_check();
    } catch (const OverLimit&) {
      over_limit_ = true;  // the error says which cap and where
    } catch (const std::exception& e) {
      // yaml-cpp conversions are checked before use; this is a last line of defence.
      add_at(0, 0, std::string("could not read the bot definition: ") + e.what(), "");
    }
    return finish();
  }

 private:
  // ---- error helpers ----
  void add_at(int line, int column, std::string message, std::string hint) {
    if (errors_.size() >= kMaxErrors) return;
    errors_.push_back(BotError{file_, line, column, std::move(message), std::move(hint)});
  }
  void add(const YAML::Mark& mark, std::string message, std::string hint = "") {
    add_at(mark.is_null() ? 0 : mark.line + 1, mark.is_null() ? 0 : mark.column + 1, std::move(message),
           std::move(hint));
  }
  void add(const YAML::Node& node, std::string message, std::string hint = "") {
    add(node.Mark(), std::move(message), std::move(hint));
  }

  /// Counts one more of `what` towards `cap`; past it, reports where and stops reading.
  void count(std::size_t& n, std::size_t cap, const YAML::Mark& mark, const std::string& what, const char* key) {
    if (++n <= cap) return;
    errors_.clear();  // the one error that matters: the definition is over a limit
    add(mark, "more than " + std::to_string(cap) + " " + what + " (limit " + key + ")",
        "split the bot, or raise the limit in the dialog's config");
    throw OverLimit{};
  }

  LoadResult finish() {
    LoadResult r;
    r.over_limit = over_limit_;
    r.errors = std::move(errors_);
    if (r.errors.empty()) r.bot = std::make_shared<const Bot>(std::move(bot_));
    return r;
  }

  static std::string did_you_mean(const std::string& unknown, const std::vector<std::string>& candidates) {
    auto m = config::closest_match(unknown, candidates);
    return m ? "did you mean '" + *m + "'?" : "";
  }

  // ---- typed readers ----
  bool expect_map(const YAML::Node& n, const std::string& what) {
    if (n.IsMap()) return true;
    add(n, what + " must be a mapping (key: value)");
    return false;
  }
  /// Checks the keys of `n` against the table `kind`; unknown keys are errors with a suggestion.
  void check_keys(const YAML::Node& n, const std::string& kind, const std::string& where) {
    const auto& allowed = kKeys.at(kind);
    for (const auto& kv : n) {
      std::string key = kv.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string hint = did_you_mean(key, allowed);
      if (hint.empty()) {
        hint = "allowed here: ";
        for (std::size_t i = 0; i < allowed.size(); ++i) hint += (i ? ", " : "") + allowed[i];
      }
      add(kv.first, "unknown key '" + key + "' in " + where, hint);
    }
  }
  std::optional<std::string> get_string(const YAML::Node& n, const std::string& what) {
    if (!n.IsScalar()) {
      add(n, what + " must be a string");
      return std::nullopt;
    }
    return n.Scalar();
  }
  std::optional<double> get_number(const YAML::Node& n, const std::string& what) {
    double v = 0;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v)) {
      add(n, what + " must be a number", "e.g. 0.5");
      return std::nullopt;
    }
    return v;
  }
  std::optional<long> get_int(const YAML::Node& n, const std::string& what, long lo, long hi) {
    long v = 0;
    if (!n.IsScalar() || !YAML::convert<long>::decode(n, v)) {
      add(n, what + " must be an integer");
      return std::nullopt;
    }
    if (v < lo || v > hi) {
      add(n, what + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                 std::to_string(v));
      return std::nullopt;
    }
    return v;
  }
  std::optional<bool> get_bool(const YAML::Node& n, const std::string& what) {
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
      add(n, what + " must be true or false");
      return std::nullopt;
    }
    return v;
  }
  /// A string or a list of strings.
  std::vector<std::string> get_string_list(const YAML::Node& n, const std::string& what) {
    std::vector<std::string> out;
    if (n.IsScalar()) {
      out.push_back(n.Scalar());
    } else if (n.IsSequence()) {
      for (const auto& item : n) {
        if (auto s = get_string(item, what + " item")) out.push_back(*s);
      }
    } else if (!n.IsNull()) {
      add(n, what + " must be a string or a list of strings");
    }
    return out;
  }
  /// A name used as an id (intent, slot, response, form, action).
  bool check_name(const YAML::Node& key, const std::string& kind) {
    if (valid_identifier(key.Scalar())) return true;
    add(key, "bad " + kind + " name '" + key.Scalar() + "'", "use letters, digits and '_', not starting with a digit");
    return false;
  }

  // ---- sections ----
  void load_root(const YAML::Node& root) {
    if (root.IsNull()) {
      add_at(1, 1, "the bot definition is empty", "start with 'bot: {id: my_bot}'");
      return;
    }
    if (!expect_map(root, "the bot definition")) return;
    check_keys(root, "bot_file", "the top level");
    if (!root["bot"]) {
      add_at(1, 1, "missing 'bot' section", "add 'bot: {id: my_bot, name: My bot}'");
    } else {
      load_bot_info(root["bot"]);
    }
    if (root["thresholds"]) load_thresholds(root["thresholds"]);
    if (root["nlu"]) load_nlu(root["nlu"]);
    if (root["slots"]) load_slots(root["slots"]);
    if (!root["intents"]) {
      add_at(1, 1, "missing 'intents' section", "a bot needs at least one intent with examples");
    } else {
      load_intents(root["intents"]);
    }
    if (root["responses"]) load_responses(root["responses"]);
    if (root["actions"]) load_webhooks(root["actions"]);
    // Names must be known before rules and forms refer to them.
    if (root["forms"]) load_forms(root["forms"]);
    if (root["rules"]) load_rules(root["rules"]);
    if (root["knowledge_base"]) load_kb(root["knowledge_base"]);
    if (root["lm_fallback"]) load_lm(root["lm_fallback"]);
    resolve_pending_actions();
  }

  void load_bot_info(const YAML::Node& n) {
    if (!expect_map(n, "'bot'")) return;
    check_keys(n, "bot", "'bot'");
    if (!n["id"]) {
      add(n, "'bot' needs an 'id'", "e.g. id: hotel_concierge");
    } else if (auto id = get_string(n["id"], "bot.id")) {
      if (!valid_bot_id(*id)) {
        add(n["id"], "bad bot id '" + *id + "'", "lower-case letters, digits, '-' and '_', at most 63 characters");
      }
      bot_.id = *id;
    }
    if (n["name"]) bot_.name = get_string(n["name"], "bot.name").value_or("");
    if (n["description"]) bot_.description = get_string(n["description"], "bot.description").value_or("");
    if (n["version"]) bot_.version = get_string(n["version"], "bot.version").value_or("");
    if (bot_.name.empty()) bot_.name = bot_.id;
  }

  void load_thresholds(const YAML::Node& n) {
    if (!expect_map(n, "'thresholds'")) return;
    check_keys(n, "thresholds", "'thresholds'");
    if (n["nlu_fallback"]) {
      if (auto v = get_number(n["nlu_fallback"], "thresholds.nlu_fallback")) {
        if (*v < 0 || *v > 1) {
          add(n["nlu_fallback"], "thresholds.nlu_fallback must be between 0 and 1", "a confidence, e.g. 0.4");
        }
        bot_.thresholds.nlu_fallback = static_cast<float>(*v);
      }
    }
    if (n["handoff_after"]) {
      bot_.thresholds.handoff_after =
          static_cast<int>(get_int(n["handoff_after"], "thresholds.handoff_after", 0, 100).value_or(0));
    }
  }

  void load_nlu(const YAML::Node& n) {
    if (!expect_map(n, "'nlu'")) return;
    check_keys(n, "nlu", "'nlu'");
    if (!n["fine_tune"]) return;
    const std::vector<std::string> modes = {"off", "full", "lora"};
    const std::string mode = get_string(n["fine_tune"], "nlu.fine_tune").value_or("");
    // YAML 1.1 readers (editors checking the schema) read a bare `off` as false: both mean off.
    if (mode == "off" || mode == "false") {
      bot_.nlu.fine_tune = v1::FINE_TUNE_OFF;
    } else if (mode == "full") {
      bot_.nlu.fine_tune = v1::FINE_TUNE_FULL;
    } else if (mode == "lora") {
      bot_.nlu.fine_tune = v1::FINE_TUNE_LORA;
    } else if (n["fine_tune"].IsScalar()) {
      std::string hint = did_you_mean(mode, modes);
      add(n["fine_tune"], "nlu.fine_tune must be off, full or lora, got '" + mode + "'",
          hint.empty() ? "full: every encoder layer; lora: the top layers + adapters; leave it out for the NLU's default"
                       : hint);
    }
  }

  void load_slots(const YAML::Node& n) {
    if (!expect_map(n, "'slots'")) return;
    for (const auto& kv : n) {
      count(n_slots_, limits_.max_slots, kv.first.Mark(), "slots", "dialog.bot_max_slots");
      if (!check_name(kv.first, "slot")) continue;
      SlotDef slot;
      slot.name = kv.first.Scalar();
      const YAML::Node& d = kv.second;
      if (!expect_map(d, "slot '" + slot.name + "'")) continue;
      check_keys(d, "slot", "slot '" + slot.name + "'");
      if (!d["type"]) {
        add(d, "slot '" + slot.name + "' needs a 'type'", "one of categorical, regex, number, date, time, datetime, text");
        continue;
      }
      std::string type = get_string(d["type"], "slot type").value_or("");
      if (type == "categorical") {
        slot.type = SlotType::kCategorical;
      } else if (type == "regex") {
        slot.type = SlotType::kRegex;
      } else if (type == "number") {
        slot.type = SlotType::kNumber;
      } else if (type == "date") {
        slot.type = SlotType::kDate;
      } else if (type == "time") {
        slot.type = SlotType::kTime;
      } else if (type == "datetime") {
        slot.type = SlotType::kDateTime;
      } else if (type == "text") {
        slot.type = SlotType::kText;
      } else {
        std::string hint = did_you_mean(type, kSlotTypes);
        add(d["type"], "unknown slot type '" + type + "'",
            hint.empty() ? "one of categorical, regex, number, date, time, datetime, text" : hint);
        continue;
      }
      if (d["description"]) slot.description = get_string(d["description"], "description").value_or("");
      if (d["values"]) {
        if (slot.type != SlotType::kCategorical) {
          add(d["values"], "'values' is only for categorical slots", "set type: categorical or remove 'values'");
        } else if (d["values"].IsSequence()) {
          for (const auto& v : d["values"]) {
            count(n_values_, limits_.max_slot_values, v.Mark(), "slot values and synonyms", "dialog.bot_max_slot_values");
            if (auto s = get_string(v, "categorical value")) slot.values.push_back({*s, {}});
          }
        } else if (d["values"].IsMap()) {
          for (const auto& v : d["values"]) {
            count(n_values_, limits_.max_slot_values, v.first.Mark(), "slot values and synonyms", "dialog.bot_max_slot_values");
            slot.values.push_back({v.first.Scalar(), get_string_list(v.second, "synonyms of '" + v.first.Scalar() + "'")});
            for (std::size_t i = 0; i < slot.values.back().second.size(); ++i) {
              count(n_values_, limits_.max_slot_values, v.second.Mark(), "slot values and synonyms", "dialog.bot_max_slot_values");
            }
          }
        } else {
          add(d["values"], "'values' must be a list of values or a map value -> synonyms");
        }
      }
      if (slot.type == SlotType::kCategorical && slot.values.empty() && !d["values"]) {
        add(d, "categorical slot '" + slot.name + "' needs 'values'", "e.g. values: {single: [single room, one bed]}");
      }
      if (d["pattern"]) {
        if (slot.type != SlotType::kRegex) {
          add(d["pattern"], "'pattern' is only for regex slots", "set type: regex");
        } else {
          slot.pattern = get_string(d["pattern"], "pattern").value_or("");
          slot.regex = check_regex(d["pattern"], slot.pattern);
        }
      }
      if (slot.type == SlotType::kRegex && !d["pattern"]) {
        add(d, "regex slot '" + slot.name + "' needs a 'pattern'", "e.g. pattern: '[A-Z]{2}[0-9]{4}'");
      }
      for (const char* bound : {"min", "max"}) {
        if (!d[bound]) continue;
        if (slot.type != SlotType::kNumber) {
          add(d[bound], std::string("'") + bound + "' is only for number slots");
          continue;
        }
        auto v = get_number(d[bound], bound);
        (std::string(bound) == "min" ? slot.min : slot.max) = v;
      }
      if (bot_.find_slot(slot.name)) {
        add(kv.first, "slot '" + slot.name + "' is declared twice");
        continue;
      }
      bot_.slots.push_back(std::move(slot));
    }
  }

  /// Compiles a slot pattern on the linear-time engine (shared/text/regex.h); nullopt after
  /// reporting a bad one.
  std::optional<text::Regex> check_regex(const YAML::Node& node, const std::string& pattern) {
    auto re = text::Regex::compile(pattern);
    if (!re.ok()) {
      add(node, "bad regular expression '" + excerpt(pattern) + "': " + re.status().message(),
          "RE2 syntax (Perl-like, no backreferences or lookaround), e.g. '[0-9]{4}'");
      return std::nullopt;
    }
    return std::move(*re);
  }

  void load_intents(const YAML::Node& n) {
    if (!expect_map(n, "'intents'")) return;
    for (const auto& kv : n) {
      count(n_intents_, limits_.max_intents, kv.first.Mark(), "intents", "dialog.bot_max_intents");
      if (!check_name(kv.first, "intent")) continue;
      IntentDef intent;
      intent.name = kv.first.Scalar();
      YAML::Node examples;
      if (kv.second.IsSequence()) {
        examples = kv.second;
      } else if (kv.second.IsMap()) {
        check_keys(kv.second, "intent", "intent '" + intent.name + "'");
        examples = kv.second["examples"];
      } else {
        add(kv.second, "intent '" + intent.name + "' must be a list of examples or a mapping with 'examples'");
        continue;
      }
      if (!examples || !examples.IsSequence() || examples.size() == 0) {
        add(kv.first, "intent '" + intent.name + "' has no examples", "give at least 2 example sentences");
        continue;
      }
      for (const auto& ex : examples) {
        count(n_examples_, limits_.max_examples, ex.Mark(), "examples", "dialog.bot_max_examples");
        auto raw = get_string(ex, "example");
        if (!raw) continue;
        auto parsed = parse_annotated_example(*raw);
        if (!parsed.ok()) {
          YAML::Mark m = ex.Mark();
          int offset = std::max(0, annotation_error_offset(parsed.status()));
          // A plain scalar starts at the mark; a quoted one a character later.
          int quote = ex.Tag() == "!" ? 1 : 0;
          add_at(m.line + 1, m.column + 1 + quote + offset, "bad example annotation: " + parsed.status().message(),
                 "annotate slots as [value](slot_name)");
          continue;
        }
        for (const auto& span : parsed->spans) pending_slot_refs_.push_back({span.slot(), ex.Mark(), "annotation"});
        intent.examples.push_back(Example{parsed->text, parsed->spans});
      }
      if (bot_.find_intent(intent.name)) {
        add(kv.first, "intent '" + intent.name + "' is declared twice");
        continue;
      }
      intent_marks_[intent.name] = kv.first.Mark();
      bot_.intents.push_back(std::move(intent));
    }
  }

  void load_responses(const YAML::Node& n) {
    if (!expect_map(n, "'responses'")) return;
    for (const auto& kv : n) {
      count(n_responses_, limits_.max_responses, kv.first.Mark(), "responses", "dialog.bot_max_responses");
      if (!check_name(kv.first, "response")) continue;
      ResponseDef r;
      r.name = kv.first.Scalar();
      r.variations = get_string_list(kv.second, "response '" + r.name + "'");
      for (std::size_t i = 0; i < r.variations.size(); ++i) {
        count(n_variations_, limits_.max_variations, kv.second.Mark(), "response variations", "dialog.bot_max_variations");
      }
      if (r.variations.empty()) {
        add(kv.first, "response '" + r.name + "' has no text", "give a string or a list of variations");
        continue;
      }
      // Template slots: {slot_name} (the innermost braces, as render_response reads them).
      for (const auto& v : r.variations) {
        for (std::size_t open = v.find('{'); open != std::string::npos; open = v.find('{', open + 1)) {
          std::size_t close = v.find_first_of("{}", open + 1);
          if (close == std::string::npos || v[close] != '}') continue;
          pending_slot_refs_.push_back({v.substr(open + 1, close - open - 1), kv.second.Mark(), "response '" + r.name + "'"});
        }
      }
      if (bot_.find_response(r.name)) {
        add(kv.first, "response '" + r.name + "' is declared twice");
        continue;
      }
      bot_.responses.push_back(std::move(r));
    }
  }

  void load_webhooks(const YAML::Node& n) {
    if (!expect_map(n, "'actions'")) return;
    for (const auto& kv : n) {
      count(n_webhooks_, limits_.max_webhooks, kv.first.Mark(), "actions (webhooks)", "dialog.bot_max_webhooks");
      if (!check_name(kv.first, "action")) continue;
      WebhookDef w;
      w.name = kv.first.Scalar();
      if (!expect_map(kv.second, "action '" + w.name + "'")) continue;
      check_keys(kv.second, "action", "action '" + w.name + "'");
      if (!kv.second["url"]) {
        add(kv.second, "action '" + w.name + "' needs a 'url'", "e.g. url: http://127.0.0.1:5055/webhook");
        continue;
      }
      w.url = get_string(kv.second["url"], "url").value_or("");
      if (w.url.rfind("http://", 0) != 0) {
        add(kv.second["url"], "action url must start with http://", "e.g. http://127.0.0.1:5055/webhook");
      }
      if (kv.second["timeout_ms"]) {
        w.timeout = std::chrono::milliseconds(get_int(kv.second["timeout_ms"], "timeout_ms", 1, 60000).value_or(2000));
      }
      bot_.webhooks.push_back(std::move(w));
    }
  }

  struct PendingRef {
    std::string name;
    YAML::Mark mark;
    std::string where;
  };

  /// Action names are resolved after every section is read (rules may name forms declared later).
  void read_actions(const YAML::Node& n, const std::string& where, std::vector<ActionRef>& out,
                    std::vector<std::pair<std::size_t, YAML::Mark>>& marks) {
    for (const auto& name : get_string_list(n, where)) {
      marks.push_back({out.size(), n.Mark()});
      out.push_back(ActionRef{name, ActionKind::kRespond});
    }
    if (out.empty()) add(n, where + " lists no actions", "e.g. actions: [utter_greet]");
  }

  void load_forms(const YAML::Node& n) {
    if (!expect_map(n, "'forms'")) return;
    for (const auto& kv : n) {
      count(n_forms_, limits_.max_forms, kv.first.Mark(), "forms", "dialog.bot_max_forms");
      if (!check_name(kv.first, "form")) continue;
      FormDef f;
      f.name = kv.first.Scalar();
      const YAML::Node& d = kv.second;
      const std::string where = "form '" + f.name + "'";
      if (!expect_map(d, where)) continue;
      check_keys(d, "form", where);
      if (d["intents"]) {
        f.trigger_intents = get_string_list(d["intents"], where + " intents");
        for (const auto& i : f.trigger_intents) pending_intent_refs_.push_back({i, d["intents"].Mark(), where});
      }
      for (auto [key, list] : {std::pair{"affirm_intents", &f.affirm_intents}, std::pair{"deny_intents", &f.deny_intents},
                               std::pair{"cancel_intents", &f.cancel_intents}, std::pair{"digressions", &f.digressions}}) {
        if (!d[key]) continue;
        *list = get_string_list(d[key], where + " " + key);
        for (const auto& i : *list) pending_intent_refs_.push_back({i, d[key].Mark(), where});
      }
      if (d["allow_digressions"]) f.allow_digressions = get_bool(d["allow_digressions"], "allow_digressions").value_or(true);
      if (!d["slots"] || !d["slots"].IsSequence() || d["slots"].size() == 0) {
        add(d, where + " needs 'slots': a list of the slots it fills", "e.g. slots: [{slot: party_size, prompt: ask_party_size}]");
      } else {
        for (const auto& s : d["slots"]) {
          FormSlot fs;
          if (s.IsScalar()) {
            fs.slot = s.Scalar();
          } else if (expect_map(s, where + " slot")) {
            check_keys(s, "form_slot", where + " slot");
            if (!s["slot"]) {
              add(s, where + ": each slot entry needs 'slot'");
              continue;
            }
            fs.slot = get_string(s["slot"], "slot").value_or("");
            if (s["prompt"]) fs.prompt = get_string(s["prompt"], "prompt").value_or("");
            if (s["invalid"]) fs.invalid = get_string(s["invalid"], "invalid").value_or("");
            if (s["min"]) fs.min = get_number(s["min"], "min");
            if (s["max"]) fs.max = get_number(s["max"], "max");
            if (s["pattern"]) {
              fs.pattern = get_string(s["pattern"], "pattern").value_or("");
              fs.regex = check_regex(s["pattern"], fs.pattern);
            }
          } else {
            continue;
          }
          pending_slot_refs_.push_back({fs.slot, s.Mark(), where});
          if (fs.prompt.empty()) {
            add(s, where + ": slot '" + fs.slot + "' needs a 'prompt'", "name a response that asks for it, e.g. prompt: ask_" + fs.slot);
          } else {
            pending_response_refs_.push_back({fs.prompt, s.Mark(), where});
          }
          if (!fs.invalid.empty()) pending_response_refs_.push_back({fs.invalid, s.Mark(), where});
          f.slots.push_back(std::move(fs));
        }
      }
      if (d["confirm"]) {
        f.confirm = get_string(d["confirm"], "confirm").value_or("");
        pending_response_refs_.push_back({f.confirm, d["confirm"].Mark(), where});
      }
      if (d["on_cancel"]) {
        f.on_cancel = get_string(d["on_cancel"], "on_cancel").value_or("");
        pending_response_refs_.push_back({f.on_cancel, d["on_cancel"].Mark(), where});
      }
      bot_.forms.push_back(std::move(f));
      form_nodes_.push_back(d);
    }
  }

  void load_rules(const YAML::Node& n) {
    if (!n.IsSequence()) {
      add(n, "'rules' must be a list", "e.g. rules: [{intent: greet, actions: [utter_greet]}]");
      return;
    }
    for (const auto& r : n) {
      count(n_rules_, limits_.max_rules, r.Mark(), "rules", "dialog.bot_max_rules");
      if (!expect_map(r, "a rule")) continue;
      check_keys(r, "rule", "a rule");
      RuleDef rule;
      if (!r["intent"]) {
        add(r, "a rule needs an 'intent'");
        continue;
      }
      rule.intent = get_string(r["intent"], "intent").value_or("");
      pending_intent_refs_.push_back({rule.intent, r["intent"].Mark(), "a rule"});
      if (!r["actions"]) {
        add(r, "rule for '" + rule.intent + "' needs 'actions'", "e.g. actions: [utter_greet]");
        continue;
      }
      if (bot_.find_rule(rule.intent)) {
        add(r["intent"], "a second rule for intent '" + rule.intent + "'", "put all its actions in one rule");
        continue;
      }
      bot_.rules.push_back(std::move(rule));
      rule_nodes_.push_back(r["actions"]);
    }
  }

  void load_kb(const YAML::Node& n) {
    if (!expect_map(n, "'knowledge_base'")) return;
    check_keys(n, "knowledge_base", "'knowledge_base'");
    auto& kb = bot_.knowledge_base;
    kb.enabled = true;
    if (n["answer_mode"]) {
      kb.answer_mode = get_string(n["answer_mode"], "answer_mode").value_or("extractive");
      if (kb.answer_mode != "extractive" && kb.answer_mode != "generative") {
        std::string hint = did_you_mean(kb.answer_mode, {"extractive", "generative"});
        add(n["answer_mode"], "answer_mode must be extractive or generative", hint);
      }
    }
    if (n["min_score"]) kb.min_score = static_cast<float>(get_number(n["min_score"], "min_score").value_or(0));
    if (n["top_k"]) kb.top_k = static_cast<int>(get_int(n["top_k"], "top_k", 1, 20).value_or(3));
    if (n["no_answer"]) {
      kb.no_answer = get_string(n["no_answer"], "no_answer").value_or("");
      pending_response_refs_.push_back({kb.no_answer, n["no_answer"].Mark(), "knowledge_base"});
    }
    if (!n["documents"] || !n["documents"].IsSequence() || n["documents"].size() == 0) {
      add(n, "knowledge_base needs 'documents'", "e.g. documents: [{file: kb/rooms.md}]");
      return;
    }
    std::set<std::string> ids;
    for (const auto& d : n["documents"]) {
      count(n_documents_, limits_.max_documents, d.Mark(), "knowledge-base documents", "dialog.bot_max_documents");
      if (!expect_map(d, "a document")) continue;
      check_keys(d, "document", "a document");
      KbDocument doc;
      if (d["file"] && d["text"]) {
        add(d, "a document has either 'file' or 'text', not both");
        continue;
      }
      if (d["file"]) {
        doc.source = get_string(d["file"], "file").value_or("");
        if (!read_document(d["file"], doc)) continue;
      } else if (d["text"]) {
        doc.text = get_string(d["text"], "text").value_or("");
      } else {
        add(d, "a document needs 'file' (relative to the bot file) or 'text'");
        continue;
      }
      if (d["id"]) doc.id = get_string(d["id"], "id").value_or("");
      if (d["title"]) doc.title = get_string(d["title"], "title").value_or("");
      if (doc.id.empty()) doc.id = doc.source.empty() ? "doc" + std::to_string(kb.documents.size() + 1)
                                                      : std::filesystem::path(doc.source).stem().string();
      if (doc.title.empty()) doc.title = first_heading(doc.text).value_or(doc.id);
      if (!ids.insert(doc.id).second) {
        add(d, "document id '" + doc.id + "' is used twice", "give each document a unique 'id'");
        continue;
      }
      if (doc.text.empty()) add(d, "document '" + doc.id + "' is empty");
      if (doc.text.size() > limits_.max_document_bytes) {
        add(d, "document '" + excerpt(doc.id) + "' is " + std::to_string(doc.text.size()) + " bytes; the limit is " +
                   std::to_string(limits_.max_document_bytes) + " (dialog.bot_max_document_bytes)");
        over_limit_ = true;
        continue;
      }
      kb_bytes_ += doc.text.size();
      if (kb_bytes_ > limits_.max_kb_bytes) {
        errors_.clear();
        add(d, "the knowledge base is more than " + std::to_string(limits_.max_kb_bytes) +
                   " bytes (limit dialog.bot_max_kb_bytes)");
        throw OverLimit{};
      }
      kb.documents.push_back(std::move(doc));
    }
  }

  static std::optional<std::string> first_heading(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("# ", 0) == 0) return line.substr(2);
    }
    return std::nullopt;
  }

  bool read_document(const YAML::Node& node, KbDocument& doc) {
    namespace fs = std::filesystem;
    fs::path rel(doc.source);
    if (rel.is_absolute() || doc.source.find("..") != std::string::npos) {
      add(node, "document file '" + doc.source + "' must be a relative path inside the bot's folder");
      return false;
    }
    if (base_dir_.empty()) {
      add(node, "document file '" + doc.source + "' cannot be resolved: this bot was not loaded from a file",
          "use inline 'text', or load the bot from its folder");
      return false;
    }
    fs::path full = fs::path(base_dir_) / rel;
    std::error_code ec;
    auto size = fs::file_size(full, ec);
    if (ec) {
      add(node, "document file '" + doc.source + "' not found (looked at " + full.string() + ")");
      return false;
    }
    if (size > limits_.max_document_bytes) {
      add(node, "document file '" + doc.source + "' is " + std::to_string(size) + " bytes; the limit is " +
                    std::to_string(limits_.max_document_bytes) + " (dialog.bot_max_document_bytes)");
      over_limit_ = true;
      return false;
    }
    std::ifstream in(full, std::ios::binary);
    std::ostringstream buf;
    buf << in.rdbuf();
    doc.text = buf.str();
    return true;
  }

  void load_lm(const YAML::Node& n) {
    if (!expect_map(n, "'lm_fallback'")) return;
    check_keys(n, "lm_fallback", "'lm_fallback'");
    auto& lm = bot_.lm_fallback;
    lm.enabled = true;
    if (n["enabled"]) lm.enabled = get_bool(n["enabled"], "enabled").value_or(true);
    if (n["system_prompt"]) lm.system_prompt = get_string(n["system_prompt"], "system_prompt").value_or("");
    if (n["max_tokens"]) {
      // Never more than the LM accepts (dialog.lm_max_tokens mirrors lm.max_tokens_limit).
      lm.max_tokens = static_cast<int>(get_int(n["max_tokens"], "max_tokens", 1, limits_.max_lm_tokens).value_or(64));
    }
    if (n["history_turns"]) lm.history_turns = static_cast<int>(get_int(n["history_turns"], "history_turns", 0, 20).value_or(3));
    if (n["temperature"]) {
      auto t = get_number(n["temperature"], "temperature");
      if (t && (*t < 0 || *t > 2)) add(n["temperature"], "temperature must be between 0 and 2");
      lm.temperature = static_cast<float>(t.value_or(0));
    }
  }

  // ---- cross references ----
  std::vector<std::string> names_of_actions() const {
    std::vector<std::string> all = kBuiltins;
    for (const auto& r : bot_.responses) all.push_back(r.name);
    for (const auto& f : bot_.forms) all.push_back(f.name);
    for (const auto& w : bot_.webhooks) all.push_back(w.name);
    return all;
  }

  bool resolve(ActionRef& a, const YAML::Mark& mark, const std::string& where) {
    int found = 0;
    if (a.name == "answer_from_kb") {
      a.kind = ActionKind::kAnswerKb;
      ++found;
    } else if (a.name == "generate") {
      a.kind = ActionKind::kGenerate;
      ++found;
    } else if (a.name == "handoff") {
      a.kind = ActionKind::kHandoff;
      ++found;
    } else if (a.name == "reset_slots") {
      a.kind = ActionKind::kResetSlots;
      ++found;
    }
    // A response named like a builtin ("handoff") overrides the builtin's text, not the action.
    if (found == 0 && bot_.find_response(a.name)) {
      a.kind = ActionKind::kRespond;
      ++found;
    }
    if (bot_.find_form(a.name)) {
      a.kind = ActionKind::kForm;
      ++found;
    }
    if (bot_.find_webhook(a.name)) {
      a.kind = ActionKind::kWebhook;
      ++found;
    }
    if (found == 0) {
      std::string hint = did_you_mean(a.name, names_of_actions());
      add(mark, "unknown action '" + a.name + "' in " + where,
          hint.empty() ? "an action is a response, a form, an 'actions' webhook or one of answer_from_kb, "
                         "generate, handoff, reset_slots"
                       : hint);
      return false;
    }
    if (found > 1) {
      add(mark, "action name '" + a.name + "' is ambiguous in " + where,
          "a response, form, webhook or builtin share this name: rename one");
      return false;
    }
    if (a.kind == ActionKind::kAnswerKb && !bot_.knowledge_base.enabled) {
      add(mark, "'answer_from_kb' in " + where + " but the bot has no knowledge_base", "add a knowledge_base section");
    }
    if (a.kind == ActionKind::kGenerate && !bot_.lm_fallback.enabled) {
      add(mark, "'generate' in " + where + " but lm_fallback is not enabled", "add an lm_fallback section");
    }
    return true;
  }

  void resolve_pending_actions() {
    // Rules.
    for (std::size_t i = 0; i < bot_.rules.size() && i < rule_nodes_.size(); ++i) {
      std::vector<std::pair<std::size_t, YAML::Mark>> marks;
      read_actions(rule_nodes_[i], "rule for '" + bot_.rules[i].intent + "'", bot_.rules[i].actions, marks);
      for (auto& a : bot_.rules[i].actions) resolve(a, rule_nodes_[i].Mark(), "rule for '" + bot_.rules[i].intent + "'");
    }
    // Form submissions.
    for (std::size_t i = 0; i < bot_.forms.size() && i < form_nodes_.size(); ++i) {
      const YAML::Node& d = form_nodes_[i];
      if (!d["on_submit"]) continue;
      std::vector<std::pair<std::size_t, YAML::Mark>> marks;
      const std::string where = "form '" + bot_.forms[i].name + "' on_submit";
      read_actions(d["on_submit"], where, bot_.forms[i].on_submit, marks);
      for (auto& a : bot_.forms[i].on_submit) {
        if (resolve(a, d["on_submit"].Mark(), where) && a.kind == ActionKind::kForm) {
          add(d["on_submit"], where + " starts another form ('" + a.name + "')", "forms cannot chain; use a rule");
        }
      }
    }
  }

  void cross_check() {
    std::vector<std::string> slot_names, intent_names, response_names;
    for (const auto& s : bot_.slots) slot_names.push_back(s.name);
    for (const auto& i : bot_.intents) intent_names.push_back(i.name);
    for (const auto& r : bot_.responses) response_names.push_back(r.name);
    for (const auto& ref : pending_slot_refs_) {
      if (bot_.find_slot(ref.name)) continue;
      std::string hint = did_you_mean(ref.name, slot_names);
      add(ref.mark, "unknown slot '" + ref.name + "' in " + ref.where,
          hint.empty() ? "declare it under 'slots'" : hint);
    }
    for (const auto& ref : pending_intent_refs_) {
      if (bot_.find_intent(ref.name)) continue;
      std::string hint = did_you_mean(ref.name, intent_names);
      add(ref.mark, "unknown intent '" + ref.name + "' in " + ref.where,
          hint.empty() ? "declare it under 'intents' with examples" : hint);
    }
    for (const auto& ref : pending_response_refs_) {
      if (bot_.find_response(ref.name)) continue;
      std::string hint = did_you_mean(ref.name, response_names);
      add(ref.mark, "unknown response '" + ref.name + "' in " + ref.where,
          hint.empty() ? "declare it under 'responses'" : hint);
    }
    // A form's slots must be distinct; forms must not share a trigger intent.
    std::map<std::string, std::string> trigger_owner;
    for (std::size_t i = 0; i < bot_.forms.size(); ++i) {
      const auto& f = bot_.forms[i];
      std::set<std::string> seen;
      for (const auto& s : f.slots) {
        if (!seen.insert(s.slot).second) add(form_nodes_[i], "form '" + f.name + "' lists slot '" + s.slot + "' twice");
      }
      for (const auto& t : f.trigger_intents) {
        auto [it, fresh] = trigger_owner.emplace(t, f.name);
        if (!fresh) add(form_nodes_[i], "intent '" + t + "' triggers two forms ('" + it->second + "' and '" + f.name + "')");
        if (bot_.find_rule(t)) add(form_nodes_[i], "intent '" + t + "' triggers form '" + f.name + "' and also has a rule",
                                   "keep one: put the form's name in the rule's actions, or drop the rule");
      }
    }
    if (bot_.intents.size() < 2 && !bot_.intents.empty()) {
      add(intent_marks_.begin()->second, "a bot needs at least two intents for the classifier to choose between",
          "add e.g. a 'greet' intent");
    }
  }

  std::string file_;
  std::string base_dir_;
  const BotLimits& limits_;
  bool over_limit_ = false;
  std::size_t n_slots_ = 0, n_values_ = 0, n_intents_ = 0, n_examples_ = 0, n_responses_ = 0, n_variations_ = 0,
              n_webhooks_ = 0, n_forms_ = 0, n_rules_ = 0, n_documents_ = 0, kb_bytes_ = 0;
  Bot bot_;
  std::vector<BotError> errors_;
  std::vector<PendingRef> pending_slot_refs_, pending_intent_refs_, pending_response_refs_;
  std::vector<YAML::Node> rule_nodes_;  // actions node per rule, parallel to bot_.rules
  std::vector<YAML::Node> form_nodes_;  // parallel to bot_.forms
  std::map<std::string, YAML::Mark> intent_marks_;
};

}  // namespace

std::string BotError::to_string() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  s += (s.empty() ? "" : ": ") + message;
  if (!hint.empty()) s += " (hint: " + hint + ")";
  return s;
}

Status LoadResult::status() const {
  if (ok()) return Status::ok();
  std::string m;
  for (const auto& e : errors) m += (m.empty() ? "" : "\n") + e.to_string();
  if (errors.size() == 1 && errors[0].message.rfind("cannot read", 0) == 0) return not_found(m);
  if (over_limit) return out_of_range(m);
  return invalid_argument(m);
}

LoadResult parse_bot(std::string_view yaml, const std::string& file_name, const std::string& base_dir,
                     const BotLimits& limits) {
  Loader loader(file_name, base_dir, limits);
  LoadResult r = loader.run(yaml);
  if (r.ok()) {
    auto bot = std::const_pointer_cast<Bot>(r.bot);
    bot->source_path = file_name;
  }
  return r;
}

LoadResult load_bot_file(const std::string& path, const BotLimits& limits) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult r;
    r.errors.push_back(BotError{path, 0, 0, "cannot read the bot file", "check the path"});
    return r;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  std::string dir = std::filesystem::path(path).parent_path().string();
  return parse_bot(buf.str(), path, dir.empty() ? "." : dir, limits);
}

const std::map<std::string, std::vector<std::string>>& accepted_keys() { return kKeys; }
const std::vector<std::string>& builtin_actions() { return kBuiltins; }

}  // namespace parley::dialog
