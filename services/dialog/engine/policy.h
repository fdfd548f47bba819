// The dialog policy: given the bot, the session state and the NLU result of one utterance, decide
// what happens — fill or correct form slots, confirm, cancel, digress, run a rule, fall back, hand
// off — as a list of steps, and update the state. Pure and synchronous: the session actor
// executes the steps (some call services). Depends on bot.h, dialog.proto, nlu.proto.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "parley/v1/dialog.pb.h"
#include "parley/v1/nlu.pb.h"
#include "services/dialog/bot/bot.h"

namespace parley::dialog {

/// Say a response (by name; a builtin text when the bot does not declare it), rendered with the
/// slots at execution time. `kind` goes to BotMessage.kind.
struct SayStep {
  std::string response;
  std::string kind = "response";
};
/// Ask QA over the bot's knowledge base with the user's text.
struct AnswerKbStep {};
/// Ask the LM (the bot's lm_fallback) to reply to the user's text.
struct GenerateStep {
  std::string reason;  ///< "fallback", "rule", "kb_no_answer"
};
/// Call an external action webhook.
struct WebhookStep {
  std::string action;
};
using Step = std::variant<SayStep, AnswerKbStep, GenerateStep, WebhookStep>;

/// What the policy decided for one turn.
struct Decision {
  std::vector<Step> steps;
  std::vector<v1::DialogEvent> events;
  std::string outcome = "ok";          ///< "ok", "fallback", "handoff"
  std::string fallback_reason;         ///< "low_confidence", "out_of_scope", "no_rule" when a fallback
};

/// Builtin texts for responses a bot may override by declaring them.
std::string builtin_response(std::string_view name);

/// A slot value checked and normalized against its definition (and a form's extra rules):
/// numbers as written by std::to_string without trailing zeros ("4"), categorical values as their
/// canonical value. The error text says why ("must be between 1 and 12").
Result<std::string> normalize_slot(const SlotDef& def, const FormSlot* form_slot, const std::string& raw);

/// Tries to read a value for `def` straight from the user's text — used for the slot a form asked
/// for when the NLU found none ("4", "a double please", free text). nullopt when nothing fits.
std::optional<std::string> extract_from_text(const SlotDef& def, const std::string& text);

/// Decides the turn and updates `state` (slots, active_form, requested_slot, awaiting_confirmation,
/// consecutive_fallbacks, handed_off). `parse` is the NLU result for `text`.
Decision decide(const Bot& bot, v1::Session& state, const v1::ParseResponse& parse, const std::string& text);

/// Renders a response template with the session's slots ({slot} -> value; unknown -> empty).
/// The variation is picked by `turn` (deterministic: variation turn % count).
std::string render_response(const Bot& bot, const std::string& name, const v1::Session& state, int turn);

}  // namespace parley::dialog
