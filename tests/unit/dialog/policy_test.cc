// The policy's building blocks: slot normalization and validation, extraction from plain text for
// the slot a form asked for, template rendering, and decide() on hand-made NLU results.
#include <gtest/gtest.h>

#include "services/dialog/bot/loader.h"
#include "services/dialog/engine/policy.h"

namespace parley::dialog {
namespace {

std::shared_ptr<const Bot> demo() {
  auto r = load_bot_file(std::string(PARLEY_SOURCE_DIR) + "/services/dialog/bots/demo/bot.yaml");
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.bot;
}

v1::ParseResponse nlu(const std::string& intent, float confidence,
                      std::vector<std::pair<std::string, std::string>> slots = {}) {
  v1::ParseResponse p;
  auto* i = p.add_intents();
  i->set_name(intent);
  i->set_confidence(confidence);
  for (auto& [k, v] : slots) {
    auto* s = p.add_slots();
    s->set_slot(k);
    s->set_value(v);
  }
  return p;
}

TEST(NormalizeSlot, NumbersCategoricalRanges) {
  auto bot = demo();
  const SlotDef& size = *bot->find_slot("party_size");
  EXPECT_EQ(*normalize_slot(size, nullptr, "4"), "4");
  EXPECT_EQ(*normalize_slot(size, nullptr, "four"), "4");
  EXPECT_EQ(*normalize_slot(size, nullptr, "4 people"), "4");
  EXPECT_FALSE(normalize_slot(size, nullptr, "lots").ok());
  EXPECT_FALSE(normalize_slot(size, nullptr, "25").ok());  // slot max 20
  FormSlot fs;
  fs.max = 12;
  auto r = normalize_slot(size, &fs, "15");  // the form's own max 12
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("between 1 and 12"), std::string::npos) << r.status().message();
  const SlotDef& room = *bot->find_slot("room_type");
  EXPECT_EQ(*normalize_slot(room, nullptr, "Double Room"), "double");
  EXPECT_EQ(*normalize_slot(room, nullptr, "suite"), "suite");
  EXPECT_FALSE(normalize_slot(room, nullptr, "penthouse").ok());
}

TEST(NormalizeSlot, BacktrackingBotPatternsAnswerAtOnce) {
  // Issue 15: a slot pattern "(a+)+$" and a 27-character answer took 7 s per turn on std::regex
  // (each more character doubles it): with 60 characters this test would never finish.
  const char* yaml = R"(bot: {id: evil}
slots:
  code: {type: regex, pattern: '(a+)+$'}
  word: {type: text}
intents:
  a: [hello]
  b: [bye]
forms:
  f:
    intents: [a]
    slots: [{slot: word, prompt: ask, pattern: '(x+x+)+y'}]
responses:
  ask: ["what?"]
)";
  auto loaded = parse_bot(yaml, "evil.yaml", "");
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  const std::string hostile = std::string(60, 'a') + "!";
  auto r = normalize_slot(*loaded.bot->find_slot("code"), nullptr, hostile);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not match"), std::string::npos);
  EXPECT_LT(r.status().message().size(), 200u) << "errors quote a short excerpt of the input";
  EXPECT_EQ(extract_from_text(*loaded.bot->find_slot("code"), hostile), std::nullopt);
  const FormSlot& fs = loaded.bot->find_form("f")->slots[0];
  EXPECT_FALSE(normalize_slot(*loaded.bot->find_slot("word"), &fs, std::string(200, 'x')).ok());
  EXPECT_TRUE(normalize_slot(*loaded.bot->find_slot("code"), nullptr, std::string(60, 'a')).ok());
}

TEST(ExtractFromText, PerType) {
  auto bot = demo();
  EXPECT_EQ(extract_from_text(*bot->find_slot("party_size"), "we are 5"), "5");
  EXPECT_EQ(extract_from_text(*bot->find_slot("party_size"), "three of us"), "three");
  EXPECT_EQ(extract_from_text(*bot->find_slot("party_size"), "no idea"), std::nullopt);
  EXPECT_EQ(extract_from_text(*bot->find_slot("room_type"), "the double room please"), "double");
  EXPECT_EQ(extract_from_text(*bot->find_slot("time"), "around 8:30 pm"), "8:30 pm");
  EXPECT_EQ(extract_from_text(*bot->find_slot("guest_name"), "  Ada Lovelace "), "Ada Lovelace");
}

