// The dialog policy (see policy.h): rules, forms with slot filling / corrections / confirmation /
// cancel / digressions, thresholds -> fallback and handoff.
// Depends on policy.h.
#include "services/dialog/engine/policy.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <sstream>

#include "shared/common/utf8.h"
#include "shared/text/regex.h"

namespace parley::dialog {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

bool contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

const std::map<std::string, int>& number_words() {
  static const std::map<std::string, int> kWords = {
      {"one", 1},    {"two", 2},     {"three", 3},    {"four", 4},     {"five", 5},    {"six", 6},
      {"seven", 7},  {"eight", 8},   {"nine", 9},     {"ten", 10},     {"eleven", 11}, {"twelve", 12},
      {"thirteen", 13}, {"fourteen", 14}, {"fifteen", 15}, {"sixteen", 16}, {"seventeen", 17},
      {"eighteen", 18}, {"nineteen", 19}, {"twenty", 20}, {"a couple", 2}, {"couple", 2}};
  return kWords;
}

std::optional<double> parse_number(std::string_view raw) {
  std::string s = lower(trim(raw));
  if (s.empty()) return std::nullopt;
  auto w = number_words().find(s);
  if (w != number_words().end()) return w->second;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0' || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string format_number(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  std::ostringstream os;
  os << v;
  return os.str();
}

/// Our own patterns, on the same linear-time engine as the bots' (compiled once, thread-safe).
const text::Regex& digits_regex() {
  static const text::Regex re = *text::Regex::compile("[0-9]+(\\.[0-9]+)?");
  return re;
}
const text::Regex& time_regex() {
  static const text::Regex re =
      *text::Regex::compile("\\b([0-9]{1,2}(:[0-9]{2})?\\s*(am|pm)|[0-9]{1,2}:[0-9]{2}|noon|midnight)\\b");
  return re;
}

std::string matched(std::string_view text, const std::optional<text::RegexMatch>& m) {
  return m ? std::string(text.substr(m->begin, m->end - m->begin)) : std::string();
}

v1::DialogEvent event(std::string type, std::string name, std::string value = "", std::string detail = "") {
  v1::DialogEvent e;
  e.set_type(std::move(type));
  e.set_name(std::move(name));
  e.set_value(std::move(value));
  e.set_detail(std::move(detail));
  return e;
}

/// The turn's working state: the decision being built plus helpers that share bot/state.
class Policy {
 public:
  Policy(const Bot& bot, v1::Session& state, const v1::ParseResponse& parse, const std::string& text)
      : bot_(bot), state_(state), parse_(parse), text_(text) {
    if (parse.intents_size() > 0) {
      intent_ = parse.intents(0).name();
      confidence_ = parse.intents(0).confidence();
    }
    confident_ = !intent_.empty() && confidence_ >= bot.thresholds.nlu_fallback && !parse.out_of_scope();
  }

  Decision run() {
    if (!state_.active_form().empty() && bot_.find_form(state_.active_form()) == nullptr) {
      // The bot was reloaded without this form: drop it rather than wedge the session.
      d_.events.push_back(event("form_cancelled", state_.active_form(), "", "form no longer exists in the bot"));
      clear_form();
    }
    if (!state_.active_form().empty()) {
      in_form(*bot_.find_form(state_.active_form()));
    } else {
      no_form();
    }
    return std::move(d_);
  }

 private:
  bool intent_is(const std::vector<std::string>& names) const { return confident_ && contains(names, intent_); }

  void say(std::string response, std::string kind = "response") { d_.steps.push_back(SayStep{std::move(response), std::move(kind)}); }

  void clear_form() {
    state_.clear_active_form();
    state_.clear_requested_slot();
    state_.set_awaiting_confirmation(false);
  }

  void fallback(const std::string& reason) {
    d_.outcome = "fallback";
    d_.fallback_reason = reason;
    state_.set_consecutive_fallbacks(state_.consecutive_fallbacks() + 1);
    d_.events.push_back(event("fallback", reason, intent_, "confidence " + std::to_string(confidence_)));
    if (bot_.thresholds.handoff_after > 0 && state_.consecutive_fallbacks() >= bot_.thresholds.handoff_after) {
      handoff("after " + std::to_string(state_.consecutive_fallbacks()) + " fallbacks");
      return;
    }
    if (bot_.lm_fallback.enabled) {
      d_.steps.push_back(GenerateStep{"fallback"});
    } else {
      say(kResponseFallback, "fallback");
    }
  }

  void handoff(const std::string& why) {
    d_.outcome = "handoff";
    state_.set_handed_off(true);
    state_.set_consecutive_fallbacks(0);
    d_.events.push_back(event("handoff", "", "", why));
    say(kResponseHandoff, "handoff");
  }

