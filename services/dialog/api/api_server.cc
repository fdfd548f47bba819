// The public HTTP API (see api_server.h): auth (keys, scopes, tenants), request checks, proto3
// JSON in and out, routes. Depends on api_server.h, web_assets.h, protobuf JSON utilities,
// shared/common/json_document.h (strict JSON check before protobuf's lenient parser).
#include "services/dialog/api/api_server.h"

#include <google/protobuf/util/json_util.h>

#include <cctype>
#include <string_view>

#include "services/dialog/api/openapi_docs.h"
#include "services/dialog/api/voice_socket.h"
#include "services/dialog/api/web_assets.h"
#include "shared/common/json_document.h"
#include "shared/common/log.h"
#include "shared/common/utf8.h"

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

/// `text` with every "scheme://address" in it (a service replica's endpoint, as transport errors
/// name them) replaced by "<internal address>".
std::string without_addresses(const std::string& text) {
  std::string out;
  std::size_t from = 0;
  for (std::size_t p = text.find("://"); p != std::string::npos; p = text.find("://", from)) {
    std::size_t start = p;
    while (start > from && std::isalpha(static_cast<unsigned char>(text[start - 1]))) --start;
    std::size_t end = p + 3;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])) &&
           std::string_view(";,)'\"").find(text[end]) == std::string_view::npos) {
      ++end;
    }
    out.append(text, from, start - from);
    out += "<internal address>";
    from = end;
  }
  out.append(text, from, std::string::npos);
  return out;
}

/// A bot as a caller without the admin scope sees it: the NLU replicas numbered instead of named
/// by their endpoints, and no internal address in any message (client keys are the ones that end
/// up in browsers and apps).
void hide_internal_addresses(v1::Bot& b) {
  auto scrub = [&b](const std::string& text) {
    std::string s = text;
    for (int i = 0; i < b.nlu_replicas_size(); ++i) {
      const std::string& ep = b.nlu_replicas(i).replica();
      if (ep.empty()) continue;
      for (auto p = s.find(ep); p != std::string::npos; p = s.find(ep, p)) {
        const std::string label = "nlu replica " + std::to_string(i + 1);
        s.replace(p, ep.size(), label);
        p += label.size();
      }
    }
    return without_addresses(s);
  };
  b.set_sync_error(scrub(b.sync_error()));
  b.set_nlu_fine_tune_error(scrub(b.nlu_fine_tune_error()));
  if (b.has_nlu_fine_tune()) b.mutable_nlu_fine_tune()->set_message(scrub(b.nlu_fine_tune().message()));
  for (auto& r : *b.mutable_nlu_replicas()) {
    r.set_error(scrub(r.error()));
    if (r.has_fine_tune()) r.mutable_fine_tune()->set_message(scrub(r.fine_tune().message()));
  }
  for (int i = 0; i < b.nlu_replicas_size(); ++i) b.mutable_nlu_replicas(i)->set_replica("nlu replica " + std::to_string(i + 1));
}

/// The path of the first null in `v` ("metadata.k", "items[2]"), if any.
std::optional<std::string> first_null(const json::Value& v, const std::string& path) {
  if (v.is_null()) return path.empty() ? std::string("(the body)") : path;
  if (v.is_object()) {
    for (const auto& [key, member] : v.as_object()) {
      if (auto w = first_null(member, path.empty() ? key : path + "." + key)) return w;
    }
  } else if (v.is_array()) {
    const auto& items = v.as_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (auto w = first_null(items[i], path + "[" + std::to_string(i) + "]")) return w;
    }
  }
  return std::nullopt;
}

