// parley.v1.Dialog/Voice on the transport, for gateways inside the cluster: one bidirectional
// call per voice session (REQUEST: VoiceInput{start}; STREAM_DATA: VoiceInput audio/text/
// interrupt/end; replies: one VoiceEvent each, the bot's audio as type "audio").
// Why its own endpoint (voice.transport_bind): a voice call lasts minutes, and the service host's
// methods hold a worker thread for the length of a call; this server hands every call to its
// session's actor and holds no thread. Depends on voice_gateway.h, shared/transport/server.h.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "services/dialog/api/voice_gateway.h"
#include "shared/transport/curve.h"

namespace parley::dialog {

inline constexpr const char* kVoiceMethod = "parley.v1.Dialog/Voice";

class VoiceWireServer {
 public:
  /// Binds `endpoint` ("tcp://127.0.0.1:7107", or ":*" for a free port). `curve`: the service's
  /// CURVE server keys and allowed clients (like the host's socket); unset: plaintext.
  static Result<std::unique_ptr<VoiceWireServer>> start(
      const std::string& endpoint, VoiceGateway& gateway,
      const std::optional<transport::CurveKeyPair>& curve = std::nullopt,
      const std::vector<std::string>& curve_allowed_clients = {});
  ~VoiceWireServer();
  const std::string& endpoint() const { return endpoint_; }
  /// Ends every open call (the sessions see their client gone) and unbinds.
  void stop();

  struct Impl;

 private:
  VoiceWireServer() = default;
  std::unique_ptr<Impl> impl_;
  std::string endpoint_;
};

}  // namespace parley::dialog
