// Whisper log-mel front end (definition: mel.h). The 400-point real FFT is a small mixed-radix
// (2, 2, 2, 2, 5, 5) complex FFT in double precision with precomputed twiddles; the mel filter
// bank sums only each filter's non-zero bins.
// Why double: faster-whisper's numpy FFT runs in float64; matching it keeps our features within
// float32 rounding of the reference. Depends on mel.h.
#include "shared/models/whisper/mel.h"

#include <algorithm>
#include <cmath>
#include <complex>

namespace parley::whisper {

namespace {

using cd = std::complex<double>;

// Recursive decimation-in-time FFT of length n (a product of the factors 2, 3, 5) reading
// in[0], in[stride], ... and writing out[0..n). `twiddle[e]` = exp(-2 pi i e / twiddle_n).
// Radix 2 is a plain butterfly; other radices rotate their inputs by W_n^{qk} once and then take
// a p-point DFT with W_p = W_n^{m} (no modulo in the inner loop, real arithmetic written out:
// std::complex's operator* checks for NaN on every product).
void fft_rec(const cd* in, cd* out, int n, int stride, const cd* twiddle, int twiddle_n) {
  if (n == 1) {
    out[0] = in[0];
    return;
  }
  int p = 2;
  while (n % p != 0) ++p;  // smallest prime factor
  const int m = n / p;
  for (int q = 0; q < p; ++q) fft_rec(in + q * stride, out + q * m, m, stride * p, twiddle, twiddle_n);
  const int step = twiddle_n / n;
  auto mul = [](cd a, cd b) { return cd(a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()); };
  if (p == 2) {
    for (int k = 0; k < m; ++k) {
      const cd a = out[k];
      const cd t = mul(out[m + k], twiddle[static_cast<std::size_t>(k) * step]);
      out[k] = cd(a.real() + t.real(), a.imag() + t.imag());
      out[m + k] = cd(a.real() - t.real(), a.imag() - t.imag());
    }
    return;
  }
  // X[k + u m] = sum_q (W_n^{qk} Y_q[k]) W_p^{qu}.
  cd y[8], w[8];
  for (int j = 0; j < p; ++j) w[j] = twiddle[static_cast<std::size_t>(j) * m * step];  // W_p^j
  for (int k = 0; k < m; ++k) {
    y[0] = out[k];
    for (int q = 1; q < p; ++q) y[q] = mul(out[q * m + k], twiddle[static_cast<std::size_t>(q) * k * step]);
    for (int u = 0; u < p; ++u) {
      double re = y[0].real(), im = y[0].imag();
      for (int q = 1; q < p; ++q) {
        const cd t = mul(y[q], w[(q * u) % p]);
        re += t.real();
        im += t.imag();
      }
      out[k + u * m] = cd(re, im);
    }
  }
}

}  // namespace

std::vector<float> mel_filters(int n_mels, int sample_rate, int n_fft) {
  // Mirrors faster_whisper FeatureExtractor.get_mel_filters (librosa's Slaney mel scale).
  const int bins = 1 + n_fft / 2;
  std::vector<double> fftfreqs(static_cast<std::size_t>(bins));
  for (int i = 0; i < bins; ++i) fftfreqs[static_cast<std::size_t>(i)] = static_cast<double>(i) * sample_rate / n_fft;
  const double max_mel = 45.245640471924965;
  std::vector<double> freqs(static_cast<std::size_t>(n_mels + 2));
  const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp, logstep = std::log(6.4) / 27.0;
  for (int i = 0; i < n_mels + 2; ++i) {
    const double mel = max_mel * i / (n_mels + 1);
    freqs[static_cast<std::size_t>(i)] = mel >= min_log_mel ? min_log_hz * std::exp(logstep * (mel - min_log_mel)) : f_sp * mel;
  }
  std::vector<float> w(static_cast<std::size_t>(n_mels) * bins);
  for (int m = 0; m < n_mels; ++m) {
    const double f0 = freqs[static_cast<std::size_t>(m)], f1 = freqs[static_cast<std::size_t>(m + 1)],
                 f2 = freqs[static_cast<std::size_t>(m + 2)];
    const double enorm = 2.0 / (f2 - f0);
    for (int k = 0; k < bins; ++k) {
      const double f = fftfreqs[static_cast<std::size_t>(k)];
      const double lower = (f - f0) / (f1 - f0);
      const double upper = (f2 - f) / (f2 - f1);
      w[static_cast<std::size_t>(m) * bins + k] = static_cast<float>(std::max(0.0, std::min(lower, upper)) * enorm);
    }
  }
  return w;
}

LogMel::LogMel(int n_mels) : n_mels_(n_mels), filters_(mel_filters(n_mels)), hann_(kNfft) {
  // Each triangular filter is non-zero over a few bins: summing only those gives the same float
  // sum (the skipped terms are +0) at a twentieth of the work.
  const int bins = kNfft / 2 + 1;
  for (int m = 0; m < n_mels_; ++m) {
    const float* w = filters_.data() + static_cast<std::size_t>(m) * bins;
    int first = 0, last = bins;
    while (first < bins && w[first] == 0.0f) ++first;
    while (last > first && w[last - 1] == 0.0f) --last;
    support_.emplace_back(first, last);
  }
  for (int i = 0; i < kNfft; ++i) {
    // np.hanning(401)[:-1]: 0.5 - 0.5 cos(2 pi i / 400), rounded to float32.
    hann_[static_cast<std::size_t>(i)] = static_cast<float>(0.5 - 0.5 * std::cos(2.0 * M_PI * i / kNfft));
  }
}

Result<std::vector<float>> LogMel::compute(std::span<const float> audio, std::int64_t max_samples, int tail_zeros) const {
  if (audio.empty()) return invalid_argument("log-mel: no audio");
  if (static_cast<std::int64_t>(audio.size()) > max_samples) {
    return invalid_argument("log-mel: " + std::to_string(audio.size()) + " samples, more than the limit of " +
                            std::to_string(max_samples));
  }
  // tail_zeros (160) zeros appended, then reflect padding of n_fft/2 on both sides (numpy
  // "reflect": the edge sample is not repeated).
  const std::int64_t n = static_cast<std::int64_t>(audio.size()) + std::max(0, tail_zeros);
  const std::int64_t half = kNfft / 2;
  auto sample = [&](std::int64_t i) -> float {  // index into the zero-padded signal
    return i < static_cast<std::int64_t>(audio.size()) ? audio[static_cast<std::size_t>(i)] : 0.0f;
  };
  auto padded = [&](std::int64_t j) -> float {  // index into the reflect-padded signal
    std::int64_t i = j - half;
    if (n == 1) return sample(0);
    while (i < 0 || i >= n) {
      if (i < 0) i = -i;
      if (i >= n) i = 2 * (n - 1) - i;
    }
    return sample(i);
  };
  const std::int64_t frames = 1 + n / kHop;  // 1 + (n + 2 half - n_fft) / hop
  const std::int64_t kept = frames - 1;      // the last frame is dropped
  const int bins = kNfft / 2 + 1;
  std::vector<cd> twiddle(kNfft), in(kNfft), out(kNfft);
  for (int i = 0; i < kNfft; ++i) twiddle[static_cast<std::size_t>(i)] = std::polar(1.0, -2.0 * M_PI * i / kNfft);
  std::vector<float> power(static_cast<std::size_t>(bins));
  std::vector<float> mel(static_cast<std::size_t>(n_mels_ * kept));
  // Mel energies of frame f from its spectrum (bins 0..n_fft/2).
  std::vector<cd> spec(static_cast<std::size_t>(bins));
  auto mel_frame = [&](std::int64_t f) {
    for (int k = 0; k < bins; ++k) {
      // complex64 magnitude squared, as numpy does after .astype("complex64").
      const std::complex<float> c(static_cast<float>(spec[static_cast<std::size_t>(k)].real()),
                                  static_cast<float>(spec[static_cast<std::size_t>(k)].imag()));
      const float mag = std::abs(c);
      power[static_cast<std::size_t>(k)] = mag * mag;
    }
    for (int m = 0; m < n_mels_; ++m) {
      const float* w = filters_.data() + static_cast<std::size_t>(m) * bins;
      float s = 0.0f;
      const auto [k0, k1] = support_[static_cast<std::size_t>(m)];
      for (int k = k0; k < k1; ++k) s += w[k] * power[static_cast<std::size_t>(k)];
      mel[static_cast<std::size_t>(m * kept + f)] = s;
    }
  };
  // Two real frames per complex FFT: z = x_f + i x_{f+1}, then X_f[k] = (Z[k] + conj Z[n-k]) / 2
  // and X_{f+1}[k] = (Z[k] - conj Z[n-k]) / 2i — half the FFTs of one transform per frame, in
  // double like numpy's, so the float spectra match it as closely as before.
  for (std::int64_t f = 0; f < kept; f += 2) {
    const bool pair = f + 1 < kept;
    for (int i = 0; i < kNfft; ++i) {
      const float h = hann_[static_cast<std::size_t>(i)];
      in[static_cast<std::size_t>(i)] = cd(static_cast<double>(padded(f * kHop + i) * h),
                                           pair ? static_cast<double>(padded((f + 1) * kHop + i) * h) : 0.0);
    }
    fft_rec(in.data(), out.data(), kNfft, 1, twiddle.data(), kNfft);
    for (int k = 0; k < bins; ++k) {
      const cd a = out[static_cast<std::size_t>(k)], b = std::conj(out[static_cast<std::size_t>((kNfft - k) % kNfft)]);
      spec[static_cast<std::size_t>(k)] = cd(0.5 * (a.real() + b.real()), 0.5 * (a.imag() + b.imag()));
    }
    mel_frame(f);
    if (!pair) break;
    for (int k = 0; k < bins; ++k) {
      const cd a = out[static_cast<std::size_t>(k)], b = std::conj(out[static_cast<std::size_t>((kNfft - k) % kNfft)]);
      spec[static_cast<std::size_t>(k)] = cd(0.5 * (a.imag() - b.imag()), -0.5 * (a.real() - b.real()));
    }
    mel_frame(f + 1);
  }
  float mx = -1e30f;
  for (float& v : mel) {
    v = std::log10(std::max(v, 1e-10f));
    mx = std::max(mx, v);
  }
  for (float& v : mel) v = (std::max(v, mx - 8.0f) + 4.0f) / 4.0f;
  return mel;
}

Result<std::vector<float>> LogMel::window(std::span<const float> audio) const {
  if (audio.size() > static_cast<std::size_t>(kWindowSamples)) {
    return invalid_argument("whisper window: " + std::to_string(audio.size()) + " samples, more than 30 s");
  }
  PARLEY_ASSIGN_OR_RETURN(std::vector<float> full, compute(audio));
  const std::int64_t frames = static_cast<std::int64_t>(full.size()) / n_mels_;
  const std::int64_t content = std::min<std::int64_t>(kWindowFrames, static_cast<std::int64_t>(audio.size()) / kHop);
  std::vector<float> win(static_cast<std::size_t>(n_mels_) * kWindowFrames, 0.0f);
  for (int m = 0; m < n_mels_; ++m) {
    std::copy_n(full.begin() + m * frames, content, win.begin() + static_cast<std::ptrdiff_t>(m) * kWindowFrames);
  }
  return win;
}

}  // namespace parley::whisper
