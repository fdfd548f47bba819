// The dialog orchestrator's own metric families (parley_dialog_*), declared in one place.
// Exists so every component counts into the same families with bounded labels. Depends on
// shared/metrics.
#pragma once

#include <string>

#include "shared/metrics/registry.h"

namespace parley::dialog {

/// Families (all seconds / counts; labels are small fixed sets):
///   parley_dialog_active_sessions                 gauge      sessions with a live actor here
///   parley_dialog_sessions_created_total          counter
///   parley_dialog_turns_in_flight                 gauge      turns started here and not answered yet (autoscaling)
///   parley_dialog_turns_total{outcome}            counter    ok | fallback | handoff | error
///   parley_dialog_stage_duration_seconds{stage}   histogram  nlu | policy | qa | lm | webhook | store | orchestrator | total
///   parley_dialog_fallbacks_total{reason}         counter    low_confidence | out_of_scope | no_rule | no_slot_in_reply | kb_no_answer
///   parley_dialog_service_errors_total{service,code} counter nlu | qa | lm | store
///   parley_dialog_webhook_errors_total{reason}    counter    timeout | connect | http_status | bad_response | not_allowed | cancelled
///   parley_dialog_api_requests_total{code}        counter    HTTP status class of public API answers (2xx, 4xx, ...)
///   parley_dialog_rate_limited_total              counter
///   parley_dialog_bots_loaded                     gauge
///   parley_dialog_auth_failures_total{reason}     counter    missing | unknown_key | locked_out | scope
/// Threading: all members are thread-safe; children are looked up per event (a map lookup),
/// cheap next to a turn.
struct DialogMetrics {
  explicit DialogMetrics(metrics::Registry& registry);

  metrics::Gauge& active_sessions;
  metrics::Counter& sessions_created;
  metrics::Gauge& turns_in_flight;
  metrics::CounterFamily& turns;
  metrics::HistogramFamily& stage_duration;
  metrics::CounterFamily& fallbacks;
  metrics::CounterFamily& service_errors;
  metrics::CounterFamily& webhook_errors;
  metrics::CounterFamily& api_requests;
  metrics::Counter& rate_limited;
  metrics::Gauge& bots_loaded;
  metrics::CounterFamily& auth_failures;
};

}  // namespace parley::dialog
