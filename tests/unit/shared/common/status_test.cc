// Status/Result: codes, names, propagation macros.
#include "shared/common/status.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return invalid_argument("must be positive, got " + std::to_string(v));
  return v;
}

Result<int> doubled(int v) {
  PARLEY_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}

Status check_both(int a, int b) {
  PARLEY_RETURN_IF_ERROR(parse_positive(a).status());
  PARLEY_RETURN_IF_ERROR(parse_positive(b).status());
  return Status::ok();
}

TEST(StatusTest, NamesMatchWireCodes) {
  EXPECT_EQ(status_code_name(StatusCode::kDeadlineExceeded), "DEADLINE_EXCEEDED");
  EXPECT_EQ(static_cast<int>(StatusCode::kUnauthenticated), 16);
  EXPECT_EQ(status_code_from_int(14), StatusCode::kUnavailable);
  EXPECT_EQ(status_code_from_int(99), StatusCode::kUnknown);
  EXPECT_EQ(status_code_from_int(-1), StatusCode::kUnknown);
}

TEST(StatusTest, ToStringAndContext) {
  Status s = invalid_argument("body is not JSON");
  EXPECT_EQ(s.to_string(), "INVALID_ARGUMENT: body is not JSON");
  EXPECT_EQ(s.with_context("POST /v1/sessions").message(), "POST /v1/sessions: body is not JSON");
  EXPECT_TRUE(Status::ok().with_context("x").is_ok());
  EXPECT_EQ(Status::ok().to_string(), "OK");
}

TEST(ResultTest, ValueAndErrorPropagate) {
  auto good = doubled(21);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 42);
  auto bad = doubled(-3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.value_or(7), 7);
  EXPECT_EQ(check_both(1, -2).message(), "must be positive, got -2");
  EXPECT_TRUE(check_both(1, 2).is_ok());
}

TEST(ResultTest, OkStatusWithoutValueIsInternal) {
  Result<int> r{Status::ok()};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace parley
