// parley-dialog as a real process, talked to over HTTP, with fake NLU/QA/LM servers on the real
// transport inside this test: the demo bot's booking conversation, a KB answer with its source,
// the LM fallback (plain and streamed over SSE), a service failing mid-conversation, a bot's
// fine-tuning choice and the NLU's job in GET /v1/bots/{bot}, request
// limits, API keys and rate limits, services/dialog/openapi.yaml against the live routes, and
// the same conversation over the internal transport (parley.v1.Dialog/* on ZeroMQ).
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "parley/v1/dialog.pb.h"
#include "services/dialog/cli/chat_command.h"
#include "services/dialog/testing/fake_services.h"
#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/service.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using dialog::testing::FakeServiceServer;
using testing::ChildProcess;
using testing::HttpReply;

struct Dialog {
  int api_port = 0;
  int http_port = 0;
  std::string endpoint;  // the ZeroMQ transport
  std::unique_ptr<ChildProcess> process;
};

class DialogApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::make_temp_dir("parley-dialog-it"));
    nlu_ = FakeServiceServer::start("nlu")->release();
    qa_ = FakeServiceServer::start("qa")->release();
    lm_ = FakeServiceServer::start("lm")->release();
    main_ = new Dialog(start_dialog({}));
  }
  static void TearDownTestSuite() {
    delete main_;
    delete nlu_;
    delete qa_;
    delete lm_;
  }

  static Dialog start_dialog(std::vector<std::string> extra) {
    Dialog d;
    d.api_port = testing::free_tcp_port();
    d.http_port = testing::free_tcp_port();
    d.endpoint = "tcp://127.0.0.1:" + std::to_string(testing::free_tcp_port());
    std::vector<std::string> argv = {testing::built_binary("services/dialog/parley-dialog"),
                                     "--api.port=" + std::to_string(d.api_port),
                                     "--http.port=" + std::to_string(d.http_port),
                                     "--transport.bind=" + d.endpoint,
                                     "--dialog.nlu_targets=" + nlu_->endpoint(),
                                     "--dialog.qa_targets=" + qa_->endpoint(),
                                     "--dialog.lm_targets=" + lm_->endpoint(),
                                     "--dialog.qa_timeout=1s",
                                     "--dialog.sync_interval=200ms"};
    for (auto& e : extra) argv.push_back(e);
    d.process = std::make_unique<ChildProcess>(argv, *dir_ + "/dialog-" + std::to_string(d.api_port) + ".log");
    bool ready = testing::wait_until(
        [&] {
          auto r = testing::http_get(d.http_port, "/readyz");
          auto a = testing::http_get(d.api_port, "/");
          return r.ok() && r->status == 200 && a.ok() && a->status == 200;
        },
        20s);
    EXPECT_TRUE(ready) << d.process->log();
    return d;
  }

  static Result<HttpReply> call(const std::string& method, const std::string& target, const std::string& body = "",
                                std::map<std::string, std::string> headers = {}, int port = 0) {
    if (body.size() && !headers.contains("Content-Type")) headers["Content-Type"] = "application/json";
    return testing::http_request(method, port ? port : main_->api_port, target, body, 10s, headers);
  }

  template <typename M>
  static M parse(const std::string& json) {
    M m;
    auto s = google::protobuf::util::JsonStringToMessage(json, &m);
    EXPECT_TRUE(s.ok()) << s.ToString() << " in " << json;
    return m;
  }

  static std::string new_session() {
    auto r = call("POST", "/v1/bots/demo/sessions");
    EXPECT_TRUE(r.ok() && r->status == 201) << (r.ok() ? r->body : r.status().to_string());
    return r.ok() ? parse<v1::Session>(r->body).id() : "";
  }

  static v1::TurnResponse turn(const std::string& id, const std::string& text) {
    auto r = call("POST", "/v1/sessions/" + id + "/turns", "{\"text\": \"" + text + "\"}");
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (!r.ok()) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    return parse<v1::TurnResponse>(r->body);
  }

  static std::string texts(const v1::TurnResponse& r) {
    std::string s;
    for (const auto& m : r.messages()) s += (s.empty() ? "" : " | ") + m.text();
    return s;
  }

  static void wait_trained() {
    bool trained = testing::wait_until(
        [] {
          auto r = call("GET", "/v1/bots/demo");
          return r.ok() && r->status == 200 && parse<v1::Bot>(r->body).nlu_trained() && parse<v1::Bot>(r->body).kb_ingested();
        },
        10s);
    ASSERT_TRUE(trained) << main_->process->log();
  }

  static std::string* dir_;
  static FakeServiceServer *nlu_, *qa_, *lm_;
  static Dialog* main_;
};

