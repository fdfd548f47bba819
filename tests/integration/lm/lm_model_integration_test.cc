// parley-lm with the real models (label `model`): the default SmolLM2-135M-Instruct and the optional
// Qwen2.5-Coder-0.5B-Instruct Q4_K_M (qwen2, K-quants; what `tools/run --lm qwen` serves): a chat
// answer that knows a fact, and concurrent chats batched. Each skips when its file is absent.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "tests/integration/lm/lm_support.h"
#include "shared/common/model_paths.h"

namespace parley::lm::itest {
namespace {


v1::GenerateRequest chat(const std::string& question, int max_tokens) {
  v1::GenerateRequest r;
  // With SmolLM2's default system prompt even llama.cpp answers this one with a poem; with this
  // one it says "The capital of France is Paris." (checked with llama-cpp-python, greedy).
  auto* sys = r.mutable_messages()->add_messages();
  sys->set_role("system");
  sys->set_content("You are a helpful assistant.");
  auto* m = r.mutable_messages()->add_messages();
  m->set_role("user");
  m->set_content(question);
  r.mutable_params()->set_max_tokens(max_tokens);
  return r;
}

void answers_and_batches(const std::string& model) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model, ec)) GTEST_SKIP() << "model absent: " << model << " (tools/models/fetch)";
  const std::string dir = ::parley::testing::make_temp_dir("parley-lm-model");
  auto lm = LmProcess::start({"--lm.model=" + model, "--lm.max_batch=4", "--lm.kv_pages=256"}, dir, 120s);
  ASSERT_NE(lm, nullptr);
  auto client = make_client(lm->endpoint());
  ASSERT_NE(client, nullptr);

  GenerateCall call(*client, chat("What is the capital of France?", 24), 60s);
  StreamResult r = call.wait(90s);
  ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
  EXPECT_NE(r.text.find("Paris"), std::string::npos) << r.text;
  EXPECT_EQ(r.text.find("<|im_end|>"), std::string::npos) << "the end-of-turn marker is not text";

  std::vector<std::unique_ptr<GenerateCall>> calls;
  for (const char* q : {"Name a color.", "Say hello.", "Count to three.", "What is 2+2?"}) {
    calls.push_back(std::make_unique<GenerateCall>(*client, chat(q, 16), 90s));
  }
  for (auto& c : calls) {
    StreamResult s = c->wait(120s);
    EXPECT_TRUE(s.status.is_ok()) << s.status.to_string();
    EXPECT_FALSE(s.text.empty());
  }
  EXPECT_GT(lm->metric("parley_lm_batch_size_sum"), lm->metric("parley_lm_batch_size_count"));
  lm->process->terminate();
  EXPECT_EQ(lm->process->wait_for(std::chrono::seconds(10)), 0);
  std::filesystem::remove_all(dir, ec);
}

TEST(LmModelIntegrationTest, SmolLm2AnswersAndBatches) { answers_and_batches(default_lm_path()); }

TEST(LmModelIntegrationTest, QwenAnswersAndBatches) { answers_and_batches(qwen_lm_path()); }

}  // namespace
}  // namespace parley::lm::itest
