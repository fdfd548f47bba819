// Conversation tests: reading the YAML (see bot_tests.h for the format) and checking a turn.
// Depends on yaml-cpp, std::regex (patterns are checked when the file is read).
#include "services/dialog/cli/bot_tests.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

namespace parley::dialog {
namespace {

/// ECMAScript regex; a leading "(?i)" (as in Python and RE2) makes it case-insensitive.
std::regex make_regex(const std::string& pattern) {
  if (pattern.rfind("(?i)", 0) == 0) return std::regex(pattern.substr(4), std::regex::ECMAScript | std::regex::icase);
  return std::regex(pattern, std::regex::ECMAScript);
}

TestLocation at(const std::string& file, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return {file, m.line + 1, m.column + 1};
}

/// A scalar as text; `null`/`~` as nullopt.
std::optional<std::string> scalar_or_null(const YAML::Node& n) {
  if (n.IsNull()) return std::nullopt;
  return n.Scalar();
}

class Reader {
 public:
  Reader(std::string file, std::vector<std::string>& errors) : file_(std::move(file)), errors_(errors) {}

  void error(const YAML::Node& n, const std::string& message) { errors_.push_back(at(file_, n).to_string() + ": " + message); }

  bool is_text(const YAML::Node& n, const std::string& what) {
    if (n.IsScalar()) return true;
    error(n, what + " must be a text");
    return false;
  }

  bool valid_regex(const YAML::Node& n) {
    try {
      (void)make_regex(n.Scalar());
      return true;
    } catch (const std::regex_error& e) {
      error(n, "'" + n.Scalar() + "' is not a valid regular expression (" + e.what() + ")");
      return false;
    }
  }

  std::optional<ExpectedResponse> response(const YAML::Node& n) {
    ExpectedResponse r;
    if (n.IsScalar()) {  // `response: "(?i)regex"` is shorthand for {text: ...}
      if (!valid_regex(n)) return std::nullopt;
      r.text = n.Scalar();
      return r;
    }
    if (!n.IsMap()) {
      error(n, "response must be a mapping {kind, text} or a text pattern");
      return std::nullopt;
    }
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      if (key == "kind" && is_text(kv.second, "response.kind")) {
        r.kind = kv.second.Scalar();
      } else if (key == "text" && is_text(kv.second, "response.text") && valid_regex(kv.second)) {
        r.text = kv.second.Scalar();
      } else if (key != "kind" && key != "text") {
        error(kv.first, "unknown key '" + key + "' in a response (hint: kind, text)");
      }
    }
    return r;
  }

  std::optional<TestStep> step(const YAML::Node& n) {
    if (!n.IsMap()) {
      error(n, "a step must be a mapping with at least 'user'");
      return std::nullopt;
    }
    TestStep s;
    s.at = at(file_, n);
    const std::size_t errors_before = errors_.size();
    bool has_user = false;
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (key == "user") {
        if (is_text(v, "user")) {
          s.user = v.Scalar();
          has_user = true;
        }
      } else if (key == "intent") {
        if (is_text(v, "intent")) s.intent = v.Scalar();
      } else if (key == "outcome") {
        if (is_text(v, "outcome")) {
          static const std::set<std::string> kOutcomes = {"ok", "fallback", "handoff", "error"};
          if (!kOutcomes.contains(v.Scalar())) error(v, "outcome '" + v.Scalar() + "' is not one of ok, fallback, handoff, error");
          s.outcome = v.Scalar();
        }
      } else if (key == "source") {
        if (is_text(v, "source")) s.source = v.Scalar();
      } else if (key == "slots") {
        if (!v.IsMap()) {
          error(v, "slots must be a mapping slot: value (null: unset)");
          continue;
        }
        for (const auto& slot : v) {
          if (!slot.second.IsNull() && !slot.second.IsScalar()) {
            error(slot.second, "the value of slot '" + slot.first.Scalar() + "' must be a text or null");
            continue;
          }
          s.slots[slot.first.Scalar()] = scalar_or_null(slot.second);
        }
      } else if (key == "response" || key == "responses") {
        if (v.IsSequence()) {
          for (const auto& item : v) {
            if (auto r = response(item)) s.responses.push_back(*r);
          }
        } else if (auto r = response(v)) {
          s.responses.push_back(*r);
        }
      } else if (key == "form") {
        ExpectedForm f;
        if (v.IsNull()) {
          f.active = "";
        } else if (!v.IsMap()) {
          error(v, "form must be a mapping {active, requested_slot} or null (no active form)");
          continue;
        } else {
          for (const auto& fk : v) {
            const std::string k = fk.first.Scalar();
            if (k == "active") {
              f.active = scalar_or_null(fk.second).value_or("");
            } else if (k == "requested_slot") {
              f.requested_slot = scalar_or_null(fk.second).value_or("");
            } else {
              error(fk.first, "unknown key '" + k + "' in form (hint: active, requested_slot)");
            }
          }
        }
        s.form = f;
      } else {
        error(kv.first, "unknown key '" + key + "' in a step (hint: user, intent, slots, response, form, source, outcome)");
      }
    }
    if (!has_user) {
      error(n, "a step needs 'user' (what the user says)");
      return std::nullopt;
    }
    if (s.user.find_first_not_of(" \t\r\n") == std::string::npos) {
      error(n, "'user' must not be blank");
      return std::nullopt;
    }
    if (errors_.size() != errors_before) return std::nullopt;  // a step with an error is not run
    return s;
  }

