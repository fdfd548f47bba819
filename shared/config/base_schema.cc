// The common service keys (see base_schema.h).
// Why here and not in the service host: tools and tests build the same schema to start services.
// Depends on schema.h.
#include "shared/config/base_schema.h"

#include <chrono>
#include <utility>

namespace parley::config {
namespace {

// ZeroMQ endpoints we bind; anything else fails later inside zmq_bind with a vaguer message.
Validator zmq_endpoint() {
  return Validator{
      [](const Value& v) -> std::optional<std::string> {
        const auto* s = std::get_if<std::string>(&v);
        if (s == nullptr) return std::nullopt;
        for (const char* scheme : {"tcp://", "ipc://", "inproc://"}) {
          if (s->rfind(scheme, 0) == 0 && s->size() > std::string_view(scheme).size()) {
            return std::nullopt;
          }
        }
        return "must be a ZeroMQ endpoint (tcp://HOST:PORT, ipc://PATH or inproc://NAME), got '" +
               *s + "'";
      },
      "tcp://HOST:PORT | ipc://PATH | inproc://NAME"};
}

}  // namespace

Schema service_base_schema(std::string program, std::string description) {
  using std::chrono::minutes;
  using std::chrono::seconds;
  Schema s(std::move(program), std::move(description));
  s.add_string("transport.bind", "tcp://127.0.0.1:7100",
               "ZeroMQ endpoint the service's ROUTER socket binds (port 0 or * picks a free one).",
               zmq_endpoint());
  s.add_string("http.address", "127.0.0.1",
               "Address of the HTTP server for /metrics, /healthz and /readyz (0.0.0.0 in a pod).",
               non_empty());
  s.add_int("http.port", 9100,
            "Port of the HTTP server for /metrics, /healthz, /readyz; 0 picks a free one.",
            int_range(0, 65535));
  s.add_int("service.workers", 2, "Number of worker actors that run the engine.",
            int_range(1, 1024));
  s.add_int("service.queue_capacity", 1024,
            "Requests that may wait in the service's bounded queue before it reports backpressure.",
            int_range(1, 1'000'000));
  s.add_duration("service.drain_grace", seconds(10),
                 "On SIGTERM: how long in-flight work may finish before the process exits.",
                 duration_range(Duration::zero(), minutes(10)));
  s.add_string("log.level", "info", "Lowest log level written.",
               one_of({"debug", "info", "warn", "error", "off"}));
  s.add_bool("log.json", false, "Write JSON log lines (for log shippers) instead of plain text.");
  // CURVE (ZeroMQ encryption + authentication). Secrets come from the environment
  // (PARLEY_TRANSPORT_CURVE_SECRET_KEY, ...) or from files, so a Kubernetes Secret can hold them.
  s.add_string("transport.curve_secret_key", "",
               "CURVE: this service's server secret key (Z85, 40 characters); set = every ZeroMQ socket it "
               "binds requires CURVE. Prefer the environment (PARLEY_TRANSPORT_CURVE_SECRET_KEY) or a file.");
  s.add_string("transport.curve_key_file", "",
               "CURVE: file with this service's server keypair (public=/secret= lines, `parley keygen`)");
  s.add_list("transport.curve_clients", {},
             "CURVE: public keys (Z85) of the clients allowed to connect; required with a server key");
  s.add_string("transport.curve_clients_file", "",
               "CURVE: file with allowed client public keys (one per line, or public= lines), or a directory "
               "of key files (a mounted Secret)");
  s.add_string("transport.curve_server_key", "",
               "CURVE: public key (Z85) of the services this process calls (one deployment key); set = its "
               "clients use CURVE");
  s.add_string("transport.curve_server_key_file", "", "CURVE: key file holding the called services' public key");
  s.add_string("transport.curve_client_secret_key", "",
               "CURVE: this process's client secret key (Z85) for the services it calls (its public key must be "
               "in their transport.curve_clients). Prefer PARLEY_TRANSPORT_CURVE_CLIENT_SECRET_KEY or a file.");
  s.add_string("transport.curve_client_key_file", "", "CURVE: file with this process's client keypair");
  return s;
}

}  // namespace parley::config
