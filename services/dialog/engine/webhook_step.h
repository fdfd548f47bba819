// The action-webhook step of a turn: the Rasa-style request body (tracker with slots, the latest
// message with intent and entities, the active loop) and what the reply does (slot events,
// responses). Depends on turn.h, protobuf's JSON/Struct utilities (in the .cc).
#pragma once

#include <string>

#include "services/dialog/engine/turn.h"

namespace parley::dialog {

/// The request body of a Rasa action server: next_action, sender_id, tracker (slots, latest
/// message with intent and entities, active loop), domain.
std::string webhook_body(const TurnRun& run, const TurnScope& scope, const std::string& action);

/// Applies a Rasa-style reply {"events":[{"event":"slot","name":..,"value":..}],
/// "responses":[{"text":..}]}: slots the bot declares are set or cleared in the state, responses
/// become messages. A failure or a body that is not a JSON object answers with the service-error
/// reply (and counts parley_dialog_webhook_errors_total by reason).
void apply_webhook_reply(TurnRun& run, const TurnScope& scope, const Result<std::string>& reply, const std::string& action);

}  // namespace parley::dialog
