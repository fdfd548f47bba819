// PCM <-> float conversion (conventions: pcm.h).
// Why: one scale and clamp rule for every service. Depends on pcm.h.
#include "shared/audio/pcm.h"

#include <cmath>
#include <cstring>

namespace parley::audio {

void pcm16_to_float(std::span<const std::int16_t> in, std::span<float> out) {
  const std::size_t n = std::min(in.size(), out.size());
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(in[i]) * (1.0f / 32768.0f);
}

std::vector<float> pcm16_to_float(std::span<const std::int16_t> in) {
  std::vector<float> out(in.size());
  pcm16_to_float(in, out);
  return out;
}

namespace {
std::int16_t to_pcm16(float x) {
  if (std::isnan(x)) return 0;
  const float v = std::nearbyint(x * 32768.0f);
  if (v >= 32767.0f) return 32767;
  if (v <= -32768.0f) return -32768;
  return static_cast<std::int16_t>(v);
}
}  // namespace

void float_to_pcm16(std::span<const float> in, std::span<std::int16_t> out) {
  const std::size_t n = std::min(in.size(), out.size());
  for (std::size_t i = 0; i < n; ++i) out[i] = to_pcm16(in[i]);
}

std::vector<std::int16_t> float_to_pcm16(std::span<const float> in) {
  std::vector<std::int16_t> out(in.size());
  float_to_pcm16(in, out);
  return out;
}

Result<std::vector<float>> decode_pcm16_le(std::string_view bytes) {
  if (bytes.size() % 2 != 0) {
    return invalid_argument("PCM16 audio of " + std::to_string(bytes.size()) +
                            " bytes is not a whole number of 2-byte samples");
  }
  std::vector<float> out(bytes.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto lo = static_cast<std::uint8_t>(bytes[2 * i]);
    const auto hi = static_cast<std::uint8_t>(bytes[2 * i + 1]);
    const auto v = static_cast<std::int16_t>(static_cast<std::uint16_t>(lo | (hi << 8)));
    out[i] = static_cast<float>(v) * (1.0f / 32768.0f);
  }
  return out;
}

Result<std::vector<float>> decode_f32_le(std::string_view bytes) {
  if (bytes.size() % 4 != 0) {
    return invalid_argument("FLOAT32 audio of " + std::to_string(bytes.size()) +
                            " bytes is not a whole number of 4-byte samples");
  }
  std::vector<float> out(bytes.size() / 4);
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());  // little-endian host
  return out;
}

void encode_pcm16_le(std::span<const float> samples, std::string& out) {
  const std::size_t base = out.size();
  out.resize(base + samples.size() * 2);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto v = static_cast<std::uint16_t>(to_pcm16(samples[i]));
    out[base + 2 * i] = static_cast<char>(v & 0xff);
    out[base + 2 * i + 1] = static_cast<char>(v >> 8);
  }
}

void encode_f32_le(std::span<const float> samples, std::string& out) {
  const std::size_t base = out.size();
  out.resize(base + samples.size() * 4);
  if (!samples.empty()) std::memcpy(out.data() + base, samples.data(), samples.size() * 4);
}

std::int64_t first_non_finite(std::span<const float> samples) {
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (!std::isfinite(samples[i])) return static_cast<std::int64_t>(i);
  }
  return -1;
}

Result<std::vector<float>> downmix(std::span<const float> interleaved, int channels) {
  if (channels < 1) return invalid_argument("downmix: channels must be >= 1, got " + std::to_string(channels));
  const auto c = static_cast<std::size_t>(channels);
  if (interleaved.size() % c != 0) {
    return invalid_argument("downmix: " + std::to_string(interleaved.size()) + " samples are not whole frames of " +
                            std::to_string(channels) + " channels");
  }
  std::vector<float> out(interleaved.size() / c);
  const float inv = 1.0f / static_cast<float>(channels);
  for (std::size_t f = 0; f < out.size(); ++f) {
    float s = 0.0f;
    for (std::size_t ch = 0; ch < c; ++ch) s += interleaved[f * c + ch];
    out[f] = channels == 1 ? s : s * inv;
  }
  return out;
}

}  // namespace parley::audio