std::string* DialogApiTest::dir_ = nullptr;
FakeServiceServer* DialogApiTest::nlu_ = nullptr;
FakeServiceServer* DialogApiTest::qa_ = nullptr;
FakeServiceServer* DialogApiTest::lm_ = nullptr;
Dialog* DialogApiTest::main_ = nullptr;

TEST_F(DialogApiTest, BookingKnowledgeBaseAndLmFallbackOverHttp) {
  wait_trained();
  std::string id = new_session();
  // Two slots in one utterance, the third asked for.
  auto r = turn(id, "I need a double room for 3 nights");
  EXPECT_EQ(r.intent().name(), "book_room");
  EXPECT_EQ(r.nlu_model(), "keyword") << "the turn names the NLU model that parsed it";
  EXPECT_EQ(texts(r), "From which date?");
  EXPECT_EQ(r.session_slots().at("room_type"), "double");
  r = turn(id, "starting friday");
  EXPECT_EQ(texts(r), "A double room for 3 nights from friday — shall I book it?");
  r = turn(id, "yes");
  EXPECT_EQ(texts(r), "Done! Your double room from friday for 3 nights is booked.");
  // A table with a correction before the confirmation.
  r = turn(id, "reserve a table for 2");
  EXPECT_EQ(r.requested_slot(), "time");
  r = turn(id, "at 7pm");
  EXPECT_EQ(texts(r), "A table for 2 at 7pm — shall I book it?");
  r = turn(id, "make it 4");
  EXPECT_EQ(texts(r), "A table for 4 at 7pm — shall I book it?");
  r = turn(id, "yes");
  EXPECT_EQ(texts(r), "Done! Your table for 4 at 7pm is booked.");
  // A question answered from the knowledge base, with its source.
  r = turn(id, "when is check-out");
  ASSERT_EQ(r.messages_size(), 1);
  EXPECT_EQ(r.messages(0).kind(), "answer");
  EXPECT_NE(r.messages(0).text().find("11:00"), std::string::npos) << texts(r);
  ASSERT_GE(r.sources_size(), 1);
  EXPECT_EQ(r.sources(0).document_id(), "policies");
  // Out of scope: the LM fallback.
  r = turn(id, "what do you think about penguins");
  EXPECT_EQ(r.outcome(), "fallback");
  EXPECT_EQ(r.messages(0).kind(), "generated_fallback");
  EXPECT_NE(r.messages(0).text().find("penguins"), std::string::npos);
  // Per-stage timings, the service's own time from the reply envelope included.
  std::set<std::string> stages;
  for (const auto& t : r.timings()) stages.insert(t.stage());
  for (const char* s : {"nlu", "nlu.service", "policy", "lm", "store", "orchestrator", "total"}) {
    EXPECT_TRUE(stages.contains(s)) << s;
  }
  // The state is readable and complete.
  auto s = call("GET", "/v1/sessions/" + id);
  ASSERT_TRUE(s.ok());
  auto session = parse<v1::Session>(s->body);
  EXPECT_EQ(session.turns(), 9);
  EXPECT_EQ(session.slots().at("party_size"), "4");
  // Metrics count the turns by outcome.
  auto m = testing::http_get(main_->http_port, "/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_GE(testing::metric_value(m->body, "parley_dialog_turns_total", "outcome=\"ok\""), 8);
  EXPECT_GE(testing::metric_value(m->body, "parley_dialog_turns_total", "outcome=\"fallback\""), 1);
  EXPECT_GE(testing::metric_value(m->body, "parley_dialog_stage_duration_seconds_count", "stage=\"nlu\""), 9);
}

