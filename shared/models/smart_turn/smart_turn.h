// Smart-turn v3 (pipecat-ai): P(the speaker has finished their turn) from the last 8 s of audio,
// a Whisper-tiny-style encoder + attention pooling + classifier, shipped as an int8 QDQ ONNX
// graph and run on shared/onnx. Features exactly as pipecat's LocalSmartTurnAnalyzerV3: the last
// 8 s of 16 kHz audio (zeros in front when shorter), normalized to zero mean and unit variance,
// then an 80 x 800 Whisper log-mel (Hugging Face's extractor: no tail zeros, last frame dropped).
// Why: ending a turn on silence alone either cuts people off at their pauses or waits too long;
// the model hears intonation and whether the sentence is complete. Depends on shared/onnx,
// shared/models/whisper (LogMel).
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "shared/common/status.h"
#include "shared/models/whisper/mel.h"
#include "shared/onnx/model.h"

namespace parley::smart_turn {

inline constexpr int kSampleRate = 16000;
inline constexpr int kWindowSamples = 8 * kSampleRate;  ///< what the model hears
inline constexpr int kMels = 80;
inline constexpr int kFrames = kWindowSamples / whisper::kHop;  ///< 800

/// The model input for one clip: [80, 800] log-mel of its last 8 s (see the file comment).
/// InvalidArgument for empty audio.
Result<std::vector<float>> features(std::span<const float> audio, const whisper::LogMel& mel);

/// The loaded model. Thread-safe: runs take an ONNX session from a pool (one per concurrent
/// caller, created on demand and kept), so any number of threads may call predict().
///
///   PARLEY_ASSIGN_OR_RETURN(auto st, SmartTurn::load(model_root() + "/turn-smart-turn/smart-turn-v3.2-cpu.onnx"));
///   PARLEY_ASSIGN_OR_RETURN(float p, st->predict(utterance_16k));   // >= 0.5: complete
class SmartTurn {
 public:
  /// Loads and checks the graph (input "input_features" [batch, 80, 800], one probability out).
  /// Errors name the file and the problem.
  static Result<std::shared_ptr<const SmartTurn>> load(const std::string& path);

  /// P(turn complete) for one clip of 16 kHz audio (its last 8 s are used).
  Result<float> predict(std::span<const float> audio) const;
  /// The same for several clips in one batched run.
  Result<std::vector<float>> predict(std::span<const std::span<const float>> clips) const;
  /// The same from ready features ([n, 80, 800] row-major) — for tests against a reference.
  Result<std::vector<float>> predict_features(std::span<const float> features, int n) const;

  const onnx::Model& model() const { return *model_; }

 private:
  explicit SmartTurn(std::shared_ptr<const onnx::Model> model) : model_(std::move(model)) {}
  std::unique_ptr<onnx::Session> take_session() const;
  void give_back(std::unique_ptr<onnx::Session> session) const;

  std::shared_ptr<const onnx::Model> model_;
  whisper::LogMel mel_{kMels};
  std::string input_, output_;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<onnx::Session>> idle_;
};

}  // namespace parley::smart_turn
