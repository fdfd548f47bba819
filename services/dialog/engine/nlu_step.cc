// The NLU step (see nlu_step.h). Depends on nlu_step.h.
#include "services/dialog/engine/nlu_step.h"

namespace parley::dialog {

v1::ParseRequest parse_request(const TurnRun& run, const v1::Session& state) {
  v1::ParseRequest req;
  req.set_bot_id(run.bot->id);
  req.set_text(run.input.text);
  req.set_expected_slot(state.requested_slot());
  return req;
}

bool apply_parse(TurnRun& run, const TurnScope& scope, const Result<v1::ParseResponse>& parse, const CallInfo& info,
                 const std::function<void(const std::string& bot_id)>& bot_needs_sync) {
  record_call(run, scope.metrics, "nlu", info);
  if (!parse.ok()) {
    service_failed(run, scope, "nlu", parse.status());
    const auto code = parse.status().code();
    if ((code == StatusCode::kNotFound || code == StatusCode::kFailedPrecondition) && bot_needs_sync) {
      bot_needs_sync(run.bot->id);
    }
    return false;
  }
  if (parse->intents_size() > 0) *run.response.mutable_intent() = parse->intents(0);
  run.response.set_nlu_model(parse->model());
  for (const auto& s : parse->slots()) *run.response.add_slots() = s;
  return true;
}

}  // namespace parley::dialog
