// Helpers shared by the turn's steps (see turn.h).
// Depends on turn.h, policy.h (render_response), shared/common/log.h.
#include "services/dialog/engine/turn.h"

#include <algorithm>

#include "shared/common/log.h"

namespace parley::dialog {

void add_timing(v1::TurnResponse& response, const std::string& stage, std::chrono::microseconds d) {
  auto* t = response.add_timings();
  t->set_stage(stage);
  t->set_duration_us(d.count());
}

void observe_stage(DialogMetrics* metrics, const std::string& stage, std::chrono::microseconds d) {
  if (metrics) metrics->stage_duration.labels({stage}).observe(std::chrono::duration<double>(d).count());
}

void count_service_error(DialogMetrics* metrics, const std::string& service, const Status& status) {
  if (metrics) metrics->service_errors.labels({service, status_code_name(status.code())}).inc();
}

void record_call(TurnRun& run, DialogMetrics* metrics, const std::string& stage, const CallInfo& info) {
  add_timing(run.response, stage, info.round_trip);
  if (info.service_time.count() > 0) add_timing(run.response, stage + ".service", info.service_time);
  observe_stage(metrics, stage, info.round_trip);
  run.waited += info.round_trip;
}

void say(TurnRun& run, const v1::Session& state, const std::string& response, const std::string& kind) {
  auto* m = run.response.add_messages();
  m->set_text(render_response(*run.bot, response, state, state.turns()));
  m->set_kind(kind);
}

void service_failed(TurnRun& run, const TurnScope& scope, const std::string& service, const Status& status) {
  run.error = true;
  auto* err = run.response.add_errors();
  err->set_code(static_cast<v1::Status::Code>(static_cast<int>(status.code())));
  err->set_message(service + ": " + status.message());
  auto* e = run.response.add_events();
  e->set_type("error");
  e->set_name(service);
  e->set_value(std::string(status_code_name(status.code())));
  e->set_detail(status.message());
  count_service_error(scope.metrics, service, status);
  say(run, scope.state, kResponseServiceError, "error");
  PARLEY_LOG_EVERY_MS(kWarn, 1000).kv("session", scope.session_id).kv("service", service).kv("status", status.to_string())
      << "service call failed during a turn; answered with a fallback";
}

CallMeta call_meta(const TurnRun& run, const std::string& session_id, std::chrono::milliseconds timeout) {
  return CallMeta{session_id, "", std::min(run.deadline, std::chrono::steady_clock::now() + timeout), run.cancel};
}

}  // namespace parley::dialog
