// parley-nlu end to end: a real process on loopback, called through the transport client.
// Train + parse (intents, regex/lookup/date slots), two bots isolated, re-train replaces, DropBot,
// every kind of bad input answered with a clear error while the service keeps serving, metrics,
// and the start-up error when the encoder is missing. The hash featurizer keeps it fast and
// model-free; the real-encoder case skips with a message when the model is absent.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "parley/v1/nlu.pb.h"
#include "shared/transport/client.h"
#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/service.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

using Nlu = testing::ServiceProcess;
using testing::model_dir;

void example(v1::IntentDefinition* intent, const std::string& text,
             std::vector<std::tuple<std::string, std::string>> slots = {}) {
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

v1::TrainRequest restaurant_bot(const std::string& id) {
  v1::TrainRequest r;
  r.set_bot_id(id);
  r.set_out_of_scope_threshold(0.0f);
  auto* size = r.add_slots();
  size->set_name("party_size");
  size->set_type(v1::SlotDefinition::NUMBER);
  auto* time = r.add_slots();
  time->set_name("time");
  time->set_type(v1::SlotDefinition::DATE_TIME);
  auto* cuisine = r.add_slots();
  cuisine->set_name("cuisine");
  cuisine->set_type(v1::SlotDefinition::CATEGORICAL);
  (*cuisine->mutable_values())["italian"].add_synonyms("pasta");
  (*cuisine->mutable_values())["japanese"].add_synonyms("sushi");
  auto* order = r.add_slots();
  order->set_name("order_id");
  order->set_type(v1::SlotDefinition::REGEX);
  order->set_pattern("[A-Z]{2}[0-9]{4}");
  auto* book = r.add_intents();
  book->set_name("book_table");
  example(book, "book a table for 4 at 7pm", {{"party_size", "4"}, {"time", "7pm"}});
  example(book, "i want a table for two tomorrow", {{"party_size", "two"}, {"time", "tomorrow"}});
  example(book, "reserve a table for 6 people on friday", {{"party_size", "6"}, {"time", "on friday"}});
  example(book, "can i book a table for three tonight", {{"party_size", "three"}, {"time", "tonight"}});
  example(book, "table for 2 at 8 pm please", {{"party_size", "2"}, {"time", "8 pm"}});
  example(book, "book me an italian dinner for 5", {{"party_size", "5"}});
  auto* status = r.add_intents();
  status->set_name("order_status");
  example(status, "where is my order AB1234");
  example(status, "what is the status of order XY9876");
  example(status, "has my delivery shipped yet");
  example(status, "track my order please");
  example(status, "my order has not arrived");
  auto* greet = r.add_intents();
  greet->set_name("greet");
  example(greet, "hello");
  example(greet, "hi there");
  example(greet, "good morning");
  example(greet, "hey");
  example(greet, "good evening to you");
  return r;
}

class NluIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("parley-nlu"); }

  bool start(Nlu& n, std::vector<std::string> extra, std::string* log = nullptr) {
    return testing::start_service(n, "services/nlu/parley-nlu", extra, dir_, log);
  }

  template <typename Reply>
  static Result<Reply> call(Nlu& n, const std::string& method, const google::protobuf::Message& req,
                            std::chrono::milliseconds timeout = 20s) {
    return testing::call_unary<Reply>(*n.client, method, req, timeout);
  }

  static Result<v1::ParseResponse> parse(Nlu& n, const std::string& bot, const std::string& text,
                                         const std::string& expected = "") {
    v1::ParseRequest r;
    r.set_bot_id(bot);
    r.set_text(text);
    r.set_expected_slot(expected);
    r.set_reference_time("2024-05-10T12:00");  // a Friday
    return call<v1::ParseResponse>(n, "parley.v1.Nlu/Parse", r);
  }

  static const v1::SlotValue* slot(const v1::ParseResponse& r, const std::string& name) {
    for (const auto& s : r.slots()) {
      if (s.slot() == name) return &s;
    }
    return nullptr;
  }

  std::string dir_;
};

