// AsrEngine: the Whisper model and the Silero VAD of one process, and the dynamic batcher that
// runs utterance windows from every stream through the encoder and decoder together.
// Why: many streams share one model; batching their windows (up to asr.max_batch, waiting at
// most asr.max_queue_delay for company) is what lets one CPU or GPU serve them; the queue is
// bounded (back-pressure: RESOURCE_EXHAUSTED). Depends on shared/models/whisper,
// shared/models/vad, shared/batching, asr_metrics.h.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "services/asr/asr_metrics.h"
#include "shared/batching/dynamic_batcher.h"
#include "shared/models/vad/silero_vad.h"
#include "shared/models/whisper/decoding.h"
#include "shared/models/whisper/mel.h"
#include "shared/models/whisper/whisper_model.h"
#include "shared/models/whisper/whisper_runner.h"

namespace parley::asr {

struct EngineOptions {
  std::string model_dir;               ///< holds model.bin, vocabulary.txt, config.json, tokenizer.json
  std::string vad_path;                ///< silero_vad_16k.safetensors
  whisper::WhisperPrecision precision = whisper::WhisperPrecision::kInt8;
  engine::Device device = engine::Device::cpu();
  std::size_t max_batch = 8;           ///< windows per encoder call
  std::chrono::milliseconds max_queue_delay{5};
  std::size_t queue_capacity = 64;     ///< windows waiting; beyond: RESOURCE_EXHAUSTED
  int workers = 1;                     ///< batch threads (each with its own runner and scratch)
};

/// One utterance (at most 30 s of 16 kHz mono) to transcribe. `cancelled` (optional) is checked
/// before the window runs: a stream that went away costs nothing more.
struct WindowJob {
  std::vector<float> audio;
  std::shared_ptr<const std::atomic<bool>> cancelled;
  bool timestamps = true;
  /// Encode only the audio plus 1 s instead of the whole 30 s window (several times cheaper for
  /// short audio). Partials and turn decisions use it as it is; Whisper, trained on 30 s windows,
  /// loops on very short contexts ("Go forward 10 meters." nine times), which is tolerable for a
  /// partial and not for a final.
  bool truncate = false;
  /// With truncate: at least this many mel frames (100 per second) of context; 0 = none.
  int min_frames = 0;
  /// With truncate: a result that looks degenerate (degenerate_result()) is decoded again on the
  /// full 30 s window, as Whisper's own fallback re-decodes such windows.
  bool fallback_full = false;
  /// Multilingual models: the language token to decode in (language_token()); -1 = English.
  int language = -1;
};

/// The decoder language for a Recognize / Transcribe config's `language` on `model`: -1 for the
/// default, English (empty, or "en..." on any model); the language token on a multilingual model
/// (WhisperTokenizer::language_token: "de", "pt-BR"); INVALID_ARGUMENT naming the language when
/// the model does not serve it (an English-only model serves English only).
Result<int> language_token(const whisper::WhisperModel& model, std::string_view language);

/// Whisper's fallback signals (openai/whisper transcribe.py, faster-whisper): the text
/// compresses too well (zlib ratio > 2.4: a repetition loop), the average log-probability is
/// below -1, or the decoder ran into its token cap. Silence (the no-speech rule) is not degenerate.
bool degenerate_result(const whisper::WindowResult& r, int max_new_tokens);
/// len(text) / len(zlib(text)), Whisper's compression ratio (0 for empty text).
double compression_ratio(const std::string& text);

struct WindowOutput {
  whisper::WindowResult result;
  bool fell_back = false;      ///< decoded again on the full window (WindowJob::fallback_full)
  int token_cap = 0;           ///< the decoder's token limit for this window's batch
  double audio_seconds = 0;
  double compute_seconds = 0;  ///< this window's share of its batch's wall time
};

/// Thread-safe; shared by every stream of the process.
class AsrEngine {
 public:
  /// Loads both models and starts the batcher. Errors name the file.
  static Result<std::unique_ptr<AsrEngine>> create(const EngineOptions& options, AsrMetrics* metrics);
  ~AsrEngine();

  /// Transcribes one window, blocking until it ran (batched with others) or failed.
  /// RESOURCE_EXHAUSTED when the queue is full, DEADLINE_EXCEEDED, CANCELLED.
  Result<WindowOutput> transcribe(WindowJob job, std::chrono::steady_clock::time_point deadline);
  /// Queues one window without waiting: `done` runs once, on a batch thread, with the result.
  /// Returns the refusal (queue full: RESOURCE_EXHAUSTED; stopped; deadline passed) instead of
  /// calling `done` when the window cannot be queued.
  Status submit(WindowJob job, std::chrono::steady_clock::time_point deadline, std::function<void(Result<WindowOutput>)> done);
  /// Several windows enqueued at once (Transcribe of a long file): they share batches.
  Result<std::vector<WindowOutput>> transcribe_all(std::vector<WindowJob> jobs, std::chrono::steady_clock::time_point deadline);

  const std::shared_ptr<const vad::SileroVad>& vad() const { return vad_; }
  const whisper::WhisperModel& model() const { return *model_; }
  std::size_t in_flight() const { return batcher_->in_flight(); }
  void stop() { batcher_->stop(); }

 private:
  AsrEngine() = default;
  std::vector<Result<WindowOutput>> run_batch(std::vector<WindowJob>& jobs);
  /// Encodes and decodes jobs[idx] as one batch (same timestamps setting), on a context cut to
  /// their audio when `truncate`, writing out[idx].
  void run_windows(whisper::WhisperRunner& runner, const std::vector<WindowJob>& jobs, const std::vector<std::size_t>& idx,
                   bool timestamps, bool truncate, std::vector<Result<WindowOutput>>& out);

  EngineOptions options_;
  AsrMetrics* metrics_ = nullptr;
  std::shared_ptr<const whisper::WhisperModel> model_;
  std::shared_ptr<const vad::SileroVad> vad_;
  whisper::LogMel mel_{80};
  std::unique_ptr<batching::DynamicBatcher<WindowJob, WindowOutput>> batcher_;
};

}  // namespace parley::asr