  std::vector<ConversationTest> file(const YAML::Node& root) {
    std::vector<ConversationTest> out;
    if (!root.IsMap() || !root["tests"]) {
      error(root, "a test file is a mapping with 'tests:' (a list of {name, steps})");
      return out;
    }
    for (const auto& kv : root) {
      if (kv.first.Scalar() != "tests") error(kv.first, "unknown top-level key '" + kv.first.Scalar() + "' (hint: tests)");
    }
    const YAML::Node tests = root["tests"];
    if (!tests.IsSequence()) {
      error(tests, "'tests' must be a list of {name, steps}");
      return out;
    }
    std::set<std::string> names;
    for (const auto& t : tests) {
      if (!t.IsMap()) {
        error(t, "a test must be a mapping {name, steps}");
        continue;
      }
      ConversationTest c;
      c.at = at(file_, t);
      bool ok = true;
      for (const auto& kv : t) {
        const std::string key = kv.first.Scalar();
        if (key == "name") {
          if (is_text(kv.second, "name")) c.name = kv.second.Scalar();
        } else if (key == "steps") {
          if (!kv.second.IsSequence() || kv.second.size() == 0) {
            error(kv.second, "'steps' must be a non-empty list");
            ok = false;
            continue;
          }
          for (const auto& st : kv.second) {
            if (auto s = step(st)) {
              c.steps.push_back(std::move(*s));
            } else {
              ok = false;
            }
          }
        } else {
          error(kv.first, "unknown key '" + key + "' in a test (hint: name, steps)");
        }
      }
      if (c.name.empty()) {
        error(t, "a test needs a 'name'");
        ok = false;
      } else if (!names.insert(c.name).second) {
        error(t, "another test is already named '" + c.name + "'");
        ok = false;
      }
      if (c.steps.empty()) ok = false;
      if (ok) out.push_back(std::move(c));
    }
    return out;
  }

 private:
  std::string file_;
  std::vector<std::string>& errors_;
};

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

std::string TestLocation::to_string() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::vector<ConversationTest> load_conversation_tests(const std::string& path, std::vector<std::string>& errors) {
  Reader reader(path, errors);
  try {
    YAML::Node root = YAML::LoadFile(path);
    return reader.file(root);
  } catch (const YAML::BadFile&) {
    errors.push_back(path + ": cannot read the file");
  } catch (const YAML::Exception& e) {
    errors.push_back(path + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  return {};
}

std::vector<std::string> find_test_files(const std::string& bot_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  const std::filesystem::path dir = std::filesystem::path(bot_dir) / "tests";
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".yml" || ext == ".yaml")) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> check_step(const TestStep& step, const v1::TurnResponse& turn) {
  std::vector<std::string> diff;
  if (step.intent && turn.intent().name() != *step.intent) {
    diff.push_back("intent: expected " + *step.intent + ", got " +
                   (turn.intent().name().empty() ? std::string("(none)") : turn.intent().name()) + " (confidence " +
                   std::to_string(turn.intent().confidence()).substr(0, 4) + ")");
  }
  for (const auto& [slot, want] : step.slots) {
    auto it = turn.session_slots().find(slot);
    const bool set = it != turn.session_slots().end() && !it->second.empty();
    if (!want && set) diff.push_back("slots." + slot + ": expected unset, got " + quoted(it->second));
    if (want && !set) diff.push_back("slots." + slot + ": expected " + quoted(*want) + ", got unset");
    if (want && set && it->second != *want) diff.push_back("slots." + slot + ": expected " + quoted(*want) + ", got " + quoted(it->second));
  }
  for (const auto& r : step.responses) {
    bool found = false;
    for (const auto& m : turn.messages()) {
      if (r.kind && m.kind() != *r.kind) continue;
      if (r.text && !std::regex_search(m.text(), make_regex(*r.text))) continue;
      found = true;
      break;
    }
    if (!found) {
      std::string want = "response";
      if (r.kind) want += " of kind " + *r.kind;
      if (r.text) want += " matching /" + *r.text + "/";
      std::string got;
      for (const auto& m : turn.messages()) got += "\n      [" + m.kind() + "] " + quoted(m.text());
      diff.push_back("expected a " + want + ", got " + (got.empty() ? std::string("no message") : got));
    }
  }
  if (step.form) {
    const auto show = [](const std::string& s) { return s.empty() ? std::string("none") : s; };
    if (step.form->active && turn.active_form() != *step.form->active) {
      diff.push_back("form.active: expected " + show(*step.form->active) + ", got " + show(turn.active_form()));
    }
    if (step.form->requested_slot && turn.requested_slot() != *step.form->requested_slot) {
      diff.push_back("form.requested_slot: expected " + show(*step.form->requested_slot) + ", got " +
                     show(turn.requested_slot()));
    }
  }
  if (step.source) {
    bool found = false;
    std::string got;
    for (const auto& p : turn.sources()) {
      if (p.document_id() == *step.source || p.title().find(*step.source) != std::string::npos ||
          p.document_id().find(*step.source) != std::string::npos) {
        found = true;
      }
      got += (got.empty() ? "" : ", ") + p.document_id();
    }
    if (!found) diff.push_back("source: expected " + *step.source + ", got " + (got.empty() ? std::string("no source") : got));
  }
  if (step.outcome && turn.outcome() != *step.outcome) {
    diff.push_back("outcome: expected " + *step.outcome + ", got " + turn.outcome());
  }
  return diff;
}

}  // namespace parley::dialog
