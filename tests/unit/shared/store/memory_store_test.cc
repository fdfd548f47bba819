// Unit tests of MemoryStore (the shared contract plus TTL with a manual clock, sweep, limits)
// and of open_store's URL parsing. No sleeps: time moves only when the test moves it.
// Depends on shared/store, tests/unit/shared/store/store_contract.h.
#include "shared/store/memory_store.h"

#include <gtest/gtest.h>

#include <atomic>

#include "tests/unit/shared/store/store_contract.h"

namespace parley::store {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct ManualClock {
  std::atomic<std::int64_t> ms{1'000'000};
  std::chrono::steady_clock::time_point now() const {
    return std::chrono::steady_clock::time_point(milliseconds(ms.load()));
  }
  void advance(milliseconds d) { ms += d.count(); }
};

class MemoryStoreTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  MemoryStore store_{{.clock = [this] { return clock_.now(); }}};
};

TEST_F(MemoryStoreTest, GetAbsentIsNotFound) { contract::get_absent_is_not_found(store_); }
TEST_F(MemoryStoreTest, CompareAndSet) { contract::compare_and_set(store_); }
TEST_F(MemoryStoreTest, RemoveAndRecreate) { contract::remove_and_recreate(store_); }
TEST_F(MemoryStoreTest, BinaryValues) { contract::binary_values(store_); }
TEST_F(MemoryStoreTest, BadArguments) { contract::bad_arguments(store_); }
TEST_F(MemoryStoreTest, CountAndList) { contract::count_and_list(store_); }
TEST_F(MemoryStoreTest, NoLostUpdatesUnderContention) { contract::no_lost_updates(store_, 4, 500); }

TEST_F(MemoryStoreTest, KeyExpiresAfterTtl) {
  ASSERT_TRUE(store_.put("s", "v", kMustNotExist, seconds(30)).ok());
  clock_.advance(milliseconds(29'999));
  EXPECT_TRUE(store_.get("s").ok());
  clock_.advance(milliseconds(1));
  auto e = store_.get("s");
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  EXPECT_NE(e.status().message().find("expired"), std::string::npos);
  EXPECT_EQ(*store_.count(), 0u);
  EXPECT_TRUE(store_.list(10)->empty());
}

TEST_F(MemoryStoreTest, WriteRefreshesTtlReadDoesNot) {
  ASSERT_TRUE(store_.put("s", "v1", kMustNotExist, seconds(10)).ok());
  clock_.advance(seconds(8));
  ASSERT_TRUE(store_.get("s").ok());  // a read does not extend the life
  ASSERT_TRUE(store_.put("s", "v2", 1, seconds(10)).ok());
  clock_.advance(seconds(8));  // 16 s after creation, 8 s after the write
  auto e = store_.get("s");
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ(e->value, "v2");
  clock_.advance(seconds(2));
  EXPECT_EQ(store_.get("s").status().code(), StatusCode::kNotFound);
}

TEST_F(MemoryStoreTest, ZeroTtlNeverExpiresAndClearsAnEarlierTtl) {
  ASSERT_TRUE(store_.put("s", "v", kMustNotExist, seconds(1)).ok());
  ASSERT_TRUE(store_.put("s", "v", 1, milliseconds(0)).ok());
  clock_.advance(std::chrono::hours(24 * 365));
  EXPECT_TRUE(store_.get("s").ok());
}

TEST_F(MemoryStoreTest, ExpiredKeyCountsAsAbsentForCas) {
  ASSERT_TRUE(store_.put("s", "old", kMustNotExist, seconds(1)).ok());
  ASSERT_TRUE(store_.put("s", "old2", 1, seconds(1)).ok());
  clock_.advance(seconds(2));
  // A replica holding version 2 must not resurrect an expired session...
  EXPECT_EQ(store_.put("s", "late", 2, seconds(1)).status().code(), StatusCode::kAborted);
  // ...while a new session under the same key starts at version 1.
  auto v = store_.put("s", "new", kMustNotExist, seconds(1));
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(*v, 1);
  EXPECT_FALSE(*store_.remove("nothing"));
}

TEST_F(MemoryStoreTest, RemoveOfExpiredKeyReportsAbsent) {
  ASSERT_TRUE(store_.put("s", "v", kMustNotExist, seconds(1)).ok());
  clock_.advance(seconds(1));
  auto r = store_.remove("s");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  EXPECT_EQ(store_.stored_keys(), 0u);
}

TEST_F(MemoryStoreTest, SweepFreesOnlyExpiredKeys) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store_.put("short-" + std::to_string(i), "v", kMustNotExist, seconds(5)).ok());
    ASSERT_TRUE(store_.put("long-" + std::to_string(i), "v", kMustNotExist, seconds(50)).ok());
  }
  EXPECT_EQ(store_.sweep(), 0u);
  clock_.advance(seconds(5));
  EXPECT_EQ(store_.stored_keys(), 20u);  // expired but still held until swept
  EXPECT_EQ(*store_.count(), 10u);
  EXPECT_EQ(store_.sweep(), 10u);
  EXPECT_EQ(store_.stored_keys(), 10u);
  EXPECT_TRUE(store_.get("long-3").ok());
}

