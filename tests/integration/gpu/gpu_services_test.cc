// The engine services on cuda:0 as real processes (label gpu): parley-lm with --lm.device=cuda:0
// streams a greedy generation from stories260K, parley-qa with --qa.device=cuda:0 ingests a
// document and answers from it with the MiniLM encoder; both export
// parley_engine_device_info{device="cuda:0"} and their GPU memory on /metrics. Skips with "no
// CUDA device" (fails instead under PARLEY_GPU_TEST_STRICT=1, as tools/gpu-check runs it).
// Models: $PARLEY_LM_GGUF (stories260K) and $PARLEY_ENCODER_DIR (or the defaults).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "parley/v1/qa.pb.h"
#include "shared/common/model_paths.h"
#include "shared/engine/device.h"
#include "tests/integration/lm/lm_support.h"
#include "tests/support/net.h"
#include "tests/support/service.h"
#include "tests/support/gpu_strict.h"

namespace parley {
namespace {

using namespace std::chrono_literals;

bool strict() { return parley::testing::gpu_test_strict(); }

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// The models, read once from the test's own variables, which are then removed from the
// environment: the services refuse PARLEY_* variables they do not know (a typo guard), and
// tools/gpu-check sets these two for the tests.
struct Models {
  std::string lm_gguf, encoder_dir;
};
const Models& models() {
  static const Models m = [] {
    Models r{env_or("PARLEY_LM_GGUF", std::string(PARLEY_TESTDATA) + "/models/llama2c_stories260K/stories260K.gguf"),
             env_or("PARLEY_ENCODER_DIR", default_encoder_dir())};
    ::unsetenv("PARLEY_LM_GGUF");
    ::unsetenv("PARLEY_ENCODER_DIR");
    return r;
  }();
  return m;
}

class GpuServices : public ::testing::Test {
 protected:
  void SetUp() override {
    if (engine::cuda_device_count() == 0) {
      if (strict()) FAIL() << "no CUDA device (PARLEY_GPU_TEST_STRICT=1)";
      GTEST_SKIP() << "no CUDA device";
    }
    dir_ = testing::make_temp_dir("parley-gpu-services");
  }
  std::string dir_;
};

TEST_F(GpuServices, LmGeneratesOnCuda) {
  const std::string model = models().lm_gguf;
  if (!std::filesystem::exists(model)) {
    if (strict()) FAIL() << "missing " << model;
    GTEST_SKIP() << "missing " << model;
  }
  auto lm = lm::itest::LmProcess::start({"--lm.device=cuda:0", "--lm.model=" + model}, dir_, 120s);
  ASSERT_NE(lm, nullptr);
  auto client = lm::itest::make_client(lm->endpoint());
  ASSERT_NE(client, nullptr);
  lm::itest::GenerateCall call(*client, lm::itest::prompt_request("Once upon a time", 48), 60s);
  const lm::itest::StreamResult r = call.wait(60s);
  ASSERT_TRUE(r.status.is_ok()) << r.status.to_string() << "\n" << lm->process->log();
  EXPECT_EQ(r.tokens.size(), 48u);
  std::cout << "[ INFO     ] parley-lm on cuda:0: \"Once upon a time" << r.text << "\"\n";
  const std::string m = lm->metrics();
  EXPECT_NE(m.find("parley_engine_device_info{service=\"lm\",device=\"cuda:0\""), std::string::npos) << m;
  EXPECT_GT(testing::metric_value(m, "parley_engine_device_memory_bytes", "service=\"lm\",device=\"cuda:0\""), 0.0);
}

TEST_F(GpuServices, QaAnswersWithTheEncoderOnCuda) {
  const std::string enc = models().encoder_dir;
  if (!std::filesystem::exists(enc + "/model.safetensors")) {
    if (strict()) FAIL() << "no encoder in " << enc;
    GTEST_SKIP() << "no encoder in " << enc;
  }
  testing::ServiceProcess qa;
  std::string log;
  ASSERT_TRUE(testing::start_service(qa, "services/qa/parley-qa",
                                     {"--qa.device=cuda:0", "--qa.embedder=encoder", "--qa.encoder_dir=" + enc,
                                      "--qa.lm_target="},
                                     dir_, &log, 120s))
      << log;
  v1::IngestRequest in;
  in.set_kb_id("shop");
  auto* d = in.add_documents();
  d->set_id("faq");
  d->set_title("Shop FAQ");
  d->set_text(
      "# Opening hours\nThe shop opens at 9am on weekdays and at 10am on Saturdays. It is closed on Sundays.\n\n"
      "# Returns\nItems can be returned within 30 days with a receipt. Refunds go to the original card.\n");
  ASSERT_TRUE(testing::call_unary<v1::IngestResponse>(*qa.client, "parley.v1.Qa/Ingest", in, 60s).ok());
  v1::AnswerRequest q;
  q.set_kb_id("shop");
  q.set_question("Can I get my money back?");
  auto a = testing::call_unary<v1::AnswerResponse>(*qa.client, "parley.v1.Qa/Answer", q, 30s);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_GT(a->passages_size(), 0);
  EXPECT_EQ(a->passages(0).id(), "faq#1");  // semantic match: no word in common with "Refunds"
  std::cout << "[ INFO     ] parley-qa on cuda:0 answered from " << a->passages(0).id() << "\n";
  auto m = testing::http_get(qa.http_port, "/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_NE(m->body.find("parley_engine_device_info{service=\"qa\",device=\"cuda:0\""), std::string::npos);
}

}  // namespace
}  // namespace parley
