// Bot lookups and the NLU training request derived from a bot.
// Linear scans: bots have tens of intents and slots, and lookups are per turn, not per token.
// Depends on bot.h.
#include "services/dialog/bot/bot.h"

#include <algorithm>

namespace parley::dialog {
namespace {

template <typename T>
const T* find_named(const std::vector<T>& items, std::string_view name) {
  for (const auto& item : items) {
    if (item.name == name) return &item;
  }
  return nullptr;
}

}  // namespace

std::string_view slot_type_name(SlotType type) {
  switch (type) {
    case SlotType::kCategorical: return "categorical";
    case SlotType::kRegex: return "regex";
    case SlotType::kNumber: return "number";
    case SlotType::kDate: return "date";
    case SlotType::kTime: return "time";
    case SlotType::kDateTime: return "datetime";
    case SlotType::kText: return "text";
  }
  return "text";
}

const SlotDef* Bot::find_slot(std::string_view n) const { return find_named(slots, n); }
const IntentDef* Bot::find_intent(std::string_view n) const { return find_named(intents, n); }
const ResponseDef* Bot::find_response(std::string_view n) const { return find_named(responses, n); }
const FormDef* Bot::find_form(std::string_view n) const { return find_named(forms, n); }
const WebhookDef* Bot::find_webhook(std::string_view n) const { return find_named(webhooks, n); }

const RuleDef* Bot::find_rule(std::string_view intent) const {
  for (const auto& r : rules) {
    if (r.intent == intent) return &r;
  }
  return nullptr;
}

const FormDef* Bot::form_for_intent(std::string_view intent) const {
  for (const auto& f : forms) {
    if (std::find(f.trigger_intents.begin(), f.trigger_intents.end(), intent) != f.trigger_intents.end()) return &f;
  }
  return nullptr;
}

v1::TrainRequest Bot::train_request() const {
  v1::TrainRequest req;
  req.set_bot_id(id);
  req.set_out_of_scope_threshold(thresholds.nlu_fallback);
  req.set_fine_tune(nlu.fine_tune);
  for (const auto& intent : intents) {
    auto* def = req.add_intents();
    def->set_name(intent.name);
    for (const auto& ex : intent.examples) {
      auto* e = def->add_examples();
      e->set_text(ex.text);
      for (const auto& span : ex.spans) *e->add_slots() = span;
    }
  }
  for (const auto& slot : slots) {
    auto* def = req.add_slots();
    def->set_name(slot.name);
    switch (slot.type) {
      case SlotType::kCategorical: def->set_type(v1::SlotDefinition::CATEGORICAL); break;
      case SlotType::kRegex: def->set_type(v1::SlotDefinition::REGEX); break;
      case SlotType::kNumber: def->set_type(v1::SlotDefinition::NUMBER); break;
      case SlotType::kDate:
      case SlotType::kTime:
      case SlotType::kDateTime: def->set_type(v1::SlotDefinition::DATE_TIME); break;
      case SlotType::kText: def->set_type(v1::SlotDefinition::FREE_TEXT); break;
    }
    def->set_pattern(slot.pattern);
    for (const auto& [value, synonyms] : slot.values) {
      auto& list = (*def->mutable_values())[value];
      for (const auto& s : synonyms) list.add_synonyms(s);
    }
  }
  return req;
}

}  // namespace parley::dialog
