// load(): precedence flags > env > file > default, every source and type, --config, --help.
#include <gtest/gtest.h>
#include <unistd.h>

#include "config_test_util.h"
#include "shared/config/config.h"

namespace parley::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::TempYaml;
using testing::test_schema;

Config load_ok(const std::optional<std::string>& path, const Environment& env,
               const std::vector<std::string>& args) {
  auto r = load(test_schema(), path, env, args);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return load(test_schema(), std::nullopt, {}, {}).value();
  return std::move(r).value();
}

TEST(LoadTest, DefaultsWhenNothingIsGiven) {
  const Config c = load_ok(std::nullopt, {}, {});
  EXPECT_EQ(c.get_string("transport.bind"), "tcp://127.0.0.1:7100");
  EXPECT_EQ(c.get_int("http.port"), 9100);
  EXPECT_EQ(c.get_duration("service.drain_grace"), seconds(10));
  EXPECT_FALSE(c.get_bool("log.json"));
  EXPECT_DOUBLE_EQ(c.get_double("test.ratio"), 0.5);
  EXPECT_EQ(c.get_list("test.hosts"), (StringList{"a", "b"}));
  EXPECT_EQ(c.origin("http.port").source, Source::kDefault);
  EXPECT_EQ(c.origin("http.port").where, "default");
  EXPECT_FALSE(c.help_requested());
  EXPECT_EQ(c.file(), std::nullopt);
}

TEST(LoadTest, PrecedenceFlagOverEnvOverFileOverDefault) {
  TempYaml f("http:\n  port: 9200\nservice:\n  workers: 3\n  queue_capacity: 50\n");
  const Environment env = {{"PARLEY_HTTP_PORT", "9300"}, {"PARLEY_SERVICE_WORKERS", "5"}};
  const Config c = load_ok(f.path(), env, {"--http.port=9400"});
  EXPECT_EQ(c.get_int("http.port"), 9400);  // flag beats env and file
  EXPECT_EQ(c.origin("http.port").source, Source::kFlag);
  EXPECT_EQ(c.origin("http.port").where, "--http.port");
  EXPECT_EQ(c.get_int("service.workers"), 5);  // env beats file
  EXPECT_EQ(c.origin("service.workers").where, "PARLEY_SERVICE_WORKERS");
  EXPECT_EQ(c.get_int("service.queue_capacity"), 50);  // file beats default
  EXPECT_EQ(c.origin("service.queue_capacity").source, Source::kFile);
  EXPECT_EQ(c.origin("service.queue_capacity").where, f.path() + ":5");
  EXPECT_EQ(c.get_string("log.level"), "info");  // default
  EXPECT_EQ(c.file(), f.path());
}

TEST(LoadTest, EveryTypeFromTheFile) {
  TempYaml f(
      "transport:\n  bind: tcp://127.0.0.1:7999\n"
      "service.drain_grace: 1m30s\n"  // a dotted key at the top level works too
      "log:\n  json: yes\n  level: debug\n"
      "test:\n  ratio: 0.25\n  hosts: [x, y, z]\n  modes:\n    - fast\n");
  const Config c = load_ok(f.path(), {}, {});
  EXPECT_EQ(c.get_string("transport.bind"), "tcp://127.0.0.1:7999");
  EXPECT_EQ(c.get_duration("service.drain_grace"), seconds(90));
  EXPECT_TRUE(c.get_bool("log.json"));
  EXPECT_EQ(c.get_string("log.level"), "debug");
  EXPECT_DOUBLE_EQ(c.get_double("test.ratio"), 0.25);
  EXPECT_EQ(c.get_list("test.hosts"), (StringList{"x", "y", "z"}));
  EXPECT_EQ(c.get_list("test.modes"), (StringList{"fast"}));
}

