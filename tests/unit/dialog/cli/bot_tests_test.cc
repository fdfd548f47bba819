// bot_tests.h: reading conversation test files (errors located as file:line:col) and checking a
// TurnResponse against a step (each kind of expectation, passing and failing, and its diff line).
#include "services/dialog/cli/bot_tests.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace parley::dialog {
namespace {

std::string write_file(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / ("bot_tests_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / name).string();
  std::ofstream(path) << text;
  return path;
}

TEST(BotTests, ReadsEveryKindOfExpectation) {
  const auto path = write_file("ok.yml", R"(tests:
  - name: t
    steps:
      - user: book a table for 4
        intent: book_table
        slots: {party_size: "4", time: null}
        response: {kind: slot_prompt, text: "(?i)WHAT time"}
        form: {active: table_booking, requested_slot: time}
        source: dining
        outcome: ok
      - user: cancel
        form: null
        responses: ["(?i)cancelled", {kind: response}]
)");
  std::vector<std::string> errors;
  auto tests = load_conversation_tests(path, errors);
  ASSERT_TRUE(errors.empty()) << errors[0];
  ASSERT_EQ(tests.size(), 1u);
  ASSERT_EQ(tests[0].steps.size(), 2u);
  const TestStep& s = tests[0].steps[0];
  EXPECT_EQ(s.at.line, 4);
  EXPECT_EQ(s.at.column, 9);
  EXPECT_EQ(*s.intent, "book_table");
  EXPECT_EQ(*s.slots.at("party_size"), "4");
  EXPECT_FALSE(s.slots.at("time").has_value());
  EXPECT_EQ(*s.form->active, "table_booking");
  EXPECT_EQ(tests[0].steps[1].responses.size(), 2u);
  EXPECT_EQ(*tests[0].steps[1].form->active, "");

  v1::TurnResponse turn;
  turn.mutable_intent()->set_name("book_table");
  (*turn.mutable_session_slots())["party_size"] = "4";
  auto* m = turn.add_messages();
  m->set_kind("slot_prompt");
  m->set_text("What time would you like the table?");
  turn.set_active_form("table_booking");
  turn.set_requested_slot("time");
  turn.add_sources()->set_document_id("dining");
  turn.set_outcome("ok");
  EXPECT_TRUE(check_step(s, turn).empty());

  turn.mutable_intent()->set_name("greet");
  (*turn.mutable_session_slots())["party_size"] = "5";
  (*turn.mutable_session_slots())["time"] = "19:00";
  m->set_kind("response");
  turn.set_active_form("");
  turn.clear_sources();
  turn.set_outcome("fallback");
  const auto diff = check_step(s, turn);
  ASSERT_EQ(diff.size(), 7u);
  EXPECT_EQ(diff[0].rfind("intent: expected book_table, got greet", 0), 0u) << diff[0];
  EXPECT_EQ(diff[1], "slots.party_size: expected \"4\", got \"5\"");
  EXPECT_EQ(diff[2], "slots.time: expected unset, got \"19:00\"");
  EXPECT_NE(diff[3].find("expected a response of kind slot_prompt matching /(?i)WHAT time/"), std::string::npos) << diff[3];
  EXPECT_EQ(diff[4], "form.active: expected table_booking, got none");
  EXPECT_EQ(diff[5], "source: expected dining, got no source");
  EXPECT_EQ(diff[6], "outcome: expected ok, got fallback");
}

TEST(BotTests, ErrorsAreLocated) {
  const auto path = write_file("bad.yml", R"(tests:
  - name: a
    steps:
      - user: hi
        intnet: greet
        outcome: maybe
        response: {text: "(unclosed"}
  - name: a
    steps: []
  - steps: [{intent: x}]
)");
  std::vector<std::string> errors;
  auto tests = load_conversation_tests(path, errors);
  EXPECT_TRUE(tests.empty());
  auto has = [&](const std::string& s) {
    return std::any_of(errors.begin(), errors.end(), [&](const std::string& e) { return e.find(s) != std::string::npos; });
  };
  EXPECT_TRUE(has("bad.yml:5:9: unknown key 'intnet' in a step")) << ::testing::PrintToString(errors);
  EXPECT_TRUE(has("bad.yml:6:18: outcome 'maybe' is not one of ok, fallback, handoff, error"));
  EXPECT_TRUE(has("bad.yml:7:26: '(unclosed' is not a valid regular expression")) << ::testing::PrintToString(errors);
  EXPECT_TRUE(has("bad.yml:9:12: 'steps' must be a non-empty list"));
  EXPECT_TRUE(has("a step needs 'user'"));
  EXPECT_TRUE(has("a test needs a 'name'"));
  errors.clear();
  load_conversation_tests(write_file("notyaml.yml", "tests: [\n"), errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind(write_file("notyaml.yml", "tests: [\n") + ":", 0), 0u) << errors[0];
}

}  // namespace
}  // namespace parley::dialog
