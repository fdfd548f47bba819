// Where voice connections become voice sessions: the limits every voice transport shares
// (sessions per replica, frame and buffer sizes), spawning a session's actor, and reading a
// client's control messages. Used by the WebSocket route (voice_socket.h) and the transport
// method (voice_wire.h). Depends on voice/voice_session.h, shared/actor.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "services/dialog/voice/voice_session.h"
#include "shared/actor/actor_system.h"

namespace parley::dialog {

/// Config keys voice.* (services/dialog/README.md).
struct VoiceLimits {
  std::size_t max_sessions = 200;              ///< open voice sessions per replica
  std::size_t max_frame_bytes = 64 << 10;      ///< one audio message from a client (2 s at 16 kHz)
  std::size_t max_send_buffer_bytes = 1 << 20; ///< unsent output per connection before it is closed (1008)
  std::chrono::milliseconds ping_timeout{30'000};  ///< a WebSocket client silent this long is gone
  int socket_send_buffer_bytes = 0;            ///< SO_SNDBUF of voice sockets; 0 = the OS default
};

/// Thread-safe.
class VoiceGateway {
 public:
  VoiceGateway(actor::ActorSystem& system, SessionManager& sessions, voice::AsrClient* asr, voice::TtsClient* tts,
               voice::VoiceMetrics* metrics, voice::VoiceOptions options, VoiceLimits limits);

  /// Spawns the session's actor. RESOURCE_EXHAUSTED when max_sessions are open; INVALID_ARGUMENT
  /// for a bad config (the message names the field). `transport` labels the metric.
  Result<actor::ActorRef<voice::VoiceMsg>> open(const std::string& session_id, const v1::VoiceConfig& config,
                                                std::shared_ptr<voice::VoiceSink> sink, const std::string& transport);

  std::size_t active() const { return active_->load(); }
  bool full() const { return active() >= limits_.max_sessions; }
  const VoiceLimits& limits() const { return limits_; }
  const voice::VoiceOptions& options() const { return options_; }
  SessionManager& sessions() { return sessions_; }
  voice::VoiceMetrics* metrics() const { return metrics_; }

 private:
  actor::ActorSystem& system_;
  SessionManager& sessions_;
  voice::AsrClient* asr_;
  voice::TtsClient* tts_;
  voice::VoiceMetrics* metrics_;
  voice::VoiceOptions options_;
  VoiceLimits limits_;
  std::shared_ptr<std::atomic<std::size_t>> active_ = std::make_shared<std::atomic<std::size_t>>(0);
};

/// A client's text frame: {"type":"text","text":"..."} | {"type":"interrupt"} | {"type":"end"}.
/// INVALID_ARGUMENT names the problem (not JSON, not an object, unknown type, missing text).
Result<voice::VoiceMsg> parse_voice_control(std::string_view json);

/// The error event voice transports send for bad client input.
v1::VoiceEvent input_error_event(const Status& status);

}  // namespace parley::dialog
