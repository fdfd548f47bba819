// BotModel: every validation error names its problem; a trained toy bot parses intents and slots
// (tagger, lookup, regex, expected_slot fallbacks); out-of-scope by confidence and by distance.
#include "services/nlu/bot_model.h"
#include "services/nlu/model_check.h"

#include <gtest/gtest.h>

namespace parley::nlu {
namespace {

void example(v1::IntentDefinition* intent, const std::string& text,
             std::vector<std::pair<std::string, std::string>> slots = {}) {
  auto* e = intent->add_examples();
  e->set_text(text);
  for (const auto& [slot, value] : slots) {
    auto pos = text.find(value);
    ASSERT_NE(pos, std::string::npos) << value;
    auto* s = e->add_slots();
    s->set_slot(slot);
    s->set_start(static_cast<int>(pos));
    s->set_end(static_cast<int>(pos + value.size()));
  }
}

v1::SlotDefinition* slot(v1::TrainRequest& r, const std::string& name, v1::SlotDefinition::Type type) {
  auto* d = r.add_slots();
  d->set_name(name);
  d->set_type(type);
  return d;
}

v1::TrainRequest travel_bot() {
  v1::TrainRequest r;
  r.set_bot_id("travel");
  slot(r, "city", v1::SlotDefinition::FREE_TEXT);
  slot(r, "nights", v1::SlotDefinition::NUMBER);
  slot(r, "date", v1::SlotDefinition::DATE_TIME);
  slot(r, "note", v1::SlotDefinition::FREE_TEXT);
  auto* room = slot(r, "room", v1::SlotDefinition::CATEGORICAL);
  (*room->mutable_values())["suite"].add_synonyms("penthouse");
  (*room->mutable_values())["double"].add_synonyms("two beds");
  slot(r, "booking_ref", v1::SlotDefinition::REGEX)->set_pattern("BK-[0-9]+");
  auto* book = r.add_intents();
  book->set_name("book_hotel");
  const std::vector<std::string> cities = {"paris", "london", "berlin", "rome", "madrid", "vienna", "oslo", "lisbon"};
  for (std::size_t i = 0; i < cities.size(); ++i) {
    const std::string& c = cities[i];
    example(book, "book a hotel in " + c + " for 3 nights", {{"city", c}, {"nights", "3"}});
    example(book, "i need a room in " + c, {{"city", c}});
    example(book, "find me a hotel in " + c + " please", {{"city", c}});
  }
  auto* cancel = r.add_intents();
  cancel->set_name("cancel");
  example(cancel, "cancel my booking");
  example(cancel, "please cancel reservation BK-123");
  example(cancel, "i want to cancel");
  example(cancel, "drop my reservation");
  return r;
}

TEST(BotModelValidate, EachProblemIsNamed) {
  struct Case {
    std::string name;
    std::function<void(v1::TrainRequest&)> mutate;
    std::string mentions;
  };
  std::vector<Case> cases = {
      {"no intents", [](auto& r) { r.clear_intents(); }, "no intents"},
      {"duplicate intent", [](auto& r) { *r.add_intents() = r.intents(0); }, "intent 'book_hotel' is defined twice"},
      {"empty intent name", [](auto& r) { r.mutable_intents(1)->set_name(""); }, "intent #2 has an empty name"},
      {"no examples", [](auto& r) { r.mutable_intents(1)->clear_examples(); }, "intent 'cancel' has no examples"},
      {"empty text", [](auto& r) { r.mutable_intents(1)->mutable_examples(2)->set_text("  "); },
       "intent 'cancel' example 3 ('  '): text is empty"},
      {"invalid utf8", [](auto& r) { r.mutable_intents(1)->mutable_examples(0)->set_text("bad \xff"); },
       "example 1: text is not valid UTF-8 (byte 4)"},
      {"undefined slot",
       [](auto& r) {
         auto* s = r.mutable_intents(1)->mutable_examples(0)->add_slots();
         s->set_slot("colour");
         s->set_start(0);
         s->set_end(6);
       },
       "slot 'colour' is not defined (defined slots: city, nights, date, note, room, booking_ref)"},
      {"span past end", [](auto& r) { r.mutable_intents(0)->mutable_examples(0)->mutable_slots(0)->set_end(400); },
       "is out of range"},
      {"empty span", [](auto& r) { r.mutable_intents(0)->mutable_examples(0)->mutable_slots(0)->set_end(16); },
       "start < end"},
      {"negative span", [](auto& r) { r.mutable_intents(0)->mutable_examples(0)->mutable_slots(0)->set_start(-1); },
       "out of range"},
      {"overlapping spans", [](auto& r) { r.mutable_intents(0)->mutable_examples(0)->mutable_slots(1)->set_start(17); },
       "overlaps"},
      {"split utf8",
       [](auto& r) {
         auto* e = r.mutable_intents(1)->mutable_examples(0);
         e->set_text("caf\xc3\xa9 time");
         auto* s = e->add_slots();
         s->set_slot("note");
         s->set_start(0);
         s->set_end(4);
       },
       "cuts a UTF-8 character"},
      {"duplicate slot", [](auto& r) { *r.add_slots() = r.slots(0); }, "slot 'city' is defined twice"},
      {"untyped slot", [](auto& r) { r.mutable_slots(0)->set_type(v1::SlotDefinition::TYPE_UNSPECIFIED); },
       "slot 'city': type is unspecified"},
      {"threshold", [](auto& r) { r.set_out_of_scope_threshold(1.5f); }, "out_of_scope_threshold"},
  };
  for (const auto& c : cases) {
    v1::TrainRequest r = travel_bot();
    c.mutate(r);
    Status st = BotModel::validate(r, {});
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(st.message().find(c.mentions), std::string::npos) << c.name << ": " << st.message();
  }
  EXPECT_TRUE(BotModel::validate(travel_bot(), {}).is_ok());
  TrainLimits small;
  small.max_examples = 5;
  EXPECT_NE(BotModel::validate(travel_bot(), small).message().find("more than 5 training examples"), std::string::npos);
  // A bad regex is caught when the extractors are built (train), still before any work.
  v1::TrainRequest r = travel_bot();
  r.mutable_slots(5)->set_pattern("(");
  HashFeaturizer hf;
  auto m = BotModel::train(r, hf, {});
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("slot 'booking_ref'"), std::string::npos);
}

class TravelBot : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto m = BotModel::train(travel_bot(), featurizer(), {});
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    model_ = new std::shared_ptr<const BotModel>(*m);
  }
  static void TearDownTestSuite() { delete model_; }
  static const HashFeaturizer& featurizer() {
    static const HashFeaturizer kF(32);
    return kF;
  }
  static v1::ParseResponse parse(const std::string& text, const std::string& expected = "") {
    std::vector<TextFeatures> f;
    EXPECT_TRUE(featurizer().featurize(std::vector<std::string>{text}, f).is_ok());
    ParseOptions o;
    o.expected_slot = expected;
    o.context.reference = {2024, 5, 10, 12, 0};
    auto r = (*model_)->parse(text, f[0], o);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : v1::ParseResponse{};
  }
  static const v1::SlotValue* find(const v1::ParseResponse& r, const std::string& name) {
    for (const auto& s : r.slots()) {
      if (s.slot() == name) return &s;
    }
    return nullptr;
  }
  static std::shared_ptr<const BotModel>* model_;
};
std::shared_ptr<const BotModel>* TravelBot::model_ = nullptr;

