// The persistence step (see persistence.h). Depends on persistence.h.
#include "services/dialog/engine/persistence.h"

#include <algorithm>

namespace parley::dialog {
namespace {

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Status adopt_stored(std::optional<v1::Session>& state, const Result<store::Entry>& stored, const std::string& session_id) {
  if (!stored.ok()) {
    if (stored.status().code() == StatusCode::kNotFound) {
      state.reset();
      return not_found("session '" + session_id + "' not found (deleted or expired)");
    }
    return unavailable("session store: " + stored.status().message());
  }
  if (!state || state->version() != stored->version) {
    v1::Session s;
    if (!s.ParseFromString(stored->value)) {
      return data_loss("session '" + session_id + "' is corrupt in the store");
    }
    s.set_version(stored->version);
    state = std::move(s);
  }
  return Status::ok();
}

void record_turn(v1::Session& s, const TurnRun& run, int max_history) {
  if (run.error && run.decision.steps.empty()) {
    // The NLU failed: the policy did not run; keep the state exactly as it was.
    const auto version = s.version();
    s = run.before;
    s.set_version(version);
  }
  s.set_turns(s.turns() + 1);
  s.set_updated_at_unix_ms(unix_ms());
  auto* t = s.add_history();
  t->set_user_text(run.input.text);
  t->set_at_unix_ms(s.updated_at_unix_ms());
  t->set_intent(run.response.intent().name());
  t->set_interrupted(run.interrupted);
  for (const auto& m : run.response.messages()) *t->add_messages() = m;
  if (s.history_size() > max_history) {
    s.mutable_history()->DeleteSubrange(0, s.history_size() - max_history);
  }
}

std::string stored_value(const v1::Session& state) {
  v1::Session to_store = state;
  to_store.clear_version();
  return to_store.SerializeAsString();
}

void complete_response(TurnRun& run, const v1::Session& s, DialogMetrics* metrics) {
  using std::chrono::microseconds;
  const std::string outcome = run.error ? "error" : run.decision.outcome;
  run.response.set_outcome(outcome);
  run.response.set_active_form(s.active_form());
  run.response.set_requested_slot(s.requested_slot());
  run.response.set_turn(s.turns());
  for (const auto& [k, v] : s.slots()) (*run.response.mutable_session_slots())[k] = v;
  const auto total = std::chrono::duration_cast<microseconds>(std::chrono::steady_clock::now() - run.start);
  const auto own = std::max(microseconds(0), total - run.waited);
  add_timing(run.response, "orchestrator", own);
  add_timing(run.response, "total", total);
  observe_stage(metrics, "orchestrator", own);
  observe_stage(metrics, "total", total);
  if (metrics) metrics->turns.labels({outcome}).inc();
}

}  // namespace parley::dialog
