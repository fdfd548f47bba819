// Fuzz target: a WAV file (shared/audio/wav.h) as uploads and the voice tools read it: RIFF
// chunks, fmt (PCM 8/16/24/32, float, extensible), every length checked; then the conversions a
// voice session applies (downmix, PCM16). Depends on parley_audio.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shared/audio/pcm.h"
#include "shared/audio/wav.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto wav = parley::audio::parse_wav(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!wav.ok()) return 0;
  if (wav->channels < 1 || wav->samples.size() % static_cast<std::size_t>(wav->channels) != 0) __builtin_trap();
  auto mono = parley::audio::downmix(wav->samples, wav->channels);
  if (!mono.ok() || static_cast<std::int64_t>(mono->size()) != wav->frames()) __builtin_trap();
  // PCM16 round trip of what was read.
  auto pcm = parley::audio::float_to_pcm16(*mono);
  (void)parley::audio::pcm16_to_float(pcm);
}
