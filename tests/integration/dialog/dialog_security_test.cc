// parley-dialog as a real process, attacked the way issue 15 did, against fake NLU/QA/LM on the
// real transport: keys with scopes and tenants (admin manages bots, client talks; another
// tenant's session is 404 everywhere, the voice upgrade included), failed keys rate-limited per
// address, a keyless API on loopback only, client disconnects (plain and SSE) cancelling the LM,
// bot uploads bounded (alias bomb refused without growing the process, a queue of bot jobs
// instead of a thread per PUT, DELETE), webhooks to hosts not allowed refused at upload, strict
// JSON (raw NUL), errors that quote only a short excerpt, idle connections unable to lock clients
// out, and CURVE on the internal transport (an unauthenticated client refused, an authenticated
// one served).
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <thread>

#include "parley/v1/dialog.pb.h"
#include "services/dialog/testing/fake_services.h"
#include "shared/transport/client.h"
#include "shared/transport/curve.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using dialog::testing::FakeServiceServer;
using testing::ChildProcess;
using testing::HttpReply;

const std::string kAcmeAdmin = "admin+client:acme:acme-admin-secret-0000";
const std::string kAcmeClient = "client:acme:acme-client-secret-000";
const std::string kGlobex = "client:globex:globex-client-secret-00";

std::map<std::string, std::string> bearer(const std::string& secret) { return {{"Authorization", "Bearer " + secret}}; }

using testing::RawSocket;

std::string post(const std::string& target, const std::string& body) { return testing::http_post_bytes(target, body); }

long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

struct Dialog {
  int api_port = 0;
  int http_port = 0;
  std::string endpoint;
  std::unique_ptr<ChildProcess> process;
};

class DialogSecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::make_temp_dir("parley-dialog-security"));
    nlu_ = FakeServiceServer::start("nlu")->release();
    qa_ = FakeServiceServer::start("qa")->release();
    lm_ = FakeServiceServer::start("lm")->release();
  }
  static void TearDownTestSuite() {
    delete nlu_;
    delete qa_;
    delete lm_;
  }

  static Dialog start_dialog(std::vector<std::string> extra, bool wait_ready = true, const std::string& key = "") {
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
                                     "--dialog.sync_interval=200ms",
                                     "--dialog.asr_targets=",
                                     "--dialog.tts_targets="};
    for (auto& e : extra) argv.push_back(e);
    d.process = std::make_unique<ChildProcess>(argv, *dir_ + "/dialog-" + std::to_string(d.api_port) + ".log");
    if (wait_ready) {
      bool ready = testing::wait_until(
          [&] {
            auto r = testing::http_get(d.http_port, "/readyz");
            auto a = testing::http_request("GET", d.api_port, "/v1/bots/demo", "", 2s, key.empty() ? std::map<std::string, std::string>{} : bearer(key));
            return r.ok() && r->status == 200 && a.ok() && a->status == 200;
          },
          20s);
      EXPECT_TRUE(ready) << d.process->log();
    }
    return d;
  }

  static Result<HttpReply> call(const Dialog& d, const std::string& method, const std::string& target,
                                const std::string& body = "", std::map<std::string, std::string> headers = {}) {
    if (!body.empty() && !headers.contains("Content-Type")) headers["Content-Type"] = "application/json";
    return testing::http_request(method, d.api_port, target, body, 10s, headers);
  }

  static std::string new_session(const Dialog& d, const std::string& secret = "") {
    auto r = call(d, "POST", "/v1/bots/demo/sessions", "", secret.empty() ? std::map<std::string, std::string>{} : bearer(secret));
    EXPECT_TRUE(r.ok() && r->status == 201) << (r.ok() ? r->body : r.status().to_string());
    v1::Session s;
    if (r.ok()) (void)google::protobuf::util::JsonStringToMessage(r->body, &s);
    return s.id();
  }

  static std::string secret_of(const std::string& entry) { return entry.substr(entry.rfind(':') + 1); }

  static std::string* dir_;
  static FakeServiceServer *nlu_, *qa_, *lm_;
};