  /// Sets slot values the NLU found. Only slots in `allowed` (all declared slots when null).
  /// Returns how many slots changed; invalid values are rejected with an event and a message.
  int fill(const FormDef* form, bool say_invalid) {
    int changed = 0;
    for (const auto& sv : parse_.slots()) {
      const SlotDef* def = bot_.find_slot(sv.slot());
      if (def == nullptr) continue;
      const FormSlot* fs = nullptr;
      if (form) {
        for (const auto& s : form->slots) {
          if (s.slot == sv.slot()) fs = &s;
        }
        if (fs == nullptr) continue;  // inside a form only its own slots count
      }
      const std::string raw = sv.value().empty() ? sv.raw_value() : sv.value();
      changed += set_slot(*def, fs, raw, say_invalid) ? 1 : 0;
    }
    return changed;
  }

  bool set_slot(const SlotDef& def, const FormSlot* fs, const std::string& raw, bool say_invalid) {
    auto value = normalize_slot(def, fs, raw);
    if (!value.ok()) {
      d_.events.push_back(event("slot_rejected", def.name, raw, value.status().message()));
      rejected_ = true;
      if (say_invalid) say(fs && !fs->invalid.empty() ? fs->invalid : std::string(kResponseInvalidSlot));
      return false;
    }
    auto& slots = *state_.mutable_slots();
    auto it = slots.find(def.name);
    if (it != slots.end() && it->second == *value) return false;
    const bool correction = it != slots.end();
    slots[def.name] = *value;
    d_.events.push_back(event("slot_set", def.name, *value, correction ? "corrected" : ""));
    return true;
  }

  /// The requested slot from the plain text when the NLU found no value for it.
  bool fill_requested_from_text(const FormDef& form) {
    const std::string& requested = state_.requested_slot();
    if (requested.empty()) return false;
    for (const auto& sv : parse_.slots()) {
      if (sv.slot() == requested) return false;  // the NLU had a value (set, or rejected)
    }
    const SlotDef* def = bot_.find_slot(requested);
    if (def == nullptr) return false;
    // A confident other intent (a question, a cancel) is not an answer to the prompt, unless the
    // slot is a number/categorical the text plainly contains.
    if (confident_ && def->type == SlotType::kText && !contains(form.trigger_intents, intent_) && intent_ != "inform") {
      return false;
    }
    auto value = extract_from_text(*def, text_);
    if (!value) return false;
    const FormSlot* fs = nullptr;
    for (const auto& s : form.slots) {
      if (s.slot == requested) fs = &s;
    }
    return set_slot(*def, fs, *value, true);
  }

  const FormSlot* next_missing(const FormDef& form) const {
    for (const auto& s : form.slots) {
      if (!state_.slots().contains(s.slot)) return &s;
    }
    return nullptr;
  }

  /// Asks for the next missing slot, or for confirmation, or submits.
  void advance(const FormDef& form) {
    if (const FormSlot* missing = next_missing(form)) {
      state_.set_requested_slot(missing->slot);
      state_.set_awaiting_confirmation(false);
      say(missing->prompt, "slot_prompt");
      return;
    }
    state_.clear_requested_slot();
    if (!form.confirm.empty()) {
      state_.set_awaiting_confirmation(true);
      say(form.confirm, "confirmation");
      return;
    }
    submit(form);
  }

  void submit(const FormDef& form) {
    std::string filled;
    for (const auto& s : form.slots) {
      filled += (filled.empty() ? "" : ", ") + s.slot + "=" + state_.slots().at(s.slot);
    }
    d_.events.push_back(event("form_completed", form.name, filled));
    clear_form();
    run_actions(form.on_submit);
  }

  void cancel(const FormDef& form) {
    for (const auto& s : form.slots) state_.mutable_slots()->erase(s.slot);
    clear_form();
    d_.events.push_back(event("form_cancelled", form.name));
    say(form.on_cancel.empty() ? std::string("form_cancelled") : form.on_cancel);
  }

  void start_form(const FormDef& form) {
    state_.set_active_form(form.name);
    state_.set_awaiting_confirmation(false);
    d_.events.push_back(event("form_started", form.name));
    // Values for this form given in the triggering utterance ("a table for 4 at 7pm") count,
    // and replace values left over from an earlier booking.
    for (const auto& s : form.slots) state_.mutable_slots()->erase(s.slot);
    fill(&form, true);
    advance(form);
  }

