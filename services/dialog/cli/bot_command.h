// `parley bot validate` and `parley bot test`: a bot builder's checks. validate runs the loader
// on a bot file (every error as file:line:col) and checks its conversation tests' syntax; test
// runs the conversation tests (BOT_DIR/tests/*.yml, format in bot_tests.h) against a running
// parley-dialog and prints a diff for each expectation that does not hold.
// Depends on bot_tests.h, api_call.h, the bot loader.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace parley::dialog {

/// `parley bot validate BOT_DIR|BOT_FILE` and
/// `parley bot test BOT_DIR [--url http://127.0.0.1:8080] [--key KEY] [--bot ID] [--filter TEXT] [--verbose]`.
/// Returns 0 when everything holds, 1 when the bot has errors or a test failed, 2 for bad
/// arguments or an unreachable server.
int run_bot_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// The usage lines of `parley bot`.
const char* bot_command_usage();

}  // namespace parley::dialog
