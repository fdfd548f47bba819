// AsrClient and TtsClient over the transport (see transport_speech.h).
// Depends on transport_speech.h, shared/transport/client.h.
#include "services/dialog/voice/transport_speech.h"

#include <atomic>

#include "shared/transport/client.h"

namespace parley::dialog::voice {
namespace {

transport::CallOptions options_for(const CallMeta& meta, bool client_stream, bool idempotent) {
  transport::CallOptions o;
  o.deadline = meta.deadline;
  o.client_stream = client_stream;
  o.idempotent = idempotent;
  return o;
}

v1::Envelope envelope(const std::string& method, const google::protobuf::Message& payload, const CallMeta& meta) {
  v1::Envelope env;
  env.set_method(method);
  env.set_session_id(meta.session_id);
  env.set_trace_id(meta.trace_id);
  env.mutable_payload()->PackFrom(payload);
  return env;
}

class TransportAsrStream final : public AsrStream {
 public:
  explicit TransportAsrStream(transport::CallHandle handle) : handle_(std::move(handle)) {}
  bool send_audio(std::string pcm16) override {
    v1::RecognizeRequest req;
    req.mutable_audio()->set_data(std::move(pcm16));
    v1::Envelope env;
    env.mutable_payload()->PackFrom(req);
    return handle_.send(std::move(env));
  }
  void finish() override { handle_.close_send(); }
  void cancel() override { handle_.cancel(); }

 private:
  transport::CallHandle handle_;
};

class TransportAsr final : public AsrClient {
 public:
  explicit TransportAsr(std::unique_ptr<transport::Client> client) : client_(std::move(client)) {}
  std::unique_ptr<AsrStream> recognize(const v1::RecognitionConfig& config, const CallMeta& meta,
                                       AsrHandlers handlers) override {
    v1::RecognizeRequest req;
    *req.mutable_config() = config;
    auto h = std::make_shared<AsrHandlers>(std::move(handlers));
    auto handle = client_->call(envelope(kRecognizeMethod, req, meta), options_for(meta, true, false),
                                [h](Result<v1::Envelope> r) {
                                  if (!r.ok()) return h->on_end(r.status());
                                  if (r->has_payload()) {
                                    v1::RecognizeResponse ev;
                                    if (!r->payload().UnpackTo(&ev)) {
                                      return h->on_end(internal_error("asr reply is not a RecognizeResponse"));
                                    }
                                    h->on_event(std::move(ev));
                                  }
                                  if (r->end_of_stream()) h->on_end(Status::ok());
                                });
    return std::make_unique<TransportAsrStream>(std::move(handle));
  }

 private:
  std::unique_ptr<transport::Client> client_;
};

class TransportTtsCall final : public TtsCall {
 public:
  explicit TransportTtsCall(transport::CallHandle handle) : handle_(std::move(handle)) {}
  void cancel() override { handle_.cancel(); }

 private:
  transport::CallHandle handle_;
};

class TransportTts final : public TtsClient {
 public:
  explicit TransportTts(std::unique_ptr<transport::Client> client) : client_(std::move(client)) {}
  std::unique_ptr<TtsCall> synthesize(const v1::SynthesizeRequest& request, const CallMeta& meta,
                                      TtsHandlers handlers) override {
    auto h = std::make_shared<TtsHandlers>(std::move(handlers));
    // Idempotent: a replica that dies before answering is replaced by another.
    auto handle = client_->call(envelope(kSynthesizeMethod, request, meta), options_for(meta, false, true),
                                [h](Result<v1::Envelope> r) {
                                  if (!r.ok()) return h->on_end(r.status());
                                  if (r->has_payload()) {
                                    v1::SynthesizeResponse chunk;
                                    if (!r->payload().UnpackTo(&chunk)) {
                                      return h->on_end(internal_error("tts reply is not a SynthesizeResponse"));
                                    }
                                    h->on_audio(std::move(chunk));
                                  }
                                  if (r->end_of_stream()) h->on_end(Status::ok());
                                });
    return std::make_unique<TransportTtsCall>(std::move(handle));
  }

 private:
  std::unique_ptr<transport::Client> client_;
};

Result<std::unique_ptr<transport::Client>> make_client(const TransportSpeechOptions& options) {
  transport::ClientOptions co;
  co.targets = options.targets;
  co.name = options.name;
  co.max_wait_for_replica = options.max_wait_for_replica;
  co.curve = options.curve;
  return transport::Client::create(co);
}

}  // namespace

Result<std::unique_ptr<AsrClient>> make_transport_asr(const TransportSpeechOptions& options) {
  auto c = make_client(options);
  if (!c.ok()) return c.status().with_context("asr client");
  return std::unique_ptr<AsrClient>(new TransportAsr(std::move(*c)));
}

Result<std::unique_ptr<TtsClient>> make_transport_tts(const TransportSpeechOptions& options) {
  auto c = make_client(options);
  if (!c.ok()) return c.status().with_context("tts client");
  return std::unique_ptr<TtsClient>(new TransportTts(std::move(*c)));
}

}  // namespace parley::dialog::voice
