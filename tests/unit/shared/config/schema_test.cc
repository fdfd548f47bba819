// Schema: declarations, validators, env names, defaults, the base schema and the --help text.
#include "shared/config/schema.h"

#include <gtest/gtest.h>

#include "shared/config/base_schema.h"

namespace parley::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(SchemaTest, EnvNames) {
  EXPECT_EQ(env_name("transport.bind"), "PARLEY_TRANSPORT_BIND");
  EXPECT_EQ(env_name("service.queue_capacity"), "PARLEY_SERVICE_QUEUE_CAPACITY");
}

TEST(SchemaTest, DeclaresAndFindsKeys) {
  Schema s("prog", "A test program.");
  s.add_string("a.name", "x", "A name.")
      .add_int("a.count", 3, "A count.", int_range(1, 10))
      .add_double("a.ratio", 0.5, "A ratio.", double_range(0, 1))
      .add_bool("a.flag", false, "A flag.")
      .add_duration("a.wait", milliseconds(250), "A wait.")
      .add_list("a.items", {"p", "q"}, "Items.");
  ASSERT_NE(s.find("a.count"), nullptr);
  EXPECT_EQ(s.find("a.count")->type, Type::kInt);
  EXPECT_EQ(s.find("a.missing"), nullptr);
  ASSERT_NE(s.find_by_env("PARLEY_A_WAIT"), nullptr);
  EXPECT_EQ(s.find_by_env("PARLEY_A_WAIT")->name, "a.wait");
  EXPECT_EQ(s.find_by_env("PARLEY_A_NOPE"), nullptr);
  ASSERT_EQ(s.keys().size(), 6u);
  EXPECT_EQ(s.keys().front()->name, "a.count");  // sorted
  s.set_default("a.count", std::int64_t{7});
  EXPECT_EQ(std::get<std::int64_t>(s.find("a.count")->default_value), 7);
}

TEST(SchemaTest, Validators) {
  const auto range = int_range(1, 10);
  EXPECT_EQ(range.check(Value(std::int64_t{5})), std::nullopt);
  EXPECT_EQ(range.check(Value(std::int64_t{11})), "must be between 1 and 10, got 11");
  EXPECT_EQ(range.description, "1..10");
  EXPECT_EQ(double_range(0, 1).check(Value(1.5)), "must be between 0 and 1, got 1.5");
  EXPECT_EQ(duration_range(Duration::zero(), seconds(1)).check(Value(Duration(seconds(2)))),
            "must be between 0s and 1s, got 2s");
  const auto level = one_of({"info", "warn"});
  EXPECT_EQ(level.check(Value(std::string("warn"))), std::nullopt);
  EXPECT_EQ(level.check(Value(std::string("loud"))), "must be one of info|warn, got 'loud'");
  EXPECT_EQ(level.check(Value(StringList{"info", "x"})),
            "every item must be one of info|warn, got 'x'");
  EXPECT_EQ(non_empty().check(Value(std::string())), "must not be empty");
  EXPECT_EQ(non_empty().check(Value(StringList{})), "must have at least one item");
  EXPECT_EQ(non_empty().check(Value(std::string("x"))), std::nullopt);
}

TEST(SchemaTest, ValidateChecksTypeThenValidator) {
  KeySpec spec{"a.count", Type::kInt, Value(std::int64_t{1}), "", int_range(0, 3)};
  EXPECT_EQ(validate(spec, Value(std::string("x"))), "expected a value of type int");
  EXPECT_EQ(validate(spec, Value(std::int64_t{4})), "must be between 0 and 3, got 4");
  EXPECT_EQ(validate(spec, Value(std::int64_t{2})), std::nullopt);
}