TEST(RenderResponse, SlotsAndVariations) {
  auto bot = demo();
  v1::Session s;
  (*s.mutable_slots())["party_size"] = "4";
  (*s.mutable_slots())["time"] = "7pm";
  EXPECT_EQ(render_response(*bot, "table_booked", s, 0), "Done! Your table for 4 at 7pm is booked.");
  EXPECT_NE(render_response(*bot, "greet", s, 0), render_response(*bot, "greet", s, 1));
  EXPECT_EQ(render_response(*bot, "greet", s, 0), render_response(*bot, "greet", s, 2));
  EXPECT_EQ(render_response(*bot, "form_change", s, 0), builtin_response("form_change"));
}

TEST(Decide, FormFillsAsksConfirmsSubmits) {
  auto bot = demo();
  v1::Session s;
  Decision d = decide(*bot, s, nlu("book_table", 0.9f, {{"party_size", "4"}}), "table for 4");
  EXPECT_EQ(s.active_form(), "table_booking");
  EXPECT_EQ(s.requested_slot(), "time");
  ASSERT_EQ(d.steps.size(), 1u);
  EXPECT_EQ(std::get<SayStep>(d.steps[0]).response, "ask_time");
  EXPECT_EQ(d.events[0].type(), "form_started");

  d = decide(*bot, s, nlu("inform", 0.8f, {{"time", "8pm"}}), "at 8pm");
  EXPECT_TRUE(s.awaiting_confirmation());
  EXPECT_EQ(std::get<SayStep>(d.steps[0]).response, "confirm_table");

  d = decide(*bot, s, nlu("inform", 0.8f, {{"party_size", "6"}}), "make it 6");  // correction
  EXPECT_EQ(s.slots().at("party_size"), "6");
  EXPECT_TRUE(s.awaiting_confirmation());
  EXPECT_EQ(d.events[0].detail(), "corrected");

  d = decide(*bot, s, nlu("affirm", 0.95f), "yes");
  EXPECT_EQ(s.active_form(), "");
  EXPECT_FALSE(s.awaiting_confirmation());
  EXPECT_EQ(std::get<SayStep>(d.steps[0]).response, "table_booked");
  EXPECT_EQ(d.events.back().type(), "form_completed");
}

TEST(Decide, LowConfidenceFallsBackToTheLmThenHandsOff) {
  auto bot = demo();
  v1::Session s;
  for (int i = 1; i <= 2; ++i) {
    Decision d = decide(*bot, s, nlu("greet", 0.1f), "blah");
    EXPECT_EQ(d.outcome, "fallback");
    EXPECT_EQ(d.fallback_reason, "low_confidence");
    ASSERT_EQ(d.steps.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<GenerateStep>(d.steps[0]));
    EXPECT_EQ(s.consecutive_fallbacks(), i);
  }
  Decision d = decide(*bot, s, nlu("greet", 0.1f), "blah");  // handoff_after: 3
  EXPECT_EQ(d.outcome, "handoff");
  EXPECT_TRUE(s.handed_off());
  EXPECT_EQ(std::get<SayStep>(d.steps[0]).response, "handoff");
  d = decide(*bot, s, nlu("greet", 0.9f), "hello");
  EXPECT_EQ(s.consecutive_fallbacks(), 0);
  EXPECT_EQ(d.outcome, "ok");
}

TEST(Decide, CancelAndInvalidValue) {
  auto bot = demo();
  v1::Session s;
  Decision d = decide(*bot, s, nlu("book_table", 0.9f, {{"party_size", "30"}}), "table for 30");
  EXPECT_EQ(std::get<SayStep>(d.steps[0]).response, "bad_party_size");
  EXPECT_EQ(std::get<SayStep>(d.steps[1]).response, "ask_party_size");
  EXPECT_FALSE(s.slots().contains("party_size"));
  d = decide(*bot, s, nlu("cancel", 0.9f), "never mind");
  EXPECT_EQ(s.active_form(), "");
  EXPECT_EQ(std::get<SayStep>(d.steps[0]).response, "booking_cancelled");
}

}  // namespace
}  // namespace parley::dialog
