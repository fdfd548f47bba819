// AsrService: the parley.v1.Asr methods on top of AsrEngine — Recognize (a Host::stream call:
// one RecognizeSession per call, fed by the host one message at a time, its Whisper windows
// queued on the engine and their results posted back to the call, so an open stream holds no
// thread) and Transcribe (a whole file, split at pauses into windows of at most 30 s that are
// batched together).
// Why: keeps the handlers free of model code and main.cc free of logic. Depends on
// recognize_session.h, shared/service (method.h, stream_call.h), shared/audio.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "parley/v1/asr.pb.h"
#include "services/asr/asr_engine.h"
#include "services/asr/recognize_session.h"
#include "shared/service/method.h"
#include "shared/service/stream_call.h"

namespace parley::asr {

struct ServiceOptions {
  SessionOptions session;
  int max_streams = 16;                           ///< open Recognize streams; beyond: RESOURCE_EXHAUSTED
  std::chrono::milliseconds idle_timeout{10'000}; ///< no message this long ends a stream (DEADLINE_EXCEEDED)
  double max_transcribe_seconds = 600;            ///< audio in one Transcribe
  std::size_t max_transcribe_bytes = 64u << 20;
};

/// A Whisper window of a Recognize stream has run: its result, posted back to the stream's call.
struct WindowDone {
  std::uint64_t ticket = 0;
  Result<WindowOutput> result;
};

using RecognizeHandler = service::StreamHandler<v1::RecognizeRequest, v1::RecognizeResponse, WindowDone>;
using RecognizeCall = service::StreamCall<v1::RecognizeResponse, WindowDone>;

/// Thread-safe: Recognize calls run on the host's pool one message at a time each; Transcribe
/// blocks its worker until its windows ran.
class AsrService {
 public:
  /// `turn_end` may be null (pauses end a turn only at max_silence_ms); it must outlive the service.
  AsrService(AsrEngine& engine, ServiceOptions options, AsrMetrics* metrics, const TurnEndClassifier* turn_end);

  /// The handler of one Recognize call (the Host::stream factory): over asr.max_streams it ends
  /// the call RESOURCE_EXHAUSTED at once.
  std::unique_ptr<RecognizeHandler> open(RecognizeCall& call);
  Result<v1::TranscribeResponse> transcribe(const v1::TranscribeRequest& request, service::CallContext& ctx);

  const ServiceOptions& options() const { return o_; }
  int active_streams() const { return active_.load(); }

 private:
  friend class RecognizeStream;
  AsrEngine& engine_;
  ServiceOptions o_;
  AsrMetrics* metrics_;
  const TurnEndClassifier* turn_end_;
  std::atomic<int> active_{0};
};

/// Splits 16 kHz audio at pauses into pieces of at most `max_samples` (>= 1 s): a cut goes in the
/// longest low-VAD run of the last third of each piece, or at max_samples when there is none.
/// Returns [start, end) sample ranges covering the audio.
std::vector<std::pair<std::int64_t, std::int64_t>> split_at_pauses(std::span<const float> audio, const vad::SileroVad& vad,
                                                                   std::int64_t max_samples);

}  // namespace parley::asr
