// Route matching without sockets: exact paths, parameters, specificity, 404/405, HEAD, errors.
#include "shared/http/router.h"

#include <gtest/gtest.h>

namespace parley::http {
namespace {

using Kind = Router::Match::Kind;

TEST(Router, ExactPathsAndParameters) {
  Router r;
  ASSERT_TRUE(r.add(Method::kGet, "/metrics", 0).is_ok());
  ASSERT_TRUE(r.add(Method::kGet, "/v1/sessions/{id}", 1).is_ok());
  ASSERT_TRUE(r.add(Method::kPost, "/v1/sessions/{id}/messages", 2).is_ok());
  ASSERT_TRUE(r.add(Method::kGet, "/", 3).is_ok());

  auto m = r.match(Method::kGet, "/metrics");
  EXPECT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.id, 0u);
  m = r.match(Method::kGet, "/v1/sessions/abc");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.id, 1u);
  EXPECT_EQ(m.params.at("id"), "abc");
  m = r.match(Method::kPost, "/v1/sessions/s-1/messages");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.id, 2u);
  EXPECT_EQ(m.params.at("id"), "s-1");
  EXPECT_EQ(r.match(Method::kGet, "/").id, 3u);

  EXPECT_EQ(r.match(Method::kGet, "/metrics/").kind, Kind::kNotFound);  // no trailing-slash tolerance
  EXPECT_EQ(r.match(Method::kGet, "/v1/sessions").kind, Kind::kNotFound);
  EXPECT_EQ(r.match(Method::kGet, "/v1/sessions/a/b").kind, Kind::kNotFound);
  EXPECT_EQ(r.match(Method::kGet, "/v1/sessions/").kind, Kind::kFound);  // empty id segment
}

TEST(Router, ParametersArePercentDecodedPerSegment) {
  Router r;
  ASSERT_TRUE(r.add(Method::kGet, "/v1/bots/{id}/x", 0).is_ok());
  auto m = r.match(Method::kGet, "/v1/bots/a%2Fb%20c/x");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.params.at("id"), "a/b c");
  EXPECT_EQ(r.match(Method::kGet, "/v1/bots/%zz/x").kind, Kind::kBadPath);
  EXPECT_EQ(r.match(Method::kGet, "v1/bots/a/x").kind, Kind::kBadPath);
  EXPECT_EQ(r.match(Method::kGet, "").kind, Kind::kBadPath);
}

TEST(Router, LiteralSegmentsWin) {
  Router r;
  ASSERT_TRUE(r.add(Method::kGet, "/v1/bots/{id}", 0).is_ok());
  ASSERT_TRUE(r.add(Method::kGet, "/v1/bots/default", 1).is_ok());
  ASSERT_TRUE(r.add(Method::kGet, "/v1/{kind}/default", 2).is_ok());
  EXPECT_EQ(r.match(Method::kGet, "/v1/bots/default").id, 1u);
  EXPECT_EQ(r.match(Method::kGet, "/v1/bots/other").id, 0u);
  EXPECT_EQ(r.match(Method::kGet, "/v1/forms/default").id, 2u);
}

TEST(Router, WrongMethodListsAllowedOnes) {
  Router r;
  ASSERT_TRUE(r.add(Method::kGet, "/v1/bots/{id}", 0).is_ok());
  ASSERT_TRUE(r.add(Method::kDelete, "/v1/bots/{id}", 1).is_ok());
  ASSERT_TRUE(r.add(Method::kPut, "/v1/bots/special", 2).is_ok());
  auto m = r.match(Method::kPost, "/v1/bots/special");
  ASSERT_EQ(m.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(Router::allow_header(m.allowed), "GET, HEAD, PUT, DELETE");
  EXPECT_EQ(r.match(Method::kDelete, "/v1/bots/special").id, 1u);  // param route still serves DELETE
  m = r.match(Method::kOther, "/v1/bots/x");
  EXPECT_EQ(m.kind, Kind::kMethodNotAllowed);
}

TEST(Router, CustomVerbSuffixIsItsOwnShape) {
  Router r;
  ASSERT_TRUE(r.add(Method::kGet, "/v1/bots/{bot}", 0).is_ok());
  ASSERT_TRUE(r.add(Method::kPut, "/v1/bots/{bot}", 1).is_ok());
  ASSERT_TRUE(r.add(Method::kPost, "/v1/bots/{bot}:reload", 2).is_ok());
  auto m = r.match(Method::kPost, "/v1/bots/demo:reload");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.id, 2u);
  EXPECT_EQ(m.params["bot"], "demo");
  // The plain {bot} routes do not claim "demo:reload", and the verb route only "...:reload".
  m = r.match(Method::kGet, "/v1/bots/demo:reload");
  ASSERT_EQ(m.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(Router::allow_header(m.allowed), "POST");
  m = r.match(Method::kPost, "/v1/bots/demo");
  ASSERT_EQ(m.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(Router::allow_header(m.allowed), "GET, HEAD, PUT");
  EXPECT_EQ(r.match(Method::kPost, "/v1/bots/:reload").kind, Kind::kMethodNotAllowed);  // an empty id is no match
  EXPECT_EQ(r.match(Method::kGet, "/v1/bots/demo:other").params.at("bot"), "demo:other");
  EXPECT_EQ(r.add(Method::kPost, "/v1/bots/{b}:reload", 3).code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(r.add(Method::kPost, "/v1/bots/{b}:stop", 4).is_ok());
}

TEST(Router, HeadFallsBackToGet) {
  Router r;
  ASSERT_TRUE(r.add(Method::kGet, "/a", 0).is_ok());
  ASSERT_TRUE(r.add(Method::kGet, "/b", 1).is_ok());
  ASSERT_TRUE(r.add(Method::kHead, "/b", 2).is_ok());
  EXPECT_EQ(r.match(Method::kHead, "/a").id, 0u);
  EXPECT_EQ(r.match(Method::kHead, "/b").id, 2u);
}

TEST(Router, BadAndDuplicatePatterns) {
  Router r;
  EXPECT_EQ(r.add(Method::kGet, "metrics", 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.add(Method::kGet, "/a/x{id}", 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.add(Method::kGet, "/a/{}", 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.add(Method::kGet, "/a/{id}/{id}", 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.add(Method::kGet, "/a/{i-d}", 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.add(Method::kOther, "/a", 0).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(r.add(Method::kGet, "/a/{x}", 0).is_ok());
  EXPECT_EQ(r.add(Method::kGet, "/a/{y}", 1).code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(r.add(Method::kPost, "/a/{y}", 1).is_ok());
}

}  // namespace
}  // namespace parley::http