/// Parses a JSON body into `out`; an empty body is the empty message. A 4xx response on failure.
std::optional<Response> parse_body(const Request& req, google::protobuf::Message& out, std::size_t max_bytes) {
  if (req.body.size() > max_bytes) {
    return http::json_error(413, http::kPayloadTooLarge,
                            "JSON body is " + std::to_string(req.body.size()) + " bytes; the limit is " +
                                std::to_string(max_bytes));
  }
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) return std::nullopt;
  // Strict RFC 8259 first (no raw control characters such as NUL in strings, valid UTF-8, no
  // trailing garbage): protobuf's parser is lenient about some of these.
  json::ParseOptions strict;
  strict.max_depth = 32;
  auto checked = json::parse(req.body, strict);
  if (!checked.ok()) {
    return http::json_error(400, "INVALID_ARGUMENT", "body is not a valid " + out.GetDescriptor()->name() +
                                                         ": not JSON (" + excerpt(checked.status().message(), 160) + ")");
  }
  // proto3 JSON reads null as "the default": {"metadata": {"k": null}} would pass as an empty
  // value. The contract says strings and objects, so a null anywhere is refused, by name.
  if (auto where = first_null(*checked, "")) {
    return http::json_error(400, "INVALID_ARGUMENT", "body is not a valid " + out.GetDescriptor()->name() +
                                                         ": null is not allowed (at '" + excerpt(*where, 80) + "')");
  }
  // Content-Type is not enforced: `curl -d '{"text":"hi"}'` sends form-urlencoded; the body decides.
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = false;
  auto s = google::protobuf::util::JsonStringToMessage(req.body, &out, o);
  if (!s.ok()) {
    // protobuf's message may quote the input: only a short excerpt of it goes back.
    return http::json_error(400, "INVALID_ARGUMENT", "body is not a valid " + out.GetDescriptor()->name() + ": " +
                                                         excerpt(std::string(s.message()), 160));
  }
  return std::nullopt;
}

std::string status_class(int status) { return std::to_string(status / 100) + "xx"; }