TEST_F(TravelBot, IntentsAndTaggedSlots) {
  auto r = parse("book a hotel in lisbon for 4 nights");
  ASSERT_EQ(r.intents_size(), 2);
  EXPECT_EQ(r.intents(0).name(), "book_hotel");
  EXPECT_GT(r.intents(0).confidence(), r.intents(1).confidence());
  const auto* city = find(r, "city");
  ASSERT_NE(city, nullptr);
  EXPECT_EQ(city->raw_value(), "lisbon");
  EXPECT_EQ(city->start(), 16);
  EXPECT_EQ(city->extractor(), "tagger");
  const auto* nights = find(r, "nights");
  ASSERT_NE(nights, nullptr);
  EXPECT_EQ(nights->value(), "4");
  EXPECT_EQ(parse("please cancel my booking").intents(0).name(), "cancel");
  EXPECT_EQ((*model_)->warnings().size(), 4u) << "date, note, room and booking_ref have no annotations";
}

TEST_F(TravelBot, LookupRegexAndTheOnlyDateSlot) {
  auto r = parse("cancel BK-7781, the penthouse from tomorrow");
  const auto* ref = find(r, "booking_ref");
  ASSERT_NE(ref, nullptr);
  EXPECT_EQ(ref->value(), "BK-7781");
  EXPECT_EQ(ref->extractor(), "regex");
  const auto* room = find(r, "room");
  ASSERT_NE(room, nullptr);
  EXPECT_EQ(room->value(), "suite");
  EXPECT_EQ(room->raw_value(), "penthouse");
  const auto* date = find(r, "date");
  ASSERT_NE(date, nullptr);
  EXPECT_EQ(date->value(), "2024-05-11");
  // Slots come back in text order and never overlap.
  for (int i = 1; i < r.slots_size(); ++i) EXPECT_LE(r.slots(i - 1).end(), r.slots(i).start());
}

