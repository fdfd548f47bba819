// PCM <-> float conversion: the sample formats audio arrives in (WAV files, wire chunks) to the
// float samples every engine computes on, and back.
// Why: ASR, TTS and voice sessions convert the same way (one scale, one clamp, one NaN rule).
// Depends on shared/common/status.h.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"

namespace parley::audio {

/// int16 -> float in [-1, 1): x / 32768 (the convention of Whisper, Silero, libsndfile).
void pcm16_to_float(std::span<const std::int16_t> in, std::span<float> out);
std::vector<float> pcm16_to_float(std::span<const std::int16_t> in);

/// float -> int16: round(x * 32768) clamped to [-32768, 32767]; NaN becomes 0. Exact inverse of
/// pcm16_to_float for every int16 value.
void float_to_pcm16(std::span<const float> in, std::span<std::int16_t> out);
std::vector<std::int16_t> float_to_pcm16(std::span<const float> in);

/// Little-endian byte strings (wire chunks) to float. InvalidArgument when the byte count is not
/// a whole number of samples (the message names the count). decode_f32_le does not check values:
/// use first_non_finite() where NaN/Inf must be rejected.
Result<std::vector<float>> decode_pcm16_le(std::string_view bytes);
Result<std::vector<float>> decode_f32_le(std::string_view bytes);
/// Appends the little-endian encodings of `samples` to `out`.
void encode_pcm16_le(std::span<const float> samples, std::string& out);
void encode_f32_le(std::span<const float> samples, std::string& out);

/// Index of the first NaN or infinite sample, or -1 when all are finite.
std::int64_t first_non_finite(std::span<const float> samples);

/// Averages interleaved frames of `channels` channels into one (channels == 1: a copy).
/// InvalidArgument when channels < 1 or the sample count is not a multiple of channels.
Result<std::vector<float>> downmix(std::span<const float> interleaved, int channels);

}  // namespace parley::audio