  void run_actions(const std::vector<ActionRef>& actions) {
    for (const auto& a : actions) {
      switch (a.kind) {
        case ActionKind::kRespond: say(a.name); break;
        case ActionKind::kForm: {
          const FormDef* f = bot_.find_form(a.name);
          if (f) start_form(*f);
          break;
        }
        case ActionKind::kWebhook: d_.steps.push_back(WebhookStep{a.name}); break;
        case ActionKind::kAnswerKb: d_.steps.push_back(AnswerKbStep{}); break;
        case ActionKind::kGenerate: d_.steps.push_back(GenerateStep{"rule"}); break;
        case ActionKind::kHandoff: handoff("rule for intent '" + intent_ + "'"); break;
        case ActionKind::kResetSlots:
          state_.clear_slots();
          clear_form();
          d_.events.push_back(event("slots_reset", ""));
          break;
      }
    }
  }

  void in_form(const FormDef& form) {
    if (intent_is(form.cancel_intents)) {
      cancel(form);
      return;
    }
    if (state_.awaiting_confirmation()) {
      if (intent_is(form.affirm_intents) && parse_.slots_size() == 0) {
        state_.set_consecutive_fallbacks(0);
        submit(form);
        return;
      }
      // "no, make it 6": a correction re-fills the slot and asks again.
      if (fill(&form, true) > 0) {
        advance(form);
        return;
      }
      if (rejected_) {
        advance(form);
        return;
      }
      if (intent_is(form.deny_intents)) {
        state_.set_awaiting_confirmation(false);
        say("form_change");
        return;
      }
      digress_or_reprompt(form);
      return;
    }
    int changed = fill(&form, true);
    if (fill_requested_from_text(form)) ++changed;
    if (changed > 0 || rejected_) {
      state_.set_consecutive_fallbacks(0);
      advance(form);
      return;
    }
    digress_or_reprompt(form);
  }

  /// Nothing for the form in this utterance: answer a side question when the bot allows it, or
  /// say we did not get it; then ask again for what the form needs.
  void digress_or_reprompt(const FormDef& form) {
    const RuleDef* rule = confident_ ? bot_.find_rule(intent_) : nullptr;
    const bool allowed = form.allow_digressions && (form.digressions.empty() || contains(form.digressions, intent_));
    if (rule && allowed) {
      d_.events.push_back(event("digression", intent_, "", "form '" + form.name + "' resumes after"));
      run_actions(rule->actions);
      if (state_.active_form() != form.name) return;  // the rule reset the form
    } else {
      d_.outcome = "fallback";
      d_.fallback_reason = confident_ ? "no_slot_in_reply" : "low_confidence";
      d_.events.push_back(event("fallback", d_.fallback_reason, intent_));
      say(kResponseFallback, "fallback");
    }
    if (state_.awaiting_confirmation()) {
      say(form.confirm, "confirmation");
    } else {
      advance(form);
    }
  }

  void no_form() {
    if (!confident_) {
      fallback(parse_.out_of_scope() ? "out_of_scope" : "low_confidence");
      return;
    }
    state_.set_consecutive_fallbacks(0);
    if (const FormDef* form = bot_.form_for_intent(intent_)) {
      start_form(*form);
      return;
    }
    const RuleDef* rule = bot_.find_rule(intent_);
    if (rule == nullptr) {
      state_.set_consecutive_fallbacks(0);
      fallback("no_rule");
      return;
    }
    fill(nullptr, false);
    run_actions(rule->actions);
  }

  const Bot& bot_;
  v1::Session& state_;
  const v1::ParseResponse& parse_;
  const std::string& text_;
  std::string intent_;
  float confidence_ = 0;
  bool confident_ = false;
  bool rejected_ = false;
  Decision d_;
};

}  // namespace

std::string builtin_response(std::string_view name) {
  if (name == kResponseFallback) return "Sorry, I didn't understand that. Could you rephrase?";
  if (name == kResponseServiceError) return "Sorry, I'm having trouble answering right now. Please try again in a moment.";
  if (name == kResponseHandoff) return "Let me connect you with a person who can help.";
  if (name == kResponseInvalidSlot) return "Sorry, that doesn't look like a valid value.";
  if (name == "form_change") return "What would you like to change?";
  if (name == "form_cancelled") return "Okay, I've cancelled that.";
  if (name == "kb_no_answer") return "Sorry, I couldn't find an answer to that.";
  return "";
}

