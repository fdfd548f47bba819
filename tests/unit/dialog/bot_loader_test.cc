// The bot loader: the demo bot loads; every kind of mistake is reported with file:line:column and
// a hint; unknown keys are errors with a did-you-mean; annotations become spans.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "services/dialog/bot/annotation.h"
#include "services/dialog/bot/loader.h"

namespace parley::dialog {
namespace {

std::string demo_path() { return std::string(PARLEY_SOURCE_DIR) + "/services/dialog/bots/demo/bot.yaml"; }

const char* kMinimal = R"(bot:
  id: mini
slots:
  party_size: {type: number, min: 1, max: 10}
  room_type:
    type: categorical
    values: {single: [one bed], double: [two beds]}
intents:
  greet: [hello, hi]
  book:
    examples:
      - book a table for [4](party_size)
      - a [double](room_type) please
responses:
  hi: [Hello!, Hi!]
  ask_size: How many?
  done: "Booked for {party_size}."
rules:
  - {intent: greet, actions: [hi]}
forms:
  booking:
    intents: [book]
    slots:
      - {slot: party_size, prompt: ask_size}
    on_submit: [done]
)";

LoadResult parse(const std::string& yaml) { return parse_bot(yaml, "bot.yaml", ""); }

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

TEST(BotLoader, DemoBotLoads) {
  LoadResult r = load_bot_file(demo_path());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const Bot& bot = *r.bot;
  EXPECT_EQ(bot.id, "demo");
  EXPECT_NE(bot.find_form("table_booking"), nullptr);
  EXPECT_NE(bot.find_form("room_booking"), nullptr);
  EXPECT_TRUE(bot.knowledge_base.enabled);
  EXPECT_EQ(bot.knowledge_base.documents.size(), 3u);
  EXPECT_NE(bot.knowledge_base.documents[0].text.find("Breakfast"), std::string::npos);
  EXPECT_EQ(bot.knowledge_base.documents[0].title, "Dining");
  EXPECT_TRUE(bot.lm_fallback.enabled);
  EXPECT_FLOAT_EQ(bot.thresholds.nlu_fallback, 0.45f);
  const RuleDef* kb = bot.find_rule("ask_hotel");
  ASSERT_NE(kb, nullptr);
  EXPECT_EQ(kb->actions[0].kind, ActionKind::kAnswerKb);
}

TEST(BotLoader, MinimalBotAndTrainRequest) {
  LoadResult r = parse(kMinimal);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  v1::TrainRequest t = r.bot->train_request();
  EXPECT_EQ(t.bot_id(), "mini");
  ASSERT_EQ(t.intents_size(), 2);
  const auto& ex = t.intents(1).examples(0);
  EXPECT_EQ(ex.text(), "book a table for 4");
  ASSERT_EQ(ex.slots_size(), 1);
  EXPECT_EQ(ex.slots(0).slot(), "party_size");
  EXPECT_EQ(ex.text().substr(ex.slots(0).start(), ex.slots(0).end() - ex.slots(0).start()), "4");
  ASSERT_EQ(t.slots_size(), 2);
  EXPECT_EQ(t.slots(1).type(), v1::SlotDefinition::CATEGORICAL);
  EXPECT_EQ(t.slots(1).values().at("double").synonyms(0), "two beds");
}

TEST(BotLoader, NluFineTuneReachesTheTrainRequest) {
  EXPECT_EQ(parse(kMinimal).bot->train_request().fine_tune(), v1::FINE_TUNE_DEFAULT) << "left out: the NLU decides";
  const std::pair<const char*, v1::FineTuneMode> cases[] = {
      {"full", v1::FINE_TUNE_FULL}, {"lora", v1::FINE_TUNE_LORA}, {"off", v1::FINE_TUNE_OFF}, {"false", v1::FINE_TUNE_OFF}};
  for (const auto& [text, mode] : cases) {
    LoadResult r = parse(std::string(kMinimal) + "nlu:\n  fine_tune: " + text + "\n");
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().to_string();
    EXPECT_EQ(r.bot->nlu.fine_tune, mode) << text;
    EXPECT_EQ(r.bot->train_request().fine_tune(), mode) << text;
  }
}

TEST(BotLoader, BadNluSectionIsNamedWithItsLine) {
  LoadResult r = parse(std::string(kMinimal) + "nlu:\n  fine_tune: ful\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].line, 27);
  EXPECT_NE(r.errors[0].message.find("nlu.fine_tune must be off, full or lora, got 'ful'"), std::string::npos)
      << r.errors[0].to_string();
  EXPECT_NE(r.errors[0].hint.find("did you mean 'full'"), std::string::npos) << r.errors[0].to_string();

  r = parse(std::string(kMinimal) + "nlu:\n  fine_tune: [full]\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].message.find("nlu.fine_tune must be a string"), std::string::npos) << r.errors[0].to_string();

  r = parse(std::string(kMinimal) + "nlu:\n  finetune: full\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].message.find("unknown key 'finetune' in 'nlu'"), std::string::npos) << r.errors[0].to_string();
  EXPECT_NE(r.errors[0].hint.find("fine_tune"), std::string::npos);

  r = parse(std::string(kMinimal) + "nlu: full\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].message.find("'nlu' must be a mapping"), std::string::npos) << r.errors[0].to_string();
}

TEST(BotLoader, UnknownKeyIsAnErrorWithLineAndSuggestion) {
  LoadResult r = parse(replace(kMinimal, "    examples:\n", "    exampels:\n"));
  ASSERT_FALSE(r.ok());
  ASSERT_FALSE(r.errors.empty());
  const BotError& e = r.errors[0];
  EXPECT_EQ(e.file, "bot.yaml");
  EXPECT_EQ(e.line, 11);
  EXPECT_EQ(e.column, 5);
  EXPECT_NE(e.message.find("unknown key 'exampels'"), std::string::npos) << e.to_string();
  EXPECT_NE(e.hint.find("did you mean 'examples'"), std::string::npos) << e.to_string();
  EXPECT_NE(r.status().message().find("bot.yaml:11:5: unknown key 'exampels'"), std::string::npos);
}

TEST(BotLoader, TopLevelTypo) {
  LoadResult r = parse(std::string(kMinimal) + "respones: {}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].line, 26);
  EXPECT_NE(r.errors[0].hint.find("responses"), std::string::npos) << r.errors[0].to_string();
}

TEST(BotLoader, UnknownActionSuggestsTheClosestName) {
  LoadResult r = parse(replace(kMinimal, "actions: [hi]", "actions: [hii]"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].message.find("unknown action 'hii'"), std::string::npos);
  EXPECT_NE(r.errors[0].hint.find("'hi'"), std::string::npos);
  EXPECT_EQ(r.errors[0].line, 19);
}

TEST(BotLoader, UnknownSlotInAnnotationAndTemplate) {
  LoadResult r = parse(replace(replace(kMinimal, "[4](party_size)", "[4](party_sise)"), "{party_size}.", "{guests}."));
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 2u) << r.status().to_string();
  EXPECT_NE(r.errors[0].message.find("unknown slot 'party_sise' in annotation"), std::string::npos);
  EXPECT_NE(r.errors[0].hint.find("party_size"), std::string::npos);
  EXPECT_EQ(r.errors[0].line, 12);
  EXPECT_NE(r.errors[1].message.find("unknown slot 'guests'"), std::string::npos);
}

TEST(BotLoader, BadAnnotationPointsAtTheColumn) {
  LoadResult r = parse(replace(kMinimal, "book a table for [4](party_size)", "book a table for [4(party_size)"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].line, 12);
  // "      - " is 8 columns, then the '[' at offset 17 of the example.
  EXPECT_EQ(r.errors[0].column, 9 + 17);
  EXPECT_NE(r.errors[0].hint.find("[value](slot_name)"), std::string::npos);
}

TEST(BotLoader, WrongTypesAndRanges) {
  std::string y = replace(kMinimal, "{type: number, min: 1, max: 10}", "{type: numbr}");
  LoadResult r = parse(y);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].message.find("unknown slot type 'numbr'"), std::string::npos);
  EXPECT_NE(r.errors[0].hint.find("number"), std::string::npos);

  r = parse(std::string(kMinimal) + "thresholds: {nlu_fallback: 1.5}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].message.find("between 0 and 1"), std::string::npos);
}

TEST(BotLoader, MissingSectionsAndEmptyFile) {
  LoadResult r = parse("");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].message.find("empty"), std::string::npos);
  r = parse("bot: {id: x}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].message.find("missing 'intents'"), std::string::npos);
  r = parse("bot: {id: Bad Id}\nintents: {a: [x], b: [y]}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].message.find("bad bot id"), std::string::npos);
}

TEST(BotLoader, MalformedYamlHasAPosition) {
  LoadResult r = parse("bot:\n  id: [unclosed\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].message.find("malformed YAML"), std::string::npos);
  EXPECT_GT(r.errors[0].line, 0);
}

TEST(BotLoader, FormReferencesAreChecked) {
  LoadResult r = parse(replace(kMinimal, "prompt: ask_size", "prompt: ask_sise"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].message.find("unknown response 'ask_sise'"), std::string::npos);
  EXPECT_NE(r.errors[0].hint.find("ask_size"), std::string::npos);
  r = parse(replace(kMinimal, "intents: [book]", "intents: [bok]"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].message.find("unknown intent 'bok'"), std::string::npos);
}

TEST(BotLoader, KnowledgeBaseFilesAreRelativeAndMustExist) {
  std::string y = std::string(kMinimal) + "knowledge_base:\n  documents:\n    - file: ../secret.md\n";
  LoadResult r = parse(y);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].message.find("relative path inside"), std::string::npos);
  auto dir = std::filesystem::temp_directory_path() / "parley-dialog-kb-test";
  std::filesystem::create_directories(dir / "kb");
  std::ofstream(dir / "kb" / "a.md") << "# Title A\n\nSome text about the pool.\n";
  std::ofstream(dir / "bot.yaml") << kMinimal << "knowledge_base:\n  documents:\n    - file: kb/a.md\n    - file: kb/missing.md\n";
  r = load_bot_file((dir / "bot.yaml").string());
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u) << r.status().to_string();
  EXPECT_NE(r.errors[0].message.find("kb/missing.md' not found"), std::string::npos);
  EXPECT_EQ(r.errors[0].line, 29);
  std::ofstream(dir / "bot.yaml") << kMinimal << "knowledge_base:\n  documents:\n    - file: kb/a.md\n";
  r = load_bot_file((dir / "bot.yaml").string());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r.bot->knowledge_base.documents[0].title, "Title A");
  EXPECT_EQ(r.bot->knowledge_base.documents[0].id, "a");
  std::filesystem::remove_all(dir);
}

TEST(BotLimits, AliasAmplificationIsRefusedBeforeATreeIsBuilt) {
  // Issue 15: 304 KB with 100,000 aliases of a 4 KB scalar grew the dialog to 1.2 GB.
  std::string yaml = "bot: {id: boom}\nbig: &x " + std::string(4096, 'a') + "\nintents:\n  a:\n";
  for (int i = 0; i < 100000; ++i) yaml += "    - *x\n";
  yaml += "  b: [bye]\n";
  LoadResult r = parse(yaml);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.over_limit);
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange) << r.status().to_string();
  EXPECT_NE(r.status().message().find("aliases"), std::string::npos) << r.status().to_string();
  // Fewer aliases of a bigger anchor: the expanded size is what counts (limits.h).
  BotLimits limits;
  limits.max_expanded_bytes = 1 << 20;
  std::string nested = "bot: {id: boom}\na: &a [" + std::string(1000, 'x') + "," + std::string(1000, 'x') + "]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'p'; ++c, ++prev) {
    nested += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + "]\n";  // doubles each level
  }
  nested += "intents: {a: [hi], b: [bye]}\n";
  r = parse_bot(nested, "bot.yaml", "", limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(r.status().message().find("expands to more than"), std::string::npos) << r.status().to_string();
  EXPECT_NE(r.status().message().find("bot.yaml:"), std::string::npos) << "names where: " << r.status().to_string();
}

