// parley.v1.Dialog/Voice (see voice_wire.h). Depends on voice_wire.h, shared/transport/server.h.
#include "services/dialog/api/voice_wire.h"

#include "shared/common/log.h"
#include "shared/transport/server.h"

namespace parley::dialog {
namespace {

/// Events and audio as replies of the call. A WebSocket close code becomes the call's status.
class WireSink final : public voice::VoiceSink {
 public:
  explicit WireSink(std::shared_ptr<transport::ServerCall> call) : call_(std::move(call)) {}
  bool send_event(const v1::VoiceEvent& event) override {
    transport::Envelope env;
    env.mutable_payload()->PackFrom(event);
    return call_->send(std::move(env));
  }
  bool send_audio(std::string pcm16) override {
    v1::VoiceEvent e;
    e.set_type("audio");
    e.set_audio(std::move(pcm16));
    return send_event(e);
  }
  void close(std::uint16_t code, const std::string& reason) override {
    switch (code) {
      case 1000: (void)call_->finish(Status::ok()); break;
      case 1001: (void)call_->finish(unavailable(reason)); break;
      case 1003: case 1007: case 1009: (void)call_->finish(invalid_argument(reason)); break;
      case 1008: case 1013: (void)call_->finish(resource_exhausted(reason)); break;
      default: (void)call_->finish(internal_error(reason)); break;
    }
  }

 private:
  std::shared_ptr<transport::ServerCall> call_;
};

}  // namespace

struct VoiceWireServer::Impl {
  VoiceGateway* gateway = nullptr;
  std::unique_ptr<transport::Server> server;

  void on_call(const std::shared_ptr<transport::ServerCall>& call) {
    if (call->method() != kVoiceMethod) {
      call->finish(unimplemented("no method '" + call->method() + "' on the voice endpoint (only " + kVoiceMethod + ")"));
      return;
    }
    v1::VoiceInput first;
    if (!call->request().payload().UnpackTo(&first) || !first.has_start()) {
      call->finish(invalid_argument(std::string(kVoiceMethod) + ": the REQUEST must carry VoiceInput{start}"));
      return;
    }
    const std::string session_id = first.start().session_id();
    if (session_id.empty()) {
      call->finish(invalid_argument("start.session_id is required"));
      return;
    }
    auto exists = gateway->sessions().get(session_id);
    if (!exists.ok()) {
      call->finish(exists.status());
      return;
    }
    auto sink = std::make_shared<WireSink>(call);
    auto opened = gateway->open(session_id, first.start().config(), sink, "wire");
    if (!opened.ok()) {
      call->finish(opened.status());
      return;
    }
    auto session = *opened;
    const std::size_t max_frame = gateway->limits().max_frame_bytes;
    auto refuse = [call, session, sink](const Status& s) {
      sink->send_event(input_error_event(s));
      (void)call->finish(s);
      (void)session.tell(voice::ClientGone{1007, s.message()});
    };
    call->on_cancel([session](const Status& s) { (void)session.tell(voice::ClientGone{1006, s.message()}); });
    // Runs on the transport's I/O thread: decode and hand to the session's actor.
    call->on_stream_data([session, refuse, max_frame, call](transport::Envelope env) {
      if (env.has_payload()) {
        v1::VoiceInput in;
        if (!env.payload().UnpackTo(&in)) return refuse(invalid_argument("stream data must carry a VoiceInput"));
        Status told;
        switch (in.input_case()) {
          case v1::VoiceInput::kAudio:
            if (in.audio().size() % 2 != 0) {
              return refuse(invalid_argument("audio must hold whole PCM16 samples (an even number of bytes); got " +
                                             std::to_string(in.audio().size())));
            }
            if (in.audio().size() > max_frame) {
              return refuse(invalid_argument("an audio message of " + std::to_string(in.audio().size()) +
                                             " bytes is over voice.max_frame_bytes (" + std::to_string(max_frame) + ")"));
            }
            told = session.tell(voice::ClientAudio{in.audio()});
            break;
          case v1::VoiceInput::kText: told = session.tell(voice::ClientText{in.text()}); break;
          case v1::VoiceInput::kInterrupt: told = session.tell(voice::ClientInterrupt{}); break;
          case v1::VoiceInput::kEnd: told = session.tell(voice::ClientEnd{}); break;
          case v1::VoiceInput::kStart: return refuse(invalid_argument("start may only come in the REQUEST"));
          case v1::VoiceInput::INPUT_NOT_SET: return refuse(invalid_argument("an empty VoiceInput"));
        }
        if (!told.is_ok()) {
          (void)call->finish(Status(told.code(), "voice session: " + told.message()));
          (void)session.tell(voice::ClientGone{1008, told.message()});
          return;
        }
      }
      if (env.end_of_stream()) (void)session.tell(voice::ClientEnd{});
    });
  }
};

Result<std::unique_ptr<VoiceWireServer>> VoiceWireServer::start(const std::string& endpoint, VoiceGateway& gateway,
                                                                const std::optional<transport::CurveKeyPair>& curve,
                                                                const std::vector<std::string>& curve_allowed_clients) {
  std::unique_ptr<VoiceWireServer> self(new VoiceWireServer());
  self->impl_ = std::make_unique<Impl>();
  Impl* impl = self->impl_.get();
  impl->gateway = &gateway;
  transport::ServerOptions o;
  o.endpoints = {endpoint};
  o.default_deadline = gateway.options().max_duration;
  o.curve = curve;
  o.curve_allowed_clients = curve_allowed_clients;
  // A voice call may stream for the whole session; its STREAM_DATA goes straight to the actor.
  auto server = transport::Server::start(
      o, transport::make_handler([impl](std::shared_ptr<transport::ServerCall> call) { impl->on_call(call); }));
  if (!server.ok()) return server.status().with_context("voice endpoint " + endpoint);
  impl->server = std::move(*server);
  self->endpoint_ = impl->server->endpoints()[0];
  return self;
}

VoiceWireServer::~VoiceWireServer() { stop(); }

void VoiceWireServer::stop() {
  if (impl_ && impl_->server) {
    impl_->server->stop();
    impl_->server.reset();
  }
}

}  // namespace parley::dialog
