// End to end over HTTP with the real services: parley-dialog with the demo bot in front of the real
// parley-nlu, parley-qa and parley-lm (each started here on free ports). A booking form (two slots
// in one utterance, one asked for, a correction, a confirmation), a knowledge-base question
// answered with its source, an out-of-scope line answered by the LM fallback, and an uploaded bot
// whose NLU fine-tuning job the API shows until the fine-tuned model serves.
// A service whose binary is not built (or whose model is missing, so it never gets ready) is
// replaced by the model-free fake on the real transport, and each part that needs that real
// service SKIPs, naming what is missing. Depends on tests/support, services/dialog/testing.
//
// Environment: PARLEY_BINARY_DIR (where the binaries are; default this build), PARLEY_MODEL_DIR
// (models, read by the services themselves), PARLEY_E2E_{NLU,QA,LM}_ARGS (extra flags, space-
// separated), PARLEY_E2E_QA_EMBEDDER (encoder|hash; default encoder). Under CI (CI set, as
// tools/test does) a missing real service is a failure, not a skip: CI builds and fetches all.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "parley/v1/dialog.pb.h"
#include "services/dialog/testing/fake_services.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using dialog::testing::FakeServiceServer;
using testing::ChildProcess;

std::vector<std::string> split_args(const char* env) {
  std::vector<std::string> out;
  const char* v = std::getenv(env);
  if (v == nullptr) return out;
  std::istringstream in(v);
  std::string a;
  while (in >> a) out.push_back(a);
  return out;
}

/// One backing service: the real process when it is built and gets ready, else a fake.
struct Backend {
  std::string kind;
  std::string endpoint;
  bool real = false;
  std::string why_not_real;
  std::unique_ptr<ChildProcess> process;
  std::unique_ptr<FakeServiceServer> fake;
};

class DialogE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::make_temp_dir("parley-dialog-e2e"));
    const char* embedder = std::getenv("PARLEY_E2E_QA_EMBEDDER");
    nlu_ = start_backend("nlu", "services/nlu/parley-nlu", split_args("PARLEY_E2E_NLU_ARGS"));
    std::vector<std::string> qa_args = {std::string("--qa.embedder=") + (embedder ? embedder : "encoder")};
    for (auto& a : split_args("PARLEY_E2E_QA_ARGS")) qa_args.push_back(a);
    lm_ = start_backend("lm", "services/lm/parley-lm", split_args("PARLEY_E2E_LM_ARGS"));
    qa_args.push_back("--qa.lm_target=" + lm_->endpoint);
    qa_ = start_backend("qa", "services/qa/parley-qa", qa_args);
    start_dialog();
  }
  static void TearDownTestSuite() {
    dialog_.reset();
    delete nlu_;
    delete qa_;
    delete lm_;
  }

  static Backend* start_backend(const std::string& kind, const std::string& binary, std::vector<std::string> extra) {
    auto* b = new Backend;
    b->kind = kind;
    const std::string path = testing::built_binary(binary);
    if (::access(path.c_str(), X_OK) != 0) {
      b->why_not_real = path + " is not built";
    } else {
      const int http_port = testing::free_tcp_port();
      b->endpoint = "tcp://127.0.0.1:" + std::to_string(testing::free_tcp_port());
      std::vector<std::string> argv = {path, "--transport.bind=" + b->endpoint, "--http.port=" + std::to_string(http_port)};
      for (auto& a : extra) argv.push_back(a);
      b->process = std::make_unique<ChildProcess>(argv, *dir_ + "/" + kind + ".log");
      // Models load before /readyz says yes; a missing model makes the process exit.
      bool ready = testing::wait_until(
          [&] {
            if (!b->process->running()) return true;
            auto r = testing::http_get(http_port, "/readyz");
            return r.ok() && r->status == 200;
          },
          180s);
      if (ready && b->process->running()) {
        b->real = true;
        return b;
      }
      b->why_not_real = path + " did not get ready (model missing?); log:\n" + b->process->log();
      b->process.reset();
    }
    b->fake = std::move(*FakeServiceServer::start(kind));
    b->endpoint = b->fake->endpoint();
    std::fprintf(stderr, "[e2e] %s: using the fake (%s)\n", kind.c_str(), b->why_not_real.c_str());
    return b;
  }

  static void start_dialog() {
    api_port_ = testing::free_tcp_port();
    std::vector<std::string> argv = {testing::built_binary("services/dialog/parley-dialog"),
                                     "--api.port=" + std::to_string(api_port_),
                                     "--http.port=" + std::to_string(testing::free_tcp_port()),
                                     "--transport.bind=tcp://127.0.0.1:" + std::to_string(testing::free_tcp_port()),
                                     "--dialog.nlu_targets=" + nlu_->endpoint,
                                     "--dialog.qa_targets=" + qa_->endpoint,
                                     "--dialog.lm_targets=" + lm_->endpoint,
                                     "--dialog.sync_interval=1s",
                                     "--dialog.train_timeout=120s",
                                     "--dialog.lm_timeout=120s"};
    dialog_ = std::make_unique<ChildProcess>(argv, *dir_ + "/dialog.log");
    trained_ = testing::wait_until(
        [] {
          auto r = testing::http_get(api_port_, "/v1/bots/demo");
          v1::Bot bot;
          return r.ok() && r->status == 200 && google::protobuf::util::JsonStringToMessage(r->body, &bot).ok() &&
                 bot.nlu_trained() && bot.kb_ingested();
        },
        180s);
  }

  void SetUp() override { ASSERT_TRUE(trained_) << "the demo bot did not train/ingest:\n" << dialog_->log(); }

  static std::string missing(const Backend* b) {
    return "real parley-" + b->kind + " not available: " + b->why_not_real;
  }
  static bool under_ci() {
    const char* ci = std::getenv("CI");
    return ci != nullptr && *ci != '\0';
  }

  static std::string new_session() {
    auto r = testing::http_request("POST", api_port_, "/v1/bots/demo/sessions", "", 10s);
    EXPECT_TRUE(r.ok() && r->status == 201) << (r.ok() ? r->body : r.status().to_string());
    v1::Session s;
    if (r.ok()) (void)google::protobuf::util::JsonStringToMessage(r->body, &s);
    return s.id();
  }

  static v1::TurnResponse turn(const std::string& id, const std::string& text) {
    auto r = testing::http_request("POST", api_port_, "/v1/sessions/" + id + "/turns", "{\"text\": \"" + text + "\"}",
                                   180s, {{"Content-Type", "application/json"}});
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    v1::TurnResponse out;
    if (!r.ok()) return out;
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r->body, &out).ok()) << r->body;
    std::fprintf(stderr, "[e2e] > %s\n[e2e] < %s\n", text.c_str(), r->body.c_str());
    return out;
  }

  static std::string texts(const v1::TurnResponse& r) {
    std::string s;
    for (const auto& m : r.messages()) s += (s.empty() ? "" : " | ") + m.text();
    return s;
  }

  static std::string* dir_;
  static Backend *nlu_, *qa_, *lm_;
  static std::unique_ptr<ChildProcess> dialog_;
  static int api_port_;
  static bool trained_;
};