std::string* DialogSecurityTest::dir_ = nullptr;
FakeServiceServer* DialogSecurityTest::nlu_ = nullptr;
FakeServiceServer* DialogSecurityTest::qa_ = nullptr;
FakeServiceServer* DialogSecurityTest::lm_ = nullptr;

std::string mini_bot(const std::string& id = "mini") {
  return "bot: {id: " + id + "}\nintents: {a: [hello], b: [bye]}\nresponses: {hi: Hi}\nrules: [{intent: a, actions: [hi]}]\n";
}
const std::string kMiniBot = mini_bot();

TEST_F(DialogSecurityTest, ScopesTenantsAndFailedKeys) {
  const std::string admin = secret_of(kAcmeAdmin), client = secret_of(kAcmeClient), globex = secret_of(kGlobex);
  Dialog d = start_dialog({"--api.keys=" + kAcmeAdmin + "," + kAcmeClient + "," + kGlobex, "--api.max_failed_auth=3"},
                          true, client);
  const std::map<std::string, std::string> yaml = {{"Content-Type", "application/yaml"}};
  auto with = [&](const std::string& secret) {
    auto h = bearer(secret);
    h.insert(yaml.begin(), yaml.end());
    return h;
  };
  // A client key talks but cannot manage bots.
  auto put = call(d, "PUT", "/v1/bots/mini", kMiniBot, with(client));
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->status, 403) << put->body;
  EXPECT_NE(put->body.find("'admin' scope"), std::string::npos) << put->body;
  put = call(d, "PUT", "/v1/bots/mini", kMiniBot, with(admin));
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->status, 201) << put->body;
  EXPECT_NE(put->body.find("\"owner\":\"acme\""), std::string::npos) << put->body;
  // Sessions belong to the tenant that created them: to globex they do not exist.
  const std::string s = new_session(d, client);
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(call(d, "GET", "/v1/sessions/" + s, "", bearer(admin))->status, 200) << "same tenant, other key";
  EXPECT_EQ(call(d, "GET", "/v1/sessions/" + s, "", bearer(globex))->status, 404);
  EXPECT_EQ(call(d, "POST", "/v1/sessions/" + s + "/turns", R"({"text":"hello"})", bearer(globex))->status, 404);
  EXPECT_EQ(call(d, "POST", "/v1/sessions/" + s + "/turns:stream", R"({"text":"hello"})", bearer(globex))->status, 404);
  EXPECT_EQ(call(d, "DELETE", "/v1/sessions/" + s, "", bearer(globex))->status, 404);
  auto voice = call(d, "GET", "/v1/sessions/" + s + "/voice", "",
                    {{"Authorization", "Bearer " + globex}, {"Upgrade", "websocket"}, {"Connection", "Upgrade"},
                     {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}, {"Sec-WebSocket-Version", "13"}});
  ASSERT_TRUE(voice.ok());
  EXPECT_EQ(voice->status, 404) << voice->body;
  EXPECT_EQ(call(d, "POST", "/v1/sessions/" + s + "/turns", R"({"text":"hello"})", bearer(client))->status, 200);
  // Bots: only the owner's admin deletes; then it is gone.
  EXPECT_EQ(call(d, "DELETE", "/v1/bots/mini", "", bearer(client))->status, 403);
  auto del = call(d, "DELETE", "/v1/bots/mini", "", bearer(admin));
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->status, 204) << del->body;
  EXPECT_EQ(call(d, "GET", "/v1/bots/mini", "", bearer(client))->status, 404);
  // Guessing keys: a few tries, then the address is refused before keys are even compared.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(call(d, "GET", "/v1/bots", "", bearer("guess-" + std::to_string(i)))->status, 401);
  auto locked = call(d, "GET", "/v1/bots", "", bearer(client));
  ASSERT_TRUE(locked.ok());
  EXPECT_EQ(locked->status, 429) << locked->body;
  EXPECT_FALSE(locked->headers["retry-after"].empty());
  auto m = testing::http_get(d.http_port, "/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_GE(testing::metric_value(m->body, "parley_dialog_auth_failures_total", "reason=\"unknown_key\""), 3);
}

