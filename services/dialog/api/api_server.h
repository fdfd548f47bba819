// The public HTTP API of the dialog orchestrator (Boost.Beast via shared/http): bots, sessions,
// text turns (JSON and SSE token streaming), the voice WebSocket, the chat page; bearer API keys
// with scopes and tenants, a per-address limit on failed keys, per-key token-bucket rate limits,
// body/field limits, bounded bot-loading work. JSON is the proto3 JSON mapping of
// proto/parley/v1/dialog.proto. Depends on shared/http, engine/{sessions,bot_registry,dialog_metrics}.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "services/dialog/api/api_keys.h"
#include "services/dialog/api/voice_gateway.h"
#include "services/dialog/engine/bot_registry.h"
#include "services/dialog/engine/dialog_metrics.h"
#include "services/dialog/engine/sessions.h"
#include "shared/actor/executor.h"
#include "shared/http/server.h"

namespace parley::dialog {

struct ApiOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  int threads = 2;
  /// Bearer keys (api_keys.h). Empty: no authentication — every caller is one tenant ("") with
  /// every scope, and the server then binds loopback only (see ApiServer::start).
  std::vector<ApiKey> keys;
  /// Without keys, serve a non-loopback api.address anyway (behind an authenticating proxy).
  bool allow_unauthenticated_remote = false;
  /// Requests per second per API key (per client address without keys); 0 = unlimited.
  double rate_limit_rps = 0;
  double rate_limit_burst = 20;
  /// Failed key attempts per client address before it is refused (429) for the window.
  int max_failed_auth = 10;
  std::chrono::milliseconds failed_auth_window{60'000};
  std::size_t max_body_bytes = 1 << 20;   ///< bot YAML uploads; other bodies are smaller:
  std::size_t max_json_bytes = 64 << 10;  ///< JSON request bodies
  std::size_t max_text_chars = 4096;      ///< a turn's text, in characters (the OpenAPI maxLength)
  std::size_t max_metadata_entries = 32;
  /// Bot uploads/reloads/deletes run on one thread of their own (training takes seconds); this
  /// many may wait behind the running one, more are answered 503 with Retry-After.
  std::size_t max_pending_bot_jobs = 4;
  /// GET /v1/bots/{bot} waits this long for the NLU's fine-tuning status, then answers without
  /// it (nluFineTuneError says the NLU did not answer).
  std::chrono::milliseconds status_timeout{2'000};
  /// Connection limits of the HTTP server (shared/http ServerOptions).
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_address = 64;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds idle_timeout{15'000};
};

/// Token buckets by key. Thread-safe.
class RateLimiter {
 public:
  RateLimiter(double rate_per_s, double burst) : rate_(rate_per_s), burst_(burst) {}
  /// True when a request may pass now; false: answer 429.
  bool allow(const std::string& key, std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point last;
  };
  double rate_, burst_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;  // guarded by mu_
};

/// Routes (see services/dialog/openapi.yaml for the contract), with the scope each needs:
///   GET    /v1/bots                       ListBotsResponse                          admin|client
///   GET    /v1/bots/{bot}                 Bot                                       admin|client
///   PUT    /v1/bots/{bot}                 YAML body -> Bot (201 new, 200 replaced)  admin
///   DELETE /v1/bots/{bot}                 204                                       admin
///   POST   /v1/bots/{bot}:reload          Bot (reloaded from its file)              admin
///   POST   /v1/bots/{bot}/sessions        CreateSessionRequest (optional) -> Session, 201   client
///   GET    /v1/sessions/{id}              Session                                   client
///   DELETE /v1/sessions/{id}              204                                       client
///   POST   /v1/sessions/{id}/turns        TurnRequest -> TurnResponse               client
///   POST   /v1/sessions/{id}/turns:stream TurnRequest -> text/event-stream: "token" events
///                                         ({"text":...}), then one "turn" (TurnResponse) or "error"
///   GET    /v1/sessions/{id}/voice        WebSocket: a live voice session (voice_socket.h); the
///                                         key may come as ?access_token=        client
///   GET    /  and  /static/{file}         the chat page (no auth)
/// Sessions belong to the tenant whose key created them: other tenants get 404. A client that
/// disconnects before its turn answered (plain or SSE) interrupts the turn: its LM generation and
/// every other call it started are cancelled.
///
/// Threading: register_routes() before the server starts; handlers never block an I/O thread
/// (turns complete asynchronously; bot loading runs on the bot-job thread).
class ApiServer {
 public:
  /// `voice` may be null: the voice route then answers 503 (speech is not configured).
  ApiServer(ApiOptions options, SessionManager& sessions, BotRegistry& bots, DialogMetrics* metrics,
            VoiceGateway* voice = nullptr);
  ~ApiServer();

  /// Starts serving. Without keys on a non-loopback address (and !allow_unauthenticated_remote)
  /// it binds 127.0.0.1 instead and logs why.
  Status start();
  /// Graceful: stops accepting connections, lets in-flight requests (turns waiting on the LM)
  /// finish up to `grace`, then cuts what is left. parley-dialog passes the host's drain
  /// deadline (service.drain_grace), so a scale-down does not cut turns.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(2));
  std::uint16_t port() const { return server_->port(); }
  /// The address actually bound (after start()).
  const std::string& host() const { return options_.host; }

 private:
  enum class Scope { kRead, kAdmin, kClient };
  void register_routes();
  /// Auth (key, scope), failed-key limit, rate limit; a response when the request must be
  /// refused, else the caller. `query_token`: the key may also come as ?access_token=
  /// (WebSocket upgrades from browsers).
  std::optional<http::Response> admit(const http::Request& req, Scope scope, Caller& caller, bool query_token = false);
  http::Response counted(http::Response r);
  /// Runs `job` on the bot-job thread, or answers 503 when too many wait.
  void run_bot_job(const std::shared_ptr<http::ResponseWriter>& w, std::function<http::Response()> job);

  ApiOptions options_;
  SessionManager& sessions_;
  BotRegistry& bots_;
  DialogMetrics* metrics_;
  VoiceGateway* voice_;
  RateLimiter limiter_;
  FailedAuthLimiter failed_auth_;
  std::atomic<std::size_t> bot_jobs_{0};
  actor::ThreadPoolExecutor bot_job_thread_{1, "bot-jobs"};
  std::unique_ptr<http::Server> server_;
};

}  // namespace parley::dialog
