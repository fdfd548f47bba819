// load() error paths: each gives ONE Status naming the key, the source and the problem.
#include <gtest/gtest.h>

#include "config_test_util.h"
#include "shared/config/config.h"

namespace parley::config {
namespace {

using testing::TempYaml;
using testing::test_schema;

Status load_error(const std::optional<std::string>& path, const Environment& env,
                  const std::vector<std::string>& args) {
  auto r = load(test_schema(), path, env, args);
  EXPECT_FALSE(r.ok()) << "expected an error; got:\n" << (r.ok() ? r->describe() : "");
  return r.status();
}

std::string file_error(const std::string& yaml) {
  TempYaml f(yaml);
  const Status s = load_error(f.path(), {}, {});
  // Make messages path-independent for exact comparisons: the file's path becomes "F".
  const std::string& m = s.message();
  std::string out;
  std::size_t start = 0;
  for (auto pos = m.find(f.path()); pos != std::string::npos; pos = m.find(f.path(), start)) {
    out.append(m, start, pos - start);
    out += 'F';
    start = pos + f.path().size();
  }
  out.append(m, start, std::string::npos);
  return out;
}

TEST(LoadErrorsTest, BadValueFromEnvNamesTheVariable) {
  const Status s = load_error(std::nullopt, {{"PARLEY_SERVICE_WORKERS", "four"}}, {});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "service.workers: expected an integer, got 'four' (from PARLEY_SERVICE_WORKERS)");
}

TEST(LoadErrorsTest, BadValueFromFlagNamesTheFlag) {
  EXPECT_EQ(
      load_error(std::nullopt, {}, {"--service.drain_grace=5"}).message(),
      "service.drain_grace: expected a duration like 250ms, 2s or 1m, got '5' (missing unit: ns, "
      "us, ms, s, m or h) (from --service.drain_grace)");
  EXPECT_EQ(load_error(std::nullopt, {}, {"--log.json=maybe"}).message(),
            "log.json: expected true or false, got 'maybe' (from --log.json)");
  EXPECT_EQ(load_error(std::nullopt, {}, {"--test.ratio", "lots"}).message(),
            "test.ratio: expected a number, got 'lots' (from --test.ratio)");
}

TEST(LoadErrorsTest, BadValueFromFileNamesFileAndLine) {
  EXPECT_EQ(file_error("http:\n  port: 9100\nservice:\n  workers: four\n"),
            "service.workers: expected an integer, got 'four' (from F:4)");
}

TEST(LoadErrorsTest, ValidatorFailuresNameTheRule) {
  EXPECT_EQ(load_error(std::nullopt, {}, {"--http.port=70000"}).message(),
            "http.port: must be between 0 and 65535, got 70000 (from --http.port)");
  EXPECT_EQ(
      load_error(std::nullopt, {{"PARLEY_LOG_LEVEL", "loud"}}, {}).message(),
      "log.level: must be one of debug|info|warn|error|off, got 'loud' (from PARLEY_LOG_LEVEL)");
  EXPECT_EQ(file_error("test:\n  modes: [fast, furious]\n"),
            "test.modes: every item must be one of fast|slow, got 'furious' (from F:2)");
  EXPECT_EQ(file_error("test:\n  ratio: 2\n"),
            "test.ratio: must be between 0 and 1, got 2 (from F:2)");
  EXPECT_EQ(
      load_error(std::nullopt, {}, {"--service.drain_grace=11m"}).message(),
      "service.drain_grace: must be between 0s and 10m, got 11m (from --service.drain_grace)");
  EXPECT_EQ(
      load_error(std::nullopt, {}, {"--transport.bind=127.0.0.1:7100"}).message(),
      "transport.bind: must be a ZeroMQ endpoint (tcp://HOST:PORT, ipc://PATH or inproc://NAME), "
      "got '127.0.0.1:7100' (from --transport.bind)");
}

TEST(LoadErrorsTest, UnknownFileKeyWithHint) {
  EXPECT_EQ(file_error("servce:\n  workers: 4\n"),
            "unknown key 'servce.workers' (from F:2); did you mean 'service.workers'?");
  EXPECT_EQ(file_error("totally.unrelated: 1\n"), "unknown key 'totally.unrelated' (from F:1)");
}

TEST(LoadErrorsTest, SectionOrSubkeyMistakes) {
  EXPECT_EQ(
      file_error("log: debug\n"),
      "unknown key 'log' (from F:1): it is a section; set its keys instead (log.json, log.level)");
  EXPECT_EQ(
      file_error("http.port.number: 1\n"),
      "unknown key 'http.port.number' (from F:1): 'http.port' is a single int value, not a map");
  EXPECT_EQ(file_error("http:\n  port:\n    number: 1\n"),
            "http.port: expected an integer, got a map (from F:3)");
}

TEST(LoadErrorsTest, WrongYamlShapes) {
  EXPECT_EQ(file_error("http:\n  port: [1, 2]\n"),
            "http.port: expected an integer, got a list (from F:2)");
  EXPECT_EQ(file_error("transport:\n  bind:\n"),
            "transport.bind: expected a string, got an empty value (from F:2) (write \"\" for an "
            "empty string)");
  EXPECT_EQ(
      file_error("test:\n  hosts: ~\n"),
      "test.hosts: expected a list, got an empty value (from F:2) (write [] for an empty list)");
  EXPECT_EQ(file_error("test:\n  hosts: [a, [b]]\n"),
            "test.hosts: list items must be plain values (from F:2:14)");
  EXPECT_EQ(file_error("- a\n- b\n"), "F:1: the top level must be a map of keys (key: value)");
  EXPECT_EQ(file_error("http:\n  port: 1\nhttp.port: 2\n"),
            "http.port: set twice in F (lines 2 and 3)");
}

TEST(LoadErrorsTest, MalformedYamlGivesLineAndColumn) {
  const std::string m = file_error("http:\n  port: 9100\n bad: [unclosed\n");
  EXPECT_EQ(m.rfind("F:", 0), 0u) << m;
  EXPECT_NE(m.find("malformed YAML"), std::string::npos) << m;
  const std::string m2 = file_error("a: b: c\n");
  EXPECT_EQ(m2.rfind("F:1:", 0), 0u) << m2;
  EXPECT_NE(m2.find("malformed YAML"), std::string::npos) << m2;
}

TEST(LoadErrorsTest, MissingFile) {
  const Status s = load_error("/nonexistent/parley.yaml", {}, {});
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(),
            "cannot read config file '/nonexistent/parley.yaml': No such file or directory");
  const Status via_env = load_error(std::nullopt, {{"PARLEY_CONFIG", "/nonexistent/x.yaml"}}, {});
  EXPECT_EQ(via_env.code(), StatusCode::kNotFound);
}

