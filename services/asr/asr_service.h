// AsrService: the parley.v1.Asr methods on top of AsrEngine — Recognize (bidirectional stream,
// one RecognizeSession per call) and Transcribe (a whole file, split at pauses into windows of
// at most 30 s that are batched together).
// Why: keeps the handlers free of model code and main.cc free of logic. Depends on
// recognize_session.h, shared/service/method.h, shared/audio.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "parley/v1/asr.pb.h"
#include "services/asr/asr_engine.h"
#include "services/asr/recognize_session.h"
#include "shared/service/method.h"

namespace parley::asr {

struct ServiceOptions {
  SessionOptions session;
  int max_streams = 16;                           ///< open Recognize streams; beyond: RESOURCE_EXHAUSTED
  std::chrono::milliseconds idle_timeout{10'000}; ///< no message this long ends a stream (DEADLINE_EXCEEDED)
  double max_transcribe_seconds = 600;            ///< audio in one Transcribe
  std::size_t max_transcribe_bytes = 64u << 20;
  bool punctuation_turn_end = true;               ///< the PunctuationTurnEnd classifier (else VAD silence only)
};

/// Thread-safe: every stream runs on its own worker thread.
class AsrService {
 public:
  AsrService(AsrEngine& engine, ServiceOptions options, AsrMetrics* metrics);

  Status recognize(service::StreamReader<v1::RecognizeRequest>& in, service::StreamWriter<v1::RecognizeResponse>& out,
                   service::CallContext& ctx);
  Result<v1::TranscribeResponse> transcribe(const v1::TranscribeRequest& request, service::CallContext& ctx);

  int active_streams() const { return active_.load(); }

 private:
  AsrEngine& engine_;
  ServiceOptions o_;
  AsrMetrics* metrics_;
  PunctuationTurnEnd punctuation_;
  std::atomic<int> active_{0};
};

/// Splits 16 kHz audio at pauses into pieces of at most `max_samples` (>= 1 s): a cut goes in the
/// longest low-VAD run of the last third of each piece, or at max_samples when there is none.
/// Returns [start, end) sample ranges covering the audio.
std::vector<std::pair<std::int64_t, std::int64_t>> split_at_pauses(std::span<const float> audio, const vad::SileroVad& vad,
                                                                   std::int64_t max_samples);

}  // namespace parley::asr
