// RedisStore against a real redis-server started by the test: the shared store contract, TTL on
// the server (expiry, refresh on write), CAS across two store instances (two replicas), restart
// and pause of Redis (UNAVAILABLE / DEADLINE_EXCEEDED, then reconnect). Depends on shared/store,
// tests/support, tests/integration/store/redis_server.h.
#include "shared/store/redis_store.h"

#include <gtest/gtest.h>

#include "tests/integration/store/redis_server.h"
#include "tests/unit/shared/store/store_contract.h"

namespace parley::store {
namespace {

using namespace std::chrono_literals;
using testing::RedisServer;
using testing::wait_until;

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::redis_server_binary().empty()) {
      GTEST_SKIP() << "redis-server not found (install Debian redis-server or set PARLEY_REDIS_SERVER)";
    }
    redis_ = std::make_unique<RedisServer>();
    ASSERT_TRUE(redis_->start()) << redis_->log();
  }
  RedisStoreOptions options(std::string prefix = "t:") const {
    return {.port = redis_->port(), .key_prefix = std::move(prefix),
            .connect_timeout = 500ms, .command_timeout = 500ms, .reconnect_backoff = 50ms};
  }
  std::unique_ptr<RedisServer> redis_;
};

TEST_F(RedisStoreTest, GetAbsentIsNotFound) {
  RedisStore s(options());
  contract::get_absent_is_not_found(s);
}
TEST_F(RedisStoreTest, CompareAndSet) {
  RedisStore s(options());
  contract::compare_and_set(s);
}
TEST_F(RedisStoreTest, RemoveAndRecreate) {
  RedisStore s(options());
  contract::remove_and_recreate(s);
}
TEST_F(RedisStoreTest, BinaryValues) {
  RedisStore s(options());
  contract::binary_values(s);
}
TEST_F(RedisStoreTest, BadArguments) {
  RedisStore s(options());
  contract::bad_arguments(s);
}
TEST_F(RedisStoreTest, CountAndListSeeOnlyTheirPrefix) {
  RedisStore other(options("other:*[x]:"));  // glob characters in a prefix are literal
  ASSERT_TRUE(other.put("foreign", "x", kMustNotExist, 0ms).ok());
  ASSERT_TRUE(redis_->command({"SET", "unrelated", "1"}).first);
  RedisStore s(options());
  contract::count_and_list(s);
  EXPECT_EQ(*other.count(), 1u);
  EXPECT_EQ(other.list(10)->at(0), "foreign");
}

TEST_F(RedisStoreTest, TwoReplicasNoLostUpdates) {
  // Two store instances = two orchestrator replicas with their own pools.
  RedisStore a(options());
  RedisStore b(options());
  ASSERT_TRUE(a.put("counter", "0", kMustNotExist, 0ms).ok());
  std::atomic<int> errors{0};
  auto worker = [&](RedisStore& s) {
    for (int i = 0; i < 150; ++i) {
      while (true) {
        auto e = s.get("counter");
        if (!e.ok()) { ++errors; return; }
        auto v = s.put("counter", std::to_string(std::stoi(e->value) + 1), e->version, 0ms);
        if (v.ok()) break;
        if (v.status().code() != StatusCode::kAborted) { ++errors; return; }
      }
    }
  };
  std::vector<std::thread> ts;
  for (int t = 0; t < 2; ++t) {
    ts.emplace_back(worker, std::ref(a));
    ts.emplace_back(worker, std::ref(b));
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(errors.load(), 0);
  auto e = a.get("counter");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value, "600");
  EXPECT_EQ(e->version, 601);
}

TEST_F(RedisStoreTest, StaleReplicaCannotOverwrite) {
  RedisStore a(options());
  RedisStore b(options());
  ASSERT_TRUE(a.put("s", "turn1", kMustNotExist, 60s).ok());
  auto seen_by_b = b.get("s");
  ASSERT_TRUE(seen_by_b.ok());
  ASSERT_TRUE(a.put("s", "turn2 by a", 1, 60s).ok());
  auto lost = b.put("s", "turn2 by b", seen_by_b->version, 60s);
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), StatusCode::kAborted) << lost.status().to_string();
  EXPECT_EQ(b.get("s")->value, "turn2 by a");
}

