// Declarations of the parley_dialog_* families (see dialog_metrics.h for the list).
// Depends on dialog_metrics.h.
#include "services/dialog/engine/dialog_metrics.h"

namespace parley::dialog {
namespace {

std::vector<double> stage_buckets() {
  // 50 us .. ~13 s: the orchestrator's own overhead is sub-millisecond, LM stages are seconds.
  return metrics::exponential_buckets(0.00005, 2.0, 19);
}

}  // namespace

DialogMetrics::DialogMetrics(metrics::Registry& r)
    : active_sessions(r.gauge("parley_dialog_active_sessions", "Sessions with a live actor in this replica.").labels()),
      sessions_created(r.counter("parley_dialog_sessions_created_total", "Sessions created.").labels()),
      turns_in_flight(r.gauge("parley_dialog_turns_in_flight",
                              "Turns started in this replica and not answered yet (the dialog's autoscaling signal).")
                          .labels()),
      turns(r.counter("parley_dialog_turns_total", "Turns answered, by outcome (ok, fallback, handoff, error).", {"outcome"})),
      stage_duration(r.histogram("parley_dialog_stage_duration_seconds",
                                 "Time per turn stage in seconds (nlu, policy, qa, lm, webhook, store; orchestrator = "
                                 "total minus service round trips; total).",
                                 {"stage"}, stage_buckets())),
      fallbacks(r.counter("parley_dialog_fallbacks_total", "Fallback turns, by reason.", {"reason"})),
      service_errors(r.counter("parley_dialog_service_errors_total",
                               "Failed calls to a service during a turn, by service and status code.", {"service", "code"})),
      webhook_errors(r.counter("parley_dialog_webhook_errors_total", "Failed action webhook calls, by reason.", {"reason"})),
      api_requests(r.counter("parley_dialog_api_requests_total", "Public API responses, by HTTP status class.", {"code"})),
      rate_limited(r.counter("parley_dialog_rate_limited_total", "Public API requests refused by the rate limit (429).").labels()),
      bots_loaded(r.gauge("parley_dialog_bots_loaded", "Bots loaded.").labels()),
      auth_failures(r.counter("parley_dialog_auth_failures_total",
                              "Public API requests refused by authentication or scope, by reason.", {"reason"})) {}

}  // namespace parley::dialog
