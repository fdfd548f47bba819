// server_call_table: the server's open-addressing call index against a std::map, under random
// inserts, lookups and erases with hashes forced to collide (long probe runs, wrap-around at the
// table's end, growth), so backward-shift deletion never loses or misplaces a call.
// Depends on shared/transport/server_call_table.h, GoogleTest.
#include "shared/transport/server_call_table.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>

namespace parley::transport::detail {
namespace {

struct FakeCall {
  std::string identity;
  std::string correlation_id;
  std::size_t hash = 0;
  ServerCallKey key() const { return {identity, correlation_id, hash}; }
};

std::string label(std::string prefix, unsigned n) {  // (GCC 12 warns on "x" + to_string)
  return prefix.append(std::to_string(n));
}

TEST(ServerCallTableTest, AgreesWithAMapUnderCollidingHashes) {
  std::mt19937 rng(7);
  for (std::size_t hash_range : {std::size_t{1}, std::size_t{3}, std::size_t{61}, std::size_t{1} << 40}) {
    CallIndex<FakeCall> table;
    std::map<std::pair<std::string, std::string>, std::shared_ptr<FakeCall>> model;
    for (int step = 0; step < 4000; ++step) {
      const std::string identity = label("peer", rng() % 3);
      const std::string corr = label("c", rng() % 300);
      // A real key's hash depends on its strings only: derive it from them.
      const std::size_t hash = ServerCallKey::make(identity, corr).hash % hash_range;
      const ServerCallKey probe{identity, corr, hash};
      auto it = model.find({identity, corr});
      const std::shared_ptr<FakeCall>* found = table.find(probe);
      ASSERT_EQ(found != nullptr, it != model.end()) << "step " << step << " range " << hash_range;
      if (found != nullptr) {
        ASSERT_EQ(found->get(), it->second.get());
      }
      if (rng() % 2 == 0) {
        auto call = std::make_shared<FakeCall>(FakeCall{identity, corr, hash});
        const bool added = table.insert(call->key(), call);
        ASSERT_EQ(added, it == model.end());
        if (added) model[{identity, corr}] = call;
      } else if (it != model.end()) {
        std::shared_ptr<FakeCall> gone = table.erase(*it->second, it->second->key());
        ASSERT_EQ(gone.get(), it->second.get());
        model.erase(it);
      }
      ASSERT_EQ(table.size(), model.size());
    }
    EXPECT_EQ(table.all().size(), model.size());
    for (const auto& [k, call] : model) {
      const std::shared_ptr<FakeCall>* found = table.find(call->key());
      ASSERT_NE(found, nullptr);
      EXPECT_EQ(found->get(), call.get());
    }
    const FakeCall stranger{"peer9", "nobody", 0};
    EXPECT_EQ(table.erase(stranger, stranger.key()), nullptr);
  }
}

TEST(ServerCallTableTest, TheSameCorrelationIdFromTwoConnectionsIsTwoCalls) {
  CallIndex<FakeCall> table;
  auto a = std::make_shared<FakeCall>(FakeCall{"a", "c-1", 0});
  auto b = std::make_shared<FakeCall>(FakeCall{"b", "c-1", 0});
  a->hash = ServerCallKey::make(a->identity, a->correlation_id).hash;
  b->hash = ServerCallKey::make(b->identity, b->correlation_id).hash;
  ASSERT_TRUE(table.insert(a->key(), a));
  ASSERT_TRUE(table.insert(b->key(), b));
  EXPECT_FALSE(table.insert(a->key(), std::make_shared<FakeCall>(*a))) << "a duplicate was added";
  EXPECT_EQ(table.find(ServerCallKey::make("b", "c-1"))->get(), b.get());
  EXPECT_EQ(table.erase(*a, a->key()).get(), a.get());
  EXPECT_EQ(table.find(ServerCallKey::make("a", "c-1")), nullptr);
  EXPECT_EQ(table.find(ServerCallKey::make("b", "c-1"))->get(), b.get());
}

}  // namespace
}  // namespace parley::transport::detail
