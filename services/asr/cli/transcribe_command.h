// `parley transcribe FILE.wav [--stream]`: sends a WAV file to parley-asr (Transcribe), or
// streams it in real time (Recognize) printing speech events, partials and finals.
// Why: the by-hand check of the ASR service (tools/run prints it as the sample request).
// Depends on shared/audio, shared/transport, parley/v1/asr.proto.
#pragma once

#include <string>
#include <vector>

namespace parley::asr {

/// Usage lines for `parley --help`.
std::string transcribe_command_usage();
/// Runs the command; returns the process exit code (0 ok, 1 failure, 2 usage).
int run_transcribe_command(const std::vector<std::string>& args);

}  // namespace parley::asr