TEST_F(NluIntegrationTest, TrainParseIsolateRetrainDropAndBadInput) {
  Nlu n;
  std::string log;
  ASSERT_TRUE(start(n, {"--nlu.featurizer=hash", "--nlu.max_text_bytes=65536"}, &log)) << log;

  auto trained = call<v1::TrainResponse>(n, "parley.v1.Nlu/Train", restaurant_bot("food"));
  ASSERT_TRUE(trained.ok()) << trained.status().to_string();
  EXPECT_EQ(trained->examples(), 16);
  EXPECT_EQ(trained->intents(), 3);
  // cuisine and order_id have no annotated spans: the reply says how they will be found.
  ASSERT_GE(trained->warnings_size(), 2);

  auto p = parse(n, "food", "where is my order QZ4321");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  ASSERT_GT(p->intents_size(), 0);
  EXPECT_EQ(p->intents(0).name(), "order_status");
  const v1::SlotValue* order = slot(*p, "order_id");
  ASSERT_NE(order, nullptr);
  EXPECT_EQ(order->value(), "QZ4321");
  EXPECT_EQ(order->start(), 18);
  EXPECT_EQ(order->end(), 24);
  EXPECT_EQ(order->extractor(), "regex");

  p = parse(n, "food", "book a table for sushi tomorrow at 7pm");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->intents(0).name(), "book_table");
  const v1::SlotValue* cuisine = slot(*p, "cuisine");
  ASSERT_NE(cuisine, nullptr);
  EXPECT_EQ(cuisine->raw_value(), "sushi");
  EXPECT_EQ(cuisine->value(), "japanese");
  const v1::SlotValue* time = slot(*p, "time");
  ASSERT_NE(time, nullptr);
  EXPECT_EQ(time->value(), "2024-05-11T19:00") << time->raw_value();

  // A form asked for the party size: a bare number answers it.
  p = parse(n, "food", "four", "party_size");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  const v1::SlotValue* size = slot(*p, "party_size");
  ASSERT_NE(size, nullptr);
  EXPECT_EQ(size->value(), "4");

  // A second bot is isolated from the first.
  v1::TrainRequest other;
  other.set_bot_id("weather");
  auto* w = other.add_intents();
  w->set_name("forecast");
  example(w, "will it rain tomorrow");
  example(w, "what is the weather like");
  auto* bye = other.add_intents();
  bye->set_name("goodbye");
  example(bye, "bye");
  example(bye, "see you later");
  ASSERT_TRUE(call<v1::TrainResponse>(n, "parley.v1.Nlu/Train", other).ok());
  p = parse(n, "weather", "where is my order QZ4321");
  ASSERT_TRUE(p.ok());
  for (const auto& i : p->intents()) EXPECT_TRUE(i.name() == "forecast" || i.name() == "goodbye") << i.name();
  EXPECT_EQ(slot(*p, "order_id"), nullptr);

  // Bad input: each a clear error; the service keeps serving.
  struct Bad {
    std::string name;
    Result<v1::ParseResponse> got;
    StatusCode code;
    std::string mentions;
  };
  std::vector<Bad> bad;
  bad.push_back({"empty", parse(n, "food", ""), StatusCode::kInvalidArgument, "empty"});
  bad.push_back({"blank", parse(n, "food", "   "), StatusCode::kInvalidArgument, "empty"});
  bad.push_back(
      {"100 KB", parse(n, "food", std::string(100 * 1024, 'a')), StatusCode::kInvalidArgument, "limit is 65536"});
  bad.push_back({"unknown bot", parse(n, "nobody", "hello"), StatusCode::kNotFound, "not loaded"});
  bad.push_back({"unknown expected slot", parse(n, "food", "hello", "colour"), StatusCode::kInvalidArgument, "colour"});
  {
    v1::ParseRequest r;
    r.set_bot_id("food");
    r.set_text("hello");
    r.set_reference_time("next tuesday");
    bad.push_back({"bad reference time", call<v1::ParseResponse>(n, "parley.v1.Nlu/Parse", r),
                   StatusCode::kInvalidArgument, "ISO 8601"});
  }
  // Invalid UTF-8: protobuf refuses a proto3 string field with it when the payload is decoded.
  bad.push_back({"invalid UTF-8", parse(n, "food", "hi \xc3\x28 there"), StatusCode::kInvalidArgument, "ParseRequest"});
  for (const auto& b : bad) {
    ASSERT_FALSE(b.got.ok()) << b.name;
    EXPECT_EQ(b.got.status().code(), b.code) << b.name << ": " << b.got.status().to_string();
    EXPECT_NE(b.got.status().message().find(b.mentions), std::string::npos)
        << b.name << ": " << b.got.status().to_string();
  }

  struct BadTrain {
    std::string name;
    v1::TrainRequest request;
    std::string mentions;
  };
  std::vector<BadTrain> bad_train;
  {
    auto r = restaurant_bot("food");
    auto* s = r.mutable_intents(0)->mutable_examples(1)->add_slots();
    s->set_slot("colour");
    s->set_start(0);
    s->set_end(1);
    bad_train.push_back({"undefined slot", r, "slot 'colour' is not defined"});
  }
  {
    auto r = restaurant_bot("food");
    auto* s = r.mutable_intents(0)->mutable_examples(0)->mutable_slots(0);
    s->set_end(500);
    bad_train.push_back({"span out of range", r, "out of range"});
  }
  {
    auto r = restaurant_bot("food");
    r.mutable_intents(1)->clear_examples();
    bad_train.push_back({"intent without examples", r, "intent 'order_status' has no examples"});
  }
  {
    auto r = restaurant_bot("food");
    r.mutable_slots(3)->set_pattern("([a-z");
    bad_train.push_back({"bad regex", r, "slot 'order_id'"});
  }
  {
    auto r = restaurant_bot("");
    bad_train.push_back({"no bot id", r, "bot_id is empty"});
  }
  for (const auto& b : bad_train) {
    auto got = call<v1::TrainResponse>(n, "parley.v1.Nlu/Train", b.request);
    ASSERT_FALSE(got.ok()) << b.name;
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument) << b.name << ": " << got.status().to_string();
    EXPECT_NE(got.status().message().find(b.mentions), std::string::npos) << b.name << ": " << got.status().to_string();
  }
  // The failed re-trains left the old "food" model in place.
  p = parse(n, "food", "where is my order QZ4321");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->intents(0).name(), "order_status");

  // Re-train replaces the model.
  v1::TrainRequest renamed = other;
  renamed.set_bot_id("food");
  ASSERT_TRUE(call<v1::TrainResponse>(n, "parley.v1.Nlu/Train", renamed).ok());
  p = parse(n, "food", "will it rain tomorrow");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->intents(0).name(), "forecast");

  // DropBot.
  v1::DropBotRequest drop;
  drop.set_bot_id("weather");
  ASSERT_TRUE(call<v1::DropBotResponse>(n, "parley.v1.Nlu/DropBot", drop).ok());
  EXPECT_EQ(parse(n, "weather", "hello").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(call<v1::DropBotResponse>(n, "parley.v1.Nlu/DropBot", drop).status().code(), StatusCode::kNotFound);

  auto m = testing::http_get(n.http_port, "/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_GE(testing::metric_value(m->body, "parley_nlu_parses_total"), 6.0) << m->body;
  EXPECT_EQ(testing::metric_value(m->body, "parley_nlu_bots"), 1.0);
  EXPECT_EQ(testing::metric_value(m->body, "parley_nlu_trainings_total", "outcome=\"ok\""), 3.0);
  EXPECT_EQ(testing::metric_value(m->body, "parley_nlu_trainings_total", "outcome=\"invalid\""), 5.0);
  EXPECT_GE(testing::metric_value(m->body, "parley_nlu_intent_confidence_count"), 6.0);
  EXPECT_GE(testing::metric_value(m->body, "parley_nlu_slots_total", "extractor=\"regex\""), 1.0);
  EXPECT_GE(testing::metric_value(m->body, "parley_batch_size_count", "batcher=\"parse\""), 1.0);
  EXPECT_TRUE(n.process->running());
}

TEST_F(NluIntegrationTest, MissingEncoderIsAClearStartupError) {
  Nlu n;
  std::string log;
  ASSERT_FALSE(start(n, {"--nlu.encoder_dir=" + dir_ + "/no-such-model"}, &log));
  EXPECT_NE(log.find("tools/models/fetch"), std::string::npos) << log;
  EXPECT_NE(log.find("no-such-model"), std::string::npos) << log;
}

TEST_F(NluIntegrationTest, RealEncoderParsesARestaurantBot) {
  const char* env = std::getenv("PARLEY_ENCODER_DIR");
  std::string enc = env != nullptr && *env != '\0' ? env : model_dir() + "/encoder-minilm";
  if (!std::filesystem::exists(enc + "/model.safetensors")) {
    GTEST_SKIP() << "encoder model not found in " << enc << " (run tools/models/fetch or set PARLEY_ENCODER_DIR)";
  }
  Nlu n;
  std::string log;
  ASSERT_TRUE(start(n, {"--nlu.encoder_dir=" + enc}, &log)) << log;
  auto trained = call<v1::TrainResponse>(n, "parley.v1.Nlu/Train", restaurant_bot("food"), 60s);
  ASSERT_TRUE(trained.ok()) << trained.status().to_string();
  auto p = parse(n, "food", "could we get a table for 3 at 8pm");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->intents(0).name(), "book_table");
  EXPECT_FALSE(p->out_of_scope());
  const v1::SlotValue* time = slot(*p, "time");
  ASSERT_NE(time, nullptr);
  EXPECT_EQ(time->value(), "20:00");
  p = parse(n, "food", "good morning to you");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->intents(0).name(), "greet");
  p = parse(n, "food", "The mitochondria is the powerhouse of the cell.");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->out_of_scope()) << "nearest similarity " << p->nearest_similarity();
}

}  // namespace
}  // namespace parley
