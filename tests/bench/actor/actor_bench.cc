// Actor runtime benchmark: in-process message throughput (1 producer -> 1 actor; 2 producers ->
// pool of 2) and ask round-trip latency (p50/p99), each beside a reference on the same machine:
// a plain mutex + condition-variable queue between two threads. Prints figures and ratios.
// Depends on shared/actor. Runs in well under 20 s on 2 cores.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include "shared/actor/actor_system.h"
#include "shared/actor/ask.h"

namespace parley::actor {
namespace {

using Clock = std::chrono::steady_clock;

struct Work {
  std::uint64_t value = 0;
};
struct Total {
  ReplyTo<std::uint64_t> reply;
};
struct Ping {
  ReplyTo<std::uint64_t> reply;
};
using SinkMsg = std::variant<Work, Total, Ping>;

class Sink final : public Actor<SinkMsg> {
 public:
  void receive(SinkMsg& msg) override {
    match(
        msg, [&](Work& m) { sum_ += m.value; }, [&](Total& m) { m.reply.reply(sum_); },
        [&](Ping& m) { m.reply.reply(1); });
  }

 private:
  std::uint64_t sum_ = 0;
};

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

template <class Target>
std::uint64_t produce(const Target& target, std::uint64_t n, std::atomic<std::uint64_t>& refused) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 1; i <= n; ++i) {
    for (;;) {
      Status s = target.tell(Work{i});
      if (s.is_ok()) break;
      refused.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::yield();  // backpressure: the mailbox is full
    }
    sum += i;
  }
  return sum;
}

std::uint64_t total_of(const ActorRef<SinkMsg>& ref) {
  auto r = ask_sync<std::uint64_t>(ref, [](ReplyTo<std::uint64_t> h) { return Total{std::move(h)}; },
                                   std::chrono::seconds(60));
  return r.ok() ? *r : 0;
}

/// Reference: one producer, one consumer thread, a mutex + condvar deque bounded like a mailbox.
double reference_throughput(std::uint64_t n, std::size_t capacity) {
  std::mutex mu;
  std::condition_variable not_empty;
  std::condition_variable not_full;
  std::deque<std::uint64_t> q;
  std::uint64_t sum = 0;
  const auto t0 = Clock::now();
  std::thread consumer([&] {
    for (std::uint64_t got = 0; got < n;) {
      std::unique_lock lock(mu);
      not_empty.wait(lock, [&] { return !q.empty(); });
      while (!q.empty()) {
        sum += q.front();
        q.pop_front();
        ++got;
      }
      lock.unlock();
      not_full.notify_one();
    }
  });
  for (std::uint64_t i = 1; i <= n; ++i) {
    std::unique_lock lock(mu);
    not_full.wait(lock, [&] { return q.size() < capacity; });
    q.push_back(i);
    const bool was_empty = q.size() == 1;
    lock.unlock();
    if (was_empty) not_empty.notify_one();
  }
  consumer.join();
  const double s = seconds_since(t0);
  if (sum != n * (n + 1) / 2) std::printf("reference: WRONG SUM\n");
  return static_cast<double>(n) / s;
}

