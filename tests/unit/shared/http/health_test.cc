// /metrics, /healthz, /readyz wired onto a real server.
#include "shared/http/health.h"

#include <gtest/gtest.h>

#include <atomic>

#include "shared/metrics/text_format.h"
#include "tests/unit/shared/http/raw_client.h"

namespace parley::http {
namespace {

using testing::make_request;
using testing::RawConnection;

class HealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.host = "127.0.0.1";
    server_ = std::make_unique<Server>(o);
    add_health_routes(*server_, registry_, [this] {
      std::lock_guard<std::mutex> lock(mu_);
      return readiness_;
    });
    ASSERT_TRUE(server_->start().is_ok());
  }
  void TearDown() override { server_->stop(std::chrono::milliseconds(200)); }

  testing::RawResponse get(const std::string& path) {
    RawConnection c(server_->port());
    EXPECT_TRUE(c.send(make_request("GET", path)));
    auto r = c.read_response();
    EXPECT_TRUE(r.has_value());
    return r.value_or(testing::RawResponse{});
  }

  void set_readiness(Readiness r) {
    std::lock_guard<std::mutex> lock(mu_);
    readiness_ = std::move(r);
  }

  metrics::Registry registry_;
  std::mutex mu_;
  Readiness readiness_;
  std::unique_ptr<Server> server_;
};

TEST_F(HealthTest, MetricsServesTheRegistryInTextFormat) {
  registry_.counter("demo_hits_total", "Hits.").labels().inc(5);
  auto r = get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), metrics::kTextContentType);
  EXPECT_EQ(r.body, registry_.render());
  EXPECT_NE(r.body.find("demo_hits_total 5\n"), std::string::npos);
}

TEST_F(HealthTest, HealthzIsAlwaysOk) {
  set_readiness({false, "draining"});
  auto r = get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
}

TEST_F(HealthTest, ReadyzFollowsTheCheck) {
  auto r = get("/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.body, R"({"ready":true,"reason":""})");
  set_readiness({false, "model not loaded"});
  r = get("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, R"({"ready":false,"reason":"model not loaded"})");
  set_readiness({true, ""});
  EXPECT_EQ(get("/readyz").status, 200);
}

TEST(HealthRoutes, ThrowingReadinessIsNotReady) {
  metrics::Registry registry;
  ServerOptions o;
  o.host = "127.0.0.1";
  Server server(o);
  add_health_routes(server, registry, []() -> Readiness { throw std::runtime_error("db gone"); });
  ASSERT_TRUE(server.start().is_ok());
  RawConnection c(server.port());
  ASSERT_TRUE(c.send(make_request("GET", "/readyz")));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, R"({"ready":false,"reason":"readiness check failed: db gone"})");
}

}  // namespace
}  // namespace parley::http
