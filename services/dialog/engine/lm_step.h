// The LM step of a turn: the Generate request (the bot's system prompt, the last turns of the
// history, the user's text) and what its reply does (a "generated" message; an empty reply falls
// back). Depends on turn.h, lm.proto.
#pragma once

#include <string>

#include "parley/v1/lm.pb.h"
#include "services/dialog/engine/turn.h"

namespace parley::dialog {

/// The Generate request of the bot's lm_fallback for this turn.
v1::GenerateRequest generate_request(const TurnRun& run, const v1::Session& state);

/// Applies the Generate reply (its text_delta holds the whole text). `reason` is the
/// GenerateStep's ("rule" makes the message kind "generated", anything else "generated_fallback").
void apply_generated(TurnRun& run, const TurnScope& scope, const Result<v1::GenerateResponse>& r,
                     const std::string& reason);

}  // namespace parley::dialog