TEST(BotLimits, CountsBytesAndDepthAreCapped) {
  BotLimits limits;
  limits.max_examples = 5;
  std::string yaml = "bot: {id: many}\nintents:\n  a:\n";
  for (int i = 0; i < 6; ++i) yaml += "    - example number " + std::to_string(i) + "\n";
  yaml += "  b: [bye]\n";
  LoadResult r = parse_bot(yaml, "bot.yaml", "", limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(r.status().message().find("more than 5 examples (limit dialog.bot_max_examples)"), std::string::npos)
      << r.status().to_string();
  EXPECT_NE(r.status().message().find("bot.yaml:9:"), std::string::npos) << r.status().to_string();
  limits = {};
  limits.max_slots = 1;
  r = parse_bot(kMinimal, "bot.yaml", "", limits);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("more than 1 slots"), std::string::npos) << r.status().to_string();
  limits = {};
  limits.max_bytes = 100;
  r = parse_bot(kMinimal, "bot.yaml", "", limits);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("the limit is 100"), std::string::npos) << r.status().to_string();
  std::string deep = "bot: {id: deep}\nx: " + std::string(100, '[') + std::string(100, ']') + "\n";
  r = parse(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nesting deeper than 64"), std::string::npos) << r.status().to_string();
  // The demo bot is far inside every default limit.
  EXPECT_TRUE(load_bot_file(demo_path()).ok());
}

