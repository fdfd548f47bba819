// Conversation tests for bots, as Rasa users write them: a YAML file beside the bot
// (BOT_DIR/tests/*.yml) of conversations, each a list of user turns and what the bot must do.
// Read here into ConversationTest, checked against a TurnResponse by check_step.
// Depends on dialog.proto, yaml-cpp (in the .cc).
//
//   tests:
//     - name: book a table in two turns          # required, unique in the file
//       steps:
//         - user: book a table for 4             # required: what the user says
//           intent: book_table                   # the top intent
//           slots: {party_size: "4"}             # session slots after the turn (listed ones; null = unset)
//           response: {kind: slot_prompt, text: "(?i)what time"}   # some message has this kind and
//                                                # its text matches the regex (ECMAScript, searched;
//                                                # a leading (?i) ignores case); a list: each holds
//           form: {active: table_booking, requested_slot: time}    # null: no active form
//           source: dining                       # a KB source (document id or title contains it)
//           outcome: ok                          # ok | fallback | handoff | error
//
// Every key but `user` is optional: a step checks only what it names.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "parley/v1/dialog.pb.h"

namespace parley::dialog {

/// Where an expectation was written, for messages ("tests/demo.yml:12:9").
struct TestLocation {
  std::string file;
  int line = 0;
  int column = 0;
  std::string to_string() const;
};

struct ExpectedResponse {
  std::optional<std::string> kind;
  std::optional<std::string> text;  ///< a regex, searched in the message text
};

struct ExpectedForm {
  std::optional<std::string> active;          ///< "" = no active form
  std::optional<std::string> requested_slot;  ///< "" = none asked
};

struct TestStep {
  TestLocation at;
  std::string user;
  std::optional<std::string> intent;
  std::map<std::string, std::optional<std::string>> slots;  ///< nullopt: must be unset
  std::vector<ExpectedResponse> responses;                  ///< `response:` one or a list
  std::optional<ExpectedForm> form;
  std::optional<std::string> source;
  std::optional<std::string> outcome;
};

struct ConversationTest {
  TestLocation at;
  std::string name;
  std::vector<TestStep> steps;
};

/// Reads one test file. Errors (each "file:line:col: message") go to `errors`; the tests that
/// parsed are returned (none when the file is not YAML).
std::vector<ConversationTest> load_conversation_tests(const std::string& path, std::vector<std::string>& errors);

/// The test files of a bot: BOT_DIR/tests/*.yml and *.yaml, sorted.
std::vector<std::string> find_test_files(const std::string& bot_dir);

/// What does not hold in `turn` for `step`, one line each ("intent: expected X, got Y (0.82)");
/// empty when the step passes.
std::vector<std::string> check_step(const TestStep& step, const v1::TurnResponse& turn);

}  // namespace parley::dialog
