// RecognizeSession: one Recognize stream's logic, free of transport — audio chunks in (PCM16 or
// float32 at 8-48 kHz), RecognizeResponses out: START_OF_SPEECH, partials (is_final=false, every
// ~partial_interval of new speech, stabilized by local agreement), END_OF_SPEECH at the endpoint,
// finals (is_final=true, with word times spread over Whisper's timestamp segments).
// It never blocks: Whisper windows go to a WindowRunner, whose results come back through
// on_window() (the service posts them to the stream's actor); a synchronous runner (tests,
// tools) makes the same code run step by step. Partials do not hold up the audio behind them;
// a turn-end decision that needs a transcript and a final do (what follows waits for them, so
// events keep their order).
// Why: the service handler only moves messages; everything a stream decides lives here, tested
// without sockets. Depends on asr_engine.h, endpointing.h, shared/audio, parley/v1/asr.proto.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
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
  /// At a pause, decode the final's audio while the turn-end classifier runs: when it ends the
  /// turn, the final is (nearly) ready instead of starting then. Costs one window per pause
  /// that does not end the turn — off by default: on 2 cores it bought ~30 ms of voice latency
  /// and cost a third of the concurrent streams (services/asr/README.md).
  bool speculative_finals = false;
  /// Finals decode the utterance on a context of at least this many seconds of audio (the
  /// utterance + 1 s when longer) instead of Whisper's full 30 s window, and fall back to the full
  /// window when the text looks degenerate (WindowJob::fallback_full). >= 30: always the full
  /// window, as the reference decodes. 10 s: see services/asr/README.md ("Finals on a shorter context").
  double final_context_seconds = 10.0;
  /// The model whose languages config.language may name (language_token()); null: English only.
  const whisper::WhisperModel* model = nullptr;
};

/// Word times of a final: Whisper gives times per timestamp segment; each segment's duration is
/// shared among its words in proportion to their length (approximate, within the segment).
void add_word_times(const whisper::WindowResult& w, std::int64_t start_ms, v1::RecognitionAlternative& alt);

/// Runs a session's Whisper windows. run() either returns the result at once (a synchronous
/// runner) or std::nullopt after arranging for it to reach RecognizeSession::on_window(ticket)
/// later (an asynchronous one; an error it cannot queue is returned at once).
class WindowRunner {
 public:
  virtual ~WindowRunner() = default;
  virtual std::optional<Result<WindowOutput>> run(WindowJob job, std::uint64_t ticket) = 0;
};

