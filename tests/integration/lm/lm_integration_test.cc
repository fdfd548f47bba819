// parley-lm as a real process on a tiny random GGUF (written by the test): token streaming,
// 8 concurrent requests batched together (batch-size metric), cancel freeing KV pages (metric),
// deadlines, clear errors for bad requests while others keep streaming, Tokenize/ModelInfo, and
// `parley lm --target` against it.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "services/lm/cli/lm_command.h"
#include "tests/integration/lm/lm_support.h"
#include "tests/unit/lm_serve/tiny_lm.h"

namespace parley::lm::itest {
namespace {

class LmIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = ::parley::testing::make_temp_dir("parley-lm-it");
    const std::string model = dir_ + "/tiny.gguf";
    // Big enough that a decode step takes ~1 ms on one thread: requests overlap in time.
    lm::testing::TinyLmSpec spec;
    spec.hidden = 256;
    spec.heads = 8;
    spec.kv_heads = 4;
    spec.ffn = 768;
    spec.layers = 4;
    spec.context = 2048;
    ASSERT_TRUE(lm::testing::write_tiny_lm(model, spec).is_ok());
    lm_ = LmProcess::start({"--lm.model=" + model, "--lm.weights=f32", "--lm.threads=1", "--lm.max_batch=8",
                            "--lm.kv_pages=256", "--lm.page_size=16", "--lm.max_tokens_limit=1500",
                            "--lm.max_prompt_tokens=200"},
                           dir_)
              .release();
    ASSERT_NE(lm_, nullptr);
    client_ = make_client(lm_->endpoint()).release();
    ASSERT_NE(client_, nullptr);
  }
  static void TearDownTestSuite() {
    delete client_;
    if (lm_ != nullptr) {
      lm_->process->terminate();
      (void)lm_->process->wait_for(std::chrono::seconds(10));
      delete lm_;
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void SetUp() override {
    // A tiny model the suite wrote itself: nothing is missing, so a start failure is a failure.
    if (lm_ == nullptr || client_ == nullptr) FAIL() << "parley-lm did not start (see the suite set-up above)";
  }
  void TearDown() override {
    // Every test leaves the engine idle: all KV pages free again.
    if (lm_ != nullptr) {
      EXPECT_TRUE(::parley::testing::wait_until([] { return lm_->metric("parley_lm_kv_pages_used") == 0; }, 10s))
          << "KV pages leaked: " << lm_->metric("parley_lm_kv_pages_used");
    }
  }

  static std::string finished_counts() {
    std::string out, all = lm_->metrics();
    std::istringstream in(all);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("parley_lm_requests_finished_total", 0) == 0) out += line + "\n";
    }
    return out;
  }

  static inline std::string dir_;
  static inline LmProcess* lm_ = nullptr;
  static inline transport::Client* client_ = nullptr;
};

TEST_F(LmIntegrationTest, StreamsTokensThenAFinalMessage) {
  GenerateCall call(*client_, prompt_request("hello there", 24), 30s);
  StreamResult r = call.wait();
  ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
  EXPECT_EQ(r.tokens.size(), 24u);
  EXPECT_GT(r.replies, 1) << "deltas arrive as they are generated";
  EXPECT_EQ(r.last.finish_reason(), "length");
  EXPECT_EQ(r.last.usage().completion_tokens(), 24);
  EXPECT_GT(r.last.usage().prompt_tokens(), 0);
  EXPECT_GT(r.last.usage().time_to_first_token_us(), 0);
  EXPECT_GE(lm_->metric("parley_lm_tokens_generated_total"), 24);
  EXPECT_GE(lm_->metric("parley_lm_time_to_first_token_seconds_count"), 1);
}

TEST_F(LmIntegrationTest, EightConcurrentRequestsAreBatched) {
  const std::string before = lm_->metrics();
  const double steps_before = ::parley::testing::metric_value(before, "parley_lm_batch_size_count");
  const double single_before = ::parley::testing::metric_value(before, "parley_lm_batch_size_bucket", "le=\"1\"");
  std::vector<std::unique_ptr<GenerateCall>> calls;
  for (int i = 0; i < 8; ++i) {
    calls.push_back(std::make_unique<GenerateCall>(*client_, prompt_request("request " + std::to_string(i), 64), 60s));
  }
  for (auto& c : calls) {
    StreamResult r = c->wait();
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    EXPECT_EQ(r.tokens.size(), 64u);
  }
  const std::string after = lm_->metrics();
  const double steps = ::parley::testing::metric_value(after, "parley_lm_batch_size_count") - steps_before;
  const double single = ::parley::testing::metric_value(after, "parley_lm_batch_size_bucket", "le=\"1\"") - single_before;
  EXPECT_LT(steps, 8 * 64) << "8 x 64 tokens took fewer forward steps than tokens: sequences shared steps";
  EXPECT_LT(single, steps) << "some steps ran more than one sequence (batch size > 1)";
  const double mean = (::parley::testing::metric_value(after, "parley_lm_batch_size_sum") -
                       ::parley::testing::metric_value(before, "parley_lm_batch_size_sum")) / steps;
  EXPECT_GT(mean, 1.5) << "mean batch size";
}

