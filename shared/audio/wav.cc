// WAV reader/writer (format and checks: wav.h).
// Why: user files are untrusted, so every length is checked against the bytes that are really
// there before anything is read. Depends on wav.h, pcm.h.
#include "shared/audio/wav.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>

#include "shared/audio/pcm.h"

namespace parley::audio {

namespace {

std::uint16_t u16(const char* p) {
  return static_cast<std::uint16_t>(static_cast<std::uint8_t>(p[0]) | (static_cast<std::uint8_t>(p[1]) << 8));
}
std::uint32_t u32(const char* p) {
  return static_cast<std::uint32_t>(u16(p)) | (static_cast<std::uint32_t>(u16(p + 2)) << 16);
}

// A chunk id for messages: printable ASCII kept, anything else as \xNN.
std::string printable_id(std::string_view id) {
  std::string out;
  for (char c : id) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string at(std::size_t offset) { return " (byte offset " + std::to_string(offset) + ")"; }

// The KSDATAFORMAT_SUBTYPE GUID tail shared by PCM and IEEE float in WAVE_FORMAT_EXTENSIBLE.
constexpr unsigned char kGuidTail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                         0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

struct Fmt {
  SampleFormat format = SampleFormat::kPcm16;
  int channels = 0;
  int sample_rate = 0;
  int block_align = 0;
  int bytes_per_sample = 0;
};

Result<Fmt> parse_fmt(const char* p, std::uint32_t size, std::size_t offset, const WavLimits& limits) {
  if (size < 16) return invalid_argument("WAV fmt chunk is " + std::to_string(size) + " bytes, needs >= 16" + at(offset));
  std::uint16_t tag = u16(p);
  const int channels = u16(p + 2);
  const std::uint32_t rate = u32(p + 4);
  const std::uint32_t byte_rate = u32(p + 8);
  const int block_align = u16(p + 12);
  const int bits = u16(p + 14);
  if (tag == 0xFFFE) {
    if (size < 40) {
      return invalid_argument("WAV fmt chunk of WAVE_FORMAT_EXTENSIBLE is " + std::to_string(size) +
                              " bytes, needs >= 40" + at(offset));
    }
    const int cb_size = u16(p + 16);
    if (cb_size < 22) return invalid_argument("WAV extensible fmt cbSize " + std::to_string(cb_size) + " < 22" + at(offset + 16));
    const int valid_bits = u16(p + 18);
    if (valid_bits > bits) {
      return invalid_argument("WAV extensible fmt: valid bits " + std::to_string(valid_bits) + " > container bits " +
                              std::to_string(bits) + at(offset + 18));
    }
    if (std::memcmp(p + 26, kGuidTail, sizeof(kGuidTail)) != 0) {
      return invalid_argument("WAV extensible fmt: unknown subformat GUID" + at(offset + 24));
    }
    tag = u16(p + 24);
  }
  Fmt f;
  if (tag == 1) {
    switch (bits) {
      case 8: f.format = SampleFormat::kPcmU8; break;
      case 16: f.format = SampleFormat::kPcm16; break;
      case 24: f.format = SampleFormat::kPcm24; break;
      case 32: f.format = SampleFormat::kPcm32; break;
      default:
        return invalid_argument("WAV PCM with " + std::to_string(bits) + " bits per sample is not supported (8, 16, 24, 32)" +
                                at(offset + 14));
    }
  } else if (tag == 3) {
    switch (bits) {
      case 32: f.format = SampleFormat::kFloat32; break;
      case 64: f.format = SampleFormat::kFloat64; break;
      default:
        return invalid_argument("WAV IEEE float with " + std::to_string(bits) + " bits per sample is not supported (32, 64)" +
                                at(offset + 14));
    }
  } else {
    return invalid_argument("WAV format tag " + std::to_string(tag) +
                            " is not supported (1 PCM, 3 IEEE float, 0xFFFE extensible of those)" + at(offset));
  }
  if (channels < 1 || channels > limits.max_channels) {
    return invalid_argument("WAV channel count " + std::to_string(channels) + " outside [1, " +
                            std::to_string(limits.max_channels) + "]" + at(offset + 2));
  }
  if (rate < static_cast<std::uint32_t>(limits.min_sample_rate) || rate > static_cast<std::uint32_t>(limits.max_sample_rate)) {
    return invalid_argument("WAV sample rate " + std::to_string(rate) + " Hz outside [" +
                            std::to_string(limits.min_sample_rate) + ", " + std::to_string(limits.max_sample_rate) + "]" +
                            at(offset + 4));
  }
  f.channels = channels;
  f.sample_rate = static_cast<int>(rate);
  f.bytes_per_sample = bits / 8;
  if (block_align != channels * f.bytes_per_sample) {
    return invalid_argument("WAV block_align " + std::to_string(block_align) + " != channels x bytes per sample (" +
                            std::to_string(channels * f.bytes_per_sample) + ")" + at(offset + 12));
  }
  f.block_align = block_align;
  if (static_cast<std::uint64_t>(byte_rate) != static_cast<std::uint64_t>(rate) * static_cast<std::uint64_t>(block_align)) {
    return invalid_argument("WAV byte_rate " + std::to_string(byte_rate) + " != sample_rate x block_align (" +
                            std::to_string(static_cast<std::uint64_t>(rate) * block_align) + ")" + at(offset + 8));
  }
  return f;
}

float decode_sample(const char* p, SampleFormat f) {
  switch (f) {
    case SampleFormat::kPcmU8: return (static_cast<float>(static_cast<std::uint8_t>(p[0])) - 128.0f) * (1.0f / 128.0f);
    case SampleFormat::kPcm16: return static_cast<float>(static_cast<std::int16_t>(u16(p))) * (1.0f / 32768.0f);
    case SampleFormat::kPcm24: {
      std::int32_t v = static_cast<std::int32_t>(static_cast<std::uint8_t>(p[0]) | (static_cast<std::uint8_t>(p[1]) << 8) |
                                                 (static_cast<std::uint32_t>(static_cast<std::uint8_t>(p[2])) << 16));
      if (v & 0x800000) v -= 0x1000000;
      return static_cast<float>(v) * (1.0f / 8388608.0f);
    }
    case SampleFormat::kPcm32:
      return static_cast<float>(static_cast<double>(static_cast<std::int32_t>(u32(p))) * (1.0 / 2147483648.0));
    case SampleFormat::kFloat32: {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case SampleFormat::kFloat64: {
      double v;
      std::memcpy(&v, p, 8);
      return static_cast<float>(v);
    }
  }
  return 0.0f;
}

}  // namespace

std::string_view sample_format_name(SampleFormat f) {
  switch (f) {
    case SampleFormat::kPcmU8: return "pcm_u8";
    case SampleFormat::kPcm16: return "pcm16";
    case SampleFormat::kPcm24: return "pcm24";
    case SampleFormat::kPcm32: return "pcm32";
    case SampleFormat::kFloat32: return "float32";
    case SampleFormat::kFloat64: return "float64";
  }
  return "?";
}

std::vector<float> WavAudio::mono() const {
  if (channels <= 1) return samples;
  auto m = downmix(samples, channels);
  return m.ok() ? std::move(*m) : std::vector<float>{};
}

Result<WavAudio> parse_wav(std::string_view bytes, const WavLimits& limits) {
  if (bytes.size() < 12) {
    if (bytes.size() >= 4 && bytes.substr(0, 4) != "RIFF") return invalid_argument("not a WAV file: no RIFF header");
    return invalid_argument("not a WAV file: " + std::to_string(bytes.size()) + " bytes, a RIFF/WAVE header needs 12");
  }
  const char* base = bytes.data();
  if (bytes.substr(0, 4) == "RIFX") return invalid_argument("big-endian WAV (RIFX) is not supported");
  if (bytes.substr(0, 4) == "RF64") return invalid_argument("RF64 WAV is not supported");
  if (bytes.substr(0, 4) != "RIFF") return invalid_argument("not a WAV file: no RIFF header (starts with '" + printable_id(bytes.substr(0, 4)) + "')");
  if (bytes.substr(8, 4) != "WAVE") return invalid_argument("not a WAV file: RIFF form type is '" + printable_id(bytes.substr(8, 4)) + "', not WAVE");
  const std::uint64_t riff_size = u32(base + 4);
  if (riff_size < 4) return invalid_argument("WAV RIFF size " + std::to_string(riff_size) + " < 4" + at(4));
  if (riff_size + 8 > bytes.size()) {
    return data_loss("truncated WAV: RIFF header declares " + std::to_string(riff_size + 8) + " bytes, the file has " +
                     std::to_string(bytes.size()));
  }
  const std::size_t end = static_cast<std::size_t>(riff_size + 8);  // bytes past the RIFF are ignored

  std::optional<Fmt> fmt;
  std::size_t pos = 12;
  while (pos < end) {
    if (end - pos < 8) {
      return data_loss("truncated WAV: " + std::to_string(end - pos) + " bytes left for an 8-byte chunk header" + at(pos));
    }
    const std::string_view id = bytes.substr(pos, 4);
    const std::uint64_t size = u32(base + pos + 4);
    const std::size_t body = pos + 8;
    if (size > end - body) {
      return data_loss("truncated WAV: chunk '" + printable_id(id) + "' declares " + std::to_string(size) + " bytes, " +
                       std::to_string(end - body) + " remain" + at(pos));
    }
    if (id == "fmt ") {
      if (fmt) return invalid_argument("WAV has a second fmt chunk" + at(pos));
      auto f = parse_fmt(base + body, static_cast<std::uint32_t>(size), body, limits);
      if (!f.ok()) return f.status();
      fmt = *f;
    } else if (id == "data") {
      if (!fmt) return invalid_argument("WAV data chunk comes before the fmt chunk" + at(pos));
      if (size % static_cast<std::uint64_t>(fmt->block_align) != 0) {
        return data_loss("WAV data chunk of " + std::to_string(size) + " bytes is not a whole number of " +
                         std::to_string(fmt->block_align) + "-byte frames (truncated?)" + at(pos));
      }
      WavAudio out;
      out.sample_rate = fmt->sample_rate;
      out.channels = fmt->channels;
      out.format = fmt->format;
      const std::size_t n = static_cast<std::size_t>(size) / static_cast<std::size_t>(fmt->bytes_per_sample);
      out.samples.resize(n);
      const char* p = base + body;
      for (std::size_t i = 0; i < n; ++i) out.samples[i] = decode_sample(p + i * fmt->bytes_per_sample, fmt->format);
      return out;
    }
    // Chunks are word-aligned: an odd size is followed by one pad byte (tolerated when missing at the end).
    pos = body + static_cast<std::size_t>(size) + (size & 1);
  }
  if (!fmt) return invalid_argument("WAV has no fmt chunk");
  return invalid_argument("WAV has no data chunk");
}

Result<WavAudio> read_wav_file(const std::string& path, const WavLimits& limits) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return not_found("cannot open WAV file " + path + ": " + std::strerror(errno));
  const std::streamoff size = in.tellg();
  if (size < 0) return internal_error("cannot read WAV file " + path);
  if (size > limits.max_file_bytes) {
    return invalid_argument("WAV file " + path + " is " + std::to_string(size) + " bytes, over the limit of " +
                            std::to_string(limits.max_file_bytes));
  }
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.seekg(0);
  if (!in.read(bytes.data(), size)) return internal_error("cannot read WAV file " + path);
  auto wav = parse_wav(bytes, limits);
  if (!wav.ok()) return wav.status().with_context(path);
  return wav;
}

Result<std::string> encode_wav_pcm16(std::span<const float> interleaved, int sample_rate, int channels) {
  if (channels < 1 || channels > 65535) return invalid_argument("WAV write: bad channel count " + std::to_string(channels));
  if (sample_rate < 1) return invalid_argument("WAV write: bad sample rate " + std::to_string(sample_rate));
  if (interleaved.size() % static_cast<std::size_t>(channels) != 0) {
    return invalid_argument("WAV write: " + std::to_string(interleaved.size()) + " samples are not whole frames of " +
                            std::to_string(channels) + " channels");
  }
  const std::uint64_t data_bytes = interleaved.size() * 2;
  if (data_bytes + 36 > 0xFFFFFFFFull) return invalid_argument("WAV write: audio too long for a RIFF file");
  std::string out;
  out.reserve(44 + data_bytes);
  auto put32 = [&out](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  auto put16 = [&out](std::uint16_t v) {
    out += static_cast<char>(v & 0xff);
    out += static_cast<char>(v >> 8);
  };
  const auto block = static_cast<std::uint16_t>(channels * 2);
  out += "RIFF";
  put32(static_cast<std::uint32_t>(36 + data_bytes));
  out += "WAVEfmt ";
  put32(16);
  put16(1);
  put16(static_cast<std::uint16_t>(channels));
  put32(static_cast<std::uint32_t>(sample_rate));
  put32(static_cast<std::uint32_t>(sample_rate) * block);
  put16(block);
  put16(16);
  out += "data";
  put32(static_cast<std::uint32_t>(data_bytes));
  encode_pcm16_le(interleaved, out);
  return out;
}

Status write_wav_file(const std::string& path, std::span<const float> interleaved, int sample_rate, int channels) {
  auto bytes = encode_wav_pcm16(interleaved, sample_rate, channels);
  if (!bytes.ok()) return bytes.status();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return internal_error("cannot write WAV file " + path + ": " + std::strerror(errno));
  out.write(bytes->data(), static_cast<std::streamsize>(bytes->size()));
  if (!out) return internal_error("cannot write WAV file " + path + ": " + std::strerror(errno));
  return Status::ok();
}

}  // namespace parley::audio
