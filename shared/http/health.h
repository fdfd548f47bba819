// /metrics, /healthz and /readyz on a Server: what Prometheus scrapes and Kubernetes probes.
// Exists so every process wires them the same way (content type, status codes, body shape).
// Depends on server.h, shared/metrics.
#pragma once

#include <functional>
#include <string>

#include "shared/http/server.h"
#include "shared/metrics/registry.h"

namespace parley::http {

/// What /readyz reports. `reason` says why not ready ("draining", "model not loaded",
/// "nlu unreachable"); it may also annotate a ready state.
struct Readiness {
  bool ready = true;
  std::string reason;
};

/// Called on an I/O thread for every /readyz: must be quick and thread-safe (read atomics).
using ReadinessCheck = std::function<Readiness()>;

/// Adds, before server.start():
///   GET /metrics  200, registry.render(), Content-Type "text/plain; version=0.0.4; charset=utf-8"
///   GET /healthz  200 "ok" while the process can serve HTTP at all (liveness)
///   GET /readyz   200 {"ready":true,"reason":""} or 503 {"ready":false,"reason":"draining"};
///                 a readiness check that throws reads as not ready.
/// HEAD works on all three. `registry` must outlive the server; `readiness` may be empty
/// (always ready).
void add_health_routes(Server& server, const metrics::Registry& registry, ReadinessCheck readiness);

}  // namespace parley::http