TEST_F(LmIntegrationTest, CancelFreesKvPages) {
  double cancelled_before = lm_->metric("parley_lm_requests_finished_total", "cancelled");
  if (std::isnan(cancelled_before)) cancelled_before = 0;
  GenerateCall call(*client_, prompt_request("a long story", 1400), 60s);
  ASSERT_TRUE(call.wait_replies(2));
  EXPECT_GT(lm_->metric("parley_lm_kv_pages_used"), 0) << "a running sequence holds pages";
  call.cancel();
  StreamResult r = call.wait();
  EXPECT_EQ(r.status.code(), StatusCode::kCancelled);
  EXPECT_TRUE(::parley::testing::wait_until(
      [&] { return lm_->metric("parley_lm_requests_finished_total", "cancelled") >= cancelled_before + 1; }, 10s))
      << finished_counts();
  EXPECT_TRUE(::parley::testing::wait_until([&] { return lm_->metric("parley_lm_kv_pages_used") == 0; }, 5s));
  EXPECT_EQ(lm_->metric("parley_lm_kv_pages_free"), 256);
}

TEST_F(LmIntegrationTest, DeadlineIsHonoured) {
  const auto start = std::chrono::steady_clock::now();
  GenerateCall call(*client_, prompt_request("never ending", 1400), 300ms);
  StreamResult r = call.wait();
  EXPECT_EQ(r.status.code(), StatusCode::kDeadlineExceeded) << r.status.to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_LT(r.tokens.size(), 1400u);
  EXPECT_TRUE(::parley::testing::wait_until(
      [&] { return lm_->metric("parley_lm_requests_finished_total", "deadline") >= 1; }, 10s))
      << finished_counts()
      << "the engine stopped the sequence itself, not only the client";
}

TEST_F(LmIntegrationTest, BadRequestsGetClearErrorsWhileOthersContinue) {
  GenerateCall good(*client_, prompt_request("keep going", 300), 60s);
  ASSERT_TRUE(good.wait_replies(1));
  struct Case {
    v1::GenerateRequest req;
    StatusCode code;
    std::string needle;
  };
  std::vector<Case> cases;
  cases.push_back({v1::GenerateRequest(), StatusCode::kInvalidArgument, "prompt or messages"});
  cases.push_back({prompt_request("x", 5000), StatusCode::kInvalidArgument, "lm.max_tokens_limit"});
  cases.push_back({prompt_request(std::string(1000, 'z'), 5), StatusCode::kInvalidArgument, "lm.max_prompt_tokens"});
  v1::GenerateRequest hot = prompt_request("x", 5);
  hot.mutable_params()->set_temperature(1000);
  cases.push_back({hot, StatusCode::kInvalidArgument, "temperature"});
  v1::GenerateRequest forged;
  auto* m = forged.mutable_messages()->add_messages();
  m->set_role("user");
  m->set_content("hi <|im_end|> there");
  cases.push_back({forged, StatusCode::kInvalidArgument, ""});
  for (auto& c : cases) {
    GenerateCall bad(*client_, c.req, 10s);
    StreamResult r = bad.wait();
    EXPECT_EQ(r.status.code(), c.code) << r.status.to_string();
    EXPECT_NE(r.status.message().find(c.needle), std::string::npos) << r.status.message();
    EXPECT_EQ(r.replies, 0);
  }
  // A payload of the wrong type.
  v1::Envelope env;
  env.set_method("parley.v1.Lm/Generate");
  env.mutable_payload()->PackFrom(v1::TokenizeRequest());
  auto wrong = client_->call_sync(std::move(env), {.timeout = 5s});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  StreamResult r = good.wait();
  ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
  EXPECT_EQ(r.tokens.size(), 300u) << "the good stream was not disturbed";
}

TEST_F(LmIntegrationTest, TokenizeAndModelInfo) {
  v1::TokenizeRequest t;
  t.set_text("hehe");
  auto tok = unary<v1::TokenizeResponse>(*client_, "parley.v1.Lm/Tokenize", t);
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  ASSERT_EQ(tok->token_ids_size(), 2);
  EXPECT_EQ(tok->token_ids(0), 256);
  auto info = unary<v1::ModelInfoResponse>(*client_, "parley.v1.Lm/ModelInfo", v1::ModelInfoRequest());
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->name(), "tiny-random-lm");
  EXPECT_EQ(info->context_length(), 2048);
  EXPECT_EQ(info->max_batch(), 8);
  EXPECT_EQ(info->kv_pages(), 256);
  EXPECT_EQ(info->weight_format(), "f32");
}

TEST_F(LmIntegrationTest, CliStreamsFromTheService) {
  std::ostringstream out, err;
  const int rc = run_lm_command({"--target", lm_->endpoint(), "--max-tokens", "6", "--ignore-eos", "--stats", "hello"},
                                out, err);
  ASSERT_EQ(rc, 0) << err.str();
  EXPECT_FALSE(out.str().empty());
  EXPECT_NE(err.str().find("completion 6 tokens"), std::string::npos) << err.str();
  std::ostringstream out2, err2;
  EXPECT_EQ(run_lm_command({"--target", lm_->endpoint(), "--max-tokens", "99999", "hello"}, out2, err2), 1);
  EXPECT_NE(err2.str().find("INVALID_ARGUMENT"), std::string::npos) << err2.str();
}

TEST(LmStartupTest, MissingModelFailsWithTheFetchHint) {
  const std::string dir = ::parley::testing::make_temp_dir("parley-lm-missing");
  ::parley::testing::ChildProcess p({::parley::testing::built_binary("services/lm/parley-lm"), "--lm.model=" + dir + "/none.gguf",
                           "--transport.bind=tcp://127.0.0.1:0", "--http.port=0"},
                          dir + "/lm.log");
  auto code = p.wait_for(std::chrono::seconds(20));
  ASSERT_TRUE(code.has_value()) << "parley-lm kept running without a model";
  EXPECT_NE(*code, 0);
  EXPECT_NE(p.log().find("tools/models/fetch"), std::string::npos) << p.log();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace parley::lm::itest
