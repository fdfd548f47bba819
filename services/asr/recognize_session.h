// RecognizeSession: one Recognize stream's logic, free of transport — audio chunks in (PCM16 or
// float32 at 8-48 kHz), RecognizeResponses out: START_OF_SPEECH, partials (is_final=false, every
// ~partial_interval of new speech, stabilized by local agreement), END_OF_SPEECH at the endpoint,
// finals (is_final=true, with word times spread over Whisper's timestamp segments).
// Why: the service handler only moves messages; everything a stream decides lives here, tested
// without sockets. Depends on asr_engine.h, endpointing.h, shared/audio, parley/v1/asr.proto.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parley/v1/asr.pb.h"
#include "services/asr/asr_engine.h"
#include "services/asr/endpointing.h"
#include "shared/audio/resampler.h"
#include "shared/models/vad/silero_vad.h"

namespace parley::asr {

struct SessionOptions {
  EndpointOptions endpoint;
  int min_sample_rate = 8000, max_sample_rate = 48000;
  std::size_t max_chunk_bytes = 256 * 1024;   ///< one AudioChunk's data
  double max_stream_seconds = 3600;           ///< audio per stream
  int partial_interval_ms = 300;              ///< new speech between partials
  std::chrono::milliseconds window_timeout{30'000};  ///< one window's wait + run in the engine
  bool fast_partials = true;                  ///< partials on a truncated audio context (WindowJob::truncate)
};

/// Word times of a final: Whisper gives times per timestamp segment; each segment's duration is
/// shared among its words in proportion to their length (approximate, within the segment).
void add_word_times(const whisper::WindowResult& w, std::int64_t start_ms, v1::RecognitionAlternative& alt);

/// Not thread-safe: one per stream, used by the stream's handler thread.
class RecognizeSession {
 public:
  /// `turn_end` may be null (pauses then end a turn only at max_silence_ms).
  RecognizeSession(AsrEngine& engine, SessionOptions options, AsrMetrics* metrics, const TurnEndClassifier* turn_end);
  ~RecognizeSession();

  /// The stream's first message. INVALID_ARGUMENT naming the field for an unsupported format.
  Status configure(const v1::RecognitionConfig& config);
  /// One chunk of audio; responses to send are appended to `out`. INVALID_ARGUMENT for bad
  /// audio (odd byte count, NaN/Inf, a format change), RESOURCE_EXHAUSTED over the limits.
  Status audio(const v1::AudioChunk& chunk, std::vector<v1::RecognizeResponse>& out);
  /// End of the client stream: finalizes an open utterance.
  Status finish(std::vector<v1::RecognizeResponse>& out);
  /// The client went away: queued windows of this stream are dropped unrun.
  void cancel() { cancelled_->store(true); }

  double audio_seconds() const { return static_cast<double>(received_) / whisper::kSampleRate; }
  /// Endpoints so far (END_OF_SPEECH sent), with their latency in audio ms after the last speech.
  const std::vector<int>& endpoint_latencies_ms() const { return endpoint_latency_ms_; }

 private:
  Status process(std::span<const float> samples16k, std::vector<v1::RecognizeResponse>& out);
  Status on_probability(float p, std::vector<v1::RecognizeResponse>& out);
  Status partial(std::vector<v1::RecognizeResponse>& out);
  Status final_result(std::int64_t end, std::vector<v1::RecognizeResponse>& out);
  Result<WindowOutput> run(std::span<const float> audio, bool partial);
  std::span<const float> utterance(std::int64_t end) const;

  AsrEngine& engine_;
  SessionOptions o_;
  AsrMetrics* metrics_;
  const TurnEndClassifier* turn_end_;
  std::shared_ptr<std::atomic<bool>> cancelled_ = std::make_shared<std::atomic<bool>>(false);

  bool configured_ = false;
  bool interim_ = true;
  bool float_ = false;
  int rate_ = 16000;
  std::optional<audio::Resampler> resampler_;
  vad::VadState vad_state_;
  std::vector<float> vad_pending_;
  Endpointer endpointer_;

  // 16 kHz audio kept from sample base_ on: the pre-roll while idle, the utterance while speaking.
  std::vector<float> audio_;
  std::int64_t base_ = 0;
  std::int64_t received_ = 0;        // 16 kHz samples received (== base_ + audio_.size())
  std::int64_t vad_done_ = 0;        // samples the VAD has consumed
  std::int64_t last_partial_at_ = 0; // utterance samples at the last partial decode
  std::string hypothesis_;           // latest hypothesis (partial decode)
  std::int64_t hypothesis_end_ = -1; // audio end it was decoded on
  std::vector<std::string> previous_words_, committed_;
  std::chrono::steady_clock::time_point chunk_arrival_{};
  std::vector<int> endpoint_latency_ms_;
};

}  // namespace parley::asr