Result<std::string> normalize_slot(const SlotDef& def, const FormSlot* fs, const std::string& raw_in) {
  const std::string raw = trim(raw_in);
  if (raw.empty()) return invalid_argument("empty value");
  std::string value = raw;
  switch (def.type) {
    case SlotType::kNumber: {
      auto v = parse_number(raw);
      if (!v) {
        // "4 people", "for 3": the first number in the value.
        if (auto m = digits_regex().search(raw)) v = std::strtod(matched(raw, m).c_str(), nullptr);
      }
      if (!v) return invalid_argument("'" + excerpt(raw) + "' is not a number");
      std::optional<double> lo = def.min, hi = def.max;
      if (fs && fs->min) lo = lo ? std::max(*lo, *fs->min) : fs->min;
      if (fs && fs->max) hi = hi ? std::min(*hi, *fs->max) : fs->max;
      if ((lo && *v < *lo) || (hi && *v > *hi)) {
        return invalid_argument("must be between " + format_number(lo.value_or(-1e300)) + " and " +
                                format_number(hi.value_or(1e300)) + ", got " + format_number(*v));
      }
      value = format_number(*v);
      break;
    }
    case SlotType::kCategorical: {
      const std::string l = lower(raw);
      bool found = false;
      for (const auto& [canonical, synonyms] : def.values) {
        if (lower(canonical) == l || std::any_of(synonyms.begin(), synonyms.end(), [&](const std::string& s) { return lower(s) == l; })) {
          value = canonical;
          found = true;
          break;
        }
      }
      if (!found) {
        std::string allowed;
        for (const auto& [canonical, synonyms] : def.values) allowed += (allowed.empty() ? "" : ", ") + canonical;
        return invalid_argument("'" + excerpt(raw) + "' is not one of " + excerpt(allowed, 200));
      }
      break;
    }
    case SlotType::kRegex: {
      // Compiled by the loader on RE2 (linear time): no bot pattern can stall this thread.
      if (!def.regex) return invalid_argument("slot '" + def.name + "' has no compiled pattern");
      if (!def.regex->full_match(raw)) return invalid_argument("'" + excerpt(raw) + "' does not match " + excerpt(def.pattern));
      break;
    }
    case SlotType::kDate:
    case SlotType::kTime:
    case SlotType::kDateTime:
    case SlotType::kText:
      break;
  }
  if (fs && !fs->pattern.empty()) {
    if (!fs->regex) return invalid_argument("form slot '" + fs->slot + "' has no compiled pattern");
    if (!fs->regex->full_match(value)) return invalid_argument("'" + excerpt(value) + "' does not match " + excerpt(fs->pattern));
  }
  if (value.size() > 256) return invalid_argument("value longer than 256 bytes");
  return value;
}

std::optional<std::string> extract_from_text(const SlotDef& def, const std::string& text) {
  const std::string l = lower(text);
  switch (def.type) {
    case SlotType::kNumber: {
      if (auto m = digits_regex().search(l)) return matched(l, m);
      // Number words as whole words.
      std::istringstream words(l);
      std::string w;
      while (words >> w) {
        while (!w.empty() && std::ispunct(static_cast<unsigned char>(w.back()))) w.pop_back();
        if (number_words().contains(w)) return w;
      }
      return std::nullopt;
    }
    case SlotType::kCategorical: {
      // The longest synonym found as a substring wins ("double room" over "double").
      std::string best;
      std::size_t best_len = 0;
      for (const auto& [canonical, synonyms] : def.values) {
        std::vector<std::string> all = synonyms;
        all.push_back(canonical);
        for (const auto& s : all) {
          if (s.size() > best_len && l.find(lower(s)) != std::string::npos) {
            best = canonical;
            best_len = s.size();
          }
        }
      }
      if (best_len == 0) return std::nullopt;
      return best;
    }
    case SlotType::kRegex: {
      if (!def.regex) return std::nullopt;
      if (auto m = def.regex->search(text)) return matched(text, m);
      return std::nullopt;
    }
    case SlotType::kTime: {
      if (auto m = time_regex().search(l)) return matched(l, m);
      return std::nullopt;
    }
    case SlotType::kDate:
    case SlotType::kDateTime:
    case SlotType::kText: {
      std::string t = trim(text);
      if (t.empty()) return std::nullopt;
      return t;
    }
  }
  return std::nullopt;
}

Decision decide(const Bot& bot, v1::Session& state, const v1::ParseResponse& parse, const std::string& text) {
  return Policy(bot, state, parse, text).run();
}

std::string render_response(const Bot& bot, const std::string& name, const v1::Session& state, int turn) {
  std::string tmpl;
  if (const ResponseDef* r = bot.find_response(name)) {
    tmpl = r->variations[static_cast<std::size_t>(std::max(turn, 0)) % r->variations.size()];
  } else {
    tmpl = builtin_response(name);
  }
  std::string out;
  out.reserve(tmpl.size());
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '{') {
      std::size_t close = tmpl.find('}', i + 1);
      if (close != std::string::npos) {
        auto it = state.slots().find(tmpl.substr(i + 1, close - i - 1));
        if (it != state.slots().end()) out += it->second;
        i = close;
        continue;
      }
    }
    out.push_back(tmpl[i]);
  }
  return out;
}

}  // namespace parley::dialog