TEST_F(DialogApiTest, StreamedTurnSendsTokensThenTheTurn) {
  wait_trained();
  std::string id = new_session();
  auto r = call("POST", "/v1/sessions/" + id + "/turns:stream", R"({"text":"tell me about penguins please"})");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->headers["content-type"].find("text/event-stream"), std::string::npos);
  std::istringstream in(r->body);
  std::string line, event, tokens;
  v1::TurnResponse final_turn;
  int n_tokens = 0;
  while (std::getline(in, line)) {
    if (line.rfind("event: ", 0) == 0) event = line.substr(7);
    if (line.rfind("data: ", 0) == 0) {
      if (event == "token") {
        tokens += parse<v1::TokenEvent>(line.substr(6)).text();
        ++n_tokens;
      } else if (event == "turn") {
        final_turn = parse<v1::TurnResponse>(line.substr(6));
      }
    }
  }
  EXPECT_GT(n_tokens, 3);
  ASSERT_EQ(final_turn.messages_size(), 1) << r->body;
  EXPECT_EQ(final_turn.messages(0).text(), tokens);
  auto missing = call("POST", "/v1/sessions/nope/turns:stream", R"({"text":"hi"})");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
}

TEST_F(DialogApiTest, FailingServiceGivesAFallbackAndKeepsTheSession) {
  wait_trained();
  std::string id = new_session();
  EXPECT_EQ(turn(id, "reserve a table for 3").requested_slot(), "time");
  qa_->failing = true;
  auto r = turn(id, "do you have a pool");
  qa_->failing = false;
  EXPECT_EQ(r.outcome(), "error");
  ASSERT_GE(r.errors_size(), 1);
  EXPECT_NE(r.errors(0).message().find("qa"), std::string::npos);
  EXPECT_EQ(r.messages(0).kind(), "error");
  EXPECT_EQ(r.active_form(), "table_booking");
  nlu_->failing = true;
  r = turn(id, "at 8pm");
  nlu_->failing = false;
  EXPECT_EQ(r.outcome(), "error");
  EXPECT_EQ(r.session_slots().at("party_size"), "3");
  r = turn(id, "at 8pm");
  EXPECT_EQ(texts(r), "A table for 3 at 8pm — shall I book it?");
}

