// WAV (RIFF/WAVE) reading and writing: PCM 8/16/24/32-bit and IEEE float 32/64-bit, any channel
// count up to a limit, any sample rate in a range; writes PCM16.
// Why: the CLI, the ASR and TTS services and their tests read user WAV files (untrusted: every
// header field and chunk length is checked against the bytes left) and write PCM16 results.
// Depends on shared/common/status.h, shared/audio/pcm.h.
//
// Format (little-endian):
//   "RIFF" u32 riff_size "WAVE", then chunks: 4-byte id, u32 size, size bytes, one pad byte when
//   size is odd. Required: "fmt " (before "data") and "data"; every other chunk (LIST, fact,
//   cue , ...) is skipped. "fmt ": u16 format_tag (1 PCM, 3 IEEE float, 0xFFFE extensible),
//   u16 channels, u32 sample_rate, u32 byte_rate, u16 block_align, u16 bits_per_sample
//   [, u16 cb_size [, u16 valid_bits, u32 channel_mask, 16-byte subformat GUID]].
// Checks, each failure a Status naming the field and byte offset: the RIFF/WAVE magic (else
// InvalidArgument "not a WAV file"); riff_size against the file size and every chunk size
// against the bytes left in the RIFF (truncation: DataLoss); fmt size >= 16 (>= 40 for
// extensible); known format tag / subformat; channels in [1, max_channels]; sample rate in
// [min_rate, max_rate]; bits_per_sample valid for the format; block_align == channels * bytes
// per sample; byte_rate == sample_rate * block_align; data a whole number of frames; one fmt.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"

namespace parley::audio {

enum class SampleFormat : std::uint8_t { kPcmU8, kPcm16, kPcm24, kPcm32, kFloat32, kFloat64 };
/// "pcm_u8", "pcm16", "pcm24", "pcm32", "float32", "float64".
std::string_view sample_format_name(SampleFormat f);

struct WavLimits {
  int max_channels = 16;
  int min_sample_rate = 1000;
  int max_sample_rate = 768000;
  /// read_wav_file refuses larger files (untrusted input must not cause unbounded work).
  std::int64_t max_file_bytes = std::int64_t{1} << 31;
};

/// A decoded WAV file: float samples in [-1, 1] (integers scaled by 2^-(bits-1); u8 centred on
/// 128), interleaved when channels > 1.
struct WavAudio {
  int sample_rate = 0;
  int channels = 0;
  SampleFormat format = SampleFormat::kPcm16;
  std::vector<float> samples;

  std::int64_t frames() const { return channels > 0 ? static_cast<std::int64_t>(samples.size()) / channels : 0; }
  double duration_seconds() const { return sample_rate > 0 ? static_cast<double>(frames()) / sample_rate : 0.0; }
  /// The frames averaged over channels (a copy when mono).
  std::vector<float> mono() const;
};

/// Parses a whole WAV file image. Errors: InvalidArgument (not a WAV file, unsupported or
/// inconsistent format fields), DataLoss (truncated: a length runs past the end of the bytes).
Result<WavAudio> parse_wav(std::string_view bytes, const WavLimits& limits = {});
/// Reads and parses `path` (NotFound when it does not exist; the message names the path).
Result<WavAudio> read_wav_file(const std::string& path, const WavLimits& limits = {});

/// A PCM16 WAV file image (canonical 44-byte header) of interleaved float samples (clamped,
/// rounded like float_to_pcm16). InvalidArgument for channels < 1, a bad rate or a partial frame.
Result<std::string> encode_wav_pcm16(std::span<const float> interleaved, int sample_rate, int channels = 1);
/// encode_wav_pcm16 + write to `path` (Internal with errno text on I/O failure).
Status write_wav_file(const std::string& path, std::span<const float> interleaved, int sample_rate, int channels = 1);

}  // namespace parley::audio
