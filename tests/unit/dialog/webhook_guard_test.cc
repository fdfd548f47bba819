// Webhook destinations (engine/webhook_guard.h) and the webhook POST (http_post_json in
// engine/transport_services.h) against a real local HTTP server: internal addresses refused by
// default — checked on the resolved address, so "localhost" is refused like 127.0.0.1 — unless
// the deployment names them; redirects not followed; the body sent and the reply read bounded;
// a cancelled turn closes the connection at once.
#include "services/dialog/engine/webhook_guard.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>

#include "services/dialog/engine/transport_services.h"
#include "shared/http/server.h"

namespace parley::dialog {
namespace {

namespace ip = boost::asio::ip;
using namespace std::chrono_literals;

TEST(WebhookGuardTest, InternalAddresses) {
  for (const char* a : {"127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                        "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::",
                        "fe80::1", "fd00::1", "fc00::5", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe",
                        "2002:0a00:0001::1", "198.18.0.1", "ff02::1"}) {
    EXPECT_TRUE(is_internal_address(ip::make_address(a))) << a;
  }
  for (const char* a : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8",
                        "64:ff9b::808:808"}) {
    EXPECT_FALSE(is_internal_address(ip::make_address(a))) << a;
  }
}

TEST(WebhookGuardTest, UrlsAndAllowEntries) {
  auto u = parse_webhook_url("http://Actions.Example.com:5055/hook?x=1#frag");
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  EXPECT_EQ(u->host, "actions.example.com");
  EXPECT_EQ(u->port, 5055);
  EXPECT_EQ(u->target, "/hook?x=1");
  EXPECT_EQ(parse_webhook_url("http://[::1]:80/").value().host, "::1");
  for (const char* bad : {"https://x/", "http://", "http://user:pw@host/", "http://host:0/", "http://host:99999/",
                          "http://host:/", "http://ho st/", "http://::1/", "ftp://x"}) {
    EXPECT_FALSE(parse_webhook_url(bad).ok()) << bad;
  }
  auto g = WebhookGuard::create({.allow = {"actions.example.com", "*.hooks.example.org", "api.example.net:8443",
                                           "10.20.0.0/16", "127.0.0.1:5055"}});
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_TRUE(g->check_url("http://actions.example.com/x").is_ok());
  EXPECT_TRUE(g->check_url("http://a.hooks.example.org/x").is_ok());
  EXPECT_FALSE(g->check_url("http://hooks.example.org/x").is_ok());  // the suffix entry is for subdomains
  EXPECT_TRUE(g->check_url("http://api.example.net:8443/x").is_ok());
  EXPECT_FALSE(g->check_url("http://api.example.net/x").is_ok());  // another port
  EXPECT_TRUE(g->check_url("http://10.20.3.4:9000/x").is_ok());   // named explicitly, internal or not
  EXPECT_TRUE(g->check_url("http://127.0.0.1:5055/x").is_ok());
  EXPECT_FALSE(g->check_url("http://127.0.0.1:9104/metrics").is_ok());
  EXPECT_EQ(g->check_url("http://evil.example/").code(), StatusCode::kPermissionDenied);
  // "*" is any public host, never an internal one.
  auto any = WebhookGuard::create({.allow = {"*"}});
  ASSERT_TRUE(any.ok());
  EXPECT_TRUE(any->check_url("http://example.com/").is_ok());
  EXPECT_FALSE(any->check_url("http://169.254.169.254/latest/meta-data/").is_ok());
  WebhookUrl name{"svc.internal", 80, "/"};
  EXPECT_EQ(any->check_address(name, ip::make_address("10.0.0.5")).code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(any->check_address(name, ip::make_address("93.184.216.34")).is_ok());
  // No entries: webhooks off, and the error says where to turn them on.
  WebhookGuard none;
  EXPECT_NE(none.check_url("http://example.com/").message().find("dialog.webhook_allow is empty"), std::string::npos);
  for (const char* bad : {"10.0.0.0/99", "host:port", "*bad*", "1.2.3.4/x"}) {
    EXPECT_FALSE(WebhookGuard::create({.allow = {bad}}).ok()) << bad;
  }
}

class WebhookPostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<http::Server>(http::ServerOptions{.host = "127.0.0.1", .port = 0});
    server_->route(http::Method::kPost, "/ok", [this](const http::Request& r) {
      std::lock_guard lock(mu_);
      ++hits_;
      last_body_ = r.body;
      return http::Response::json(200, R"({"responses":[{"text":"done"}]})");
    });
    server_->route(http::Method::kPost, "/redirect", [](const http::Request&) {
      http::Response r = http::Response::json(302, "{}");
      r.headers.set("Location", "http://169.254.169.254/latest/meta-data/");
      return r;
    });
    server_->route(http::Method::kPost, "/big", [](const http::Request&) {
      return http::Response::json(200, "\"" + std::string(1 << 20, 'x') + "\"");
    });
    server_->route_async(http::Method::kPost, "/slow", [this](http::Request, std::shared_ptr<http::ResponseWriter> w) {
      std::lock_guard lock(mu_);
      held_ = std::move(w);  // never answered unless the test does
      cv_.notify_all();
    });
    ASSERT_TRUE(server_->start().is_ok());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    held_.reset();
    server_->stop(0ms);
  }
  WebhookGuard guard(std::vector<std::string> allow, bool internal = false) {
    auto g = WebhookGuard::create({.allow = std::move(allow), .allow_internal = internal, .max_request_bytes = 1024,
                                   .max_response_bytes = 4096});
    EXPECT_TRUE(g.ok());
    return *g;
  }