TEST_F(DialogApiTest, ABotShowsTheFineTuningItAskedForAndTheNlusJob) {
  wait_trained();
  // The demo bot leaves fine-tuning to the NLU; GET asks the NLU (over the transport) for its job.
  auto r = call("GET", "/v1/bots/demo");
  ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().to_string());
  auto demo = parse<v1::Bot>(r->body);
  EXPECT_EQ(demo.nlu_fine_tune_requested(), "");
  ASSERT_TRUE(demo.has_nlu_fine_tune()) << r->body;
  EXPECT_EQ(demo.nlu_fine_tune().state(), v1::FineTuneStatus::NONE);
  EXPECT_EQ(demo.nlu_fine_tune().serving(), "frozen");
  EXPECT_EQ(demo.nlu_fine_tune_error(), "");
  EXPECT_NE(r->body.find("\"nluFineTune\":{\"state\":\"NONE\""), std::string::npos) << r->body;
  ASSERT_EQ(demo.nlu_replicas_size(), 1) << "every live NLU replica is asked";
  EXPECT_EQ(demo.nlu_replicas(0).replica(), nlu_->endpoint());
  EXPECT_EQ(demo.nlu_replicas(0).fine_tune().serving(), "frozen");
  // The NLU's notes on the training data reach the bot's author: no demo example annotates
  // guest_name.
  ASSERT_EQ(demo.nlu_warnings_size(), 1) << r->body;
  EXPECT_EQ(demo.nlu_warnings(0), "slot 'guest_name' has no annotated examples");
  EXPECT_NE(r->body.find("\"nluWarnings\":[\"slot 'guest_name' has no annotated examples\"]"), std::string::npos)
      << r->body;

  // A bot that asks for fine-tuning: the choice reaches the NLU (the fake says it does not do it).
  const std::string yaml = "bot: {id: tuned}\nnlu: {fine_tune: full}\nintents: {a: [hello there], b: [bye now]}\n"
                           "responses: {hi: Hi}\nrules: [{intent: a, actions: [hi]}]\n";
  auto put = call("PUT", "/v1/bots/tuned", yaml, {{"Content-Type", "application/yaml"}});
  ASSERT_TRUE(put.ok() && put->status == 201) << (put.ok() ? put->body : put.status().to_string());
  EXPECT_EQ(parse<v1::Bot>(put->body).nlu_fine_tune_requested(), "full");
  EXPECT_EQ(parse<v1::Bot>(put->body).nlu_warnings_size(), 0) << put->body;
  // The upload's answer says what the NLU noticed (it trains before answering).
  const std::string noted = "bot: {id: noted}\nslots: {colour: {type: text}}\nintents: {a: [hello there], b: [bye now]}\n"
                            "responses: {hi: Hi}\nrules: [{intent: a, actions: [hi]}]\n";
  auto put_noted = call("PUT", "/v1/bots/noted", noted, {{"Content-Type", "application/yaml"}});
  ASSERT_TRUE(put_noted.ok() && put_noted->status == 201) << (put_noted.ok() ? put_noted->body : put_noted.status().to_string());
  auto noted_bot = parse<v1::Bot>(put_noted->body);
  ASSERT_EQ(noted_bot.nlu_warnings_size(), 1) << put_noted->body;
  EXPECT_EQ(noted_bot.nlu_warnings(0), "slot 'colour' has no annotated examples");
  EXPECT_EQ(noted_bot.kb_warnings_size(), 0) << "no knowledge base";
  // A knowledge-base document with nothing to answer from is named in kbWarnings.
  const std::string outlined = "bot: {id: outlined}\nintents: {a: [hello there], b: [bye now]}\n"
                               "responses: {hi: Hi}\nrules: [{intent: a, actions: [hi]}]\n"
                               "knowledge_base:\n  documents:\n    - {id: outline, text: \"# Hours\\n## Weekdays\\n\"}\n"
                               "    - {id: zoo, text: \"The zoo has three elephants. The penguins are fed at noon.\"}\n";
  auto put_outlined = call("PUT", "/v1/bots/outlined", outlined, {{"Content-Type", "application/yaml"}});
  ASSERT_TRUE(put_outlined.ok() && put_outlined->status == 201)
      << (put_outlined.ok() ? put_outlined->body : put_outlined.status().to_string());
  auto outlined_bot = parse<v1::Bot>(put_outlined->body);
  EXPECT_TRUE(outlined_bot.kb_ingested()) << put_outlined->body;
  ASSERT_EQ(outlined_bot.kb_warnings_size(), 1) << put_outlined->body;
  EXPECT_EQ(outlined_bot.kb_warnings(0), "document 'outline' has no text outside its headings: nothing in it can be answered");
  EXPECT_EQ(nlu_->nlu.last_train("tuned").fine_tune(), v1::FINE_TUNE_FULL);
  r = call("GET", "/v1/bots/tuned");
  ASSERT_TRUE(r.ok() && r->status == 200);
  auto tuned = parse<v1::Bot>(r->body);
  EXPECT_NE(tuned.nlu_fine_tune().message().find("does not fine-tune (asked: full)"), std::string::npos) << r->body;

  // The list does not ask the NLU (one call per bot); an unknown bot is 404.
  r = call("GET", "/v1/bots");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body.find("nluFineTune\""), std::string::npos) << r->body;
  EXPECT_EQ(call("GET", "/v1/bots/nobody")->status, 404);

  // The NLU failing: the bot is still described, with why its job is missing.
  nlu_->failing = true;
  r = call("GET", "/v1/bots/tuned");
  nlu_->failing = false;
  ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().to_string());
  tuned = parse<v1::Bot>(r->body);
  EXPECT_FALSE(tuned.has_nlu_fine_tune());
  EXPECT_NE(tuned.nlu_fine_tune_error().find("the NLU's training status: " + nlu_->endpoint()), std::string::npos) << r->body;
  ASSERT_EQ(tuned.nlu_replicas_size(), 1);
  EXPECT_NE(tuned.nlu_replicas(0).error(), "");
  EXPECT_EQ(call("DELETE", "/v1/bots/tuned")->status, 204);
}

