// The NLU step of a turn: the Parse request for the user's text, and what its reply does to the
// turn (intent and slots into the response; a failure answers with the service-error reply and,
// when the NLU forgot the bot, asks for a retrain). Depends on turn.h, nlu.proto.
#pragma once

#include <functional>
#include <string>

#include "parley/v1/nlu.pb.h"
#include "services/dialog/engine/turn.h"

namespace parley::dialog {

/// The Parse request of the turn (the slot the bot asked for is the expected one).
v1::ParseRequest parse_request(const TurnRun& run, const v1::Session& state);

/// Applies the Parse reply: timings, then intent and slots into the response. Returns false when
/// the NLU failed (the turn then answers with the service-error reply and does not run the
/// policy); `bot_needs_sync` (may be empty) is told when the NLU does not know the bot.
bool apply_parse(TurnRun& run, const TurnScope& scope, const Result<v1::ParseResponse>& parse, const CallInfo& info,
                 const std::function<void(const std::string& bot_id)>& bot_needs_sync);

}  // namespace parley::dialog
