// The living template for a new actor (shared/actor/README.md points here): a typed message set,
// exhaustive handling, a request with a reply, a self timer, and a deterministic test.
// Copy this file's actor when writing a new one; keep it compiling.
#include <gtest/gtest.h>

#include <string>
#include <unordered_map>
#include <variant>

#include "shared/actor/actor_system.h"
#include "shared/actor/ask.h"

namespace parley::actor {
namespace {

// 1. Messages: plain structs; a request carries its ReplyTo<T>.
struct Put {
  std::string key;
  std::string value;
};
struct Lookup {
  std::string key;
  ReplyTo<std::string> reply;
};
struct Expire {};  // sent to itself by a timer
using StoreMsg = std::variant<Put, Lookup, Expire>;

// 2. The actor: state as plain members (handlers never overlap), one handler per message.
class Store final : public Actor<StoreMsg> {
 public:
  explicit Store(Duration ttl) : ttl_(ttl) {}

  void receive(StoreMsg& msg) override {
    match(
        msg,
        [&](Put& m) {
          entries_[m.key] = std::move(m.value);
          if (expiry_ == kNoTimer) expiry_ = schedule_self(ttl_, Expire{});
        },
        [&](Lookup& m) {
          auto it = entries_.find(m.key);
          if (it == entries_.end()) {
            m.reply.fail(not_found("no key '" + m.key + "'"));
          } else {
            m.reply.reply(it->second);
          }
        },
        [&](Expire&) {
          entries_.clear();
          expiry_ = kNoTimer;
        });
  }

 private:
  Duration ttl_;
  std::unordered_map<std::string, std::string> entries_;
  TimerId expiry_ = kNoTimer;
};

// 3. A deterministic test: manual executor and clock, no sleeps.
TEST(ExampleActorTest, StoreAnswersAndExpires) {
  ManualExecutor ex;
  ManualClock clock;
  ActorSystem system(ex, clock, {.name = "example"});
  auto store = system.spawn<Store>({.name = "store", .mailbox_capacity = 64}, Duration(std::chrono::seconds(10)));

  ASSERT_TRUE(store.tell(Put{"greeting", "hello"}).is_ok());
  std::optional<Result<std::string>> got;
  auto lookup = [](std::string key) {
    return [key](ReplyTo<std::string> r) { return Lookup{key, std::move(r)}; };
  };
  ask<std::string>(store, lookup("greeting"), std::chrono::seconds(1), [&](Result<std::string> r) { got = r; });
  ex.run_all();
  ASSERT_TRUE(got.has_value() && got->ok());
  EXPECT_EQ(**got, "hello");

  got.reset();
  ask<std::string>(store, lookup("missing"), std::chrono::seconds(1), [&](Result<std::string> r) { got = r; });
  ex.run_all();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status().code(), StatusCode::kNotFound);

  clock.advance(std::chrono::seconds(10));  // fires Expire
  ex.run_all();
  got.reset();
  ask<std::string>(store, lookup("greeting"), std::chrono::seconds(1), [&](Result<std::string> r) { got = r; });
  ex.run_all();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace parley::actor