TEST(BotLimits, LmMaxTokensStaysWithinWhatTheLmAccepts) {
  // Issue 15: the loader took 2048 while the LM refuses more than 1024: every fallback failed.
  LoadResult r = parse(std::string(kMinimal) + "lm_fallback: {max_tokens: 2048}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("max_tokens must be between 1 and 1024"), std::string::npos)
      << r.status().to_string();
  EXPECT_TRUE(parse(std::string(kMinimal) + "lm_fallback: {max_tokens: 1024}\n").ok());
  BotLimits limits;
  limits.max_lm_tokens = 256;
  EXPECT_FALSE(parse_bot(std::string(kMinimal) + "lm_fallback: {max_tokens: 512}\n", "bot.yaml", "", limits).ok());
}

TEST(BotLoader, SlotPatternsAreCompiledOnTheLinearTimeEngine) {
  LoadResult r = parse(replace(kMinimal, "  party_size: {type: number, min: 1, max: 10}\n",
                               "  party_size: {type: number, min: 1, max: 10}\n  code: {type: regex, pattern: '[A-Z]{2}\\d{4}'}\n"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_TRUE(r.bot->find_slot("code")->regex.has_value());
  EXPECT_TRUE(r.bot->find_slot("code")->regex->full_match("AB1234"));
  r = parse(replace(kMinimal, "  party_size: {type: number, min: 1, max: 10}\n",
                    "  party_size: {type: number, min: 1, max: 10}\n  code: {type: regex, pattern: '(a)\\1'}\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("backreferences are not supported"), std::string::npos) << r.status().to_string();
}

TEST(BotLoader, MissingFileIsNotFound) {
  LoadResult r = load_bot_file("/nonexistent/bot.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(Annotation, SpansAndErrors) {
  auto r = parse_annotated_example("book a table for [4](party_size) at [7pm](time)");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->text, "book a table for 4 at 7pm");
  ASSERT_EQ(r->spans.size(), 2u);
  EXPECT_EQ(r->spans[1].slot(), "time");
  EXPECT_EQ(r->spans[1].start(), 22);
  EXPECT_EQ(r->spans[1].end(), 25);
  auto lit = parse_annotated_example("a \\[literal\\] bracket");
  ASSERT_TRUE(lit.ok());
  EXPECT_EQ(lit->text, "a [literal] bracket");
  for (const char* bad : {"x [4(party)", "x [4]party", "x [](s)", "x [4](bad name)", "x ] y", "x [4](s"}) {
    auto e = parse_annotated_example(bad);
    EXPECT_FALSE(e.ok()) << bad;
    EXPECT_GE(annotation_error_offset(e.status()), 0) << bad;
  }
}

}  // namespace
}  // namespace parley::dialog