bool valid_id(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return true;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

/// A bot operation's outcome as HTTP: a definition over a limit is 413.
Response bot_error(const Status& s) {
  if (s.code() == StatusCode::kOutOfRange) return http::json_error(413, http::kPayloadTooLarge, s.message());
  return http::error_response(s);
}

std::string effective_host(const ApiOptions& o) {
  if (!o.keys.empty() || o.allow_unauthenticated_remote || is_loopback(o.host)) return o.host;
  return "127.0.0.1";
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
      failed_auth_(options_.max_failed_auth, options_.failed_auth_window) {
  const std::string requested = options_.host;
  options_.host = effective_host(options_);
  if (options_.host != requested) {
    PARLEY_LOG(kWarn).kv("requested", requested).kv("bound", options_.host)
        << "no API keys are configured (api.keys, api.keys_file): the public API listens on loopback only. "
           "Configure keys to serve other addresses (or set api.allow_unauthenticated_remote behind an "
           "authenticating proxy)";
  } else if (options_.keys.empty()) {
    PARLEY_LOG(kWarn).kv("address", options_.host)
        << "no API keys are configured: every caller of the public API may manage bots and read every session";
  }
  for (const auto& k : options_.keys) {
    if (k.secret.size() < kMinSecretBytes) {
      PARLEY_LOG(kWarn).kv("tenant", k.tenant) << "an API key is shorter than " << kMinSecretBytes
                                               << " bytes: it can be guessed; use e.g. `openssl rand -hex 24`";
    }
  }
  server_ = std::make_unique<http::Server>(http::ServerOptions{.host = options_.host,
                                                               .port = options_.port,
                                                               .threads = options_.threads,
                                                               .max_body_bytes = options_.max_body_bytes,
                                                               .read_timeout = options_.header_timeout,
                                                               .idle_timeout = options_.idle_timeout,
                                                               .max_connections = options_.max_connections,
                                                               .max_connections_per_address =
                                                                   options_.max_connections_per_address,
                                                               .server_header = "parley-dialog"});
  register_routes();
}

ApiServer::~ApiServer() {
  stop();
  bot_job_thread_.shutdown();
}

Status ApiServer::start() { return server_->start(); }
void ApiServer::stop(std::chrono::milliseconds grace) { server_->stop(grace); }

Response ApiServer::counted(Response r) {
  if (metrics_) metrics_->api_requests.labels({status_class(r.status)}).inc();
  return r;
}

std::optional<Response> ApiServer::admit(const Request& req, Scope scope, Caller& caller, bool query_token) {
  const std::string address = client_address(req.remote_address);
  auto refuse_auth = [&](const char* reason, Response r) {
    if (metrics_) metrics_->auth_failures.labels({reason}).inc();
    return counted(std::move(r));
  };
  if (!options_.keys.empty()) {
    int retry_after = 1;
    if (failed_auth_.locked(address, std::chrono::steady_clock::now(), &retry_after)) {
      Response r = http::json_error(429, "RESOURCE_EXHAUSTED",
                                    "too many failed API key attempts from this address; retry in " +
                                        std::to_string(retry_after) + " s");
      r.headers.set("Retry-After", std::to_string(retry_after));
      return refuse_auth("locked_out", std::move(r));
    }
    auto auth = req.headers.get("authorization");
    const std::string_view prefix = "Bearer ";
    std::optional<std::string> token;
    if (query_token) token = req.query_param("access_token");
    if (!token && (!auth || auth->substr(0, prefix.size()) != prefix)) {
      Response r = http::json_error(401, "UNAUTHENTICATED",
                                    query_token ? "missing 'Authorization: Bearer <api key>' header or ?access_token="
                                                : "missing 'Authorization: Bearer <api key>' header");
      r.headers.set("WWW-Authenticate", "Bearer");
      return refuse_auth("missing", std::move(r));
    }
    auto key = find_api_key(options_.keys, token ? *token : std::string(auth->substr(prefix.size())));
    if (!key) {
      failed_auth_.failed(address);
      Response r = http::json_error(401, "UNAUTHENTICATED", "unknown API key");
      r.headers.set("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      return refuse_auth("unknown_key", std::move(r));
    }
    caller = Caller{key->tenant, key->admin, key->client, "key:" + key->secret};
  } else {
    caller = Caller{"", true, true, address};
  }
  const bool allowed = scope == Scope::kAdmin    ? caller.admin
                       : scope == Scope::kClient ? caller.client
                                                 : (caller.admin || caller.client);
  if (!allowed) {
    Response r = http::json_error(403, "PERMISSION_DENIED",
                                  scope == Scope::kAdmin ? "this API key lacks the 'admin' scope (needed to manage bots)"
                                                         : "this API key lacks the 'client' scope (needed for sessions)");
    return refuse_auth("scope", std::move(r));
  }
  if (!limiter_.allow(caller.rate_key)) {
    if (metrics_) metrics_->rate_limited.inc();
    Response r = http::json_error(429, "RESOURCE_EXHAUSTED",
                                  "rate limit of " + std::to_string(options_.rate_limit_rps) +
                                      " requests/s exceeded; retry shortly");
    r.headers.set("Retry-After", "1");
    return counted(std::move(r));
  }
  return std::nullopt;
}

void ApiServer::run_bot_job(const std::shared_ptr<ResponseWriter>& w, std::function<Response()> job) {
  // One thread, a short queue: uploads are rare and each may train for seconds; a flood of them
  // gets 503s instead of a thread each.
  if (bot_jobs_.fetch_add(1) >= options_.max_pending_bot_jobs + 1) {
    bot_jobs_.fetch_sub(1);
    Response r = http::json_error(503, "UNAVAILABLE", "too many bot uploads in progress; retry shortly");
    r.headers.set("Retry-After", "5");
    w->send(counted(std::move(r)));
    return;
  }
  bot_job_thread_.post([this, w, job = std::move(job)] {
    Response r = job();
    bot_jobs_.fetch_sub(1);
    w->send(counted(std::move(r)));
  });
}

void ApiServer::register_routes() {
  http::Server& server = *server_;
  // --- the chat page ---
  server.route(Method::kGet, "/", [this](const Request&) {
    std::size_t n = 0;
    const WebAsset* assets = web_assets(&n);
    for (std::size_t i = 0; i < n; ++i) {
      if (assets[i].name == "index.html") return counted(Response::text(200, std::string(assets[i].data), std::string(assets[i].content_type)));
    }
    return counted(Response::text(200, kFallbackPage, "text/html; charset=utf-8"));
  });
  server.route(Method::kGet, "/static/{file}", [this](const Request& req) {
    std::size_t n = 0;
    const WebAsset* assets = web_assets(&n);
    for (std::size_t i = 0; i < n; ++i) {
      if (assets[i].name == req.path_param("file")) {
        Response r = Response::text(200, std::string(assets[i].data), std::string(assets[i].content_type));
        r.headers.set("Cache-Control", "no-cache");
        return counted(std::move(r));
      }
    }
    return counted(http::json_error(404, "NOT_FOUND", "no static file '" + excerpt(req.path_param("file")) + "'"));
  });

  // --- the API's own reference: the contract as YAML/JSON and a page rendering it (web/docs.html).
  // Public like the chat page: the document holds no secret, and a reader without a key needs it.
  server.route(Method::kGet, "/docs", [this](const Request&) {
    std::size_t n = 0;
    const WebAsset* assets = web_assets(&n);
    for (std::size_t i = 0; i < n; ++i) {
      if (assets[i].name == "docs.html") return counted(Response::text(200, std::string(assets[i].data), std::string(assets[i].content_type)));
    }
    return counted(http::json_error(404, "NOT_FOUND", "the reference page was not built into this binary"));
  });
  server.route(Method::kGet, "/v1/openapi.yaml", [this](const Request&) {
    std::string_view yaml = openapi_yaml();
    if (yaml.empty()) return counted(http::json_error(404, "NOT_FOUND", "openapi.yaml was not built into this binary"));
    Response r = Response::text(200, std::string(yaml), "application/yaml; charset=utf-8");
    r.headers.set("Cache-Control", "no-cache");
    return counted(std::move(r));
  });
  server.route(Method::kGet, "/v1/openapi.json", [this](const Request&) {
    const Result<std::string>& doc = openapi_json();
    if (!doc.ok()) return counted(http::error_response(doc.status()));
    Response r = Response::json(200, *doc);
    r.headers.set("Cache-Control", "no-cache");
    return counted(std::move(r));
  });

  // --- bots ---
  server.route(Method::kGet, "/v1/bots", [this](const Request& req) {
    Caller caller;
    if (auto refused = admit(req, Scope::kRead, caller)) return *refused;
    v1::ListBotsResponse out;
    for (auto& b : bots_.list()) {
      if (!caller.admin) hide_internal_addresses(b);
      *out.add_bots() = std::move(b);
    }
    return counted(json(200, out));
  });
  // One bot, with its NLU fine-tuning job asked of the NLU (asynchronously: no I/O thread waits).
  server.route_async(Method::kGet, "/v1/bots/{bot}", [this](Request req, std::shared_ptr<ResponseWriter> w) {
    Caller caller;
    if (auto refused = admit(req, Scope::kRead, caller)) return (void)w->send(*refused);
    bots_.describe_with_training(std::string(req.path_param("bot")),
                                 std::chrono::steady_clock::now() + options_.status_timeout,
                                 [this, w, admin = caller.admin](Result<v1::Bot> b) {
                                   if (b.ok() && !admin) hide_internal_addresses(*b);
                                   w->send(counted(b.ok() ? json(200, *b) : http::error_response(b.status())));
                                 });
  });
  // PUT (YAML body), DELETE and POST :reload change bots: on the bot-job thread (training takes seconds).
  server.route_async(Method::kPut, "/v1/bots/{bot}", [this](Request req, std::shared_ptr<ResponseWriter> w) {
    Caller caller;
    if (auto refused = admit(req, Scope::kAdmin, caller)) return (void)w->send(*refused);
    std::string id(req.path_param("bot"));
    if (!valid_id(id)) {
      return (void)w->send(counted(http::json_error(400, "INVALID_ARGUMENT", "bad bot id '" + excerpt(id) + "'")));
    }
    run_bot_job(w, [this, id, body = std::move(req.body), tenant = caller.tenant] {
      const bool existed = bots_.find(id) != nullptr;
      auto b = bots_.put_yaml(id, body, tenant);
      return b.ok() ? json(existed ? 200 : 201, *b) : bot_error(b.status());
    });
  });
  server.route_async(Method::kDelete, "/v1/bots/{bot}", [this](Request req, std::shared_ptr<ResponseWriter> w) {
    Caller caller;
    if (auto refused = admit(req, Scope::kAdmin, caller)) return (void)w->send(*refused);
    std::string id(req.path_param("bot"));
    // Without keys there is one tenant: every bot is its own.
    std::optional<std::string> owner;
    if (!options_.keys.empty()) owner = caller.tenant;
    run_bot_job(w, [this, id, owner] {
      Status s = bots_.remove(id, owner);
      if (!s.is_ok()) return bot_error(s);
      Response r;
      r.status = 204;
      return r;
    });
  });
  server.route_async(Method::kPost, "/v1/bots/{bot}:reload", [this](Request req, std::shared_ptr<ResponseWriter> w) {
    Caller caller;
    if (auto refused = admit(req, Scope::kAdmin, caller)) return (void)w->send(*refused);
    std::string id(req.path_param("bot"));
    run_bot_job(w, [this, id] {
      auto b = bots_.reload(id);
      return b.ok() ? json(200, *b) : bot_error(b.status());
    });
  });

  // --- sessions ---
  server.route(Method::kPost, "/v1/bots/{bot}/sessions", [this](const Request& req) {
    Caller caller;
    if (auto refused = admit(req, Scope::kClient, caller)) return *refused;
    v1::CreateSessionRequest body;
    if (auto bad = parse_body(req, body, options_.max_json_bytes)) return counted(*bad);
    const std::string bot(req.path_param("bot"));
    if (!body.bot_id().empty() && body.bot_id() != bot) {
      return counted(http::json_error(400, "INVALID_ARGUMENT", "botId in the body ('" + excerpt(body.bot_id()) +
                                                                   "') differs from the URL ('" + excerpt(bot) + "')"));
    }
    if (static_cast<std::size_t>(body.metadata_size()) > options_.max_metadata_entries) {
      return counted(http::json_error(400, "INVALID_ARGUMENT", "at most " + std::to_string(options_.max_metadata_entries) + " metadata entries"));
    }
    std::map<std::string, std::string> metadata(body.metadata().begin(), body.metadata().end());
    auto s = sessions_.create(bot, metadata, caller.tenant);
    if (!s.ok()) return counted(http::error_response(s.status()));
    Response r = json(201, *s);
    r.headers.set("Location", "/v1/sessions/" + s->id());
    return counted(std::move(r));
  });
  server.route(Method::kGet, "/v1/sessions/{id}", [this](const Request& req) {
    Caller caller;
    if (auto refused = admit(req, Scope::kClient, caller)) return *refused;
    auto s = sessions_.get(std::string(req.path_param("id")), caller.tenant);
    if (!s.ok()) return counted(http::error_response(s.status()));
    return counted(json(200, *s));
  });
  server.route(Method::kDelete, "/v1/sessions/{id}", [this](const Request& req) {
    Caller caller;
    if (auto refused = admit(req, Scope::kClient, caller)) return *refused;
    Status s = sessions_.remove(std::string(req.path_param("id")), caller.tenant);
    if (!s.is_ok()) return counted(http::error_response(s));
    Response r;
    r.status = 204;
    return counted(std::move(r));
  });

  // --- voice ---
  server.route_websocket("/v1/sessions/{id}/voice", [this](const Request& req) -> http::WebSocketDecision {
    Caller caller;
    if (auto refused = admit(req, Scope::kClient, caller, /*query_token=*/true)) return *refused;
    if (voice_ == nullptr) {
      return counted(http::json_error(503, "UNAVAILABLE", "voice sessions are not configured on this replica"));
    }
    // Another tenant's session is refused like a missing one, before anything is opened.
    auto mine = sessions_.get(std::string(req.path_param("id")), caller.tenant);
    if (!mine.ok()) return counted(http::error_response(mine.status()));
    http::WebSocketDecision d = voice_upgrade(req, *voice_);
    if (auto* refused = std::get_if<Response>(&d)) return counted(std::move(*refused));
    if (metrics_) metrics_->api_requests.labels({"1xx"}).inc();  // 101 Switching Protocols
    return d;
  });

  // --- turns ---
  auto check_turn = [this](const Request& req, v1::TurnRequest& body, Caller& caller) -> std::optional<Response> {
    if (auto refused = admit(req, Scope::kClient, caller)) return refused;
    if (auto bad = parse_body(req, body, options_.max_json_bytes)) return counted(*bad);
    const std::string id(req.path_param("id"));
    if (!body.session_id().empty() && body.session_id() != id) {
      return counted(http::json_error(400, "INVALID_ARGUMENT", "sessionId in the body differs from the URL"));
    }
    if (body.text().find_first_not_of(" \t\r\n") == std::string::npos) {
      return counted(http::json_error(400, "INVALID_ARGUMENT", "'text' is required and must not be blank"));
    }
    // Characters (code points), as the contract's maxLength counts them; the body is valid UTF-8 here.
    std::size_t chars = 0;
    for (unsigned char c : body.text()) chars += (c & 0xC0) != 0x80;
    if (chars > options_.max_text_chars) {
      return counted(http::json_error(400, "INVALID_ARGUMENT", "'text' is " + std::to_string(chars) +
                                                                   " characters; the limit is " + std::to_string(options_.max_text_chars)));
    }
    return std::nullopt;
  };

  server.route_async(Method::kPost, "/v1/sessions/{id}/turns", [this, check_turn](Request req, std::shared_ptr<ResponseWriter> w) {
    v1::TurnRequest body;
    Caller caller;
    if (auto refused = check_turn(req, body, caller)) return (void)w->send(*refused);
    const std::string id(req.path_param("id"));
    // A client that hangs up before the answer: the turn stops (its LM generation and every
    // other call it started are cancelled) instead of running on for nobody.
    const std::uint64_t tag = SessionManager::new_turn_tag();
    w->on_close([this, id, tag] { sessions_.interrupt(id, tag, "", "disconnect"); });
    sessions_.turn(
        id, body.text(), {}, tag,
        [this, w](Result<v1::TurnResponse> r) { w->send(counted(r.ok() ? json(200, *r) : http::error_response(r.status()))); },
        caller.tenant);
  });

  server.route_async(Method::kPost, "/v1/sessions/{id}/turns:stream", [this, check_turn](Request req, std::shared_ptr<ResponseWriter> w) {
    v1::TurnRequest body;
    Caller caller;
    if (auto refused = check_turn(req, body, caller)) return (void)w->send(*refused);
    const std::string id(req.path_param("id"));
    // Errors known before the stream starts are plain HTTP errors.
    auto exists = sessions_.get(id, caller.tenant);
    if (!exists.ok()) return (void)w->send(counted(http::error_response(exists.status())));
    w->start_sse();
    if (metrics_) metrics_->api_requests.labels({"2xx"}).inc();
    const std::uint64_t tag = SessionManager::new_turn_tag();
    w->on_close([this, id, tag] { sessions_.interrupt(id, tag, "", "disconnect"); });
    sessions_.turn(
        id, body.text(),
        [w](const std::string& delta) {
          v1::TokenEvent e;
          e.set_text(delta);
          w->write_event(to_json(e), "token");
        },
        tag,
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
        },
        caller.tenant);
  });
}

}  // namespace parley::dialog
