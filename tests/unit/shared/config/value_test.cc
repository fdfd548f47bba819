// Config value parsing and formatting: every type, its accepted forms and its rejections.
#include "shared/config/value.h"

#include <gtest/gtest.h>

namespace parley::config {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

Value parse_ok(Type t, std::string_view text) {
  std::string problem;
  auto v = parse_value(t, text, &problem);
  EXPECT_TRUE(v.has_value()) << text << ": " << problem;
  return v.value_or(Value{});
}

std::string parse_error(Type t, std::string_view text) {
  std::string problem;
  auto v = parse_value(t, text, &problem);
  EXPECT_FALSE(v.has_value()) << text << " parsed as " << (v ? format_value(*v) : "");
  return problem;
}

TEST(ValueTest, Strings) {
  EXPECT_EQ(std::get<std::string>(parse_ok(Type::kString, "tcp://127.0.0.1:7101")),
            "tcp://127.0.0.1:7101");
  EXPECT_EQ(std::get<std::string>(parse_ok(Type::kString, "")), "");
}

TEST(ValueTest, Integers) {
  EXPECT_EQ(std::get<std::int64_t>(parse_ok(Type::kInt, "42")), 42);
  EXPECT_EQ(std::get<std::int64_t>(parse_ok(Type::kInt, "-7")), -7);
  EXPECT_EQ(std::get<std::int64_t>(parse_ok(Type::kInt, "+7")), 7);
  EXPECT_EQ(std::get<std::int64_t>(parse_ok(Type::kInt, " 8 ")), 8);
  EXPECT_EQ(parse_error(Type::kInt, "four"), "expected an integer, got 'four'");
  EXPECT_EQ(parse_error(Type::kInt, "4x"), "expected an integer, got '4x'");
  EXPECT_EQ(parse_error(Type::kInt, "1.5"), "expected an integer, got '1.5'");
  EXPECT_EQ(parse_error(Type::kInt, ""), "expected an integer, got ''");
  EXPECT_NE(parse_error(Type::kInt, "99999999999999999999").find("out of the 64-bit range"),
            std::string::npos);
}

TEST(ValueTest, Doubles) {
  EXPECT_DOUBLE_EQ(std::get<double>(parse_ok(Type::kDouble, "0.25")), 0.25);
  EXPECT_DOUBLE_EQ(std::get<double>(parse_ok(Type::kDouble, "3")), 3.0);
  EXPECT_DOUBLE_EQ(std::get<double>(parse_ok(Type::kDouble, "-1e-3")), -0.001);
  EXPECT_EQ(parse_error(Type::kDouble, "half"), "expected a number, got 'half'");
  EXPECT_EQ(parse_error(Type::kDouble, "inf"), "expected a number, got 'inf'");
  EXPECT_EQ(parse_error(Type::kDouble, "0.5x"), "expected a number, got '0.5x'");
}

TEST(ValueTest, Bools) {
  for (const char* t : {"true", "TRUE", "yes", "on", "1"}) {
    EXPECT_TRUE(std::get<bool>(parse_ok(Type::kBool, t))) << t;
  }
  for (const char* t : {"false", "False", "no", "off", "0"}) {
    EXPECT_FALSE(std::get<bool>(parse_ok(Type::kBool, t))) << t;
  }
  EXPECT_EQ(parse_error(Type::kBool, "maybe"), "expected true or false, got 'maybe'");
}

TEST(ValueTest, Durations) {
  EXPECT_EQ(std::get<Duration>(parse_ok(Type::kDuration, "250ms")), milliseconds(250));
  EXPECT_EQ(std::get<Duration>(parse_ok(Type::kDuration, "2s")), seconds(2));
  EXPECT_EQ(std::get<Duration>(parse_ok(Type::kDuration, "1m")), minutes(1));
  EXPECT_EQ(std::get<Duration>(parse_ok(Type::kDuration, "1h")), hours(1));
  EXPECT_EQ(std::get<Duration>(parse_ok(Type::kDuration, "1m30s")), seconds(90));
  EXPECT_EQ(std::get<Duration>(parse_ok(Type::kDuration, "1.5s")), milliseconds(1500));
  EXPECT_EQ(std::get<Duration>(parse_ok(Type::kDuration, "20us")), microseconds(20));
  EXPECT_EQ(std::get<Duration>(parse_ok(Type::kDuration, "7ns")), nanoseconds(7));
  EXPECT_EQ(std::get<Duration>(parse_ok(Type::kDuration, "0")), Duration::zero());
  EXPECT_EQ(
      parse_error(Type::kDuration, "250"),
      "expected a duration like 250ms, 2s or 1m, got '250' (missing unit: ns, us, ms, s, m or h)");
  EXPECT_EQ(parse_error(Type::kDuration, "2 weeks"),
            "expected a duration like 250ms, 2s or 1m, got '2 weeks'");
  EXPECT_EQ(parse_error(Type::kDuration, "3d"),
            "expected a duration like 250ms, 2s or 1m, got '3d' (unknown unit 'd': use ns, us, ms, "
            "s, m or h)");
  EXPECT_EQ(parse_error(Type::kDuration, "-1s"), "a duration cannot be negative, got '-1s'");
  EXPECT_EQ(parse_error(Type::kDuration, "ms"),
            "expected a duration like 250ms, 2s or 1m, got 'ms'");
  EXPECT_EQ(parse_error(Type::kDuration, "1.2.3s"),
            "expected a duration like 250ms, 2s or 1m, got '1.2.3s'");
  EXPECT_NE(parse_error(Type::kDuration, "9999999h").find("too long"), std::string::npos);
}

TEST(ValueTest, Lists) {
  EXPECT_EQ(std::get<StringList>(parse_ok(Type::kStringList, "a, b ,c")),
            (StringList{"a", "b", "c"}));
  EXPECT_EQ(std::get<StringList>(parse_ok(Type::kStringList, "one")), (StringList{"one"}));
  EXPECT_EQ(std::get<StringList>(parse_ok(Type::kStringList, "")), StringList{});
  EXPECT_EQ(std::get<StringList>(parse_ok(Type::kStringList, "a,,b,")), (StringList{"a", "b"}));
}

TEST(ValueTest, FormatRoundTrips) {
  EXPECT_EQ(format_value(Value(Duration(seconds(90)))), "1m30s");
  EXPECT_EQ(format_value(Value(Duration(milliseconds(1500)))), "1s500ms");
  EXPECT_EQ(format_value(Value(Duration::zero())), "0s");
  EXPECT_EQ(format_value(Value(true)), "true");
  EXPECT_EQ(format_value(Value(std::int64_t{-3})), "-3");
  EXPECT_EQ(format_value(Value(0.25)), "0.25");
  EXPECT_EQ(format_value(Value(StringList{"a", "b"})), "a,b");
  for (const char* d : {"1h2m3s4ms5us6ns", "250ms", "2s"}) {
    std::string problem;
    auto parsed = parse_duration(d, &problem);
    ASSERT_TRUE(parsed) << problem;
    EXPECT_EQ(format_duration(*parsed), d);
  }
}

TEST(ValueTest, TypeNamesAndHolds) {
  EXPECT_EQ(type_name(Type::kDuration), "duration");
  EXPECT_EQ(type_name(Type::kStringList), "list");
  EXPECT_TRUE(holds_type(Value(std::int64_t{1}), Type::kInt));
  EXPECT_FALSE(holds_type(Value(1.0), Type::kInt));
  EXPECT_TRUE(holds_type(Value(StringList{}), Type::kStringList));
}

}  // namespace
}  // namespace parley::config