TEST_F(DialogSecurityTest, WithoutKeysTheApiListensOnLoopbackOnly) {
  Dialog d = start_dialog({"--api.address=0.0.0.0"});
  std::string log = d.process->log();
  EXPECT_NE(log.find("listens on loopback only"), std::string::npos) << log;
  EXPECT_NE(log.find("API on http://127.0.0.1:"), std::string::npos) << log;
  EXPECT_EQ(log.find("API on http://0.0.0.0:"), std::string::npos) << log;
}

TEST_F(DialogSecurityTest, ClientDisconnectsCancelTheLm) {
  // Issue 15: 20 dropped streams kept 8 LM sequences running until the LM timeout.
  Dialog d = start_dialog({});
  lm_->token_delay_us = 300'000;  // a long generation (~a few seconds of tokens)
  const int cancelled_before = lm_->cancelled.load();
  const std::string s1 = new_session(d);
  RawSocket sse(d.api_port);
  ASSERT_TRUE(sse.send(post("/v1/sessions/" + s1 + "/turns:stream", R"({"text":"tell me about penguins please"})")));
  ASSERT_TRUE(sse.read_until("event: token", 10s)) << sse.data();
  sse.close();  // the client goes away mid-stream
  EXPECT_TRUE(testing::wait_until([&] { return lm_->cancelled.load() > cancelled_before; }, 10s))
      << "the LM generation of an abandoned stream was not cancelled";
  // A plain turn whose client hangs up.
  const int calls_before = lm_->calls.load();
  const std::string s2 = new_session(d);
  RawSocket plain(d.api_port);
  ASSERT_TRUE(plain.send(post("/v1/sessions/" + s2 + "/turns", R"({"text":"what about the weather on mars"})")));
  ASSERT_TRUE(testing::wait_until([&] { return lm_->calls.load() > calls_before; }, 10s));
  plain.close();
  EXPECT_TRUE(testing::wait_until([&] { return lm_->cancelled.load() > cancelled_before + 1; }, 10s))
      << "the LM generation of an abandoned turn was not cancelled";
  lm_->token_delay_us = 0;
  // The session records the turn as interrupted and goes on.
  auto again = call(d, "POST", "/v1/sessions/" + s1 + "/turns", R"({"text":"hello"})");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 200) << again->body;
}

TEST_F(DialogSecurityTest, BotUploadsAreBounded) {
  Dialog d = start_dialog({"--api.max_pending_bot_jobs=0", "--dialog.webhook_allow=actions.example.com"});
  const std::map<std::string, std::string> yaml = {{"Content-Type", "application/yaml"}};
  // The alias bomb of issue 15: refused before it is expanded; the process stays small.
  std::string bomb = "bot: {id: boom}\nbig: &x " + std::string(4096, 'a') + "\nintents:\n  a:\n";
  for (int i = 0; i < 100000; ++i) bomb += "    - *x\n";
  bomb += "  b: [bye]\n";
  const long rss_before = rss_kb(d.process->pid());
  auto r = call(d, "PUT", "/v1/bots/boom", bomb, yaml);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 413) << r->body.substr(0, 300);
  EXPECT_NE(r->body.find("aliases"), std::string::npos) << r->body.substr(0, 300);
  EXPECT_LT(rss_kb(d.process->pid()), rss_before + 200 * 1024) << "the upload grew the process";
  // A webhook to a host the deployment does not allow: refused at upload.
  auto hook = call(d, "PUT", "/v1/bots/hooky",
                   mini_bot("hooky") + "actions: {scan: {url: \"http://10.0.0.7:9104/metrics\"}}\n",
                   yaml);
  ASSERT_TRUE(hook.ok());
  EXPECT_EQ(hook->status, 403) << hook->body;
  EXPECT_NE(hook->body.find("dialog.webhook_allow"), std::string::npos) << hook->body;
  // Uploads wait on one bot-job thread, not a thread each: with the NLU slow and no queue, a
  // burst of PUTs gets 503s with Retry-After.
  nlu_->delay_us = 1'500'000;
  std::vector<std::future<Result<HttpReply>>> burst;
  for (int i = 0; i < 4; ++i) {
    burst.push_back(std::async(std::launch::async, [&, i] {
      std::string id = "burst" + std::to_string(i);
      return call(d, "PUT", "/v1/bots/" + id, mini_bot(id), yaml);
    }));
  }
  int busy = 0, ok = 0;
  for (auto& f : burst) {
    auto b = f.get();
    ASSERT_TRUE(b.ok());
    if (b->status == 503) {
      ++busy;
      EXPECT_FALSE(b->headers["retry-after"].empty());
    } else if (b->status == 201) {
      ++ok;
    }
  }
  nlu_->delay_us = 0;
  EXPECT_GE(busy, 1) << "every PUT got a thread of its own";
  EXPECT_GE(ok, 1);
}

