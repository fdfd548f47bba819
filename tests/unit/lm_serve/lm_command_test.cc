// `parley lm`: argument errors, and --local generation on a tiny GGUF (streams text, --stats).
// The remote path is covered against a real parley-lm in tests/integration/lm.
#include "services/lm/cli/lm_command.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "tests/unit/lm_serve/tiny_lm.h"

namespace parley::lm {
namespace {

class LmCommandTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = (std::filesystem::temp_directory_path() / ("parley-lm-cli-" + std::to_string(::getpid()) + ".gguf")).string();
    ASSERT_TRUE(testing::write_tiny_lm(path_).is_ok());
  }
  static void TearDownTestSuite() { std::filesystem::remove(path_); }

  int run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return run_lm_command(args, out_, err_);
  }

  static inline std::string path_;
  std::ostringstream out_, err_;
};

TEST_F(LmCommandTest, BadArgumentsExitTwoWithUsage) {
  EXPECT_EQ(run({}), 2);
  EXPECT_NE(err_.str().find("no prompt"), std::string::npos);
  EXPECT_NE(err_.str().find("usage"), std::string::npos);
  EXPECT_EQ(run({"hi", "--max-tokens"}), 2);
  EXPECT_NE(err_.str().find("--max-tokens needs a value"), std::string::npos);
  EXPECT_EQ(run({"hi", "--temperature", "warm"}), 2);
  EXPECT_NE(err_.str().find("not a number"), std::string::npos);
  EXPECT_EQ(run({"hi", "--frobnicate"}), 2);
  EXPECT_EQ(run({"hi", "--local", path_, "--weights", "fp7"}), 2);
}

TEST_F(LmCommandTest, LocalGenerationStreamsAndIsDeterministic) {
  ASSERT_EQ(run({"--local", path_, "--weights", "f32", "--threads", "1", "--max-tokens", "8", "--ignore-eos",
                 "--stats", "hello", "world"}),
            0)
      << err_.str();
  const std::string first = out_.str();
  EXPECT_FALSE(first.empty());
  EXPECT_EQ(first.back(), '\n');
  EXPECT_NE(err_.str().find("completion 8 tokens"), std::string::npos) << err_.str();
  ASSERT_EQ(run({"--local", path_, "--weights", "f32", "--threads", "1", "--max-tokens", "8", "--ignore-eos",
                 "hello world"}),
            0);
  EXPECT_EQ(out_.str(), first) << "greedy output repeats";
  ASSERT_EQ(run({"--local", path_, "--chat", "--system", "be brief", "--max-tokens", "3", "hi"}), 0) << err_.str();
}

TEST_F(LmCommandTest, MissingModelIsAClearError) {
  EXPECT_EQ(run({"--local", "/nonexistent.gguf", "hi"}), 1);
  EXPECT_NE(err_.str().find("not found"), std::string::npos) << err_.str();
}

TEST_F(LmCommandTest, UnreachableTargetFailsWithinTheTimeout) {
  EXPECT_EQ(run({"--target", "tcp://127.0.0.1:1", "--timeout-ms", "300", "hi"}), 1);
  EXPECT_NE(err_.str().find("parley lm:"), std::string::npos);
}

}  // namespace
}  // namespace parley::lm