double reference_round_trip_us(int n) {
  std::mutex mu;
  std::condition_variable cv;
  int request = 0;
  int response = 0;
  bool quit = false;
  std::thread server([&] {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return request != response || quit; });
      if (quit) return;
      response = request;
      cv.notify_all();
    }
  });
  std::vector<double> us;
  us.reserve(n);
  for (int i = 1; i <= n; ++i) {
    const auto t0 = Clock::now();
    std::unique_lock lock(mu);
    request = i;
    cv.notify_all();
    cv.wait(lock, [&] { return response == i; });
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  {
    std::lock_guard lock(mu);
    quit = true;
  }
  cv.notify_all();
  server.join();
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

struct Latency {
  double p50 = 0;
  double p99 = 0;
  double max = 0;
};

Latency percentiles(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  Latency l;
  l.p50 = us[us.size() / 2];
  l.p99 = us[us.size() * 99 / 100];
  l.max = us.back();
  return l;
}

int run() {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::printf("actor_bench: %u hardware threads\n\n", cores);
  constexpr std::uint64_t kMessages = 4'000'000;
  constexpr std::size_t kCapacity = 4096;

  // --- 1 producer -> 1 actor -------------------------------------------------------------
  double one_to_one = 0;
  {
    ActorSystem system({.name = "bench1", .threads = 1});
    auto sink = system.spawn<Sink>({.name = "sink", .mailbox_capacity = kCapacity, .messages_per_turn = 256});
    std::atomic<std::uint64_t> refused{0};
    const auto t0 = Clock::now();
    const std::uint64_t expect = produce(sink, kMessages, refused);
    const std::uint64_t got = total_of(sink);
    const double s = seconds_since(t0);
    one_to_one = static_cast<double>(kMessages) / s;
    std::printf("throughput 1 producer -> 1 actor : %10.0f msg/s  (%.2f s, %llu refused-and-retried)%s\n",
                one_to_one, s, static_cast<unsigned long long>(refused.load()), got == expect ? "" : "  WRONG SUM");
  }
  const double reference = reference_throughput(kMessages, kCapacity);
  std::printf("reference mutex+condvar queue     : %10.0f msg/s  -> actor/reference = %.2f\n\n", reference,
              one_to_one / reference);

  // --- 2 producers -> pool of 2 ----------------------------------------------------------
  {
    ActorSystem system({.name = "bench2", .threads = 2});
    auto pool = system.spawn_pool<Sink>(
        {.name = "sinks", .size = 2, .total_capacity = 2 * kCapacity, .messages_per_turn = 256});
    std::atomic<std::uint64_t> refused{0};
    const std::uint64_t per_producer = kMessages / 2;
    std::uint64_t expect[2] = {0, 0};
    const auto t0 = Clock::now();
    std::thread p0([&] { expect[0] = produce(pool, per_producer, refused); });
    std::thread p1([&] { expect[1] = produce(pool, per_producer, refused); });
    p0.join();
    p1.join();
    const std::uint64_t got = total_of(pool.member(0)) + total_of(pool.member(1));
    const double s = seconds_since(t0);
    const double rate = static_cast<double>(2 * per_producer) / s;
    std::printf("throughput 2 producers -> pool(2): %10.0f msg/s  (%.2f s, %llu refused-and-retried, "
                "split %llu/%llu)%s\n",
                rate, s, static_cast<unsigned long long>(refused.load()),
                static_cast<unsigned long long>(pool.member(0).stats().processed),
                static_cast<unsigned long long>(pool.member(1).stats().processed),
                got == expect[0] + expect[1] ? "" : "  WRONG SUM");
    std::printf("  pool(2) / single actor          : %.2f  (on %u hardware threads)\n\n", rate / one_to_one, cores);
  }

  // --- ask round trip ----------------------------------------------------------------------
  {
    constexpr int kAsks = 20'000;
    ActorSystem system({.name = "bench3", .threads = 1});
    auto sink = system.spawn<Sink>({.name = "sink"});
    auto ping = [](ReplyTo<std::uint64_t> h) { return Ping{std::move(h)}; };
    for (int i = 0; i < 1000; ++i) (void)ask_sync<std::uint64_t>(sink, ping, std::chrono::seconds(10));  // warm up
    std::vector<double> us;
    us.reserve(kAsks);
    int failed = 0;
    for (int i = 0; i < kAsks; ++i) {
      const auto t0 = Clock::now();
      auto r = ask_sync<std::uint64_t>(sink, ping, std::chrono::seconds(10));
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      if (!r.ok()) ++failed;
    }
    const Latency l = percentiles(std::move(us));
    const double ref = reference_round_trip_us(kAsks);
    std::printf("ask_sync round trip (%d asks)  : p50 %.1f us, p99 %.1f us, max %.1f us%s\n", kAsks, l.p50, l.p99,
                l.max, failed ? "  (SOME FAILED)" : "");
    std::printf("reference condvar round trip      : p50 %.1f us  -> actor/reference p50 = %.2f\n", ref, l.p50 / ref);
  }
  return 0;
}

}  // namespace
}  // namespace parley::actor

int main() { return parley::actor::run(); }
