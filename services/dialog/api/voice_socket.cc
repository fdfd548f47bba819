// The voice WebSocket (see voice_socket.h). Depends on voice_socket.h, protobuf JSON utilities.
#include "services/dialog/api/voice_socket.h"

#include <google/protobuf/util/json_util.h>

#include <charconv>
#include <mutex>

#include "shared/common/log.h"

namespace parley::dialog {
namespace {

/// Events and audio to the WebSocket. send_* are non-blocking (the socket's bounded queue).
class SocketSink final : public voice::VoiceSink {
 public:
  explicit SocketSink(std::shared_ptr<http::WebSocket> ws) : ws_(std::move(ws)) {}
  bool send_event(const v1::VoiceEvent& event) override { return ws_->send_text(voice_event_json(event)); }
  bool send_audio(std::string pcm16) override { return ws_->send_binary(std::move(pcm16)); }
  void close(std::uint16_t code, const std::string& reason) override { ws_->close(code, reason); }

 private:
  std::shared_ptr<http::WebSocket> ws_;
};

std::optional<int> int_param(const http::Request& r, const char* name, bool& bad) {
  auto v = r.query_param(name);
  if (!v || v->empty()) return std::nullopt;
  int out = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || p != v->data() + v->size()) {
    bad = true;
    return std::nullopt;
  }
  return out;
}

/// What the connection's handlers share.
struct Connection {
  std::shared_ptr<http::WebSocket> ws;
  actor::ActorRef<voice::VoiceMsg> session;
  voice::VoiceMetrics* metrics = nullptr;
  bool failed = false;

  // Bad input: say why in an event, then close with `code`.
  void refuse(const Status& status, std::uint16_t code, const std::string& reason) {
    if (failed) return;
    failed = true;
    if (metrics) metrics->errors.labels({"input", std::string(status_code_name(status.code()))}).inc();
    ws->send_text(voice_event_json(input_error_event(status)));
    ws->close(code, reason);
  }
  void tell(voice::VoiceMsg msg) {
    Status s = session.tell(std::move(msg));
    if (s.is_ok()) return;
    if (s.code() == StatusCode::kResourceExhausted) {
      refuse(resource_exhausted("audio arrives faster than the session processes it"), http::ws_close::kPolicyViolation,
             "audio arrives faster than it is processed");
    } else {
      failed = true;
      ws->close(http::ws_close::kInternalError, "the voice session ended");
    }
  }
};

}  // namespace

std::string voice_event_json(const v1::VoiceEvent& event) {
  std::string out;
  auto s = google::protobuf::util::MessageToJsonString(event, &out);
  if (!s.ok()) return "{\"type\":\"error\"}";
  return out;
}

http::WebSocketDecision voice_upgrade(const http::Request& req, VoiceGateway& gateway) {
  const std::string session_id(req.path_param("id"));
  bool bad = false;
  v1::VoiceConfig config;
  if (auto v = int_param(req, "sample_rate", bad)) config.set_sample_rate_hz(*v);
  if (auto v = int_param(req, "output_sample_rate", bad)) config.set_output_sample_rate_hz(*v);
  if (bad) return http::json_error(400, "INVALID_ARGUMENT", "sample_rate and output_sample_rate must be integers (Hz)");
  config.set_language(req.query_param("language").value_or(""));
  config.set_voice(req.query_param("voice").value_or(""));
  const std::string text_only = req.query_param("text_only").value_or("false");
  if (text_only != "true" && text_only != "false" && text_only != "1" && text_only != "0") {
    return http::json_error(400, "INVALID_ARGUMENT", "text_only must be true or false");
  }
  config.set_text_only(text_only == "1" || text_only == "true");
  auto checked = voice::check_voice_config(config, gateway.options());
  if (!checked.ok()) return http::error_response(checked.status());
  auto exists = gateway.sessions().get(session_id);
  if (!exists.ok()) return http::error_response(exists.status());
  if (gateway.full()) {
    return http::json_error(503, "UNAVAILABLE",
                            "this replica has " + std::to_string(gateway.limits().max_sessions) +
                                " voice sessions open (voice.max_sessions); try again later");
  }

  http::WebSocketAccept accept;
  accept.options.max_message_bytes = gateway.limits().max_frame_bytes;
  accept.options.max_queued_bytes = gateway.limits().max_send_buffer_bytes;
  accept.options.idle_timeout = gateway.limits().ping_timeout;
  accept.options.socket_send_buffer_bytes = gateway.limits().socket_send_buffer_bytes;
  if (auto proto = req.headers.get("sec-websocket-protocol"); proto && proto->find("parley.voice.v1") != std::string_view::npos) {
    accept.options.subprotocol = "parley.voice.v1";
  }
  accept.on_open = [&gateway, session_id, config = *checked](std::shared_ptr<http::WebSocket> ws) {
    auto c = std::make_shared<Connection>();
    c->ws = ws;
    c->metrics = gateway.metrics();
    auto opened = gateway.open(session_id, config, std::make_shared<SocketSink>(ws), "websocket");
    if (!opened.ok()) {
      c->failed = true;
      ws->send_text(voice_event_json(input_error_event(opened.status())));
      ws->close(http::ws_close::kTryAgainLater, opened.status().message());
      return http::WebSocketHandlers{};
    }
    c->session = *opened;
    http::WebSocketHandlers h;
    h.on_message = [c](std::string_view data, bool binary) {
      if (c->failed) return;
      if (binary) {
        if (data.size() % 2 != 0) {
          return c->refuse(invalid_argument("binary frames carry whole PCM16 samples (an even number of bytes); got a "
                                            "frame of " +
                                            std::to_string(data.size()) + " bytes"),
                           http::ws_close::kInvalidPayload, "audio frame with an odd number of bytes");
        }
        if (data.empty()) return;
        return c->tell(voice::ClientAudio{std::string(data)});
      }
      auto msg = parse_voice_control(data);
      if (!msg.ok()) {
        // Not JSON at all: the client is sending something else than this protocol.
        if (data.find('{') == std::string_view::npos) {
          return c->refuse(msg.status(), http::ws_close::kUnsupportedData, "text frames must be JSON control messages");
        }
        if (c->metrics) c->metrics->errors.labels({"input", "INVALID_ARGUMENT"}).inc();
        c->ws->send_text(voice_event_json(input_error_event(msg.status())));
        return;
      }
      c->tell(std::move(*msg));
    };
    h.on_close = [c](std::uint16_t code, const std::string& reason) {
      (void)c->session.tell(voice::ClientGone{code, reason});
    };
    return h;
  };
  return accept;
}

}  // namespace parley::dialog