/// Blocks on AsrEngine::transcribe: tests and tools that feed a session from one thread.
class BlockingWindowRunner final : public WindowRunner {
 public:
  explicit BlockingWindowRunner(AsrEngine& engine, std::chrono::milliseconds timeout = std::chrono::milliseconds(30'000))
      : engine_(engine), timeout_(timeout) {}
  std::optional<Result<WindowOutput>> run(WindowJob job, std::uint64_t) override {
    return engine_.transcribe(std::move(job), std::chrono::steady_clock::now() + timeout_);
  }

 private:
  AsrEngine& engine_;
  std::chrono::milliseconds timeout_;
};

/// Not thread-safe: one per stream, driven by one thread at a time (the stream's actor).
class RecognizeSession {
 public:
  /// `turn_end` may be null (pauses then end a turn only at max_silence_ms). `vad`, `runner`
  /// and `turn_end` must outlive the session.
  RecognizeSession(const vad::SileroVad& vad, WindowRunner& runner, SessionOptions options, AsrMetrics* metrics,
                   const TurnEndClassifier* turn_end);
  ~RecognizeSession();

  /// The stream's first message. INVALID_ARGUMENT naming the field for an unsupported format.
  Status configure(const v1::RecognitionConfig& config);
  /// One chunk of audio; responses to send are appended to `out`. INVALID_ARGUMENT for bad
  /// audio (odd byte count, NaN/Inf, a format change), RESOURCE_EXHAUSTED over the limits.
  Status audio(const v1::AudioChunk& chunk, std::vector<v1::RecognizeResponse>& out);
  /// End of the client stream: the rest of the audio is processed and an open utterance
  /// finalized; done() tells when that has all been sent.
  Status finish(std::vector<v1::RecognizeResponse>& out);
  /// The result of the window run() was given `ticket` for (asynchronous runners). Stale
  /// tickets are ignored.
  Status on_window(std::uint64_t ticket, Result<WindowOutput> result, std::vector<v1::RecognizeResponse>& out);
  /// The client went away: queued windows of this stream are dropped unrun.
  void cancel() { cancelled_->store(true); }

  /// finish() was called and everything it implied (the last final) has been produced.
  bool done() const { return finished_; }
  /// A window of this stream is queued or running.
  bool waiting() const { return inflight_.has_value(); }
  double audio_seconds() const { return static_cast<double>(received_) / whisper::kSampleRate; }
  /// Endpoints so far (END_OF_SPEECH sent), with their latency in audio ms after the last speech.
  const std::vector<int>& endpoint_latencies_ms() const { return endpoint_latency_ms_; }
  /// Speculative finals started, and those that became the final (the rest were wasted work).
  int speculative_started() const { return speculative_started_; }
  int speculative_used() const { return speculative_used_; }
  /// Turn-end classifier calls and their total wall time (figures).
  int classifier_calls() const { return classifier_calls_; }
  double classifier_seconds() const { return classifier_seconds_; }

 private:
  enum class JobKind : std::uint8_t { kPartial, kDecision, kFinal };
  struct Job {
    JobKind kind = JobKind::kPartial;
    std::uint64_t ticket = 0;
    std::uint64_t utterance = 0;    // the utterance it belongs to (partials of an ended one are dropped)
    std::int64_t end = 0;           // partial/decision: audio (samples) decoded up to; final: the end asked for
    std::int64_t start = 0;         // final: first sample of its audio
    std::int64_t samples = 0;       // final: length of its audio
    int silence_ms = 0;             // decision: the pause when asked
    bool after_endpoint = false;    // final: time END_OF_SPEECH -> final (metric)
    bool speculative = false;       // final decoded at a pause before the turn is known to end: never blocks audio
    std::chrono::steady_clock::time_point since{};
    WindowJob window;               // until started
  };

  Status drive(std::vector<v1::RecognizeResponse>& out);
  Status vad_step(std::vector<v1::RecognizeResponse>& out);
  Status pause(std::vector<v1::RecognizeResponse>& out);
  Status decide(float probability, std::vector<v1::RecognizeResponse>& out);
  Status endpoint(std::vector<v1::RecognizeResponse>& out);
  Status complete(Job job, Result<WindowOutput> result, std::vector<v1::RecognizeResponse>& out);
  void apply_hypothesis(const whisper::WindowResult& w, std::int64_t end, std::chrono::steady_clock::time_point since,
                        std::vector<v1::RecognizeResponse>& out);
  void queue_final(std::int64_t end, bool after_endpoint);
  std::optional<Job> final_job(std::int64_t end, bool after_endpoint);
  void speculate();
  Status promote_or_queue_final(std::int64_t end, std::vector<v1::RecognizeResponse>& out);
  Job window_job(JobKind kind, std::span<const float> audio, bool truncate);
  void start(Job job);
  void trim();
  std::span<const float> utterance(std::int64_t end) const;

  const vad::SileroVad& vad_;
  WindowRunner& runner_;
  SessionOptions o_;
  AsrMetrics* metrics_;
  const TurnEndClassifier* turn_end_;
  std::shared_ptr<std::atomic<bool>> cancelled_ = std::make_shared<std::atomic<bool>>(false);

  bool configured_ = false;
  bool interim_ = true;
  int language_ = -1;  // the decoder's language token (-1: English)
  bool float_ = false;
  int rate_ = 16000;
  std::optional<audio::Resampler> resampler_;
  vad::VadState vad_state_;
  std::vector<float> vad_pending_;
  std::size_t vad_used_ = 0;         // samples of vad_pending_ already run
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
  int classifier_calls_ = 0;
  double classifier_seconds_ = 0;
  int speculative_started_ = 0, speculative_used_ = 0;

  std::uint64_t utterance_id_ = 0, next_ticket_ = 1;
  std::optional<Job> inflight_;                 // the window queued or running (at most one)
  std::optional<Result<WindowOutput>> ready_;   // its result, once known
  std::deque<Job> blocking_;                    // decisions and finals waiting to start; audio waits behind them
  // The speculative final of the current pause: waiting for the window slot, or decoded (held
  // until the endpoint promotes it, or dropped when speech resumes or the utterance ends).
  std::optional<Job> speculative_waiting_;
  struct Decoded {
    Job job;
    Result<WindowOutput> result;
  };
  std::optional<Decoded> speculative_done_;
  bool finishing_ = false, final_queued_ = false, finished_ = false;
};

}  // namespace parley::asr