TEST_F(TravelBot, TaggedNumberOrDateThatIsNoneIsNotASlot) {
  // The tagger learned "for <N> nights"; here its span is a word, not a number. A NUMBER or
  // DATE_TIME slot must hold a normalized value, so the span is dropped rather than filled.
  const v1::ParseResponse r = parse("book a hotel in lisbon for several nights");
  EXPECT_EQ(r.intents(0).name(), "book_hotel");
  const auto* nights = find(r, "nights");
  EXPECT_EQ(nights, nullptr) << "nights = '" << (nights ? nights->value() : "") << "'";
  ASSERT_NE(find(r, "city"), nullptr);
}

TEST_F(TravelBot, ExpectedSlotFallbacks) {
  // Numbers are only taken when a form asks for them.
  EXPECT_EQ(find(parse("five"), "nights"), nullptr);
  const v1::ParseResponse five = parse("five", "nights");
  const auto* n = find(five, "nights");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->value(), "5");
  const v1::ParseResponse answer = parse("  leave the key at reception ", "note");
  const auto* note = find(answer, "note");
  ASSERT_NE(note, nullptr);
  EXPECT_EQ(note->value(), "leave the key at reception");
  EXPECT_EQ(note->start(), 2);
}

TEST(BotModelOutOfScope, ConfidenceAndDistance) {
  // 256 dims: unrelated hash vectors are near-orthogonal (cosine ~ +-0.06).
  HashFeaturizer hf(256);
  std::vector<TextFeatures> f;
  ASSERT_TRUE(hf.featurize(std::vector<std::string>{"cancel my hotel in paris", "zebra quantum marmalade",
                                                    "i need a room in paris"},
                           f)
                  .is_ok());
  v1::TrainRequest r = travel_bot();
  auto plain = BotModel::train(r, hf, {});
  ASSERT_TRUE(plain.ok());
  auto p = (*plain)->parse("cancel my hotel in paris", f[0], {});
  ASSERT_TRUE(p.ok());
  const float top = p->intents(0).confidence();
  ASSERT_LT(top, 1.0f) << "a mixed text should not be certain";
  r.set_out_of_scope_threshold(top + (1.0f - top) / 2);
  auto strict = BotModel::train(r, hf, {});
  ASSERT_TRUE(strict.ok());
  p = (*strict)->parse("cancel my hotel in paris", f[0], {});
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->out_of_scope());
  EXPECT_EQ(p->out_of_scope_reason(), "low_confidence");

  r.set_out_of_scope_threshold(0.0f);
  auto derived = BotModel::train(r, hf, {});
  ASSERT_TRUE(derived.ok());
  EXPECT_GE((*derived)->similarity_floor(), 0.1f);
  EXPECT_LE((*derived)->similarity_floor(), 0.35f);

  r.set_out_of_scope_similarity(0.5f);
  auto explicit_floor = BotModel::train(r, hf, {});
  ASSERT_TRUE(explicit_floor.ok());
  p = (*explicit_floor)->parse("zebra quantum marmalade", f[1], {});
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->out_of_scope());
  EXPECT_EQ(p->out_of_scope_reason(), "far_from_examples");
  EXPECT_LT(p->nearest_similarity(), 0.5f);
  p = (*explicit_floor)->parse("i need a room in paris", f[2], {});
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->out_of_scope());
  EXPECT_GT(p->nearest_similarity(), 0.99f);

  r.set_out_of_scope_similarity(-1.0f);
  auto off = BotModel::train(r, hf, {});
  ASSERT_TRUE(off.ok());
  p = (*off)->parse("zebra quantum marmalade", f[1], {});
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->out_of_scope());
}

