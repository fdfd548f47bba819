// parley-qa end to end: a real process on loopback, called through the transport client.
// Ingest, answer with source passages, unknown KB, bad input (service keeps serving), generative
// with the LM down (extractive fallback), metrics, and the start-up error for a missing encoder.
// The real-encoder and real-LM cases skip with a message when the model or binary is absent, and
// fail when they are present but do not start.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "parley/v1/qa.pb.h"
#include "shared/transport/client.h"
#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/service.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

using Qa = testing::ServiceProcess;
using testing::model_dir;

class QaIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("parley-qa"); }

  /// Starts parley-qa; returns false (with the log in *log) when it exits instead of getting ready.
  bool start(Qa& q, std::vector<std::string> extra, std::string* log = nullptr) {
    return testing::start_service(q, "services/qa/parley-qa", extra, dir_, log);
  }

  template <typename Reply>
  static Result<Reply> call(Qa& q, const std::string& method, const google::protobuf::Message& req,
                            std::chrono::milliseconds timeout = 10s) {
    return testing::call_unary<Reply>(*q.client, method, req, timeout);
  }

  static v1::IngestRequest shop_docs(const std::string& kb) {
    v1::IngestRequest r;
    r.set_kb_id(kb);
    auto* d = r.add_documents();
    d->set_id("faq");
    d->set_title("Shop FAQ");
    d->set_text(
        "# Opening hours\nThe shop opens at 9am on weekdays and at 10am on Saturdays. It is closed on Sundays.\n\n"
        "# Returns\nItems can be returned within 30 days with a receipt. Refunds go to the original card.\n");
    return r;
  }
  static v1::AnswerRequest question(const std::string& kb, const std::string& q,
                                    v1::AnswerMode mode = v1::ANSWER_MODE_UNSPECIFIED) {
    v1::AnswerRequest r;
    r.set_kb_id(kb);
    r.set_question(q);
    r.set_mode(mode);
    return r;
  }

  std::string dir_;
};

TEST_F(QaIntegrationTest, IngestAnswerWithSourceBadInputAndLmDownFallback) {
  Qa q;
  // Nothing listens on the LM port: generative requests must fall back to extractive.
  std::string lm = "tcp://127.0.0.1:" + std::to_string(testing::free_tcp_port());
  std::string log;
  ASSERT_TRUE(start(q, {"--qa.embedder=hash", "--qa.lm_target=" + lm, "--qa.lm_timeout=2s",
                        "--qa.max_document_bytes=100000"},
                    &log))
      << log;

  auto ing = call<v1::IngestResponse>(q, "parley.v1.Qa/Ingest", shop_docs("shop"));
  ASSERT_TRUE(ing.ok()) << ing.status().to_string();
  EXPECT_EQ(ing->documents(), 1);
  EXPECT_EQ(ing->chunks(), 2);

  auto a = call<v1::AnswerResponse>(q, "parley.v1.Qa/Answer", question("shop", "How many days do I have to return items?"));
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_TRUE(a->has_answer());
  EXPECT_EQ(a->answer(), "Items can be returned within 30 days with a receipt.");
  ASSERT_GT(a->passages_size(), 0);
  EXPECT_EQ(a->passages(0).id(), "faq#1");
  EXPECT_EQ(a->passages(0).title(), "Shop FAQ > Returns");

  // Unknown KB and bad input: clear errors.
  auto unknown = call<v1::AnswerResponse>(q, "parley.v1.Qa/Answer", question("nope", "When?"));
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("unknown knowledge base 'nope'"), std::string::npos);
  auto empty = call<v1::AnswerResponse>(q, "parley.v1.Qa/Answer", question("shop", ""));
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  auto utf = call<v1::AnswerResponse>(q, "parley.v1.Qa/Answer", question("shop", "bad \xc3\x28 bytes"));
  EXPECT_EQ(utf.status().code(), StatusCode::kInvalidArgument);
  v1::IngestRequest huge = shop_docs("shop");
  huge.mutable_documents(0)->set_text(std::string(200'000, 'x'));
  auto big = call<v1::IngestResponse>(q, "parley.v1.Qa/Ingest", huge);
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("qa.max_document_bytes"), std::string::npos) << big.status().message();

  // Generative with the LM down: extractive answer, with a note saying why.
  auto gen = call<v1::AnswerResponse>(q, "parley.v1.Qa/Answer",
                                      question("shop", "When does the shop open on Saturdays?", v1::GENERATIVE));
  ASSERT_TRUE(gen.ok()) << gen.status().to_string();
  EXPECT_TRUE(gen->has_answer());
  EXPECT_EQ(gen->mode(), v1::EXTRACTIVE);
  EXPECT_NE(gen->answer().find("10am on Saturdays"), std::string::npos) << gen->answer();
  EXPECT_NE(gen->note().find("generative answer unavailable"), std::string::npos) << gen->note();

  // Drop, then the KB is gone; the service still serves.
  v1::DropKnowledgeBaseRequest drop;
  drop.set_kb_id("shop");
  EXPECT_TRUE(call<v1::DropKnowledgeBaseResponse>(q, "parley.v1.Qa/DropKnowledgeBase", drop).ok());
  EXPECT_EQ(call<v1::AnswerResponse>(q, "parley.v1.Qa/Answer", question("shop", "When?")).status().code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(q.process->running());

  auto m = testing::http_get(q.http_port, "/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(testing::metric_value(m->body, "parley_qa_answers_total", "outcome=\"answered\""), 2.0) << m->body;
  EXPECT_GE(testing::metric_value(m->body, "parley_qa_lm_fallbacks_total"), 1.0);
  EXPECT_GE(testing::metric_value(m->body, "parley_qa_passages_scored_total"), 2.0);
  EXPECT_GE(testing::metric_value(m->body, "parley_batch_size_count", "batcher=\"question_embed\""), 2.0);
  q.process->terminate();
  EXPECT_EQ(q.process->wait_for(10s), 0);
}

