// Runs tools/eval/qa's binary and asserts floors slightly below the figures measured when they
// were set (services/qa/README.md, "Evaluation"). The hash-embedder run needs only the test data;
// the encoder run skips only when the MiniLM model files are absent (any other failure fails).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "shared/common/json_document.h"
#include "shared/common/model_paths.h"

namespace {

std::string data_file() { return std::string(PARLEY_TESTDATA) + "/qa/squad_v2_dev_subset_Normans.json"; }

/// Runs the evaluator with --json; returns its exit code and fills `figures` from the JSON line.
int run_eval(const std::string& args, std::map<std::string, double>& figures, std::string& output) {
  std::string cmd = std::string(PARLEY_BINARY_DIR) + "/tools/eval/qa_eval/parley-qa-eval --json " + args + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return -1;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), static_cast<int>(buf.size()), pipe.get()) != nullptr) output += buf.data();
  int status = pclose(pipe.release());
  auto brace = output.rfind('{');
  if (brace != std::string::npos) {
    std::string j = output.substr(brace);
    for (std::size_t p = j.find('"'); p != std::string::npos; p = j.find('"', p)) {
      auto e = j.find('"', p + 1);
      std::string key = j.substr(p + 1, e - p - 1);
      if (e + 1 < j.size() && j[e + 1] == ':' && j[e + 2] != '"') figures[key] = std::atof(j.c_str() + e + 2);
      p = e + 1;
    }
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Floors are judged at a FIXED no-answer threshold (0.5), not at the evaluator's tuned one: the
// tuned search may pick "never answer", which scores the abstain-everything baseline (53.8 here)
// whatever the extractor does. At 0.5 the F1 depends on both the answers and the confidence, and
// HasAns F1 when always answering measures the extractor alone; a broken extractor or encoder
// drops them far below the floors. Margins: about 3 points under the measured figures (the
// evaluation is deterministic on one machine; ISA variants move it by less than a point).
constexpr const char* kFixedThreshold = "--threshold 0.5";

TEST(QaEval, HashEmbedderFloors) {
  if (!std::filesystem::exists(data_file())) GTEST_SKIP() << data_file() << " is absent (see ../shared/testdata)";
  std::map<std::string, double> f;
  std::string out;
  ASSERT_EQ(run_eval(std::string("--embedder hash ") + kFixedThreshold, f, out), 0) << out;
  EXPECT_EQ(f["questions"], 208) << out;
  EXPECT_EQ(f["answerable"], 96) << out;
  // Measured: recall@1 54.2, recall@5 76.0; at 0.5: F1 42.1, HasAns F1 22.4; always answering:
  // HasAns F1 31.0.
  EXPECT_GE(f["recall_at_1"], 51.0) << out;
  EXPECT_GE(f["recall_at_5"], 73.0) << out;
  EXPECT_GE(f["f1"], 39.0) << out;
  EXPECT_GE(f["has_ans_f1"], 19.0) << out;
  EXPECT_GE(f["always_answer_has_ans_f1"], 28.0) << out;
}

TEST(QaEval, EncoderFloors) {
  if (!std::filesystem::exists(data_file())) GTEST_SKIP() << data_file() << " is absent (see ../shared/testdata)";
  const std::string weights = parley::default_encoder_dir() + "/model.safetensors";
  if (!std::filesystem::exists(weights)) GTEST_SKIP() << "encoder model absent: " << weights << " (tools/models/fetch)";
  std::map<std::string, double> f;
  std::string out;
  // The model is there: any failure to load or run it is a failure, not a skip.
  ASSERT_EQ(run_eval(std::string("--embedder encoder ") + kFixedThreshold, f, out), 0) << out;
  // Measured (default MiniLM): recall@1 72.9, recall@5 90.6; at 0.5: F1 31.4, HasAns F1 33.7;
  // always answering: HasAns F1 36.6 (services/qa/README.md). Retrieval must beat the lexical
  // stand-in's 54.2 / 76.0 clearly, or the encoder is not doing its job.
  EXPECT_GE(f["recall_at_1"], 70.0) << out;
  EXPECT_GE(f["recall_at_5"], 88.0) << out;
  EXPECT_GE(f["f1"], 28.0) << out;
  EXPECT_GE(f["has_ans_f1"], 30.5) << out;
  EXPECT_GE(f["always_answer_has_ans_f1"], 33.5) << out;
}

}  // namespace

// The evaluator's command line (issue 17): --help is not an error, a malformed number is a usage
// error naming the option (atoi read "abc" as 0), and --json is JSON even when the tuned
// threshold is infinite (it printed `inf`).
TEST(QaEval, CommandLineAndJson) {
  std::map<std::string, double> f;
  std::string out;
  EXPECT_EQ(run_eval("--help", f, out), 0) << out;
  EXPECT_NE(out.find("usage: parley-qa-eval"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(run_eval("--top-k abc", f, out), 2) << out;
  EXPECT_NE(out.find("--top-k: 'abc' is not a whole number"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(run_eval("--threshold 0.5x", f, out), 2) << out;
  out.clear();
  EXPECT_EQ(run_eval("--no-such-option", f, out), 2) << out;
  EXPECT_NE(out.find("unknown option '--no-such-option'"), std::string::npos) << out;
  if (!std::filesystem::exists(data_file())) GTEST_SKIP() << data_file() << " is absent (see ../shared/testdata)";
  out.clear();
  // Tuned on the hash stand-in, the threshold is "never answer" (+inf): the JSON must still parse.
  ASSERT_EQ(run_eval("--embedder hash", f, out), 0) << out;
  auto brace = out.rfind('{');
  ASSERT_NE(brace, std::string::npos) << out;
  auto doc = parley::json::parse(out.substr(brace));
  ASSERT_TRUE(doc.ok()) << doc.status().to_string() << "\n" << out;
  const auto* rule = doc->find("threshold_rule");
  ASSERT_NE(rule, nullptr) << out;
  EXPECT_FALSE(rule->as_string().empty()) << out;
  EXPECT_EQ(out.substr(brace).find("inf"), std::string::npos) << out;
}