// The same example text (case and spacing aside) under two intents is a warning naming both;
// past five such texts the rest are counted, so the message stays bounded.
TEST(BotModelTrain, AnExampleUnderTwoIntentsIsAWarning) {
  HashFeaturizer hf(8);
  v1::TrainRequest r;
  r.set_bot_id("b");
  auto add = [&](const std::string& intent, std::vector<std::string> examples) {
    auto* i = r.add_intents();
    i->set_name(intent);
    for (const auto& e : examples) i->add_examples()->set_text(e);
  };
  add("greet", {"hello there", "Good  morning", "hi"});
  add("bye", {"good morning", "bye now"});
  auto m = BotModel::train(r, hf, {});
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  ASSERT_EQ((*m)->warnings().size(), 1u);
  EXPECT_EQ((*m)->warnings()[0],
            "example 'good morning' is under several intents ('greet', 'bye'): the classifier cannot tell them apart by it");

  v1::TrainRequest many;
  many.set_bot_id("m");
  std::vector<std::string> same;
  for (int k = 0; k < 8; ++k) same.push_back("phrase " + std::to_string(k));
  auto* a = many.add_intents();
  a->set_name("a");
  auto* b = many.add_intents();
  b->set_name("b");
  for (const auto& e : same) {
    a->add_examples()->set_text(e);
    b->add_examples()->set_text(e);
  }
  auto mm = BotModel::train(many, hf, {});
  ASSERT_TRUE(mm.ok());
  ASSERT_EQ((*mm)->warnings().size(), 6u);
  EXPECT_EQ((*mm)->warnings()[5], "3 more examples are under several intents");
  // Distinct examples: no such warning.
  auto travel = BotModel::train(travel_bot(), hf, {});
  ASSERT_TRUE(travel.ok());
  for (const auto& w : (*travel)->warnings()) {
    EXPECT_EQ(w.find("several intents"), std::string::npos) << w;
  }
}

TEST(BotModelTrain, CancelledTrainingStops) {
  HashFeaturizer hf(8);
  TrainOptions o;
  o.cancelled = [] { return true; };
  auto m = BotModel::train(travel_bot(), hf, o);
  EXPECT_EQ(m.status().code(), StatusCode::kCancelled);
}

// The check before a fine-tuned model replaces the frozen one (model_check.h): a model parses
// its own examples; one trained without the city annotations does not find the cities.
TEST(ModelCheck, ScoresAModelOnItsOwnExamples) {
  const HashFeaturizer hf(32);
  const v1::TrainRequest request = travel_bot();  // 28 examples
  auto model = BotModel::train(request, hf, {});
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  auto all = score_on_examples(**model, hf, request, 1000);
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  EXPECT_EQ(all->examples, 28);
  EXPECT_GE(all->intents_right, 26);
  EXPECT_GE(all->exact, 24) << all->to_string();
  // At most the number asked for.
  auto some = score_on_examples(**model, hf, request, 4);
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(some->examples, 4);
  // A model that tags no city: the examples with a city are not exact any more.
  v1::TrainRequest no_city = request;
  for (auto& intent : *no_city.mutable_intents()) {
    for (auto& ex : *intent.mutable_examples()) {
      auto* slots = ex.mutable_slots();
      for (int k = slots->size() - 1; k >= 0; --k) {
        if (slots->Get(k).slot() == "city") slots->DeleteSubrange(k, 1);
      }
    }
  }
  auto blind = BotModel::train(no_city, hf, {});
  ASSERT_TRUE(blind.ok());
  auto worse = score_on_examples(**blind, hf, request, 1000);
  ASSERT_TRUE(worse.ok());
  EXPECT_LE(worse->exact, 4) << worse->to_string();  // only the cancel examples (no city) remain exact
  EXPECT_EQ(worse->to_string(), std::to_string(worse->exact) + " of 28 exact, " + std::to_string(worse->intents_right) +
                                    " intents right");
}

}  // namespace
}  // namespace parley::nlu