TEST_F(DialogApiTest, BadRequestsGetClearJsonErrors) {
  std::string id = new_session();
  auto expect = [](const Result<HttpReply>& r, int status, const std::string& needle) {
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_NE(r->body.find("\"error\""), std::string::npos) << r->body;
    EXPECT_NE(r->body.find(needle), std::string::npos) << r->body;
  };
  expect(call("POST", "/v1/sessions/" + id + "/turns", "{not json"), 400, "not a valid TurnRequest");
  expect(call("POST", "/v1/sessions/" + id + "/turns", R"({"txt":"hi"})"), 400, "txt");
  expect(call("POST", "/v1/sessions/" + id + "/turns", R"({"text":"   "})"), 400, "'text' is required");
  expect(call("POST", "/v1/sessions/" + id + "/turns", "{\"text\":\"" + std::string(5000, 'a') + "\"}"), 400, "limit is 4096");
  expect(call("POST", "/v1/sessions/" + id + "/turns", "{\"text\":\"" + std::string(70000, 'a') + "\"}"), 413, "limit");
  expect(call("POST", "/v1/sessions/unknown/turns", R"({"text":"hi"})"), 404, "not found");
  expect(call("POST", "/v1/bots/nobot/sessions"), 404, "nobot");
  expect(call("PUT", "/v1/bots/mini", "bot: {id: mini}\nintents: {a: [x], b: [y]}\nrules: [{intent: a, actions: [nope]}]\n",
              {{"Content-Type", "application/yaml"}}),
         400, "mini.yaml:3:");
  expect(call("POST", "/v1/bots/demo:frobnicate"), 405, "POST");  // only :reload is a POST verb
  auto del = call("DELETE", "/v1/sessions/" + id);
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->status, 204);
  expect(call("GET", "/v1/sessions/" + id), 404, "not found");
}

TEST_F(DialogApiTest, ApiKeysAndRateLimits) {
  Dialog d = start_dialog({"--api.keys=k1,k2", "--api.rate_limit_rps=0.5", "--api.rate_limit_burst=2"});
  auto no_key = call("GET", "/v1/bots", "", {}, d.api_port);
  ASSERT_TRUE(no_key.ok());
  EXPECT_EQ(no_key->status, 401);
  auto bad_key = call("GET", "/v1/bots", "", {{"Authorization", "Bearer nope"}}, d.api_port);
  EXPECT_EQ(bad_key->status, 401);
  for (int i = 0; i < 2; ++i) {
    auto ok = call("GET", "/v1/bots", "", {{"Authorization", "Bearer k1"}}, d.api_port);
    EXPECT_EQ(ok->status, 200) << ok->body;
  }
  auto limited = call("GET", "/v1/bots", "", {{"Authorization", "Bearer k1"}}, d.api_port);
  EXPECT_EQ(limited->status, 429) << limited->body;
  EXPECT_EQ(limited->headers["retry-after"], "1");
  // Buckets are per key.
  auto other = call("GET", "/v1/bots", "", {{"Authorization", "Bearer k2"}}, d.api_port);
  EXPECT_EQ(other->status, 200);
  // The chat page needs no key.
  EXPECT_EQ(call("GET", "/", "", {}, d.api_port)->status, 200);
}

