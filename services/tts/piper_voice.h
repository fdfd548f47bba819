// A Piper (VITS) voice: its .onnx graph on the ONNX runtime plus its .onnx.json (phoneme id map,
// sample rate, inference scales), phonemes -> ids the way piper-tts does it, and a per-worker
// Synthesizer that turns ids into float audio.
// Why: parley-tts speaks with Piper voices; this is the one place that knows their conventions
// (BOS "^", PAD "_" after every phoneme, EOS "$", NFD-split phonemes, scales = [noise, length,
// noise_w]). Depends on shared/onnx, shared/common/json_document.h, shared/text/unicode.h.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shared/common/status.h"
#include "shared/onnx/model.h"

namespace parley::tts {

struct VoiceConfig {
  std::string name;              ///< e.g. "en_US-joe-medium" (the file stem)
  int sample_rate = 22050;
  std::string espeak_voice = "en-us";
  float noise_scale = 0.667f;
  float length_scale = 1.0f;
  float noise_w = 0.8f;
  int num_speakers = 1;
  std::map<char32_t, std::vector<std::int64_t>> phoneme_ids;  ///< one code point -> ids
};

/// Parses a Piper .onnx.json. InvalidArgument naming the field on a bad file.
Result<VoiceConfig> parse_voice_config(std::string_view json, const std::string& name);

/// Phonemes (UTF-8 IPA, punctuation included) -> ids: [^, _] + (id, _)* + [$]; each code point is
/// NFD-decomposed first. Code points missing from the map are skipped and counted in *unknown.
std::vector<std::int64_t> phonemes_to_ids(const VoiceConfig& config, std::string_view phonemes, int* unknown = nullptr);

/// A loaded voice, shared by every worker. Thread-safe (immutable).
class PiperVoice {
 public:
  /// Loads <path> (.onnx) and <path>.json. Errors name the file and, for graph problems, the node.
  static Result<std::shared_ptr<const PiperVoice>> load(const std::string& onnx_path);

  const VoiceConfig& config() const { return config_; }
  /// Where the graph splits for decoder streaming: the value feeding the HiFi-GAN decoder
  /// ("/dec/conv_pre/Conv"), and the samples per latent frame (product of the decoder's
  /// ConvTranspose strides). Empty latent: the voice cannot stream its decoder.
  const std::string& latent_name() const { return latent_; }
  int hop() const { return hop_; }
  void set_split(std::string latent, int hop) {
    latent_ = std::move(latent);
    hop_ = hop;
  }
  /// Latent frames of context each side that make a decoder window exact (the decoder's receptive
  /// field, read from the graph: convolutions' kernels, dilations, paddings and strides); nullopt
  /// when the graph between the latent and the audio has an op that moves positions.
  std::optional<int> decoder_reach() const { return decoder_reach_; }
  void set_decoder_reach(std::optional<int> frames) { decoder_reach_ = frames; }
  const std::shared_ptr<const onnx::Model>& model() const { return model_; }

  PiperVoice(VoiceConfig c, std::shared_ptr<const onnx::Model> m) : config_(std::move(c)), model_(std::move(m)) {}

 private:
  VoiceConfig config_;
  std::shared_ptr<const onnx::Model> model_;
  std::string latent_;
  int hop_ = 0;
  std::optional<int> decoder_reach_;
};

/// The receptive field of the graph's output over `latent`, in latent frames each side (see
/// PiperVoice::decoder_reach). Exposed for tests.
std::optional<int> decoder_reach_frames(const onnx::ModelData& model, const std::string& latent);

/// Decoder streaming: the first window is short so audio starts early; later windows are long,
/// because every seam decodes `context` latent frames twice on each side (the overlap is cropped).
/// A window takes the rest of the utterance when what would be left is under half its size.
/// context < 0: the voice's decoder reach (exact seams; 16 when the graph does not tell).
struct DecoderWindows {
  int first_frames = 24;
  int frames = 200;
  int context = -1;
};

struct SynthesisParams {
  float noise_scale = 0.667f;
  float length_scale = 1.0f;  ///< > 1 slower
  float noise_w = 0.8f;
};

/// Runs a voice. One per worker thread (owns an onnx::Session and its buffer pool).
class Synthesizer {
 public:
  /// bf16: the convolutions may multiply in bf16 (onnx::SessionOptions::allow_bf16).
  explicit Synthesizer(std::shared_ptr<const PiperVoice> voice, std::uint64_t seed = 0x5eed, bool bf16 = false);
  /// Float audio at the voice's sample rate for one utterance of phoneme ids. `cancelled`, when
  /// set, is polled between graph nodes: CANCELLED as soon as it returns true.
  Result<std::vector<float>> synthesize(const std::vector<std::int64_t>& ids, const SynthesisParams& params,
                                        const std::function<bool()>& cancelled = {});
  /// CPU threads for the next runs (nullptr = the process pool).
  void set_threads(kernels::ThreadPool* threads) { threads_ = threads; }
  /// The same utterance with the decoder run in windows: `emit` gets each window's samples in
  /// order (return false to stop). The encoder, duration predictor and flow run once first.
  Status synthesize_windows(const std::vector<std::int64_t>& ids, const SynthesisParams& params,
                            const DecoderWindows& windows, const std::function<bool(std::vector<float>)>& emit,
                            const std::function<bool()>& cancelled = {});
  const PiperVoice& voice() const { return *voice_; }

 private:
  std::shared_ptr<const PiperVoice> voice_;
  onnx::Session session_;
  kernels::ThreadPool* threads_ = nullptr;
};

}  // namespace parley::tts
