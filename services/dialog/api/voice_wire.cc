// parley.v1.Dialog/Voice (see voice_wire.h). Depends on voice_wire.h.
#include "services/dialog/api/voice_wire.h"

#include <variant>

namespace parley::dialog {
namespace {

using VoiceCall = service::StreamCall<v1::VoiceEvent, std::monostate>;

/// Events and audio as replies of the call (from the session's actor thread: ReplySink is
/// thread-safe and outlives the call's handler). A WebSocket close code becomes the call's status.
class WireSink final : public voice::VoiceSink {
 public:
  explicit WireSink(service::ReplySink<v1::VoiceEvent> replies) : replies_(std::move(replies)) {}
  bool send_event(const v1::VoiceEvent& event) override { return replies_.write(event); }
  bool send_audio(std::string pcm16) override {
    v1::VoiceEvent e;
    e.set_type("audio");
    e.set_audio(std::move(pcm16));
    return send_event(e);
  }
  void close(std::uint16_t code, const std::string& reason) override {
    switch (code) {
      case 1000: replies_.finish(Status::ok()); break;
      case 1001: replies_.finish(unavailable(reason)); break;
      case 1003: case 1007: case 1009: replies_.finish(invalid_argument(reason)); break;
      case 1008: case 1013: replies_.finish(resource_exhausted(reason)); break;
      default: replies_.finish(internal_error(reason)); break;
    }
  }

 private:
  service::ReplySink<v1::VoiceEvent> replies_;
};

/// One call: the first message opens the session, the rest go to its actor.
class VoiceCallHandler final : public service::StreamHandler<v1::VoiceInput, v1::VoiceEvent, std::monostate> {
 public:
  VoiceCallHandler(VoiceCall& call, VoiceGateway& gateway) : call_(call), gateway_(gateway) {}

  void on_request(v1::VoiceInput& in) override {
    if (!session_.valid()) return open(in);
    Status told;
    switch (in.input_case()) {
      case v1::VoiceInput::kAudio:
        if (in.audio().size() % 2 != 0) {
          return refuse(invalid_argument("audio must hold whole PCM16 samples (an even number of bytes); got " +
                                         std::to_string(in.audio().size())));
        }
        if (in.audio().size() > gateway_.limits().max_frame_bytes) {
          return refuse(invalid_argument("an audio message of " + std::to_string(in.audio().size()) +
                                         " bytes is over voice.max_frame_bytes (" + std::to_string(gateway_.limits().max_frame_bytes) + ")"));
        }
        told = session_.tell(voice::ClientAudio{std::move(*in.mutable_audio())});
        break;
      case v1::VoiceInput::kText: told = session_.tell(voice::ClientText{in.text()}); break;
      case v1::VoiceInput::kInterrupt: told = session_.tell(voice::ClientInterrupt{}); break;
      case v1::VoiceInput::kEnd: told = session_.tell(voice::ClientEnd{}); break;
      case v1::VoiceInput::kStart: return refuse(invalid_argument("start may only come in the REQUEST"));
      case v1::VoiceInput::INPUT_NOT_SET: return refuse(invalid_argument("an empty VoiceInput"));
    }
    if (!told.is_ok()) {
      call_.finish(Status(told.code(), "voice session: " + told.message()));
      (void)session_.tell(voice::ClientGone{1008, told.message()});
    }
  }
  void on_end_of_stream() override {
    if (session_.valid()) (void)session_.tell(voice::ClientEnd{});
  }
  void on_event(std::monostate&) override {}
  void on_cancelled(const Status& why) override {
    if (session_.valid()) (void)session_.tell(voice::ClientGone{1006, why.message()});
  }

 private:
  void open(const v1::VoiceInput& first) {
    if (!first.has_start()) return call_.finish(invalid_argument(std::string(kVoiceMethod) + ": the REQUEST must carry VoiceInput{start}"));
    const std::string& session_id = first.start().session_id();
    if (session_id.empty()) return call_.finish(invalid_argument("start.session_id is required"));
    auto exists = gateway_.sessions().get(session_id);
    if (!exists.ok()) return call_.finish(exists.status());
    sink_ = std::make_shared<WireSink>(call_.replies());
    auto opened = gateway_.open(session_id, first.start().config(), sink_, "wire");
    if (!opened.ok()) return call_.finish(opened.status());
    session_ = *opened;
  }
  void refuse(const Status& s) {
    sink_->send_event(input_error_event(s));
    call_.finish(s);
    (void)session_.tell(voice::ClientGone{1007, s.message()});
  }

  VoiceCall& call_;
  VoiceGateway& gateway_;
  std::shared_ptr<WireSink> sink_;
  actor::ActorRef<voice::VoiceMsg> session_;
};

}  // namespace

void register_voice_method(service::Host& host, VoiceGateway& gateway, std::size_t max_buffered) {
  service::StreamOptions o;
  o.max_buffered = max_buffered;  // the session's own idle timeout and max duration bound the call
  host.stream<v1::VoiceInput, v1::VoiceEvent, std::monostate>(
      kVoiceMethod, o, [&gateway](VoiceCall& call) { return std::make_unique<VoiceCallHandler>(call, gateway); });
}

}  // namespace parley::dialog