// Client keys end up in browsers and apps: a caller without the admin scope sees the NLU replicas
// numbered, and no internal address in any message; an admin key sees the endpoints.
TEST_F(DialogApiTest, InternalAddressesAreShownOnlyToAdminKeys) {
  const std::string client_key = "kc-0123456789abcdef0123", admin_key = "ka-0123456789abcdef0123";
  Dialog d = start_dialog({"--api.keys=" + client_key + ",admin:ops:" + admin_key});
  auto get = [&](const std::string& key, const std::string& path = "/v1/bots/demo") {
    return call("GET", path, "", {{"Authorization", "Bearer " + key}}, d.api_port);
  };
  ASSERT_TRUE(testing::wait_until(
      [&] {
        auto r = get(admin_key);
        return r.ok() && r->status == 200 && parse<v1::Bot>(r->body).nlu_trained();
      },
      10s));
  auto admin = get(admin_key);
  ASSERT_TRUE(admin.ok() && admin->status == 200);
  auto a = parse<v1::Bot>(admin->body);
  ASSERT_EQ(a.nlu_replicas_size(), 1);
  EXPECT_EQ(a.nlu_replicas(0).replica(), nlu_->endpoint());
  auto client = get(client_key);
  ASSERT_TRUE(client.ok() && client->status == 200) << (client.ok() ? client->body : "");
  auto c = parse<v1::Bot>(client->body);
  ASSERT_EQ(c.nlu_replicas_size(), 1);
  EXPECT_EQ(c.nlu_replicas(0).replica(), "nlu replica 1");
  EXPECT_EQ(c.nlu_fine_tune().serving(), "frozen") << "the job itself is shown";
  EXPECT_EQ(client->body.find("tcp://"), std::string::npos) << client->body;

  // The NLU failing: the error names the numbered replica, not its address.
  nlu_->failing = true;
  client = get(client_key);
  admin = get(admin_key);
  nlu_->failing = false;
  ASSERT_TRUE(client.ok() && admin.ok());
  c = parse<v1::Bot>(client->body);
  EXPECT_NE(c.nlu_fine_tune_error().find("nlu replica 1"), std::string::npos) << client->body;
  EXPECT_EQ(client->body.find("tcp://"), std::string::npos) << client->body;
  EXPECT_NE(parse<v1::Bot>(admin->body).nlu_fine_tune_error().find(nlu_->endpoint()), std::string::npos) << admin->body;
  auto list = get(client_key, "/v1/bots");
  ASSERT_TRUE(list.ok() && list->status == 200);
  EXPECT_EQ(list->body.find("tcp://"), std::string::npos) << list->body;
}

TEST_F(DialogApiTest, OpenApiDocumentMatchesTheLiveServer) {
  wait_trained();
  YAML::Node doc = YAML::LoadFile(std::string(PARLEY_SOURCE_DIR) + "/services/dialog/openapi.yaml");
  std::string session = new_session();
  const std::string mini = "bot: {id: mini}\nintents: {a: [hello], b: [bye]}\nresponses: {hi: Hi}\nrules: [{intent: a, actions: [hi]}]\n";
  int checked = 0;
  // "/v1/bots/{bot}:reload" is a route of its own (a `{name}:verb` segment, shared/http/router.h):
  // every path template is its own shape.
  auto shape = [](std::string t) { return t; };
  std::map<std::string, std::set<std::string>> by_shape;
  for (const auto& path : doc["paths"]) {
    for (const auto& op : path.second) {
      std::string m = op.first.as<std::string>();
      for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (m != "PARAMETERS") by_shape[shape(path.first.as<std::string>())].insert(m);
    }
  }
  for (const auto& path : doc["paths"]) {
    const std::string templ = path.first.as<std::string>();
    std::set<std::string> documented = by_shape[shape(templ)];
    for (const auto& op : path.second) {
      const std::string method = op.first.as<std::string>();
      if (method == "parameters") continue;
      std::string upper = method;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      std::string target = templ;
      auto sub = [&](const std::string& name, const std::string& value) {
        auto p = target.find("{" + name + "}");
        if (p != std::string::npos) target.replace(p, name.size() + 2, value);
      };
      sub("bot", upper == "PUT" ? "mini" : "demo");
      sub("id", session);
      sub("file", "no-such-file.js");
      std::string body;
      if (upper == "PUT") body = mini;
      if (templ.find("/turns") != std::string::npos) body = R"({"text":"hello"})";
      std::map<std::string, std::string> headers;
      if (upper == "PUT") headers["Content-Type"] = "application/yaml";
      if (upper == "DELETE") {  // do not delete the session the other operations use
        target = "/v1/sessions/" + new_session();
      }
      auto r = call(upper, target, body, headers);
      ASSERT_TRUE(r.ok()) << upper << " " << target;
      std::set<int> allowed;
      for (const auto& code : op.second["responses"]) allowed.insert(std::stoi(code.first.as<std::string>()));
      EXPECT_TRUE(allowed.contains(r->status)) << upper << " " << target << " answered " << r->status
                                               << " which openapi.yaml does not document: " << r->body;
      ++checked;
    }
    // Every method the server serves on this path is documented (405's Allow header lists them).
    std::string probe = shape(templ);
    for (auto [name, value] : {std::pair{"{bot}", "demo"}, std::pair{"{id}", session.c_str()}, std::pair{"{file}", "x.js"}}) {
      auto p = probe.find(name);
      if (p != std::string::npos) probe.replace(p, std::string(name).size(), value);
    }
    auto r = call("PATCH", probe);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 405) << probe;
    std::stringstream allow(r->headers["allow"]);
    std::string m;
    while (std::getline(allow, m, ',')) {
      m.erase(0, m.find_first_not_of(' '));
      if (m == "HEAD" && documented.contains("GET")) continue;
      EXPECT_TRUE(documented.contains(m)) << m << " " << templ << " is served but not in openapi.yaml";
    }
  }
  EXPECT_GE(checked, 11);
  // And a path the document does not list is not served.
  EXPECT_EQ(call("GET", "/v1/things")->status, 404);
}