TEST(SchemaDeathTest, DeclarationBugsAreFatal) {
  EXPECT_DEATH(Schema().add_int("a", 1, "").add_int("a", 2, ""), "declared twice");
  EXPECT_DEATH(Schema().add_int("Bad.Name", 1, ""), "dotted lower-case");
  EXPECT_DEATH(Schema().add_int("a..b", 1, ""), "dotted lower-case");
  EXPECT_DEATH(Schema().add_int("config", 1, ""), "reserved");
  EXPECT_DEATH(Schema().add_int("a.n", 0, "", int_range(1, 2)),
               "default of config key 'a.n' is invalid");
  EXPECT_DEATH(Schema().add_int("a.b_c", 0, "").add_int("a_b.c", 0, ""),
               "share the variable PARLEY_A_B_C");
  EXPECT_DEATH(Schema().add_int("a.n", 1, "").set_default("a.n", std::string("x")), "invalid");
  EXPECT_DEATH(Schema().set_default("nope", std::int64_t{1}), "undeclared config key 'nope'");
}

TEST(SchemaTest, BaseSchemaHasTheCommonKeys) {
  Schema s = service_base_schema("parley-echo", "Echo.");
  for (const char* key :
       {"transport.bind", "http.address", "http.port", "service.workers", "service.queue_capacity",
        "service.drain_grace", "log.level", "log.json"}) {
    EXPECT_NE(s.find(key), nullptr) << key;
  }
  EXPECT_EQ(s.find("service.drain_grace")->type, Type::kDuration);
  EXPECT_EQ(std::get<Duration>(s.find("service.drain_grace")->default_value), seconds(10));
  // A service overrides its defaults; the validators still apply.
  s.set_default("transport.bind", std::string("tcp://127.0.0.1:7101"));
  EXPECT_EQ(std::get<std::string>(s.find("transport.bind")->default_value), "tcp://127.0.0.1:7101");
  EXPECT_NE(validate(*s.find("transport.bind"), Value(std::string("127.0.0.1:7101"))),
            std::nullopt);
  EXPECT_NE(validate(*s.find("http.port"), Value(std::int64_t{70000})), std::nullopt);
  EXPECT_NE(validate(*s.find("log.level"), Value(std::string("loud"))), std::nullopt);
  // Plain literals select the right Value alternative (int -> int64, const char* -> string).
  s.set_default("http.port", 9101);
  s.set_default("log.level", "debug");
  EXPECT_EQ(std::get<std::int64_t>(s.find("http.port")->default_value), 9101);
  EXPECT_EQ(std::get<std::string>(s.find("log.level")->default_value), "debug");
  // Services extend it.
  s.add_duration("echo.delay", Duration::zero(), "Simulated work.");
  EXPECT_NE(s.find("echo.delay"), nullptr);
}

TEST(SchemaTest, HelpTextListsKeysTypesDefaultsEnvAndHelp) {
  Schema s = service_base_schema("parley-echo", "Echo service: the template.");
  s.add_list("echo.words", {}, "Words to echo.");
  const std::string help = s.help_text();
  EXPECT_NE(help.find("Usage: parley-echo [--config FILE.yaml]"), std::string::npos) << help;
  EXPECT_NE(help.find("Echo service: the template."), std::string::npos);
  EXPECT_NE(help.find("--http.port=INT\n"), std::string::npos) << help;
  EXPECT_NE(help.find("type int, default 9100, 0..65535, env PARLEY_HTTP_PORT"), std::string::npos)
      << help;
  EXPECT_NE(help.find("type duration, default 10s, 0s..10m, env PARLEY_SERVICE_DRAIN_GRACE"),
            std::string::npos)
      << help;
  EXPECT_NE(help.find("one of debug|info|warn|error|off"), std::string::npos);
  EXPECT_NE(help.find("type list, default \"\""), std::string::npos) << help;
  EXPECT_NE(help.find("Number of worker actors"), std::string::npos);
  EXPECT_NE(help.find("--help"), std::string::npos);
  // Sorted: echo.* before http.* before transport.*.
  EXPECT_LT(help.find("--echo.words"), help.find("--http.port"));
  EXPECT_LT(help.find("--http.port"), help.find("--transport.bind"));
}

}  // namespace
}  // namespace parley::config
