// Declarations of the standard families: the one place their names, labels and units live.
// Why here and not in the service host: tools, tests and the dialog gateway export some of them
// too, and promtool checks this list as a whole. Depends on registry, shared/common (bug_count).
#include "shared/metrics/standard_metrics.h"

#include "shared/common/check.h"

#ifndef PARLEY_VERSION
#define PARLEY_VERSION "unknown"
#endif

namespace parley::metrics {

std::string_view build_version() { return PARLEY_VERSION; }

void register_build_info(Registry& registry, std::string_view service, std::string_view version) {
  registry
      .gauge("parley_build_info", "Always 1; labels carry the Parley version and the service name.",
             {"version", "service"})
      .labels({version, service})
      .set(1);
}

StandardMetrics::StandardMetrics(Registry& r)
    : requests_total(r.counter("parley_requests_total",
                               "Requests answered, by service, method and status code name.",
                               {"service", "method", "code"})),
      request_duration_seconds(r.histogram(
          "parley_request_duration_seconds",
          "Time from a request's arrival at the service to its reply (or last stream message), in seconds.",
          {"service", "method"})),
      queue_duration_seconds(r.histogram("parley_queue_duration_seconds",
                                         "Time a request waited in the service's queue before work began, in seconds.",
                                         {"service", "method"})),
      in_flight_requests(r.gauge("parley_in_flight_requests",
                                 "Requests accepted and not yet answered (queued or running).", {"service"})),
      queue_depth(r.gauge("parley_queue_depth", "Requests waiting in the service's queue.", {"service"})),
      queue_capacity(r.gauge("parley_queue_capacity",
                             "Requests the service's queue holds before it rejects new ones.", {"service"})),
      mailbox_rejected_total(r.counter("parley_mailbox_rejected_total",
                                       "Messages rejected because an actor's mailbox was full.", {"service"})),
      transport_malformed_total(r.counter("parley_transport_malformed_total",
                                          "Messages from the wire dropped because they could not be parsed.",
                                          {"service"})),
      transport_send_failures_total(r.counter("parley_transport_send_failures_total",
                                              "Messages the transport failed to send, by reason.",
                                              {"service", "reason"})),
      bugs_total(r.counter("parley_bugs_total",
                           "Internal errors that should not happen (PARLEY_BUG); each was logged and survived.")),
      ready(r.gauge("parley_ready", "1 when the service reports ready (as /readyz), else 0.", {"service"})) {
  bugs_total.labels().set_function([] { return static_cast<double>(parley::bug_count()); });
}

ServiceMetrics::ServiceMetrics(StandardMetrics& standard, std::string service)
    : standard_(standard),
      service_(std::move(service)),
      in_flight_requests(standard.in_flight_requests.labels({service_})),
      queue_depth(standard.queue_depth.labels({service_})),
      queue_capacity(standard.queue_capacity.labels({service_})),
      mailbox_rejected(standard.mailbox_rejected_total.labels({service_})),
      transport_malformed(standard.transport_malformed_total.labels({service_})),
      ready(standard.ready.labels({service_})) {}

Counter& ServiceMetrics::requests(std::string_view method, std::string_view code) {
  return standard_.requests_total.labels({service_, method, code});
}

Histogram& ServiceMetrics::request_duration(std::string_view method) {
  return standard_.request_duration_seconds.labels({service_, method});
}

Histogram& ServiceMetrics::queue_duration(std::string_view method) {
  return standard_.queue_duration_seconds.labels({service_, method});
}

Counter& ServiceMetrics::send_failures(std::string_view reason) {
  return standard_.transport_send_failures_total.labels({service_, reason});
}

}  // namespace parley::metrics
