// The Parley standard metric families, declared once with units and help text.
// Exists so every service exports the same names (dashboards, HPA rules and alerts depend on
// them) and a rename happens in one place. Services add their own families beside these.
// Depends on registry.
#pragma once

#include <string>
#include <string_view>

#include "shared/metrics/registry.h"

namespace parley::metrics {

/// The project version compiled into this library (CMake's PROJECT_VERSION), e.g. "0.1.0".
std::string_view build_version();

/// Registers `parley_build_info{version,service} 1`. Idempotent per (version, service).
void register_build_info(Registry& registry, std::string_view service,
                         std::string_view version = build_version());

/// The families every Parley process exports (names, label names, units, help: see the .cc and
/// the README table). Constructing it registers them on `registry` (CHECK-fails only if something
/// else registered one of these names with another type or labels); constructing a second one
/// on the same registry returns the same families. Holds references into `registry`, which
/// must outlive it. Thread-safe like the families themselves.
///
///   Registry registry;
///   StandardMetrics standard(registry);
///   register_process_metrics(registry);
///   register_build_info(registry, "echo");
///   ServiceMetrics echo(standard, "echo");        // children for service="echo"
///   echo.in_flight_requests.inc();
///   echo.requests("parley.v1.Echo/Echo", "OK").inc();
struct StandardMetrics {
  explicit StandardMetrics(Registry& registry);

  CounterFamily& requests_total;                 ///< parley_requests_total{service,method,code}
  HistogramFamily& request_duration_seconds;     ///< parley_request_duration_seconds{service,method}
  HistogramFamily& queue_duration_seconds;       ///< parley_queue_duration_seconds{service,method}
  GaugeFamily& in_flight_requests;               ///< parley_in_flight_requests{service}
  GaugeFamily& queue_depth;                      ///< parley_queue_depth{service}
  GaugeFamily& queue_capacity;                   ///< parley_queue_capacity{service}
  CounterFamily& mailbox_rejected_total;         ///< parley_mailbox_rejected_total{service}
  CounterFamily& transport_malformed_total;      ///< parley_transport_malformed_total{service}
  CounterFamily& transport_send_failures_total;  ///< parley_transport_send_failures_total{service,reason}
  CounterFamily& bugs_total;                     ///< parley_bugs_total (reads parley::bug_count())
  GaugeFamily& ready;                            ///< parley_ready{service}: 1 ready, 0 not
};

/// The standard children for one `service` label value, looked up once. The single-label ones
/// are plain references (use them on hot paths directly); per-method ones are looked up per
/// call (a shared lock and a map lookup): cache the returned reference per method when hot.
class ServiceMetrics {
 public:
  ServiceMetrics(StandardMetrics& standard, std::string service);

  const std::string& service() const { return service_; }

  /// `code` is the status_code_name() of the reply ("OK", "DEADLINE_EXCEEDED", ...).
  Counter& requests(std::string_view method, std::string_view code);
  Histogram& request_duration(std::string_view method);
  Histogram& queue_duration(std::string_view method);
  /// `reason`: a short fixed word ("hwm", "host_unreachable", ...), never free text.
  Counter& send_failures(std::string_view reason);

 private:
  StandardMetrics& standard_;
  std::string service_;

 public:
  Gauge& in_flight_requests;
  Gauge& queue_depth;
  Gauge& queue_capacity;
  Counter& mailbox_rejected;
  Counter& transport_malformed;
  Gauge& ready;
};

}  // namespace parley::metrics