TEST(LoadErrorsTest, UnknownFlagWithHint) {
  EXPECT_EQ(load_error(std::nullopt, {}, {"--servce.workers=4"}).message(),
            "unknown flag '--servce.workers'; did you mean '--service.workers'? (see --help)");
  EXPECT_EQ(load_error(std::nullopt, {}, {"--port=4"}).message(),
            "unknown flag '--port'; did you mean '--http.port'? (see --help)");
  EXPECT_EQ(load_error(std::nullopt, {}, {"--zzz"}).message(), "unknown flag '--zzz' (see --help)");
}

TEST(LoadErrorsTest, FlagSyntax) {
  EXPECT_EQ(load_error(std::nullopt, {}, {"--http.port"}).message(),
            "--http.port: missing value (write --http.port=VALUE)");
  EXPECT_EQ(load_error(std::nullopt, {}, {"--transport.bind", "--http.port=1"}).message(),
            "--transport.bind: missing value (write --transport.bind=VALUE)");
  EXPECT_EQ(load_error(std::nullopt, {}, {"serve"}).message(),
            "unexpected argument 'serve': settings are flags (--key=value); see --help");
  EXPECT_EQ(load_error(std::nullopt, {}, {"-x"}).message(),
            "unexpected argument '-x': settings are flags (--key=value); see --help");
  EXPECT_EQ(load_error(std::nullopt, {}, {"--config"}).message(),
            "--config: missing value (write --config=VALUE)");
  EXPECT_EQ(load_error(std::nullopt, {}, {"--config="}).message(), "--config: missing file name");
}

TEST(LoadErrorsTest, NearMissEnvironmentVariableIsAnError) {
  EXPECT_EQ(
      load_error(std::nullopt, {{"PARLEY_SERVICE_WORKES", "4"}}, {}).message(),
      "unknown environment variable PARLEY_SERVICE_WORKES; did you mean PARLEY_SERVICE_WORKERS "
      "(service.workers)?");
}

TEST(LoadErrorsTest, FlagErrorsWinOverLaterSourcesAndReportOnlyOne) {
  // Two problems: exactly one message comes back, and it is a complete sentence about one key.
  const Status s = load_error(std::nullopt, {{"PARLEY_HTTP_PORT", "x"}}, {"--service.workers=y"});
  EXPECT_EQ(s.message(), "http.port: expected an integer, got 'x' (from PARLEY_HTTP_PORT)");
}

}  // namespace
}  // namespace parley::config
