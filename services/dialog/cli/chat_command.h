// `parley chat`: an interactive terminal chat with a bot on a running parley-dialog.
// Exists so a person can talk to a bot without a browser; reads lines from stdin (so it can be
// scripted by piping). Depends on Boost.Beast (in .cc), dialog.proto JSON.
#pragma once

#include <string>
#include <vector>

namespace parley::dialog {

/// `parley chat [--bot demo] [--url http://127.0.0.1:8080] [--key KEY] [--verbose]`.
/// Creates a session, then sends each stdin line as a turn and prints the bot's messages
/// (with --verbose also intent, slots and timings). Returns 0 at end of input or "/quit",
/// 1 when the server cannot be reached or refuses, 2 for bad arguments.
int run_chat_command(std::vector<std::string> args);

}  // namespace parley::dialog
