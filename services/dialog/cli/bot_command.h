// `parley bot validate`, `parley bot test` and `parley bot status`: a bot builder's checks.
// validate runs the loader on a bot file (every error as file:line:col) and checks its
// conversation tests' syntax; test runs the conversation tests (BOT_DIR/tests/*.yml, format in
// bot_tests.h) against a running parley-dialog and prints a diff for each expectation that does
// not hold; status shows a running bot's NLU training and fine-tuning job (GET /v1/bots/{bot})
// and can wait for it.
// Depends on bot_tests.h, api_call.h, the bot loader.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace parley::dialog {

/// `parley bot validate BOT_DIR|BOT_FILE` and
/// `parley bot test BOT_DIR [--url http://127.0.0.1:8080] [--key KEY] [--bot ID] [--filter TEXT] [--verbose]`.
/// `parley bot status BOT_ID [--url ...] [--key KEY] [--wait] [--timeout SECONDS]`.
/// Returns 0 when everything holds, 1 when the bot has errors, a test failed, or the fine-tuning
/// job failed, was cancelled or (--wait) did not end in time; 2 for bad arguments, an unknown bot
/// or an unreachable server.
int run_bot_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// The usage lines of `parley bot`.
const char* bot_command_usage();

}  // namespace parley::dialog