TEST_F(DialogApiTest, ChatCommandTalksThroughStdin) {
  wait_trained();
  std::istringstream in("hello\nwhat time is breakfast\n/quit\n");
  std::ostringstream out;
  auto* old_in = std::cin.rdbuf(in.rdbuf());
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  int rc = dialog::run_chat_command({"--bot", "demo", "--url", "http://127.0.0.1:" + std::to_string(main_->api_port)});
  std::cin.rdbuf(old_in);
  std::cout.rdbuf(old_out);
  EXPECT_EQ(rc, 0) << out.str();
  EXPECT_NE(out.str().find("bot> Hello! I'm the Parley Hotel concierge"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("[source: Dining (dining)]"), std::string::npos) << out.str();
  EXPECT_EQ(dialog::run_chat_command({"--url", "http://127.0.0.1:1"}), 1);
  EXPECT_EQ(dialog::run_chat_command({"--bogus"}), 2);
}

}  // namespace
}  // namespace parley

namespace parley {
namespace {

// parley.v1.Dialog/* over the transport: what a gateway inside the cluster uses.
class DialogWireTest : public DialogApiTest {
 protected:
  static std::unique_ptr<transport::Client> client() { return testing::make_client(main_->endpoint, 5s); }
  template <typename Reply>
  static Result<Reply> unary(transport::Client& c, const std::string& method, const google::protobuf::Message& req) {
    return testing::call_unary<Reply>(c, method, req, 10s);
  }
};

TEST_F(DialogWireTest, SessionTurnsAndAStreamedTurnOverTheTransport) {
  wait_trained();
  auto c = client();
  ASSERT_NE(c, nullptr);
  v1::CreateSessionRequest create;
  create.set_bot_id("demo");
  auto session = unary<v1::Session>(*c, "parley.v1.Dialog/CreateSession", create);
  ASSERT_TRUE(session.ok()) << session.status().to_string();
  ASSERT_FALSE(session->id().empty());

  v1::TurnRequest t;
  t.set_session_id(session->id());
  t.set_text("book a table for 4 at 7pm");
  auto r = unary<v1::TurnResponse>(*c, "parley.v1.Dialog/Turn", t);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->intent().name(), "book_table") << texts(*r);
  EXPECT_EQ(r->active_form(), "table_booking") << texts(*r);
  EXPECT_EQ(r->turn(), 1);

