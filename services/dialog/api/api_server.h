// The public HTTP API of the dialog orchestrator (Boost.Beast via shared/http): bots, sessions,
// text turns (JSON and SSE token streaming), the chat page; bearer API keys, per-key token-bucket
// rate limits, body/field limits. JSON is the proto3 JSON mapping of proto/parley/v1/dialog.proto.
// Depends on shared/http, engine/{sessions,bot_registry,dialog_metrics}.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "services/dialog/api/voice_gateway.h"
#include "services/dialog/engine/bot_registry.h"
#include "services/dialog/engine/dialog_metrics.h"
#include "services/dialog/engine/sessions.h"
#include "shared/http/server.h"

namespace parley::dialog {

struct ApiOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  int threads = 2;
  /// Bearer keys; empty = no authentication.
  std::vector<std::string> api_keys;
  /// Requests per second per key (per client address without keys); 0 = unlimited.
  double rate_limit_rps = 0;
  double rate_limit_burst = 20;
  std::size_t max_body_bytes = 1 << 20;   ///< bot YAML uploads; other bodies are smaller:
  std::size_t max_json_bytes = 64 << 10;  ///< JSON request bodies
  std::size_t max_text_bytes = 4096;      ///< a turn's text
  std::size_t max_metadata_entries = 32;
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

/// Routes (see services/dialog/openapi.yaml for the contract):
///   GET    /v1/bots                       ListBotsResponse
///   GET    /v1/bots/{bot}                 Bot
///   PUT    /v1/bots/{bot}                 YAML body -> Bot (201 new, 200 replaced; 400 lists errors)
///   POST   /v1/bots/{bot}:reload          Bot (reloaded from its file)
///   POST   /v1/bots/{bot}/sessions        CreateSessionRequest (optional) -> Session, 201
///   GET    /v1/sessions/{id}              Session
///   DELETE /v1/sessions/{id}              204
///   POST   /v1/sessions/{id}/turns        TurnRequest -> TurnResponse
///   POST   /v1/sessions/{id}/turns:stream TurnRequest -> text/event-stream: "token" events
///                                         ({"text":...}), then one "turn" (TurnResponse) or "error"
///   GET    /v1/sessions/{id}/voice        WebSocket: a live voice session (voice_socket.h); the
///                                         key may come as ?access_token= (browsers cannot set
///                                         headers on a WebSocket)
///   GET    /  and  /static/{file}         the chat page (no auth)
///
/// Threading: register_routes() before the server starts; handlers never block an I/O thread
/// (turns complete asynchronously; bot loading runs on its own thread).
class ApiServer {
 public:
  /// `voice` may be null: the voice route then answers 503 (speech is not configured).
  ApiServer(ApiOptions options, SessionManager& sessions, BotRegistry& bots, DialogMetrics* metrics,
            VoiceGateway* voice = nullptr);
  ~ApiServer();

  Status start();
  void stop();
  std::uint16_t port() const { return server_.port(); }

 private:
  void register_routes();
  /// Auth + rate limit; a response when the request must be refused. `query_token`: the key may
  /// also come as ?access_token= (WebSocket upgrades from browsers).
  std::optional<http::Response> admit(const http::Request& req, bool query_token = false);
  http::Response counted(http::Response r);

  ApiOptions options_;
  SessionManager& sessions_;
  BotRegistry& bots_;
  DialogMetrics* metrics_;
  VoiceGateway* voice_;
  RateLimiter limiter_;
  http::Server server_;
};

}  // namespace parley::dialog