TEST_F(QaIntegrationTest, MissingEncoderIsAClearStartupError) {
  Qa q;
  std::string log;
  ASSERT_FALSE(start(q, {"--qa.embedder=encoder", "--qa.encoder_dir=" + dir_ + "/no-such-model"}, &log));
  EXPECT_EQ(q.process->wait_for(5s), 2);
  EXPECT_NE(log.find("tools/models/fetch"), std::string::npos) << log;
  EXPECT_NE(log.find("no-such-model/model.safetensors"), std::string::npos) << log;
}

TEST_F(QaIntegrationTest, RealEncoderAnswers) {
  const std::string weights = model_dir() + "/encoder-minilm/model.safetensors";
  if (!std::filesystem::exists(weights)) GTEST_SKIP() << "encoder model absent: " << weights << " (tools/models/fetch)";
  Qa q;
  std::string log;
  // The model is there: a start-up failure is ours, not a missing dependency.
  ASSERT_TRUE(start(q, {"--qa.embedder=encoder", "--qa.lm_target="}, &log)) << log;
  ASSERT_TRUE(call<v1::IngestResponse>(q, "parley.v1.Qa/Ingest", shop_docs("shop"), 60s).ok());
  auto a = call<v1::AnswerResponse>(q, "parley.v1.Qa/Answer", question("shop", "Can I get my money back?"));
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_GT(a->passages_size(), 0);
  EXPECT_EQ(a->passages(0).id(), "faq#1");  // semantic match: no word in common with "Refunds"
}

TEST_F(QaIntegrationTest, GenerativeWithTheRealLm) {
  std::string lm_bin = testing::built_binary("services/lm/parley-lm");
  std::string model = model_dir() + "/lm-smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(lm_bin) || !std::filesystem::exists(model)) {
    GTEST_SKIP() << "needs " << lm_bin << " (build target parley-lm) and " << model << " (tools/models/fetch)";
  }
  int lm_port = testing::free_tcp_port();
  int lm_http = testing::free_tcp_port();
  ChildProcess lm({lm_bin, "--transport.bind=tcp://127.0.0.1:" + std::to_string(lm_port),
                   "--http.port=" + std::to_string(lm_http)},
                  dir_ + "/lm.log");
  bool lm_ready = testing::wait_until(
      [&] {
        auto r = testing::http_get(lm_http, "/readyz");
        return !lm.running() || (r.ok() && r->status == 200);
      },
      60s);
  ASSERT_TRUE(lm_ready && lm.running()) << "parley-lm did not get ready: " << lm.log();
  Qa q;
  std::string log;
  ASSERT_TRUE(start(q, {"--qa.embedder=hash", "--qa.lm_target=tcp://127.0.0.1:" + std::to_string(lm_port),
                        "--qa.lm_timeout=60s"},
                    &log))
      << log;
  ASSERT_TRUE(call<v1::IngestResponse>(q, "parley.v1.Qa/Ingest", shop_docs("shop")).ok());
  auto a = call<v1::AnswerResponse>(
      q, "parley.v1.Qa/Answer", question("shop", "When does the shop open on Saturdays?", v1::GENERATIVE), 90s);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  std::cout << "LM answer: " << a->answer() << "\n";
  EXPECT_EQ(a->mode(), v1::GENERATIVE) << a->note();
  // The passage holds the answer and the LM is up: a generated answer is expected, not optional.
  EXPECT_TRUE(a->has_answer()) << a->note();
  EXPECT_FALSE(a->answer().empty()) << a->note();
  EXPECT_GT(a->passages_size(), 0);
}

}  // namespace
}  // namespace parley
