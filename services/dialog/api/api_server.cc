// The public HTTP API (see api_server.h): request checks, proto3 JSON in and out, routes.
// Depends on api_server.h, web_assets.h, protobuf JSON utilities.
#include "services/dialog/api/api_server.h"

#include <google/protobuf/util/json_util.h>

#include <thread>

#include "services/dialog/api/voice_socket.h"
#include "services/dialog/api/web_assets.h"
#include "shared/common/log.h"

namespace parley::dialog {
namespace {

using http::Method;
using http::Request;
using http::Response;
using http::ResponseWriter;

constexpr const char* kFallbackPage =
    "<!doctype html><html><head><meta charset=utf-8><title>Parley</title></head><body>"
    "<h1>Parley dialog</h1><p>The chat page was not built into this binary (services/dialog/web/ was empty at "
    "build time). The API is at <code>/v1/bots</code>; see services/dialog/openapi.yaml.</p></body></html>";

std::string to_json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.always_print_primitive_fields = true;
  std::string out;
  auto s = google::protobuf::util::MessageToJsonString(m, &out, o);
  if (!s.ok()) return "{}";
  return out;
}

Response json(int status, const google::protobuf::Message& m) { return Response::json(status, to_json(m)); }

/// Parses a JSON body into `out`; an empty body is the empty message. A 4xx response on failure.
std::optional<Response> parse_body(const Request& req, google::protobuf::Message& out, std::size_t max_bytes) {
  if (req.body.size() > max_bytes) {
    return http::json_error(413, http::kPayloadTooLarge,
                            "JSON body is " + std::to_string(req.body.size()) + " bytes; the limit is " +
                                std::to_string(max_bytes));
  }
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) return std::nullopt;
  // Content-Type is not enforced: `curl -d '{"text":"hi"}'` sends form-urlencoded; the body decides.
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = false;
  auto s = google::protobuf::util::JsonStringToMessage(req.body, &out, o);
  if (!s.ok()) {
    return http::json_error(400, "INVALID_ARGUMENT",
                            "body is not a valid " + out.GetDescriptor()->name() + ": " + std::string(s.message()));
  }
  return std::nullopt;
}

std::string status_class(int status) { return std::to_string(status / 100) + "xx"; }

/// "demo:reload" -> {"demo", "reload"}.
std::pair<std::string, std::string> split_verb(std::string_view param) {
  auto colon = param.rfind(':');
  if (colon == std::string_view::npos) return {std::string(param), ""};
  return {std::string(param.substr(0, colon)), std::string(param.substr(colon + 1))};
}

bool valid_id(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return true;
}

}  // namespace

