// main() of every Parley GoogleTest binary (replaces GTest::gtest_main; cmake/ParleyTesting.cmake).
// Why: a binary whose tests all GTEST_SKIP exits 0 under gtest_main and ctest calls it "Passed".
// Here a binary with a skipped test exits 77 (ctest SKIP_RETURN_CODE: reported as skipped), a
// failure still exits 1 (failure wins over skip), and every skipped case is appended with its reason
// to $PARLEY_SKIP_LOG so tools/test can list them and apply the CI policy. Depends on GoogleTest.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

constexpr int kSkipReturnCode = 77;  // cmake/ParleyTesting.cmake: SKIP_RETURN_CODE

// One line per skipped case: "<test>\t<Suite.Case>\t<reason>", where <test> is the ctest entry
// ($PARLEY_TEST_NAME, set by parley_test) or else the binary's name; tabs and newlines in the reason
// become spaces. One write() per line on an O_APPEND descriptor, so lines from tests running in
// parallel do not interleave.
void log_skips(const char* argv0) {
  const char* path = std::getenv("PARLEY_SKIP_LOG");
  if (path == nullptr || *path == '\0') return;
  std::string binary = argv0;
  if (auto slash = binary.rfind('/'); slash != std::string::npos) binary = binary.substr(slash + 1);
  if (const char* entry = std::getenv("PARLEY_TEST_NAME"); entry != nullptr && *entry != '\0') {
    binary = entry;
  }
  const int fd = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const testing::UnitTest& unit = *testing::UnitTest::GetInstance();
  for (int s = 0; s < unit.total_test_suite_count(); ++s) {
    const testing::TestSuite& suite = *unit.GetTestSuite(s);
    for (int t = 0; t < suite.total_test_count(); ++t) {
      const testing::TestInfo& info = *suite.GetTestInfo(t);
      const testing::TestResult& result = *info.result();
      if (!info.should_run() || !result.Skipped()) continue;
      std::string reason;
      for (int p = 0; p < result.total_part_count(); ++p) {
        const testing::TestPartResult& part = result.GetTestPartResult(p);
        if (part.skipped() && part.message() != nullptr) reason += part.message();
      }
      if (reason.empty()) reason = "(no reason given)";
      for (char& c : reason) {
        if (c == '\t' || c == '\n' || c == '\r') c = ' ';
      }
      std::string line = binary + "\t" + suite.name() + "." + info.name() + "\t" + reason + "\n";
      if (::write(fd, line.data(), line.size()) < 0) break;
    }
  }
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleMock(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  if (rc != 0) return rc;
  if (testing::UnitTest::GetInstance()->skipped_test_count() > 0) {
    log_skips(argv[0]);
    return kSkipReturnCode;
  }
  return 0;
}