TEST(LoadTest, EveryTypeFromTheEnvironment) {
  const Environment env = {{"PARLEY_TRANSPORT_BIND", "ipc:///tmp/x"},
                           {"PARLEY_SERVICE_DRAIN_GRACE", "250ms"},
                           {"PARLEY_LOG_JSON", "true"},
                           {"PARLEY_TEST_RATIO", "1"},
                           {"PARLEY_TEST_HOSTS", "p, q"},
                           {"PARLEY_HTTP_PORT", "0"},
                           {"HOME", "/ignored"}};
  const Config c = load_ok(std::nullopt, env, {});
  EXPECT_EQ(c.get_string("transport.bind"), "ipc:///tmp/x");
  EXPECT_EQ(c.get_duration("service.drain_grace"), milliseconds(250));
  EXPECT_TRUE(c.get_bool("log.json"));
  EXPECT_DOUBLE_EQ(c.get_double("test.ratio"), 1.0);
  EXPECT_EQ(c.get_list("test.hosts"), (StringList{"p", "q"}));
  EXPECT_EQ(c.get_int("http.port"), 0);
}

TEST(LoadTest, FlagForms) {
  const Config c =
      load_ok(std::nullopt, {},
              {"--transport.bind", "tcp://127.0.0.1:1", "--service.workers=8", "--log.json",
               "--test.hosts=", "--service.drain_grace", "2s", "--http.port=1", "--http.port=2"});
  EXPECT_EQ(c.get_string("transport.bind"), "tcp://127.0.0.1:1");
  EXPECT_EQ(c.get_int("service.workers"), 8);
  EXPECT_TRUE(c.get_bool("log.json"));  // a bool flag alone means true
  EXPECT_EQ(c.get_list("test.hosts"), StringList{});
  EXPECT_EQ(c.get_duration("service.drain_grace"), seconds(2));
  EXPECT_EQ(c.get_int("http.port"), 2);  // the last flag wins
}

TEST(LoadTest, BoolFlagTakesAnExplicitValue) {
  const Environment env = {{"PARLEY_LOG_JSON", "true"}};
  EXPECT_FALSE(load_ok(std::nullopt, env, {"--log.json", "false"}).get_bool("log.json"));
  EXPECT_FALSE(load_ok(std::nullopt, env, {"--log.json=off"}).get_bool("log.json"));
  EXPECT_TRUE(load_ok(std::nullopt, {}, {"--log.json", "--http.port=1"}).get_bool("log.json"));
}

TEST(LoadTest, ConfigFileFromFlagEnvOrArgument) {
  TempYaml arg("http:\n  port: 1001\n");
  TempYaml from_env("http:\n  port: 1002\n");
  TempYaml from_flag("http:\n  port: 1003\n");
  EXPECT_EQ(load_ok(arg.path(), {}, {}).get_int("http.port"), 1001);
  const Environment env = {{"PARLEY_CONFIG", from_env.path()}};
  EXPECT_EQ(load_ok(arg.path(), env, {}).get_int("http.port"), 1002);
  EXPECT_EQ(load_ok(arg.path(), env, {"--config", from_flag.path()}).get_int("http.port"), 1003);
  EXPECT_EQ(load_ok(arg.path(), env, {"--config=" + from_flag.path()}).file(), from_flag.path());
}

TEST(LoadTest, EmptyAndCommentOnlyFilesAreFine) {
  TempYaml empty("");
  TempYaml comments("# nothing set here\n");
  EXPECT_EQ(load_ok(empty.path(), {}, {}).get_int("http.port"), 9100);
  EXPECT_EQ(load_ok(comments.path(), {}, {}).get_int("http.port"), 9100);
}

TEST(LoadTest, UnrelatedParleyVariablesAreIgnored) {
  const Environment env = {{"PARLEY_BUILD_DIR", "/b"},
                           {"PARLEY_MODEL_DIR", "/m"},
                           {"PARLEY_CUDA", "OFF"},
                           {"PARLEY_STOP_GRACE", "3"},
                           {"PARLEY_SOMETHING_ELSE_ENTIRELY", "1"}};
  EXPECT_EQ(load_ok(std::nullopt, env, {}).get_int("http.port"), 9100);
}