bool RateLimiter::allow(const std::string& key, std::chrono::steady_clock::time_point now) {
  if (rate_ <= 0) return true;
  std::lock_guard lock(mu_);
  if (buckets_.size() > 100000) buckets_.clear();  // bounded memory under a flood of addresses
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  if (!fresh) {
    const double elapsed = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
    b.last = now;
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

ApiServer::ApiServer(ApiOptions options, SessionManager& sessions, BotRegistry& bots, DialogMetrics* metrics,
                     VoiceGateway* voice)
    : options_(std::move(options)),
      sessions_(sessions),
      bots_(bots),
      metrics_(metrics),
      voice_(voice),
      limiter_(options_.rate_limit_rps, options_.rate_limit_burst),
      server_(http::ServerOptions{.host = options_.host,
                                  .port = options_.port,
                                  .threads = options_.threads,
                                  .max_body_bytes = options_.max_body_bytes,
                                  .server_header = "parley-dialog"}) {
  register_routes();
}

ApiServer::~ApiServer() { stop(); }

Status ApiServer::start() { return server_.start(); }
void ApiServer::stop() { server_.stop(std::chrono::seconds(2)); }

Response ApiServer::counted(Response r) {
  if (metrics_) metrics_->api_requests.labels({status_class(r.status)}).inc();
  return r;
}

std::optional<Response> ApiServer::admit(const Request& req, bool query_token) {
  std::string key;
  if (!options_.api_keys.empty()) {
    auto auth = req.headers.get("authorization");
    const std::string_view prefix = "Bearer ";
    std::optional<std::string> token;
    if (query_token) token = req.query_param("access_token");
    if (!token && (!auth || auth->substr(0, prefix.size()) != prefix)) {
      Response r = http::json_error(401, "UNAUTHENTICATED",
                                    query_token ? "missing 'Authorization: Bearer <api key>' header or ?access_token="
                                                : "missing 'Authorization: Bearer <api key>' header");
      r.headers.set("WWW-Authenticate", "Bearer");
      return counted(std::move(r));
    }
    key = token ? *token : std::string(auth->substr(prefix.size()));
    if (std::find(options_.api_keys.begin(), options_.api_keys.end(), key) == options_.api_keys.end()) {
      Response r = http::json_error(401, "UNAUTHENTICATED", "unknown API key");
      r.headers.set("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      return counted(std::move(r));
    }
  } else {
    key = req.remote_address.substr(0, req.remote_address.rfind(':'));
  }
  if (!limiter_.allow(key)) {
    if (metrics_) metrics_->rate_limited.inc();
    Response r = http::json_error(429, "RESOURCE_EXHAUSTED",
                                  "rate limit of " + std::to_string(options_.rate_limit_rps) +
                                      " requests/s exceeded; retry shortly");
    r.headers.set("Retry-After", "1");
    return counted(std::move(r));
  }
  return std::nullopt;
}

void ApiServer::register_routes() {
  // --- the chat page ---
  server_.route(Method::kGet, "/", [this](const Request&) {
    std::size_t n = 0;
    const WebAsset* assets = web_assets(&n);
    for (std::size_t i = 0; i < n; ++i) {
      if (assets[i].name == "index.html") return counted(Response::text(200, std::string(assets[i].data), std::string(assets[i].content_type)));
    }
    return counted(Response::text(200, kFallbackPage, "text/html; charset=utf-8"));
  });
  server_.route(Method::kGet, "/static/{file}", [this](const Request& req) {
    std::size_t n = 0;
    const WebAsset* assets = web_assets(&n);
    for (std::size_t i = 0; i < n; ++i) {
      if (assets[i].name == req.path_param("file")) {
        Response r = Response::text(200, std::string(assets[i].data), std::string(assets[i].content_type));
        r.headers.set("Cache-Control", "no-cache");
        return counted(std::move(r));
      }
    }
    return counted(http::json_error(404, "NOT_FOUND", "no static file '" + std::string(req.path_param("file")) + "'"));
  });

  // --- bots ---
  server_.route(Method::kGet, "/v1/bots", [this](const Request& req) {
    if (auto refused = admit(req)) return *refused;
    v1::ListBotsResponse out;
    for (auto& b : bots_.list()) *out.add_bots() = std::move(b);
    return counted(json(200, out));
  });
  server_.route(Method::kGet, "/v1/bots/{bot}", [this](const Request& req) {
    if (auto refused = admit(req)) return *refused;
    auto b = bots_.describe(std::string(req.path_param("bot")));
    if (!b.ok()) return counted(http::error_response(b.status()));
    return counted(json(200, *b));
  });
  // PUT (YAML body) and POST :reload load bots: training takes seconds, so a thread of its own.
  server_.route_async(Method::kPut, "/v1/bots/{bot}", [this](Request req, std::shared_ptr<ResponseWriter> w) {
    if (auto refused = admit(req)) return (void)w->send(*refused);
    std::string id(req.path_param("bot"));
    if (!valid_id(id)) return (void)w->send(counted(http::json_error(400, "INVALID_ARGUMENT", "bad bot id '" + id + "'")));
    std::thread([this, id, body = std::move(req.body), w] {
      const bool existed = bots_.find(id) != nullptr;
      auto b = bots_.put_yaml(id, body);
      w->send(counted(b.ok() ? json(existed ? 200 : 201, *b) : http::error_response(b.status())));
    }).detach();
  });
  server_.route_async(Method::kPost, "/v1/bots/{bot}", [this](Request req, std::shared_ptr<ResponseWriter> w) {
    if (auto refused = admit(req)) return (void)w->send(*refused);
    auto [id, verb] = split_verb(req.path_param("bot"));
    if (verb != "reload") {
      return (void)w->send(counted(http::json_error(404, "NOT_FOUND", "no route POST " + req.path + " (did you mean POST /v1/bots/" + id + ":reload?)")));
    }
    std::thread([this, id = id, w] {
      auto b = bots_.reload(id);
      w->send(counted(b.ok() ? json(200, *b) : http::error_response(b.status())));
    }).detach();
  });

  // --- sessions ---
  server_.route(Method::kPost, "/v1/bots/{bot}/sessions", [this](const Request& req) {
    if (auto refused = admit(req)) return *refused;
    v1::CreateSessionRequest body;
    if (auto bad = parse_body(req, body, options_.max_json_bytes)) return counted(*bad);
    const std::string bot(req.path_param("bot"));
    if (!body.bot_id().empty() && body.bot_id() != bot) {
      return counted(http::json_error(400, "INVALID_ARGUMENT", "botId in the body ('" + body.bot_id() + "') differs from the URL ('" + bot + "')"));
    }
    if (static_cast<std::size_t>(body.metadata_size()) > options_.max_metadata_entries) {
      return counted(http::json_error(400, "INVALID_ARGUMENT", "at most " + std::to_string(options_.max_metadata_entries) + " metadata entries"));
    }
    std::map<std::string, std::string> metadata(body.metadata().begin(), body.metadata().end());
    auto s = sessions_.create(bot, metadata);
    if (!s.ok()) return counted(http::error_response(s.status()));
    Response r = json(201, *s);
    r.headers.set("Location", "/v1/sessions/" + s->id());
    return counted(std::move(r));
  });
  server_.route(Method::kGet, "/v1/sessions/{id}", [this](const Request& req) {
    if (auto refused = admit(req)) return *refused;
    auto s = sessions_.get(std::string(req.path_param("id")));
    if (!s.ok()) return counted(http::error_response(s.status()));
    return counted(json(200, *s));
  });
  server_.route(Method::kDelete, "/v1/sessions/{id}", [this](const Request& req) {
    if (auto refused = admit(req)) return *refused;
    Status s = sessions_.remove(std::string(req.path_param("id")));
    if (!s.is_ok()) return counted(http::error_response(s));
    Response r;
    r.status = 204;
    return counted(std::move(r));
  });

  // --- voice ---
  server_.route_websocket("/v1/sessions/{id}/voice", [this](const Request& req) -> http::WebSocketDecision {
    if (auto refused = admit(req, /*query_token=*/true)) return *refused;
    if (voice_ == nullptr) {
      return counted(http::json_error(503, "UNAVAILABLE", "voice sessions are not configured on this replica"));
    }
    http::WebSocketDecision d = voice_upgrade(req, *voice_);
    if (auto* refused = std::get_if<Response>(&d)) return counted(std::move(*refused));
    if (metrics_) metrics_->api_requests.labels({"1xx"}).inc();  // 101 Switching Protocols
    return d;
  });

  // --- turns ---
  auto check_turn = [this](const Request& req, v1::TurnRequest& body) -> std::optional<Response> {
    if (auto refused = admit(req)) return refused;
    if (auto bad = parse_body(req, body, options_.max_json_bytes)) return counted(*bad);
    const std::string id(req.path_param("id"));
    if (!body.session_id().empty() && body.session_id() != id) {
      return counted(http::json_error(400, "INVALID_ARGUMENT", "sessionId in the body differs from the URL"));
    }
    if (body.text().find_first_not_of(" \t\r\n") == std::string::npos) {
      return counted(http::json_error(400, "INVALID_ARGUMENT", "'text' is required and must not be blank"));
    }
    if (body.text().size() > options_.max_text_bytes) {
      return counted(http::json_error(400, "INVALID_ARGUMENT", "'text' is " + std::to_string(body.text().size()) +
                                                                   " bytes; the limit is " + std::to_string(options_.max_text_bytes)));
    }
    return std::nullopt;
  };

  server_.route_async(Method::kPost, "/v1/sessions/{id}/turns", [this, check_turn](Request req, std::shared_ptr<ResponseWriter> w) {
    v1::TurnRequest body;
    if (auto refused = check_turn(req, body)) return (void)w->send(*refused);
    sessions_.turn(std::string(req.path_param("id")), body.text(), {}, [this, w](Result<v1::TurnResponse> r) {
      w->send(counted(r.ok() ? json(200, *r) : http::error_response(r.status())));
    });
  });

  server_.route_async(Method::kPost, "/v1/sessions/{id}/turns:stream", [this, check_turn](Request req, std::shared_ptr<ResponseWriter> w) {
    v1::TurnRequest body;
    if (auto refused = check_turn(req, body)) return (void)w->send(*refused);
    const std::string id(req.path_param("id"));
    // Errors known before the stream starts are plain HTTP errors.
    auto exists = sessions_.get(id);
    if (!exists.ok()) return (void)w->send(counted(http::error_response(exists.status())));
    w->start_sse();
    if (metrics_) metrics_->api_requests.labels({"2xx"}).inc();
    sessions_.turn(
        id, body.text(),
        [w](const std::string& delta) {
          v1::TokenEvent e;
          e.set_text(delta);
          w->write_event(to_json(e), "token");
        },
        [w](Result<v1::TurnResponse> r) {
          if (r.ok()) {
            w->write_event(to_json(*r), "turn");
          } else {
            std::string err = "{\"error\":{\"code\":";
            http::append_json_string(err, status_code_name(r.status().code()));
            err += ",\"message\":";
            http::append_json_string(err, r.status().message());
            err += "}}";
            w->write_event(err, "error");
          }
          w->finish();
        });
  });
}

}  // namespace parley::dialog
