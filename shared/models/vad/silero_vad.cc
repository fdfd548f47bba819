// Silero VAD forward pass (see silero_vad.h). Plain loops: the network is tiny (see the header).
// Depends on silero_vad.h, shared/engine/safetensors.
#include "shared/models/vad/silero_vad.h"

#include <cmath>

#include "shared/engine/safetensors/safetensors.h"

namespace parley::vad {

namespace {

constexpr int kFft = 256, kStride = 128, kBins = 129, kFrames = 4;

// y[o][t] = relu(b[o] + sum_i,k w[o][i][k] x[i][t*stride + k - 1])   (padding 1, kernel 3)
void conv3_relu(const float* x, int in_ch, int in_len, const float* w, const float* b, int out_ch, int stride, float* y,
                int out_len) {
  for (int o = 0; o < out_ch; ++o) {
    for (int t = 0; t < out_len; ++t) {
      float s = b[o];
      for (int i = 0; i < in_ch; ++i) {
        const float* wi = w + (static_cast<std::size_t>(o) * in_ch + i) * 3;
        const float* xi = x + static_cast<std::size_t>(i) * in_len;
        for (int k = 0; k < 3; ++k) {
          const int p = t * stride + k - 1;
          if (p >= 0 && p < in_len) s += wi[k] * xi[p];
        }
      }
      y[static_cast<std::size_t>(o) * out_len + t] = s > 0.0f ? s : 0.0f;
    }
  }
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

Result<std::shared_ptr<const SileroVad>> SileroVad::load(const std::string& path) {
  PARLEY_ASSIGN_OR_RETURN(auto file, safetensors::File::open(path));
  std::shared_ptr<SileroVad> v(new SileroVad());
  auto get = [&](const std::string& name, std::vector<std::int64_t> shape, std::vector<float>& out) -> Status {
    const safetensors::TensorInfo* t = file->find(name);
    if (t == nullptr) return invalid_argument("silero vad: " + path + ": missing tensor '" + name + "'");
    if (t->shape != shape) {
      return invalid_argument("silero vad: " + path + ": '" + name + "' has shape " + t->shape_string());
    }
    PARLEY_ASSIGN_OR_RETURN(out, file->to_f32(*t));
    return Status::ok();
  };
  PARLEY_RETURN_IF_ERROR(get("stft_conv.weight", {2 * kBins, 1, kFft}, v->stft_));
  PARLEY_RETURN_IF_ERROR(get("conv1.weight", {128, 129, 3}, v->c1w_));
  PARLEY_RETURN_IF_ERROR(get("conv1.bias", {128}, v->c1b_));
  PARLEY_RETURN_IF_ERROR(get("conv2.weight", {64, 128, 3}, v->c2w_));
  PARLEY_RETURN_IF_ERROR(get("conv2.bias", {64}, v->c2b_));
  PARLEY_RETURN_IF_ERROR(get("conv3.weight", {64, 64, 3}, v->c3w_));
  PARLEY_RETURN_IF_ERROR(get("conv3.bias", {64}, v->c3b_));
  PARLEY_RETURN_IF_ERROR(get("conv4.weight", {128, 64, 3}, v->c4w_));
  PARLEY_RETURN_IF_ERROR(get("conv4.bias", {128}, v->c4b_));
  PARLEY_RETURN_IF_ERROR(get("lstm_cell.weight_ih", {4 * kHidden, kHidden}, v->wih_));
  PARLEY_RETURN_IF_ERROR(get("lstm_cell.weight_hh", {4 * kHidden, kHidden}, v->whh_));
  PARLEY_RETURN_IF_ERROR(get("lstm_cell.bias_ih", {4 * kHidden}, v->bih_));
  PARLEY_RETURN_IF_ERROR(get("lstm_cell.bias_hh", {4 * kHidden}, v->bhh_));
  PARLEY_RETURN_IF_ERROR(get("final_conv.weight", {1, kHidden, 1}, v->fw_));
  std::vector<float> fb;
  PARLEY_RETURN_IF_ERROR(get("final_conv.bias", {1}, fb));
  v->fb_ = fb[0];
  return std::shared_ptr<const SileroVad>(std::move(v));
}

float SileroVad::chunk(VadState& st, std::span<const float, kChunk> samples) const {
  // [context | samples] reflect-padded by 64 on the right (the edge sample is not repeated).
  constexpr int kIn = kContext + kChunk, kPadded = kIn + 64;
  float x[kPadded];
  for (int i = 0; i < kContext; ++i) x[i] = st.context[static_cast<std::size_t>(i)];
  for (int i = 0; i < kChunk; ++i) x[kContext + i] = samples[static_cast<std::size_t>(i)];
  for (int j = 0; j < 64; ++j) x[kIn + j] = x[kIn - 2 - j];
  for (int i = 0; i < kContext; ++i) st.context[static_cast<std::size_t>(i)] = samples[static_cast<std::size_t>(kChunk - kContext + i)];

  float mag[kBins * kFrames];
  for (int ch = 0; ch < kBins; ++ch) {
    const float* wr = stft_.data() + static_cast<std::size_t>(ch) * kFft;
    const float* wi = stft_.data() + static_cast<std::size_t>(ch + kBins) * kFft;
    for (int f = 0; f < kFrames; ++f) {
      const float* xf = x + f * kStride;
      float re = 0.0f, im = 0.0f;
      for (int k = 0; k < kFft; ++k) {
        re += wr[k] * xf[k];
        im += wi[k] * xf[k];
      }
      mag[ch * kFrames + f] = std::sqrt(re * re + im * im);
    }
  }
  float a1[128 * 4], a2[64 * 2], a3[64], a4[128];
  conv3_relu(mag, kBins, 4, c1w_.data(), c1b_.data(), 128, 1, a1, 4);
  conv3_relu(a1, 128, 4, c2w_.data(), c2b_.data(), 64, 2, a2, 2);
  conv3_relu(a2, 64, 2, c3w_.data(), c3b_.data(), 64, 2, a3, 1);
  conv3_relu(a3, 64, 1, c4w_.data(), c4b_.data(), 128, 1, a4, 1);

  // LSTMCell, PyTorch gate order i, f, g, o.
  float gates[4 * kHidden];
  for (int g = 0; g < 4 * kHidden; ++g) {
    const float* wi = wih_.data() + static_cast<std::size_t>(g) * kHidden;
    const float* wh = whh_.data() + static_cast<std::size_t>(g) * kHidden;
    float s = bih_[static_cast<std::size_t>(g)] + bhh_[static_cast<std::size_t>(g)];
    for (int k = 0; k < kHidden; ++k) s += wi[k] * a4[k] + wh[k] * st.h[static_cast<std::size_t>(k)];
    gates[g] = s;
  }
  float out = fb_;
  for (int k = 0; k < kHidden; ++k) {
    const float i = sigmoid(gates[k]), f = sigmoid(gates[kHidden + k]), g = std::tanh(gates[2 * kHidden + k]),
                o = sigmoid(gates[3 * kHidden + k]);
    const float c = f * st.c[static_cast<std::size_t>(k)] + i * g;
    const float h = o * std::tanh(c);
    st.c[static_cast<std::size_t>(k)] = c;
    st.h[static_cast<std::size_t>(k)] = h;
    out += fw_[static_cast<std::size_t>(k)] * (h > 0.0f ? h : 0.0f);
  }
  return sigmoid(out);
}

}  // namespace parley::vad
