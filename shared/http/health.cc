// Health and metrics routes (see health.h).
// Why /readyz has a JSON body: operators and tests see *why* a pod is out of rotation, not just 503.
// Depends on server.h, shared/metrics.
#include "shared/http/health.h"

#include <exception>

#include "shared/metrics/text_format.h"

namespace parley::http {

void add_health_routes(Server& server, const metrics::Registry& registry, ReadinessCheck readiness) {
  server.route(Method::kGet, "/metrics", [&registry](const Request&) {
    return Response::text(200, registry.render(), std::string(metrics::kTextContentType));
  });
  server.route(Method::kGet, "/healthz", [](const Request&) { return Response::text(200, "ok\n"); });
  server.route(Method::kGet, "/readyz", [readiness = std::move(readiness)](const Request&) {
    Readiness r;
    if (readiness) {
      try {
        r = readiness();
      } catch (const std::exception& e) {
        r = Readiness{false, std::string("readiness check failed: ") + e.what()};
      } catch (...) {
        r = Readiness{false, "readiness check failed"};
      }
    }
    std::string body = "{\"ready\":";
    body += r.ready ? "true" : "false";
    body += ",\"reason\":";
    append_json_string(body, r.reason);
    body += "}";
    return Response::json(r.ready ? 200 : 503, std::move(body));
  });
}

}  // namespace parley::http
