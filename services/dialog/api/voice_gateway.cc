// Voice connections to voice sessions (see voice_gateway.h).
// Depends on voice_gateway.h, shared/common/json_document.h.
#include "services/dialog/api/voice_gateway.h"

#include "shared/common/json_document.h"

namespace parley::dialog {

VoiceGateway::VoiceGateway(actor::ActorSystem& system, SessionManager& sessions, voice::AsrClient* asr,
                           voice::TtsClient* tts, voice::VoiceMetrics* metrics, voice::VoiceOptions options,
                           VoiceLimits limits)
    : system_(system),
      sessions_(sessions),
      asr_(asr),
      tts_(tts),
      metrics_(metrics),
      options_(std::move(options)),
      limits_(limits) {}

Result<actor::ActorRef<voice::VoiceMsg>> VoiceGateway::open(const std::string& session_id, const v1::VoiceConfig& config,
                                                            std::shared_ptr<voice::VoiceSink> sink,
                                                            const std::string& transport) {
  auto checked = voice::check_voice_config(config, options_);
  if (!checked.ok()) return checked.status();
  if (active_->fetch_add(1) >= limits_.max_sessions) {
    active_->fetch_sub(1);
    return resource_exhausted("this replica has " + std::to_string(limits_.max_sessions) +
                              " voice sessions open (voice.max_sessions); try again later");
  }
  voice::VoiceDeps deps{&sessions_, asr_, tts_, metrics_, [active = active_] { active->fetch_sub(1); }};
  // A voice session that fails is not restarted: its connection ends (1011) instead.
  auto ref = system_.spawn<voice::VoiceSession>(
      actor::ActorOptions{.name = "voice", .mailbox_capacity = 512, .messages_per_turn = 32, .restart = {.max_restarts = 0}},
      session_id, *checked, std::move(sink), deps, options_);
  if (!ref.alive()) {
    active_->fetch_sub(1);
    return unavailable("the dialog is shutting down");
  }
  if (metrics_) metrics_->sessions.labels({transport}).inc();
  return ref;
}

Result<voice::VoiceMsg> parse_voice_control(std::string_view text) {
  auto doc = json::parse(text, json::ParseOptions{.max_depth = 4});
  if (!doc.ok()) {
    return invalid_argument("a text frame must be a JSON control message (" + doc.status().message() +
                            "); audio goes in binary frames");
  }
  if (!doc->is_object()) return invalid_argument("a control message must be a JSON object with a \"type\"");
  const json::Value* type = doc->find("type");
  if (type == nullptr || !type->is_string()) return invalid_argument("a control message needs a \"type\" string");
  const std::string& t = type->as_string();
  if (t == "text") {
    const json::Value* body = doc->find("text");
    if (body == nullptr || !body->is_string()) return invalid_argument("{\"type\":\"text\"} needs a \"text\" string");
    return voice::VoiceMsg{voice::ClientText{body->as_string()}};
  }
  if (t == "interrupt") return voice::VoiceMsg{voice::ClientInterrupt{}};
  if (t == "end") return voice::VoiceMsg{voice::ClientEnd{}};
  return invalid_argument("unknown control message type '" + t.substr(0, 40) + "' (text, interrupt, end)");
}

v1::VoiceEvent input_error_event(const Status& status) {
  v1::VoiceEvent e;
  e.set_type("error");
  e.set_source("input");
  e.mutable_error()->set_code(static_cast<v1::Status::Code>(static_cast<int>(status.code())));
  e.mutable_error()->set_message(status.message());
  return e;
}

}  // namespace parley::dialog
