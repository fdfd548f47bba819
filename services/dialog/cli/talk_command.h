// `parley talk`: a live voice session from the terminal on a running parley-dialog — a WAV file
// streamed as if spoken, typed lines, the transcripts, replies, events and timings printed, the
// bot's speech written to a WAV file. Depends on voice_client.h, shared/audio (in the .cc).
#pragma once

#include <string>
#include <vector>

namespace parley::dialog {

/// `parley talk [--bot demo] [--url http://127.0.0.1:8080] [--key KEY] [--session ID]
///  [--wav QUESTION.wav] [--out REPLY.wav] [--text] [--fast] [--output-rate HZ] [--quiet]`.
/// Returns 0 when the session ended normally (1000 after every reply was spoken), 1 when the
/// server cannot be reached, refuses, or closes otherwise, 2 for bad arguments.
int run_talk_command(std::vector<std::string> args);
std::string talk_command_usage();

}  // namespace parley::dialog