std::string* DialogE2eTest::dir_ = nullptr;
Backend* DialogE2eTest::nlu_ = nullptr;
Backend* DialogE2eTest::qa_ = nullptr;
Backend* DialogE2eTest::lm_ = nullptr;
std::unique_ptr<ChildProcess> DialogE2eTest::dialog_;
int DialogE2eTest::api_port_ = 0;
bool DialogE2eTest::trained_ = false;

TEST_F(DialogE2eTest, BookingFormWithTheRealNlu) {
  if (!nlu_->real) {
    if (under_ci()) FAIL() << missing(nlu_);
    GTEST_SKIP() << missing(nlu_);
  }
  std::string id = new_session();
  // Two slots in one utterance; the third is asked for.
  auto r = turn(id, "I need a double room for 3 nights");
  EXPECT_EQ(r.intent().name(), "book_room") << texts(r);
  EXPECT_EQ(r.active_form(), "room_booking");
  EXPECT_EQ(r.session_slots().at("room_type"), "double");
  EXPECT_EQ(r.session_slots().at("nights"), "3");
  EXPECT_EQ(r.requested_slot(), "date");
  EXPECT_EQ(r.nlu_model(), "frozen") << "the demo bot leaves fine-tuning to the NLU, off by default";
  // The asked-for slot, then the confirmation question.
  r = turn(id, "starting friday");
  EXPECT_TRUE(r.session_slots().contains("date")) << texts(r);
  ASSERT_GE(r.messages_size(), 1);
  EXPECT_EQ(r.messages(0).kind(), "confirmation") << texts(r);
  // A correction before confirming.
  r = turn(id, "actually make it 4 nights");
  EXPECT_EQ(r.session_slots().at("nights"), "4") << texts(r);
  ASSERT_GE(r.messages_size(), 1);
  EXPECT_EQ(r.messages(0).kind(), "confirmation") << texts(r);
  // Confirmed: the form completes.
  r = turn(id, "yes");
  EXPECT_EQ(r.active_form(), "") << texts(r);
  EXPECT_NE(texts(r).find("booked"), std::string::npos) << texts(r);
}

TEST_F(DialogE2eTest, KnowledgeBaseQuestionAnsweredWithItsSource) {
  if (!qa_->real) {
    if (under_ci()) FAIL() << missing(qa_);
    GTEST_SKIP() << missing(qa_);
  }
  std::string id = new_session();
  auto r = turn(id, "when is check-out");
  ASSERT_GE(r.messages_size(), 1) << texts(r);
  EXPECT_EQ(r.messages(0).kind(), "answer") << texts(r) << (nlu_->real ? "" : " (fake NLU)");
  EXPECT_NE(texts(r).find("11"), std::string::npos) << texts(r);
  ASSERT_GE(r.sources_size(), 1);
  EXPECT_EQ(r.sources(0).document_id(), "policies");
}

