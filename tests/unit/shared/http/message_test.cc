// Message helpers: JSON errors, status mapping, decoding, headers, SSE framing.
#include "shared/http/message.h"

#include <gtest/gtest.h>

#include "shared/http/sse.h"

namespace parley::http {
namespace {

TEST(JsonError, ExactBodyAndContentType) {
  Response r = json_error(404, "NOT_FOUND", "no route for /x");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"error":{"code":"NOT_FOUND","message":"no route for /x"}})");
  r = json_error(400, "BAD_REQUEST", "quote \" backslash \\ newline \n ctrl \x01");
  EXPECT_EQ(r.body,
            R"({"error":{"code":"BAD_REQUEST","message":"quote \" backslash \\ newline \n ctrl \u0001"}})");
}

TEST(JsonString, KeepsUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(json_string("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
  EXPECT_EQ(json_string("a\xFF" "b\xE2\x82"), "\"a\\ufffdb\\ufffd\\ufffd\"");
  EXPECT_EQ(json_string("\xC0\xAF"), "\"\\ufffd\\ufffd\"");  // overlong
}

TEST(JsonError, FromStatus) {
  Response r = error_response(invalid_argument("text is empty"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"error":{"code":"INVALID_ARGUMENT","message":"text is empty"}})");
  EXPECT_EQ(http_status_for(StatusCode::kNotFound), 404);
  EXPECT_EQ(http_status_for(StatusCode::kUnavailable), 503);
  EXPECT_EQ(http_status_for(StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(http_status_for(StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(http_status_for(StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(http_status_for(StatusCode::kInternal), 500);
}

TEST(Decoding, PercentAndQuery) {
  EXPECT_EQ(percent_decode("a%20b%2Fc", false).value(), "a b/c");
  EXPECT_EQ(percent_decode("a+b", false).value(), "a+b");
  EXPECT_EQ(percent_decode("a+b", true).value(), "a b");
  EXPECT_FALSE(percent_decode("%2", false).has_value());
  EXPECT_FALSE(percent_decode("%zz", false).has_value());
  auto q = parse_query("limit=5&q=hello+world&flag&q=2&e=%C3%A9");
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->count("q"), 2u);
  EXPECT_EQ(q->find("limit")->second, "5");
  EXPECT_EQ(q->find("q")->second, "hello world");
  EXPECT_EQ(q->find("flag")->second, "");
  EXPECT_EQ(q->find("e")->second, "\xC3\xA9");
  EXPECT_FALSE(parse_query("a=%").has_value());
}

TEST(Headers, CaseInsensitive) {
  Headers h;
  h.add("Content-Type", "a");
  h.add("X-Thing", "1");
  h.add("x-thing", "2");
  EXPECT_EQ(h.get("content-type").value(), "a");
  EXPECT_EQ(h.get("X-THING").value(), "1");
  h.set("X-Thing", "3");
  EXPECT_EQ(h.fields().size(), 2u);
  EXPECT_EQ(h.get("x-thing").value(), "3");
  h.remove("CONTENT-TYPE");
  EXPECT_FALSE(h.has("content-type"));
}

TEST(Methods, ParseAndName) {
  EXPECT_EQ(parse_method("GET"), Method::kGet);
  EXPECT_EQ(parse_method("DELETE"), Method::kDelete);
  EXPECT_EQ(parse_method("get"), Method::kOther);  // methods are case-sensitive
  EXPECT_EQ(parse_method("PROPFIND"), Method::kOther);
  EXPECT_EQ(method_name(Method::kPatch), "PATCH");
}

TEST(Sse, EventFraming) {
  EXPECT_EQ(format_sse_event("hello"), "data: hello\n\n");
  EXPECT_EQ(format_sse_event("a\nb\r\nc\rd", "token", "7"), "event: token\nid: 7\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
  EXPECT_EQ(format_sse_event(""), "data: \n\n");
  EXPECT_EQ(format_sse_event("x", "bad\nevent"), "event: bad event\ndata: x\n\n");
  EXPECT_EQ(format_sse_comment("ping"), ": ping\n\n");
}

}  // namespace
}  // namespace parley::http