TEST_F(RedisStoreTest, TtlIsSetOnEveryWriteAndReadsDoNotRefreshIt) {
  RedisStore s(options());
  ASSERT_TRUE(s.put("ttl", "v", kMustNotExist, 60s).ok());
  auto pttl = [&] { return std::stoll(redis_->command({"PTTL", "t:ttl"}).second); };
  EXPECT_GT(pttl(), 50'000);
  EXPECT_LE(pttl(), 60'000);
  ASSERT_TRUE(s.put("ttl", "v", 1, 10s).ok());
  EXPECT_LE(pttl(), 10'000);
  ASSERT_TRUE(s.put("ttl", "v", 2, 120s).ok());
  const long long after_write = pttl();
  EXPECT_GT(after_write, 110'000);
  ASSERT_TRUE(s.get("ttl").ok());
  EXPECT_LE(pttl(), after_write);
  ASSERT_TRUE(s.put("ttl", "v", 3, 0ms).ok());
  EXPECT_EQ(pttl(), -1) << "ttl 0 means no expiry";
}

TEST_F(RedisStoreTest, KeyExpiresOnTheServer) {
  RedisStore s(options());
  ASSERT_TRUE(s.put("short", "v", kMustNotExist, 300ms).ok());
  ASSERT_TRUE(s.put("long", "v", kMustNotExist, 60s).ok());
  ASSERT_TRUE(wait_until([&] { return s.get("short").status().code() == StatusCode::kNotFound; }, 10s));
  EXPECT_TRUE(s.get("long").ok());
  EXPECT_EQ(*s.count(), 1u);
  // An expired session is absent for CAS: a stale writer cannot resurrect it.
  EXPECT_EQ(s.put("short", "late", 1, 60s).status().code(), StatusCode::kAborted);
}

TEST_F(RedisStoreTest, ForeignValueUnderPrefixIsDataLoss) {
  ASSERT_TRUE(redis_->command({"SET", "t:weird", "plain string"}).first);
  ASSERT_TRUE(redis_->command({"HSET", "t:half", "v", "x"}).first);
  RedisStore s(options());
  EXPECT_EQ(s.get("half").status().code(), StatusCode::kDataLoss);
  auto w = s.get("weird");
  EXPECT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kInternal) << w.status().to_string();  // WRONGTYPE
}

TEST_F(RedisStoreTest, RestartOfRedisReconnectsAndKeepsData) {
  RedisStore s(options());
  ASSERT_TRUE(s.put("s", "before", kMustNotExist, 60s).ok());
  ASSERT_EQ(s.connects(), 1u);
  redis_->kill();
  // Down: a clear UNAVAILABLE naming the server.
  auto down = s.get("s");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable) << down.status().to_string();
  EXPECT_NE(down.status().message().find("127.0.0.1:" + std::to_string(redis_->port())),
            std::string::npos) << down.status().message();
  EXPECT_EQ(s.health().code(), StatusCode::kUnavailable);

  ASSERT_TRUE(redis_->start()) << redis_->log();
  // Back: reconnects by itself (after the short backoff); the AOF kept the data and the CAS
  // script is re-sent (the restarted server lost its script cache: NOSCRIPT → EVAL).
  ASSERT_TRUE(wait_until([&] { return s.health().is_ok(); }, 5s));
  auto e = s.get("s");
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ(e->value, "before");
  auto v = s.put("s", "after", e->version, 60s);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(*v, 2);
  EXPECT_GE(s.connects(), 2u);
}

TEST_F(RedisStoreTest, RestartWhileIdleIsInvisibleToTheCaller) {
  // Stale pooled connections are retried once on a fresh one: no error after a quick restart.
  RedisStore s(options());
  ASSERT_TRUE(s.put("s", "v", kMustNotExist, 60s).ok());
  redis_->kill();
  ASSERT_TRUE(redis_->start()) << redis_->log();
  auto e = s.get("s");
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  auto v = s.put("s", "v2", e->version, 60s);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
}

TEST_F(RedisStoreTest, UnresponsiveRedisTimesOutThenRecovers) {
  RedisStore s(options());
  ASSERT_TRUE(s.put("s", "v", kMustNotExist, 60s).ok());
  redis_->pause();
  const auto t0 = std::chrono::steady_clock::now();
  auto e = s.get("s");
  const auto took = std::chrono::steady_clock::now() - t0;
  redis_->resume();
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kDeadlineExceeded) << e.status().to_string();
  EXPECT_LT(took, 5s) << "the command timeout (500 ms) bounds the call";
  auto again = s.get("s");
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->value, "v");
}

TEST_F(RedisStoreTest, NeverStartedRedisFailsFast) {
  RedisStoreOptions o = options();
  o.port = testing::free_tcp_port();
  RedisStore s(o);
  auto e = s.get("s");
  EXPECT_EQ(e.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(e.status().message().find("unreachable"), std::string::npos) << e.status().message();
  EXPECT_EQ(s.put("s", "v", kMustNotExist, 1s).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.count().status().code(), StatusCode::kUnavailable);
}

TEST_F(RedisStoreTest, PoolSharesConnectionsAcrossThreads) {
  RedisStoreOptions o = options();
  o.pool_size = 2;
  RedisStore s(o);
  contract::no_lost_updates(s, 6, 50);
  EXPECT_LE(s.connects(), 2u);
}

TEST_F(RedisStoreTest, OpenStoreUrlReachesTheServer) {
  auto s = open_store(redis_->url() + "/2?prefix=u:&timeout_ms=500");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  ASSERT_TRUE((*s)->put("k", "v", kMustNotExist, 1s).ok());
  EXPECT_EQ(redis_->command({"SELECT", "2"}).first, true);
  auto e = (*s)->get("k");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(redis_->command({"EXISTS", "u:k"}).second, "0") << "db 2 is used, not db 0";
}

}  // namespace
}  // namespace parley::store