TEST(LoadTest, HelpReturnsDefaultsWithoutCheckingAnything) {
  const Environment bad_env = {{"PARLEY_SERVICE_WORKERS", "four"}};
  auto r = load(test_schema(), "/does/not/exist.yaml", bad_env, {"--http.port=x", "--help"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->help_requested());
  EXPECT_EQ(r->get_int("http.port"), 9100);
  EXPECT_TRUE(load(test_schema(), std::nullopt, {}, {"-h"})->help_requested());
}

TEST(LoadTest, DescribeNamesValuesAndOrigins) {
  const Config c = load_ok(std::nullopt, {{"PARLEY_LOG_LEVEL", "warn"}}, {"--http.port=81"});
  const std::string d = c.describe();
  EXPECT_NE(d.find("http.port = 81 (from --http.port)\n"), std::string::npos) << d;
  EXPECT_NE(d.find("log.level = warn (from PARLEY_LOG_LEVEL)\n"), std::string::npos) << d;
  EXPECT_NE(d.find("service.drain_grace = 10s (from default)\n"), std::string::npos) << d;
}

TEST(LoadTest, ConfigIsACheapSharedCopy) {
  Config a = load_ok(std::nullopt, {}, {"--http.port=5"});
  Config b = a;
  EXPECT_EQ(b.get_int("http.port"), 5);
  EXPECT_EQ(&a.schema(), &b.schema());
  EXPECT_NE(b.schema().find("test.ratio"), nullptr);
}

TEST(LoadDeathTest, GettersRejectUndeclaredKeysAndWrongTypes) {
  const Config c = load_ok(std::nullopt, {}, {});
  EXPECT_DEATH((void)c.get_int("http.prot"), "config key 'http.prot' is not declared");
  EXPECT_DEATH((void)c.get_string("http.port"), "read as string but declared as int");
  EXPECT_DEATH((void)c.get_duration("service.workers"), "read as duration but declared as int");
  EXPECT_DEATH((void)c.origin("nope"), "not declared");
}

TEST(LoadTest, ArgsFromArgvSkipsTheProgramName) {
  const char* argv[] = {"prog", "--a=1", "b"};
  EXPECT_EQ(args_from_argv(3, argv), (std::vector<std::string>{"--a=1", "b"}));
}

TEST(LoadTest, ProcessEnvironmentKeepsOnlyParleyVariables) {
  ::setenv("PARLEY_TEST_PROCESS_ENV", "yes", 1);
  const Environment env = process_environment();
  ::unsetenv("PARLEY_TEST_PROCESS_ENV");
  ASSERT_EQ(env.count("PARLEY_TEST_PROCESS_ENV"), 1u);
  EXPECT_EQ(env.at("PARLEY_TEST_PROCESS_ENV"), "yes");
  for (const auto& [name, value] : env) EXPECT_EQ(name.rfind("PARLEY_", 0), 0u) << name;
}

TEST(LoadOrExitTest, HelpPrintsTheSchemaAndExitsZero) {
  const char* argv[] = {"parley-test", "--help"};
  // stdout goes to stderr in the child so the death-test matcher can see the text.
  EXPECT_EXIT(
      {
        ::dup2(2, 1);
        (void)load_or_exit(test_schema(), 2, argv);
      },
      ::testing::ExitedWithCode(0), "Usage: parley-test .*PARLEY_HTTP_PORT");
}

TEST(LoadOrExitTest, ErrorsExitTwoWithTheMessage) {
  const char* argv[] = {"parley-test", "--service.workers=four"};
  EXPECT_EXIT(
      (void)load_or_exit(test_schema(), 2, argv), ::testing::ExitedWithCode(2),
      "parley-test: service.workers: expected an integer, got 'four' \\(from --service.workers\\)");
}

}  // namespace
}  // namespace parley::config
