// Silero VAD forward pass (see silero_vad.h). Plain loops: the network is tiny (see the header),
// written output-innermost so that the compiler vectorizes them (see conv3_relu).
// Depends on silero_vad.h, shared/engine/safetensors.
#include "shared/models/vad/silero_vad.h"

#include <cmath>
#include <vector>

#include "shared/engine/safetensors/safetensors.h"

namespace parley::vad {

namespace {

constexpr int kFft = 256, kStride = 128, kBins = 129, kFrames = 4;
constexpr int kMaxChannels = 128;  // the widest conv output

// y[o][t] = relu(b[o] + sum_i,k w[o][i][k] x[i][t*stride + k - 1])   (padding 1, kernel 3), with
// the weights transposed to wt[i][k][o]: the innermost loop runs over independent outputs, which
// the compiler vectorizes, and each output still sums its terms in (i, k) order — the same
// floats as the textbook loop (a reduction over i, k would be one serial chain of adds).
void conv3_relu(const float* x, int in_ch, int in_len, const float* wt, const float* b, int out_ch, int stride, float* y,
                int out_len) {
  float acc[kMaxChannels];
  for (int t = 0; t < out_len; ++t) {
    for (int o = 0; o < out_ch; ++o) acc[o] = b[o];
    for (int i = 0; i < in_ch; ++i) {
      const float* xi = x + static_cast<std::size_t>(i) * in_len;
      for (int k = 0; k < 3; ++k) {
        const int p = t * stride + k - 1;
        if (p < 0 || p >= in_len) continue;
        const float xv = xi[p];
        const float* w = wt + (static_cast<std::size_t>(i) * 3 + k) * out_ch;
        for (int o = 0; o < out_ch; ++o) acc[o] += w[o] * xv;
      }
    }
    for (int o = 0; o < out_ch; ++o) y[static_cast<std::size_t>(o) * out_len + t] = acc[o] > 0.0f ? acc[o] : 0.0f;
  }
}

// [rows][cols] -> [cols][rows].
std::vector<float> transposed(const std::vector<float>& w, std::size_t rows, std::size_t cols) {
  std::vector<float> t(w.size());
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) t[c * rows + r] = w[r * cols + c];
  }
  return t;
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
  // Output-innermost layouts for the forward pass (see conv3_relu).
  v->stft_ = transposed(v->stft_, 2 * kBins, kFft);
  v->c1w_ = transposed(v->c1w_, 128, 129 * 3);
  v->c2w_ = transposed(v->c2w_, 64, 128 * 3);
  v->c3w_ = transposed(v->c3w_, 64, 64 * 3);
  v->c4w_ = transposed(v->c4w_, 128, 64 * 3);
  v->wih_ = transposed(v->wih_, 4 * kHidden, kHidden);
  v->whh_ = transposed(v->whh_, 4 * kHidden, kHidden);
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

  // STFT: per frame, the 258 filter rows (129 real, 129 imaginary) accumulate over the 256 taps
  // in tap order, output-innermost (stft_ is [tap][row]).
  float mag[kBins * kFrames];
  float acc[2 * kBins];
  for (int f = 0; f < kFrames; ++f) {
    const float* xf = x + f * kStride;
    for (int r = 0; r < 2 * kBins; ++r) acc[r] = 0.0f;
    for (int k = 0; k < kFft; ++k) {
      const float xv = xf[k];
      const float* w = stft_.data() + static_cast<std::size_t>(k) * 2 * kBins;
      for (int r = 0; r < 2 * kBins; ++r) acc[r] += w[r] * xv;
    }
    for (int ch = 0; ch < kBins; ++ch) mag[ch * kFrames + f] = std::sqrt(acc[ch] * acc[ch] + acc[kBins + ch] * acc[kBins + ch]);
  }
  float a1[128 * 4], a2[64 * 2], a3[64], a4[128];
  conv3_relu(mag, kBins, 4, c1w_.data(), c1b_.data(), 128, 1, a1, 4);
  conv3_relu(a1, 128, 4, c2w_.data(), c2b_.data(), 64, 2, a2, 2);
  conv3_relu(a2, 64, 2, c3w_.data(), c3b_.data(), 64, 2, a3, 1);
  conv3_relu(a3, 64, 1, c4w_.data(), c4b_.data(), 128, 1, a4, 1);

  // LSTMCell, PyTorch gate order i, f, g, o (wih_/whh_ are [input][gate row]).
  float gates[4 * kHidden];
  for (int g = 0; g < 4 * kHidden; ++g) gates[g] = bih_[static_cast<std::size_t>(g)] + bhh_[static_cast<std::size_t>(g)];
  for (int k = 0; k < kHidden; ++k) {
    const float a = a4[k], hk = st.h[static_cast<std::size_t>(k)];
    const float* wi = wih_.data() + static_cast<std::size_t>(k) * 4 * kHidden;
    const float* wh = whh_.data() + static_cast<std::size_t>(k) * 4 * kHidden;
    for (int g = 0; g < 4 * kHidden; ++g) gates[g] += wi[g] * a + wh[g] * hk;
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
