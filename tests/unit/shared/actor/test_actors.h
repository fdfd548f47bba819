// Actors and fixtures shared by the actor runtime tests: a counter with every interesting message
// (throw, park a reply, self timers, stop) and a probe that outlives its restarts.
// Depends on shared/actor.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "shared/actor/actor_system.h"
#include "shared/actor/ask.h"
#include "shared/actor/executor.h"
#include "shared/actor/timer.h"

namespace parley::actor::testing {

/// Survives restarts (shared by every incarnation): what happened to the actor.
struct Probe {
  std::atomic<int> constructed{0};
  std::atomic<int> started{0};
  std::atomic<int> stopped{0};
  std::atomic<int> destroyed{0};
  std::atomic<int> ticks{0};
  std::atomic<int> late_reply_accepted{-1};  // reply() result after the asker gave up
  std::atomic<int> saw_cancelled{-1};        // ReplyTo::cancelled() seen by the handler
  std::atomic<int> timer_cancel_result{-1};
  std::mutex mu;
  std::vector<std::string> log;  // guarded by mu
  void note(std::string s) {
    std::lock_guard lock(mu);
    log.push_back(std::move(s));
  }
  std::vector<std::string> take_log() {
    std::lock_guard lock(mu);
    return std::exchange(log, {});
  }
};

struct Inc {
  int by = 1;
};
struct Get {
  ReplyTo<int> reply;
};
struct Boom {};                // the handler throws
struct BoomWithReply {         // the handler throws while this message owns a reply handle
  ReplyTo<int> reply;
};
struct Drop {                  // the handler neither replies nor keeps the handle (a bug)
  ReplyTo<int> reply;
};
struct Park {                  // the handler keeps the handle in its state, answers on Release
  ReplyTo<int> reply;
};
struct Release {};
struct StartTimer {
  Duration delay;
};
struct CancelTimer {};
struct Tick {};
struct Quit {};
struct LateGet {               // replies, recording whether the reply still reached the asker
  ReplyTo<int> reply;
};
struct Note {
  std::string text;
};
struct Later {                 // answers through a Get it schedules to itself
  Duration delay;
  ReplyTo<int> reply;
};

using CounterMsg =
    std::variant<Inc, Get, Boom, BoomWithReply, Drop, Park, Release, StartTimer, CancelTimer, Tick, Quit, LateGet, Note, Later>;

class Counter final : public Actor<CounterMsg> {
 public:
  explicit Counter(std::shared_ptr<Probe> probe) : probe_(std::move(probe)) { probe_->constructed++; }
  ~Counter() override { probe_->destroyed++; }

  void receive(CounterMsg& msg) override {
    match(
        msg, [&](Inc& m) { count_ += m.by; }, [&](Get& m) { m.reply.reply(count_); },
        [&](Boom&) { throw std::runtime_error("boom"); },
        [&](BoomWithReply&) { throw std::runtime_error("boom with a reply"); },
        [&](Drop&) { /* drops the handle: a handler bug the runtime must survive */ },
        [&](Park& m) { parked_.push_back(std::move(m.reply)); },
        [&](Release&) {
          for (auto& r : parked_) r.reply(count_);
          parked_.clear();
        },
        [&](StartTimer& m) { timer_ = schedule_self(m.delay, Tick{}); },
        [&](CancelTimer&) { probe_->timer_cancel_result = cancel_timer(timer_) ? 1 : 0; },
        [&](Tick&) { probe_->ticks++; }, [&](Quit&) { stop_self(); },
        [&](LateGet& m) {
          probe_->saw_cancelled = m.reply.cancelled() ? 1 : 0;
          probe_->late_reply_accepted = m.reply.reply(count_) ? 1 : 0;
        },
        [&](Note& m) { probe_->note(name() + ":" + m.text); },
        [&](Later& m) { schedule_self(m.delay, Get{std::move(m.reply)}); });
  }

 protected:
  void on_start() override { probe_->started++; }
  void on_stop() override { probe_->stopped++; }

 private:
  std::shared_ptr<Probe> probe_;
  int count_ = 0;  // deliberately not atomic: handlers are serialized
  std::vector<ReplyTo<int>> parked_;
  TimerId timer_ = kNoTimer;
};

/// Collects ask results and how many times the callback ran.
struct Answers {
  std::mutex mu;
  std::vector<Result<int>> results;
  std::function<void(Result<int>)> callback() {
    return [this](Result<int> r) {
      std::lock_guard lock(mu);
      results.push_back(std::move(r));
    };
  }
  std::size_t count() {
    std::lock_guard lock(mu);
    return results.size();
  }
  StatusCode code(std::size_t i) {
    std::lock_guard lock(mu);
    return results.at(i).status().code();
  }
  int value(std::size_t i) {
    std::lock_guard lock(mu);
    return results.at(i).value();
  }
};

inline auto make_get() {
  return [](ReplyTo<int> r) { return Get{std::move(r)}; };
}

/// A system on a ManualExecutor and a ManualClock: every handler runs only when the test says.
class ManualSystemTest : public ::testing::Test {
 protected:
  ActorRef<CounterMsg> spawn_counter(ActorOptions options = {}) {
    if (options.name.empty()) options.name = "counter";
    auto ref = system_.spawn<Counter>(std::move(options), probe_);
    return ref;
  }

  ManualExecutor ex_;
  ManualClock clock_;
  ActorSystem system_{ex_, clock_, {.name = "test"}};
  std::shared_ptr<Probe> probe_ = std::make_shared<Probe>();
};

}  // namespace parley::actor::testing
