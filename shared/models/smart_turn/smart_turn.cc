// SmartTurn (see smart_turn.h). Depends on smart_turn.h.
#include "shared/models/smart_turn/smart_turn.h"

#include <cmath>

namespace parley::smart_turn {

Result<std::vector<float>> features(std::span<const float> audio, const whisper::LogMel& mel) {
  if (audio.empty()) return invalid_argument("smart-turn: no audio");
  // The last 8 s, zeros in front when shorter (pipecat: truncate_audio_to_last_n_seconds).
  std::vector<float> x(static_cast<std::size_t>(kWindowSamples), 0.0f);
  const std::size_t n = std::min(audio.size(), x.size());
  std::copy(audio.end() - static_cast<std::ptrdiff_t>(n), audio.end(), x.end() - static_cast<std::ptrdiff_t>(n));
  // Zero mean, unit variance over the whole padded window (transformers' do_normalize, eps 1e-7).
  double sum = 0.0;
  for (float v : x) sum += v;
  const double mean = sum / static_cast<double>(x.size());
  double var = 0.0;
  for (float v : x) var += (v - mean) * (v - mean);
  var /= static_cast<double>(x.size());
  const float inv = static_cast<float>(1.0 / std::sqrt(var + 1e-7));
  const float m = static_cast<float>(mean);
  for (float& v : x) v = (v - m) * inv;
  PARLEY_ASSIGN_OR_RETURN(std::vector<float> f, mel.compute(x, kWindowSamples, /*tail_zeros=*/0));
  if (f.size() != static_cast<std::size_t>(kMels) * kFrames) {
    return internal_error("smart-turn: log-mel has " + std::to_string(f.size()) + " values, expected 80 x 800");
  }
  return f;
}

Result<std::shared_ptr<const SmartTurn>> SmartTurn::load(const std::string& path) {
  PARLEY_ASSIGN_OR_RETURN(std::shared_ptr<const onnx::Model> model, onnx::Model::load(path));
  const auto& in = model->inputs();
  const auto& out = model->outputs();
  auto bad = [&](const std::string& what) { return invalid_argument(path + ": not a smart-turn v3 model: " + what); };
  if (in.size() != 1 || in[0].type != onnx::DataType::kFloat || in[0].dims.size() != 3 || in[0].dims[1] != kMels ||
      in[0].dims[2] != kFrames) {
    return bad("expected one float input [batch, 80, 800]");
  }
  if (out.empty() || out[0].type != onnx::DataType::kFloat) return bad("expected a float output");
  std::shared_ptr<SmartTurn> st(new SmartTurn(std::move(model)));
  st->input_ = in[0].name;
  st->output_ = out[0].name;
  return std::shared_ptr<const SmartTurn>(std::move(st));
}

std::unique_ptr<onnx::Session> SmartTurn::take_session() const {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto s = std::move(idle_.back());
      idle_.pop_back();
      return s;
    }
  }
  return std::make_unique<onnx::Session>(model_);
}

void SmartTurn::give_back(std::unique_ptr<onnx::Session> session) const {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(session));
}

Result<std::vector<float>> SmartTurn::predict_features(std::span<const float> f, int n) const {
  const std::size_t per = static_cast<std::size_t>(kMels) * kFrames;
  if (n <= 0 || f.size() != per * static_cast<std::size_t>(n)) {
    return invalid_argument("smart-turn: " + std::to_string(f.size()) + " feature values for " + std::to_string(n) + " clips");
  }
  PARLEY_ASSIGN_OR_RETURN(onnx::Tensor x, onnx::Tensor::host(onnx::DataType::kFloat, {n, kMels, kFrames}));
  std::copy(f.begin(), f.end(), x.data<float>());
  std::unique_ptr<onnx::Session> s = take_session();
  auto out = s->run({{input_, x}});
  give_back(std::move(s));
  if (!out.ok()) return out.status().with_context("smart-turn");
  const onnx::Tensor& y = out->front();
  if (y.numel() != n) return internal_error("smart-turn: " + std::to_string(y.numel()) + " outputs for " + std::to_string(n) + " clips");
  return y.to_vector<float>();
}

Result<std::vector<float>> SmartTurn::predict(std::span<const std::span<const float>> clips) const {
  std::vector<float> all;
  all.reserve(clips.size() * static_cast<std::size_t>(kMels) * kFrames);
  for (const auto& c : clips) {
    PARLEY_ASSIGN_OR_RETURN(std::vector<float> f, features(c, mel_));
    all.insert(all.end(), f.begin(), f.end());
  }
  return predict_features(all, static_cast<int>(clips.size()));
}

Result<float> SmartTurn::predict(std::span<const float> audio) const {
  const std::span<const float> one[] = {audio};
  PARLEY_ASSIGN_OR_RETURN(std::vector<float> p, predict(std::span<const std::span<const float>>(one)));
  return p[0];
}

}  // namespace parley::smart_turn