TEST_F(DialogSecurityTest, StrictJsonAndShortErrors) {
  Dialog d = start_dialog({});
  const std::string s = new_session(d);
  // A raw NUL inside a JSON string is not JSON (RFC 8259: control characters must be escaped).
  auto nul = call(d, "POST", "/v1/sessions/" + s + "/turns", std::string("{\"text\":\"a\0b\"}", 14));
  ASSERT_TRUE(nul.ok());
  EXPECT_EQ(nul->status, 400) << nul->body;
  EXPECT_NE(nul->body.find("control character"), std::string::npos) << nul->body;
  // Errors quote a short excerpt of the input, never 5 KB of it.
  auto field = call(d, "POST", "/v1/sessions/" + s + "/turns", "{\"" + std::string(5000, 'f') + "\":\"x\"}");
  ASSERT_TRUE(field.ok());
  EXPECT_EQ(field->status, 400);
  EXPECT_LT(field->body.size(), 600u) << field->body.size();
  auto id = call(d, "GET", "/v1/sessions/" + std::string(5000, 'i'));
  ASSERT_TRUE(id.ok());
  EXPECT_LT(id->body.size(), 600u) << id->body.size();
  auto bot = call(d, "POST", "/v1/bots/" + std::string(5000, 'b') + "/sessions");
  ASSERT_TRUE(bot.ok());
  EXPECT_LT(bot->body.size(), 600u) << bot->body.size();
}

TEST_F(DialogSecurityTest, IdleConnectionsCannotLockClientsOut) {
  Dialog d = start_dialog({"--api.max_connections=16"});
  std::vector<std::unique_ptr<RawSocket>> idle;
  for (int i = 0; i < 40; ++i) idle.push_back(std::make_unique<RawSocket>(d.api_port));  // send nothing
  for (int i = 0; i < 5; ++i) {
    auto r = call(d, "GET", "/v1/bots");
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->status, 200) << r->body;
  }
}

TEST_F(DialogSecurityTest, CurveOnTheInternalTransport) {
  if (!transport::curve_available()) GTEST_SKIP() << "libzmq built without CURVE";
  auto server = transport::generate_curve_keypair();
  auto client = transport::generate_curve_keypair();
  ASSERT_TRUE(server.ok() && client.ok());
  Dialog d = start_dialog({"--transport.curve_secret_key=" + server->secret_key,
                           "--transport.curve_clients=" + client->public_key});
  auto create = [&](std::optional<transport::CurveClientOptions> curve, std::chrono::milliseconds timeout) {
    transport::ClientOptions co;
    co.targets = {d.endpoint};
    co.name = "gateway";
    co.curve = std::move(curve);
    auto c = transport::Client::create(co);
    EXPECT_TRUE(c.ok());
    v1::CreateSessionRequest req;
    req.set_bot_id("demo");
    v1::Envelope env;
    env.set_method("parley.v1.Dialog/CreateSession");
    env.mutable_payload()->PackFrom(req);
    return (*c)->call_sync(std::move(env), {.timeout = timeout});
  };
  EXPECT_FALSE(create(std::nullopt, 500ms).ok()) << "a plaintext gateway was served";
  auto stranger = transport::generate_curve_keypair();
  EXPECT_FALSE(create(transport::CurveClientOptions{server->public_key, *stranger}, 500ms).ok());
  auto served = create(transport::CurveClientOptions{server->public_key, *client}, 5s);
  ASSERT_TRUE(served.ok()) << served.status().to_string();
  v1::Session s;
  ASSERT_TRUE(served->payload().UnpackTo(&s));
  EXPECT_EQ(s.id().size(), 32u);
}

}  // namespace
}  // namespace parley
