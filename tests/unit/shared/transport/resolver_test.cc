// Target parsing, DNS resolution of localhost, and the wire helpers (status, remaining time, ids).
#include "shared/transport/resolver.h"

#include <gtest/gtest.h>

#include <set>

#include "shared/transport/wire.h"

namespace parley::transport {
namespace {

TEST(ResolverTest, ParsesTargets) {
  auto t = parse_target("tcp://10.0.0.1:7101");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->dns);
  t = parse_target("dns://nlu-headless.parley.svc:7101");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->dns);
  EXPECT_EQ(t->host, "nlu-headless.parley.svc");
  EXPECT_EQ(t->port, 7101);
  t = parse_target("dns://[::1]:80");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "::1");
  for (const char* bad : {"", "nlu:7101", "http://x:1", "dns://x", "dns://x:", "dns://x:0", "dns://x:70000",
                          "dns://:80", "dns://x:8o", "tcp://"}) {
    EXPECT_FALSE(parse_target(bad).ok()) << bad;
  }
}

TEST(ResolverTest, ResolvesLocalhostToIpv4Only) {
  auto r = resolve_dns("localhost", 7101, /*ipv6=*/false);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_FALSE(r->empty());
  for (const auto& ep : *r) {
    EXPECT_TRUE(ep.starts_with("tcp://")) << ep;
    EXPECT_TRUE(ep.ends_with(":7101")) << ep;
    EXPECT_EQ(ep.find('['), std::string::npos) << ep;
  }
  EXPECT_EQ(std::set<std::string>(r->begin(), r->end()).size(), r->size()) << "de-duplicated";
  EXPECT_FALSE(resolve_dns("no-such-host.invalid", 1, false).ok());
  auto via_default = default_resolver(false)("dns://localhost:7101");
  ASSERT_TRUE(via_default.ok());
  EXPECT_EQ(*via_default, *r);
}

TEST(WireTest, StatusRoundTrip) {
  Envelope e;
  EXPECT_TRUE(status_of(e).is_ok());
  set_status(e, deadline_exceeded("too slow"));
  EXPECT_EQ(e.status().code(), v1::Status::DEADLINE_EXCEEDED);
  Status s = status_of(e);
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s.message(), "too slow");
  e.mutable_status()->set_code(static_cast<v1::Status::Code>(99));
  EXPECT_EQ(status_of(e).code(), StatusCode::kUnknown);
}

TEST(WireTest, RemainingTimeIsNeverZero) {
  auto now = Clock::now();
  EXPECT_EQ(remaining_us(now + std::chrono::milliseconds(5), now), 5000);
  EXPECT_EQ(remaining_us(now, now), -1) << "0 would mean 'no deadline' on the wire";
  EXPECT_EQ(remaining_us(now - std::chrono::milliseconds(2), now), -2000);
}

TEST(WireTest, IdsAreUnique) {
  IdGenerator a("c"), b("c");
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    ids.insert(a.next());
    ids.insert(b.next());
  }
  EXPECT_EQ(ids.size(), 2000u);
  EXPECT_TRUE(a.next().starts_with("c"));
}

TEST(WireTest, KindNames) {
  EXPECT_EQ(kind_name(v1::PING), "PING");
  EXPECT_EQ(kind_name(42), "KIND_42");
}

}  // namespace
}  // namespace parley::transport
