// Runs tools/eval/qa's binary and asserts floors slightly below the figures measured when they
// were set (services/qa/README.md, "Evaluation"). The hash-embedder run needs only the test data;
// the encoder run skips with a message when the MiniLM model or the encoder library is absent.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

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

TEST(QaEval, HashEmbedderFloors) {
  if (!std::filesystem::exists(data_file())) GTEST_SKIP() << data_file() << " is absent (see ../shared/testdata)";
  std::map<std::string, double> f;
  std::string out;
  ASSERT_EQ(run_eval("--embedder hash", f, out), 0) << out;
  EXPECT_EQ(f["questions"], 208) << out;
  EXPECT_EQ(f["answerable"], 96) << out;
  // Measured: recall@1 54.2, recall@5 76.0, F1 53.8 (threshold tuned to "never answer"),
  // HasAns F1 when always answering 31.0.
  EXPECT_GE(f["recall_at_1"], 50.0) << out;
  EXPECT_GE(f["recall_at_5"], 72.0) << out;
  EXPECT_GE(f["f1"], 50.0) << out;
  EXPECT_GE(f["always_answer_has_ans_f1"], 28.0) << out;
}

TEST(QaEval, EncoderFloors) {
  if (!std::filesystem::exists(data_file())) GTEST_SKIP() << data_file() << " is absent (see ../shared/testdata)";
  std::map<std::string, double> f;
  std::string out;
  int code = run_eval("--embedder encoder", f, out);
  if (code == 4) GTEST_SKIP() << "encoder unavailable: " << out;
  ASSERT_EQ(code, 0) << out;
  // Measured (default MiniLM): recall@1 72.9, recall@5 90.6, F1 52.1 at the tuned threshold,
  // HasAns F1 when always answering 36.6 (services/qa/README.md). Retrieval must beat the
  // lexical stand-in's 54.2 / 76.0 clearly, or the encoder is not doing its job.
  EXPECT_GE(f["recall_at_1"], 68.0) << out;
  EXPECT_GE(f["recall_at_5"], 88.0) << out;
  EXPECT_GE(f["f1"], 48.0) << out;
  EXPECT_GE(f["always_answer_has_ans_f1"], 33.0) << out;
}

}  // namespace
