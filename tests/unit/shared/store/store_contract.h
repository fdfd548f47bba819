// The behaviour every SessionStore must have, as reusable checks: run against MemoryStore in the
// unit tests and against RedisStore (real redis-server) in tests/integration/store.
// Exists so the two implementations cannot drift apart. Depends on shared/store, GoogleTest.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "shared/store/session_store.h"

namespace parley::store::contract {

using std::chrono::milliseconds;
inline constexpr milliseconds kNoTtl{0};

inline void get_absent_is_not_found(SessionStore& s) {
  auto e = s.get("absent");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound) << e.status().to_string();
}

inline void compare_and_set(SessionStore& s) {
  auto v1 = s.put("cas", "one", kMustNotExist, kNoTtl);
  ASSERT_TRUE(v1.ok()) << v1.status().to_string();
  EXPECT_EQ(*v1, 1);
  // A second creator loses.
  auto again = s.put("cas", "other", kMustNotExist, kNoTtl);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAborted);
  EXPECT_NE(again.status().message().find("version conflict"), std::string::npos);

  auto v2 = s.put("cas", "two", 1, kNoTtl);
  ASSERT_TRUE(v2.ok()) << v2.status().to_string();
  EXPECT_EQ(*v2, 2);
  // A writer holding the old version (another replica's stale read) must not overwrite.
  auto stale = s.put("cas", "stale", 1, kNoTtl);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), StatusCode::kAborted);
  EXPECT_NE(stale.status().message().find("found 2"), std::string::npos) << stale.status().message();
  auto e = s.get("cas");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value, "two");
  EXPECT_EQ(e->version, 2);

  // Expecting a version on an absent key is a conflict too.
  auto ghost = s.put("ghost", "x", 3, kNoTtl);
  EXPECT_EQ(ghost.status().code(), StatusCode::kAborted);
  EXPECT_EQ(s.get("ghost").status().code(), StatusCode::kNotFound);

  auto any = s.put("cas", "forced", kAnyVersion, kNoTtl);
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(*any, 3);
  EXPECT_EQ(s.get("cas")->value, "forced");
}

inline void remove_and_recreate(SessionStore& s) {
  ASSERT_TRUE(s.put("rm", "a", kMustNotExist, kNoTtl).ok());
  ASSERT_TRUE(s.put("rm", "b", 1, kNoTtl).ok());
  auto r = s.remove("rm");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  auto r2 = s.remove("rm");
  ASSERT_TRUE(r2.ok());
  EXPECT_FALSE(*r2);
  EXPECT_EQ(s.get("rm").status().code(), StatusCode::kNotFound);
  auto v = s.put("rm", "c", kMustNotExist, kNoTtl);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 1);
}

inline void binary_values(SessionStore& s) {
  const std::string bin("a\0b\r\n\xff*$3\r\n", 12);
  ASSERT_TRUE(s.put("bin\r\nkey", bin, kMustNotExist, kNoTtl).ok());
  auto e = s.get("bin\r\nkey");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value, bin);
  ASSERT_TRUE(s.put("empty", "", kMustNotExist, kNoTtl).ok());
  auto empty = s.get("empty");
  ASSERT_TRUE(empty.ok()) << empty.status().to_string();
  EXPECT_EQ(empty->value, "");
}

inline void bad_arguments(SessionStore& s) {
  EXPECT_EQ(s.get("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.put("", "v", kMustNotExist, kNoTtl).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.put("k", "v", kMustNotExist, milliseconds(-1)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(s.put("k", "v", -2, kNoTtl).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.remove("").status().code(), StatusCode::kInvalidArgument);
}

inline void count_and_list(SessionStore& s) {
  auto c0 = s.count();
  ASSERT_TRUE(c0.ok()) << c0.status().to_string();
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(s.put("cnt-" + std::to_string(i), "x", kMustNotExist, kNoTtl).ok());
  }
  auto c = s.count();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, *c0 + 25);
  auto all = s.list(1000);
  ASSERT_TRUE(all.ok());
  std::set<std::string> keys(all->begin(), all->end());
  EXPECT_EQ(keys.size(), all->size()) << "list returned a key twice";
  for (int i = 0; i < 25; ++i) EXPECT_TRUE(keys.count("cnt-" + std::to_string(i))) << i;
  auto few = s.list(5);
  ASSERT_TRUE(few.ok());
  EXPECT_EQ(few->size(), 5u);
  ASSERT_TRUE(s.remove("cnt-0").ok());
  EXPECT_EQ(*s.count(), *c0 + 24);
}

/// Threads increment one counter by read-modify-CAS; a lost update (the bug CAS exists to
/// prevent) shows up as a final value below threads × increments.
inline void no_lost_updates(SessionStore& s, int threads, int increments) {
  ASSERT_TRUE(s.put("counter", "0", kMustNotExist, kNoTtl).ok());
  std::atomic<int> conflicts{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < increments; ++i) {
        while (true) {
          auto e = s.get("counter");
          if (!e.ok()) { ++errors; return; }
          const int n = std::stoi(e->value);
          auto v = s.put("counter", std::to_string(n + 1), e->version, kNoTtl);
          if (v.ok()) break;
          if (v.status().code() != StatusCode::kAborted) { ++errors; return; }
          ++conflicts;
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(errors.load(), 0);
  auto e = s.get("counter");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value, std::to_string(threads * increments));
  EXPECT_EQ(e->version, threads * increments + 1);
}

}  // namespace parley::store::contract
