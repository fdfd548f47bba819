// `parley say "text" -o out.wav [--voice V] [--rate R]`: asks parley-tts (or, with --local, an
// in-process TtsService) to speak a text and writes the audio as a PCM16 WAV file.
// Why: the quickest way for a person to hear the voice; also how tools/run's sample request works.
// Depends on services/tts/tts_service.h, shared/transport/client.h, shared/audio/wav.h.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace parley::tts {

std::string say_command_usage();
int run_say_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace parley::tts
