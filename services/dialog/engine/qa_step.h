// The knowledge-base step of a turn: the QA Answer request for the user's question, and what its
// reply does (an "answer" message with its sources; no answer: the bot's no_answer response, the
// LM fallback, or the builtin one). Depends on turn.h, qa.proto.
#pragma once

#include "parley/v1/qa.pb.h"
#include "services/dialog/engine/turn.h"

namespace parley::dialog {

/// The Answer request over the bot's knowledge base.
v1::AnswerRequest answer_request(const TurnRun& run);

/// Applies the Answer reply. When the KB has no answer and the bot has an LM fallback, a
/// GenerateStep is inserted as the next step of the turn.
void apply_answer(TurnRun& run, const TurnScope& scope, const Result<v1::AnswerResponse>& answer);

}  // namespace parley::dialog
