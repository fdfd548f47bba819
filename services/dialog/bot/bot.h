// The bot definition: what a bot builder writes in YAML (intents, slots, responses, rules, forms,
// knowledge base, LM fallback, thresholds), as validated, immutable C++ values.
// Exists so the policy reads a checked model, never raw YAML. Depends on shared/common,
// shared/text/regex.h (compiled slot patterns), nlu.proto.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parley/v1/nlu.pb.h"
#include "shared/common/status.h"
#include "shared/text/regex.h"

namespace parley::dialog {

enum class SlotType { kCategorical, kRegex, kNumber, kDate, kTime, kDateTime, kText };

/// "categorical", "regex", "number", "date", "time", "datetime", "text".
std::string_view slot_type_name(SlotType type);

struct SlotDef {
  std::string name;
  SlotType type = SlotType::kText;
  /// Categorical: canonical value -> synonyms (the canonical value itself always matches).
  std::vector<std::pair<std::string, std::vector<std::string>>> values;
  std::string pattern;               ///< regex: RE2 syntax (linear time), the whole value must match
  std::optional<text::Regex> regex;  ///< `pattern` compiled by the loader (set when pattern is)
  std::optional<double> min, max;    ///< number: inclusive bounds
  std::string description;
};

/// One example with its slot annotations removed and recorded as byte spans.
struct Example {
  std::string text;
  std::vector<v1::SlotSpan> spans;
};

struct IntentDef {
  std::string name;
  std::vector<Example> examples;
};

/// A response template: variations chosen in turn; `{slot}` is replaced by the slot's value.
struct ResponseDef {
  std::string name;
  std::vector<std::string> variations;
};

/// What an action name refers to (resolved and checked by the loader).
enum class ActionKind {
  kRespond,     ///< a response template
  kForm,        ///< activate a form
  kWebhook,     ///< an external action server
  kAnswerKb,    ///< builtin "answer_from_kb": QA over the knowledge base
  kGenerate,    ///< builtin "generate": the LM fallback with the user's text
  kHandoff,     ///< builtin "handoff": hand the conversation to a human (an event + response)
  kResetSlots,  ///< builtin "reset_slots"
};

struct ActionRef {
  std::string name;
  ActionKind kind = ActionKind::kRespond;
};

struct RuleDef {
  std::string intent;
  std::vector<ActionRef> actions;
};

struct FormSlot {
  std::string slot;
  std::string prompt;  ///< a response name
  /// Extra validation on top of the slot type; on failure `invalid` is said and the slot re-asked.
  std::optional<double> min, max;
  std::string pattern;
  std::optional<text::Regex> regex;  ///< `pattern` compiled by the loader
  std::string invalid;  ///< a response name ("" = a generic message)
};

struct FormDef {
  std::string name;
  std::vector<std::string> trigger_intents;
  std::vector<FormSlot> slots;
  std::string confirm;     ///< a response name asked once every slot is filled ("" = no confirmation)
  std::vector<std::string> affirm_intents{"affirm"};
  std::vector<std::string> deny_intents{"deny"};
  std::vector<std::string> cancel_intents{"cancel"};
  std::vector<ActionRef> on_submit;  ///< after confirmation (or when filled, without one)
  std::string on_cancel;             ///< a response name
  /// Intents whose rule may run while the form waits for a slot (a question about the hotel in the
  /// middle of a booking); the form's prompt is repeated after. Empty = any intent with a rule.
  std::vector<std::string> digressions;
  bool allow_digressions = true;
};

struct KbDocument {
  std::string id;
  std::string title;
  std::string text;
  std::string source;  ///< the file it came from, relative to the bot file ("" when inline)
};

struct KnowledgeBaseDef {
  bool enabled = false;
  std::string answer_mode = "extractive";  ///< "extractive" | "generative"
  float min_score = 0.0f;
  int top_k = 3;
  std::vector<KbDocument> documents;
  std::string no_answer;  ///< a response name said when QA has no answer ("" = LM fallback or default)
};

struct LmFallbackDef {
  bool enabled = false;
  std::string system_prompt;
  int max_tokens = 64;
  float temperature = 0.0f;
  int history_turns = 3;  ///< earlier turns given to the LM as context
};

struct WebhookDef {
  std::string name;
  std::string url;  ///< http://host:port/path
  std::chrono::milliseconds timeout{2000};
};

struct Thresholds {
  float nlu_fallback = 0.4f;  ///< top intent below this confidence: fallback
  int handoff_after = 0;      ///< consecutive fallbacks before a handoff (0: never)
};

/// How the NLU learns this bot (the bot file's `nlu` section).
struct NluDef {
  /// Fine-tune the encoder for this bot (off | full | lora); DEFAULT: the NLU's nlu.finetune.mode.
  v1::FineTuneMode fine_tune = v1::FINE_TUNE_DEFAULT;
};

/// Builtin responses a bot may override (by declaring a response with this name).
inline constexpr const char* kResponseFallback = "fallback";
inline constexpr const char* kResponseServiceError = "service_error";
inline constexpr const char* kResponseHandoff = "handoff";
inline constexpr const char* kResponseInvalidSlot = "invalid_slot";

/// A loaded, validated bot. Immutable after load; share it by shared_ptr<const Bot>.
struct Bot {
  std::string id;
  std::string name;
  std::string description;
  std::string version;
  std::string source_path;  ///< the YAML file ("" when loaded from text)

  std::vector<SlotDef> slots;
  std::vector<IntentDef> intents;
  std::vector<ResponseDef> responses;
  std::vector<RuleDef> rules;
  std::vector<FormDef> forms;
  std::vector<WebhookDef> webhooks;
  KnowledgeBaseDef knowledge_base;
  LmFallbackDef lm_fallback;
  Thresholds thresholds;
  NluDef nlu;

  const SlotDef* find_slot(std::string_view name) const;
  const IntentDef* find_intent(std::string_view name) const;
  const ResponseDef* find_response(std::string_view name) const;
  const RuleDef* find_rule(std::string_view intent) const;
  const FormDef* find_form(std::string_view name) const;
  const WebhookDef* find_webhook(std::string_view name) const;
  /// The form this intent triggers, or nullptr.
  const FormDef* form_for_intent(std::string_view intent) const;

  /// The NLU training request for this bot (intents, examples with spans, slot definitions, the
  /// fine-tuning it asks for).
  v1::TrainRequest train_request() const;
};

}  // namespace parley::dialog