  // The same session seen over HTTP: one store, two front doors.
  auto http = call("GET", "/v1/sessions/" + session->id());
  ASSERT_TRUE(http.ok());
  EXPECT_EQ(parse<v1::Session>(http->body).turns(), 1) << http->body;

  v1::SessionRequest get;
  get.set_session_id(session->id());
  auto got = unary<v1::Session>(*c, "parley.v1.Dialog/GetSession", get);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got->turns(), 1);
  EXPECT_EQ(got->active_form(), "table_booking");
  EXPECT_TRUE(unary<v1::DeleteSessionResponse>(*c, "parley.v1.Dialog/DeleteSession", get).ok());
  EXPECT_EQ(unary<v1::Session>(*c, "parley.v1.Dialog/GetSession", get).status().code(), StatusCode::kNotFound);

  // Streamed (a new session: small talk goes to the LM fallback): token events, then exactly one
  // turn event whose text is the tokens.
  auto chat = unary<v1::Session>(*c, "parley.v1.Dialog/CreateSession", create);
  ASSERT_TRUE(chat.ok()) << chat.status().to_string();
  t.set_session_id(chat->id());
  t.set_text("tell me about penguins please");
  v1::Envelope env;
  env.set_method("parley.v1.Dialog/TurnStream");
  env.mutable_payload()->PackFrom(t);
  transport::CallOptions call;
  call.timeout = 10s;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status end = Status::ok();
  std::string tokens;
  int n_tokens = 0;
  std::vector<v1::TurnResponse> turns;
  c->call(env, call, [&](Result<v1::Envelope> reply) {
    std::lock_guard lock(mu);
    if (!reply.ok()) {
      end = reply.status();
      done = true;
    } else {
      v1::TurnStreamEvent e;
      if (reply->has_payload() && reply->payload().UnpackTo(&e)) {
        if (e.has_token()) {
          tokens += e.token().text();
          ++n_tokens;
        } else if (e.has_turn()) {
          turns.push_back(e.turn());
        }
      }
      if (reply->end_of_stream()) done = true;
    }
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 15s, [&] { return done; }));
  }
  ASSERT_TRUE(end.is_ok()) << end.to_string();
  EXPECT_GT(n_tokens, 3);
  ASSERT_EQ(turns.size(), 1u);
  ASSERT_GE(turns[0].messages_size(), 1);
  EXPECT_EQ(turns[0].messages(0).text(), tokens);
  EXPECT_EQ(turns[0].turn(), 1);
}

TEST_F(DialogWireTest, BadWireRequestsGetClearErrors) {
  auto c = client();
  ASSERT_NE(c, nullptr);
  auto expect = [&](const std::string& method, const google::protobuf::Message& req, StatusCode code,
                    const std::string& mentions) {
    auto r = unary<v1::TurnResponse>(*c, method, req);
    ASSERT_FALSE(r.ok()) << method;
    EXPECT_EQ(r.status().code(), code) << r.status().to_string();
    EXPECT_NE(r.status().message().find(mentions), std::string::npos) << r.status().to_string();
  };
  v1::TurnRequest t;
  t.set_text("hi");
  expect("parley.v1.Dialog/Turn", t, StatusCode::kInvalidArgument, "session_id is required");
  t.set_session_id("nope");
  expect("parley.v1.Dialog/Turn", t, StatusCode::kNotFound, "nope");
  t.set_text("   ");
  expect("parley.v1.Dialog/Turn", t, StatusCode::kInvalidArgument, "blank");
  t.set_text(std::string(5000, 'a'));
  expect("parley.v1.Dialog/Turn", t, StatusCode::kInvalidArgument, "the limit is 4096");
  v1::CreateSessionRequest create;
  create.set_bot_id("no-such-bot");
  expect("parley.v1.Dialog/CreateSession", create, StatusCode::kNotFound, "no-such-bot");
  // A payload of the wrong type names the expected one.
  expect("parley.v1.Dialog/Turn", create, StatusCode::kInvalidArgument, "parley.v1.TurnRequest");
}

}  // namespace
}  // namespace parley