TEST_F(DialogE2eTest, OutOfScopeLineAnsweredByTheLmFallback) {
  if (!lm_->real) {
    if (under_ci()) FAIL() << missing(lm_);
    GTEST_SKIP() << missing(lm_);
  }
  std::string id = new_session();
  auto r = turn(id, "what do you think about penguins");
  EXPECT_EQ(r.outcome(), "fallback") << texts(r);
  ASSERT_GE(r.messages_size(), 1);
  EXPECT_EQ(r.messages(0).kind(), "generated_fallback") << texts(r);
  EXPECT_GT(r.messages(0).text().size(), 10u) << "a fluent reply, not an empty one";
  EXPECT_EQ(r.errors_size(), 0);
}

// A bot uploaded with `nlu: {fine_tune: lora}`: the real NLU fine-tunes it in the background and
// GET /v1/bots/{bot} shows the job (queued/running with progress, then ready) and the model that
// serves; turns of that bot then parse with the fine-tuned encoder.
TEST_F(DialogE2eTest, AnUploadedBotAsksForFineTuningAndTheApiShowsTheJob) {
  if (!nlu_->real) {
    if (under_ci()) FAIL() << missing(nlu_);
    GTEST_SKIP() << missing(nlu_);
  }
  // The demo bot's NLU part (bot, thresholds, slots, intents), under another id, asking for LoRA.
  std::ifstream in(std::string(PARLEY_SOURCE_DIR) + "/services/dialog/bots/demo/bot.yaml");
  std::stringstream buf;
  buf << in.rdbuf();
  std::string yaml = buf.str().substr(0, buf.str().find("\nresponses:"));
  yaml.replace(yaml.find("id: demo"), 8, "id: demo-tuned");
  yaml += "\nnlu:\n  fine_tune: lora\n";
  auto put = testing::http_request("PUT", api_port_, "/v1/bots/demo-tuned", yaml, 180s,
                                   {{"Content-Type", "application/yaml"}});
  ASSERT_TRUE(put.ok() && put->status == 201) << (put.ok() ? put->body : put.status().to_string());

  v1::Bot bot;
  bool saw_progress = false;
  const auto until = std::chrono::steady_clock::now() + 300s;
  while (std::chrono::steady_clock::now() < until) {
    auto r = testing::http_get(api_port_, "/v1/bots/demo-tuned");
    ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().to_string());
    bot.Clear();
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r->body, &bot).ok()) << r->body;
    ASSERT_TRUE(bot.has_nlu_fine_tune()) << r->body;
    const auto& ft = bot.nlu_fine_tune();
    if (ft.state() == v1::FineTuneStatus::RUNNING && ft.step() > 0) {
      saw_progress = true;
      EXPECT_GT(ft.progress(), 0.0f);
      EXPECT_LE(ft.progress(), 1.0f);
      EXPECT_EQ(ft.serving(), "frozen") << "the frozen model serves while the job runs";
    }
    if (ft.state() != v1::FineTuneStatus::QUEUED && ft.state() != v1::FineTuneStatus::RUNNING) break;
    std::this_thread::sleep_for(100ms);
  }
  const auto& ft = bot.nlu_fine_tune();
  std::fprintf(stderr, "[e2e] fine-tuning job: %s\n", ft.ShortDebugString().c_str());
  EXPECT_EQ(bot.nlu_fine_tune_requested(), "lora");
  // The real NLU's note on the demo's slot that no example annotates reaches the API.
  ASSERT_EQ(bot.nlu_warnings_size(), 1);
  EXPECT_EQ(bot.nlu_warnings(0),
            "slot 'guest_name' has no annotated examples: filled only when a form asks for it (expected_slot)");
  ASSERT_EQ(ft.state(), v1::FineTuneStatus::READY) << ft.ShortDebugString();
  EXPECT_EQ(ft.serving(), "fine-tuned");
  EXPECT_EQ(ft.mode(), "lora");
  EXPECT_GT(ft.steps(), 0);
  EXPECT_GT(ft.elapsed_seconds(), 0.0);
  if (!saw_progress) std::fprintf(stderr, "[e2e] the job ended between two polls (no RUNNING state seen)\n");

  // The bot's turns parse with the fine-tuned model.
  auto s = testing::http_request("POST", api_port_, "/v1/bots/demo-tuned/sessions", "", 10s);
  ASSERT_TRUE(s.ok() && s->status == 201) << (s.ok() ? s->body : s.status().to_string());
  v1::Session session;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(s->body, &session).ok());
  auto r = turn(session.id(), "I need a double room for 3 nights");
  EXPECT_EQ(r.intent().name(), "book_room") << texts(r);
  EXPECT_EQ(r.nlu_model(), "fine-tuned");
  auto del = testing::http_request("DELETE", api_port_, "/v1/bots/demo-tuned", "", 30s);
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->status, 204) << del->body;
}

}  // namespace
}  // namespace parley