  std::unique_ptr<http::Server> server_;
  std::string base_;
  std::mutex mu_;
  std::condition_variable cv_;
  int hits_ = 0;
  std::string last_body_;
  std::shared_ptr<http::ResponseWriter> held_;
};

TEST_F(WebhookPostTest, OnlyAllowedDestinationsAreReached) {
  const std::string port = std::to_string(server_->port());
  auto r = http_post_json(guard({"127.0.0.1:" + port}), base_ + "/ok", R"({"a":1})", 2s);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(hits_, 1);
  EXPECT_EQ(last_body_, R"({"a":1})");
  // "*" does not include internal addresses: the port scanner of issue 15 gets a refusal, the
  // target sees nothing.
  r = http_post_json(guard({"*"}), base_ + "/ok", "{}", 2s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().to_string();
  // A name is judged by what it resolves to: "localhost" is loopback.
  r = http_post_json(guard({"localhost"}), "http://localhost:" + port + "/ok", "{}", 2s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().to_string();
  EXPECT_NE(r.status().message().find("internal address"), std::string::npos) << r.status().to_string();
  EXPECT_EQ(hits_, 1);
  // ...unless the deployment lets its names resolve inside (an in-cluster action server).
  r = http_post_json(guard({"localhost"}, /*internal=*/true), "http://localhost:" + port + "/ok", "{}", 2s);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
}

TEST_F(WebhookPostTest, RedirectsAreNotFollowedAndSizesAreBounded) {
  auto g = guard({"127.0.0.1"});
  auto r = http_post_json(g, base_ + "/redirect", "{}", 2s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("redirects are not followed"), std::string::npos) << r.status().to_string();
  r = http_post_json(g, base_ + "/big", "{}", 2s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("reply larger than 4096"), std::string::npos) << r.status().to_string();
  r = http_post_json(g, base_ + "/ok", std::string(2000, ' '), 2s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("the limit is 1024"), std::string::npos) << r.status().to_string();
  EXPECT_EQ(hits_, 0);
}

TEST_F(WebhookPostTest, ACancelledTurnClosesTheConnection) {
  auto cancel = std::make_shared<Cancellation>();
  auto g = guard({"127.0.0.1"});
  auto pending = std::async(std::launch::async, [&] { return http_post_json(g, base_ + "/slow", "{}", 30s, cancel); });
  {
    std::unique_lock lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, 10s, [&] { return held_ != nullptr; }));
  }
  cancel->cancel();
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready) << "the cancelled POST did not return";
  auto r = pending.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().to_string();
}

}  // namespace
}  // namespace parley::dialog