TEST(MemoryStoreSweeper, BackgroundThreadFreesExpiredKeys) {
  ManualClock clock;
  MemoryStore store({.clock = [&] { return clock.now(); }, .sweep_interval = milliseconds(1)});
  ASSERT_TRUE(store.put("a", "v", kMustNotExist, seconds(1)).ok());
  ASSERT_TRUE(store.put("b", "v", kMustNotExist, milliseconds(0)).ok());
  clock.advance(seconds(1));
  // The sweeper runs on real time every 1 ms; bounded wait, not a timed assertion.
  const auto end = std::chrono::steady_clock::now() + seconds(5);
  while (store.stored_keys() != 1 && std::chrono::steady_clock::now() < end) std::this_thread::yield();
  EXPECT_EQ(store.stored_keys(), 1u);
  EXPECT_TRUE(store.get("b").ok());
}

TEST(MemoryStoreLimits, MaxKeysCountsOnlyLiveKeys) {
  ManualClock clock;
  MemoryStore store({.clock = [&] { return clock.now(); }, .max_keys = 2});
  ASSERT_TRUE(store.put("a", "v", kMustNotExist, seconds(1)).ok());
  ASSERT_TRUE(store.put("b", "v", kMustNotExist, seconds(10)).ok());
  auto full = store.put("c", "v", kMustNotExist, seconds(10));
  EXPECT_EQ(full.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(store.put("b", "v2", 1, seconds(10)).ok()) << "updates of existing keys still work";
  clock.advance(seconds(1));  // "a" expires: room again
  EXPECT_TRUE(store.put("c", "v", kMustNotExist, seconds(10)).ok());
}

TEST(MemoryStoreLimits, MaxValueBytes) {
  MemoryStore store({.max_value_bytes = 4});
  EXPECT_TRUE(store.put("k", "1234", kMustNotExist, seconds(1)).ok());
  auto big = store.put("k", "12345", 1, seconds(1));
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(store.get("k")->value, "1234");
}

TEST(OpenStore, Memory) {
  auto s = open_store("memory://");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ((*s)->describe(), "memory");
  EXPECT_TRUE((*s)->health().is_ok());
  EXPECT_TRUE((*s)->put("k", "v", kMustNotExist, seconds(1)).ok());
}

TEST(OpenStore, RedisUrls) {
  auto a = open_store("redis://127.0.0.1:6390/3?prefix=x:&timeout_ms=50&pool=2");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ((*a)->describe(), "redis://127.0.0.1:6390/3");
  auto b = open_store("redis://:secret@redis.example");
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ((*b)->describe(), "redis://redis.example:6379/0");  // no password in logs
  // Opening does not connect: no server on that port, still OK until the first call.
  auto down = open_store("redis://127.0.0.1:1/?timeout_ms=100");
  ASSERT_TRUE(down.ok()) << down.status().to_string();
  auto h = (*down)->health();
  EXPECT_EQ(h.code(), StatusCode::kUnavailable) << h.to_string();
  EXPECT_NE(h.message().find("127.0.0.1:1"), std::string::npos) << h.message();
}

TEST(OpenStore, BadUrls) {
  for (const char* url : {"", "mysql://x", "redis://", "redis://h:0", "redis://h:99999",
                          "redis://h:12x", "redis://h/16", "redis://h/?pool=0", "redis://h/?bogus=1",
                          "redis://h/?timeout_ms"}) {
    auto s = open_store(url);
    EXPECT_FALSE(s.ok()) << url;
    if (!s.ok()) {
      EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << url;
    }
  }
}

}  // namespace
}  // namespace parley::store
