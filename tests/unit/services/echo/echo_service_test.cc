// EchoService logic without any transport: limits, failure, streaming, cancellation.
#include "services/echo/echo_service.h"

#include <gtest/gtest.h>

#include <vector>

namespace parley::echo {
namespace {

class FakeContext : public service::CallContext {
 public:
  const std::string& method() const override { return method_; }
  const std::string& session_id() const override { return empty_; }
  const std::string& trace_id() const override { return empty_; }
  std::chrono::steady_clock::time_point deadline() const override {
    return std::chrono::steady_clock::now() + std::chrono::seconds(10);
  }
  bool cancelled() const override { return cancelled_; }
  void add_timing(std::string stage, std::chrono::microseconds) override { stages.push_back(stage); }

  bool cancelled_ = false;
  std::vector<std::string> stages;

 private:
  std::string method_ = "parley.v1.Echo/Echo";
  std::string empty_;
};

class CollectingWriter : public service::StreamWriter<v1::EchoReply> {
 public:
  bool write(const v1::EchoReply& r) override {
    replies.push_back(r);
    return static_cast<int>(replies.size()) < accept_;
  }
  std::vector<v1::EchoReply> replies;
  int accept_ = 1 << 30;
};

TEST(EchoServiceTest, EchoesTextAndNamesReplica) {
  EchoService svc("r1", {});
  FakeContext ctx;
  v1::EchoRequest req;
  req.set_text("héllo");
  auto reply = svc.echo(req, ctx);
  ASSERT_TRUE(reply.ok()) << reply.status().to_string();
  EXPECT_EQ(reply->text(), "héllo");
  EXPECT_EQ(reply->replica(), "r1");
  EXPECT_EQ(ctx.stages, std::vector<std::string>{"echo"});
}

TEST(EchoServiceTest, LimitsAreExplicit) {
  EchoService svc("r1", {.max_text_bytes = 4, .max_delay_ms = 10, .max_repeat = 2});
  FakeContext ctx;
  v1::EchoRequest req;
  req.set_text("12345");
  auto r = svc.echo(req, ctx);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("limit is 4"), std::string::npos);
  req.set_text("ok");
  req.set_delay_ms(-1);
  EXPECT_EQ(svc.echo(req, ctx).status().code(), StatusCode::kInvalidArgument);
  req.set_delay_ms(0);
  req.set_repeat(3);
  CollectingWriter w;
  EXPECT_EQ(svc.stream(req, w, ctx).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(w.replies.empty());
}

TEST(EchoServiceTest, FailReturnsInternal) {
  EchoService svc("r1", {});
  FakeContext ctx;
  v1::EchoRequest req;
  req.set_fail(true);
  EXPECT_EQ(svc.echo(req, ctx).status().code(), StatusCode::kInternal);
}

TEST(EchoServiceTest, StreamsRepeatReplies) {
  EchoService svc("r2", {});
  FakeContext ctx;
  v1::EchoRequest req;
  req.set_text("x");
  req.set_repeat(5);
  CollectingWriter w;
  ASSERT_TRUE(svc.stream(req, w, ctx).is_ok());
  ASSERT_EQ(w.replies.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(w.replies[i].index(), i);
}

TEST(EchoServiceTest, StreamStopsWhenWriterRefuses) {
  EchoService svc("r2", {});
  FakeContext ctx;
  v1::EchoRequest req;
  req.set_repeat(10);
  CollectingWriter w;
  w.accept_ = 3;
  EXPECT_EQ(svc.stream(req, w, ctx).code(), StatusCode::kCancelled);
  EXPECT_EQ(w.replies.size(), 3u);
}

TEST(EchoServiceTest, CancelledCallStopsWork) {
  EchoService svc("r1", {});
  FakeContext ctx;
  ctx.cancelled_ = true;
  v1::EchoRequest req;
  req.set_delay_ms(50'000);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(svc.echo(req, ctx).status().code(), StatusCode::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace parley::echo
