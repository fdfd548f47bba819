// Speech recognition and synthesis over the transport: AsrClient on parley.v1.Asr/Recognize (a
// bidirectional call: REQUEST with the config, STREAM_DATA with audio, RecognizeResponse replies)
// and TtsClient on parley.v1.Tts/Synthesize (a server stream of audio chunks), each over every
// replica of its service (least-loaded, fast failure when none is live).
// Depends on speech_clients.h, shared/transport.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "services/dialog/voice/speech_clients.h"
#include "shared/transport/client.h"

namespace parley::dialog::voice {

struct TransportSpeechOptions {
  std::vector<std::string> targets;  ///< tcp:// or dns:// replicas
  std::string name;                  ///< "asr", "tts" (logs, errors)
  /// A call with no live replica fails after this (the voice session says so and falls back).
  std::chrono::milliseconds max_wait_for_replica{300};
  /// CURVE (transport.curve_server_key + client keys); unset: plaintext.
  std::optional<transport::CurveClientOptions> curve;
};

/// Clients connect in the background; the service may come up later.
Result<std::unique_ptr<AsrClient>> make_transport_asr(const TransportSpeechOptions& options);
Result<std::unique_ptr<TtsClient>> make_transport_tts(const TransportSpeechOptions& options);

}  // namespace parley::dialog::voice
