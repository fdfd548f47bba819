// parley.v1.Tts/Synthesize: checks the request, plans it (plain text or SSML-lite), splits it into
// pieces and streams PCM16 chunks piece by piece, first piece first, with the byte range of the
// text each chunk speaks. Why: the service logic, free of sockets and envelopes (the host does
// those), so tests and the CLI's --local mode run it directly. Depends on piper_voice.h,
// phonemizer_client.h, text_splitter.h, text_normalizer.h, ssml.h, tts_metrics.h,
// shared/service (CallContext, StreamWriter), shared/audio (resampler, PCM), proto.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "parley/v1/tts.pb.h"
#include "services/tts/phonemizer_client.h"
#include "services/tts/piper_voice.h"
#include "services/tts/text_splitter.h"
#include "services/tts/tts_metrics.h"
#include "shared/service/method.h"

namespace parley::tts {

struct TtsOptions {
  std::vector<std::string> voice_paths;  ///< .onnx files (each with its .onnx.json); the first is the default
  PhonemizerOptions phonemizer;          ///< program (parley-phonemize), data dir, timeout
  int engines = 2;                       ///< concurrent syntheses (one ONNX session + helper each)
  std::size_t max_text_bytes = 5000;
  int max_break_ms = 10000;
  int min_sample_rate = 8000, max_sample_rate = 48000;
  SplitOptions split;
  bool normalize_audio = true;           ///< scale each piece to peak 1.0 (as piper-tts does)
  /// The first piece's decoder runs in windows (audio starts after the first window); its peak
  /// is not known in advance, so it gets `stream_gain` (clamped to [-1, 1]) instead.
  bool stream_first_piece = true;
  DecoderWindows windows;
  float stream_gain = 2.0f;
  float noise_scale = -1, noise_w = -1;  ///< < 0: the voice's own (its .onnx.json)
  std::uint64_t seed = 0x5eed;
  /// The long convolutions multiply in bf16 where the CPU has AVX512_BF16 (f32 elsewhere):
  /// ~1.26x faster synthesis, 43-44 dB SNR against f32 ONNX Runtime (tts_parity_test).
  bool bf16 = true;
};

/// Thread-safe: synthesize() may run on many worker threads; each borrows an engine (a
/// Synthesizer per voice + a phonemizer helper) for the duration of the call.
class TtsService {
 public:
  /// Loads every voice and starts the phonemizer helpers (a broken install fails here).
  static Result<std::unique_ptr<TtsService>> create(TtsOptions options, metrics::Registry* registry);
  ~TtsService();

  Status synthesize(const v1::SynthesizeRequest& request, service::StreamWriter<v1::SynthesizeResponse>& out,
                    service::CallContext& ctx);
  /// Voice names (file stems), default first.
  std::vector<std::string> voices() const;
  /// The checks synthesize() starts with (exposed for tests).
  Status validate(const v1::SynthesizeRequest& request) const;

 private:
  struct Engine;
  explicit TtsService(TtsOptions options);
  std::unique_ptr<Engine> borrow();
  void give_back(std::unique_ptr<Engine> e);

  TtsOptions options_;
  std::vector<std::shared_ptr<const PiperVoice>> voices_;
  std::unique_ptr<metrics::Registry> own_registry_;
  std::unique_ptr<TtsMetrics> metrics_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Engine>> idle_;
  std::atomic<int> active_{0};  ///< syntheses running now (more than one: each runs single-threaded)
};

}  // namespace parley::tts
