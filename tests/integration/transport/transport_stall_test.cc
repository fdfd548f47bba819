// Regression test of issue 18 (p99 stalls of 0.3-0.7 s): sustained mixed load — unary calls and
// server streams from many sessions, issued from several threads as the dialog's actors do —
// through a transport::Client, the real ZeroMQ transport on loopback and an in-process
// service::Host (server I/O thread -> worker pool -> replies posted back to the I/O thread).
// A wake-up lost anywhere on that path parks calls until an unrelated event (the next ping, up to
// ping_interval = 1 s later) wakes the loop. Depends on shared/transport, shared/service,
// shared/config, parley_proto (echo.proto).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parley/v1/echo.pb.h"
#include "shared/config/base_schema.h"
#include "shared/service/host.h"
#include "shared/transport/client.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A call that takes this long on loopback, with microseconds of service time, was parked: a loaded
// 2-core machine adds scheduling delays of milliseconds (tens at the very worst), a lost wake-up
// up to a second. What is asserted is the count of such calls, never a latency percentile.
constexpr auto kStuck = 200ms;
// Load shape (measured on the 2-core VM at 86d124f: a stall in about 6 of 10 runs of 4 s, so the
// 8 s run here catches it about 5 times in 6; the deterministic twin is MailboxTest.LostWakeUp*):
// many sessions, think times of 30-82 ms (gaps in the traffic let a parked loop stay parked),
// calls issued from several threads at once (the race needs concurrent pushes).
constexpr int kSessions = 200;
constexpr int kSessionThreads = 4;
constexpr auto kRun = 8s;

/// Session threads (as the dialog's actor threads), each running its share of the sessions: a
/// session makes its next call a think time after its previous call ended.
class Sessions {
 public:
  Sessions(transport::Client& client, int sessions, int threads) : client_(client), queues_(threads) {
    for (int i = 0; i < sessions; ++i) schedule(i, Clock::now() + think(i));
    for (int t = 0; t < threads; ++t) threads_.emplace_back([this, t] { loop(t); });
  }
  ~Sessions() { stop(); }

  void stop() {
    stopping_ = true;
    for (auto& q : queues_) {
      std::lock_guard lock(q.mu);
      q.cv.notify_all();
    }
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    // Calls still in flight end within their deadline (their callbacks touch this object).
    auto end = Clock::now() + 10s;
    while (in_flight_.load() > 0 && Clock::now() < end) std::this_thread::sleep_for(1ms);
  }

  struct Figures {
    std::size_t calls = 0, failed = 0, stuck = 0;
    double p50_ms = 0, p99_ms = 0, max_ms = 0;
    std::string first_error;
  };
  Figures figures() {
    std::lock_guard lock(mu_);
    Figures f;
    f.calls = latencies_ms_.size();
    f.failed = failed_;
    f.first_error = first_error_;
    std::vector<double> v = latencies_ms_;
    std::sort(v.begin(), v.end());
    if (!v.empty()) {
      f.p50_ms = v[v.size() / 2];
      f.p99_ms = v[std::min(v.size() - 1, v.size() * 99 / 100)];
      f.max_ms = v.back();
    }
    const double bound_ms = std::chrono::duration<double, std::milli>(kStuck).count();
    for (double ms : v) f.stuck += ms >= bound_ms;
    return f;
  }

 private:
  struct Queue {
    std::mutex mu;
    std::condition_variable cv;
    std::multimap<Clock::time_point, int> due;
  };

  static std::chrono::microseconds think(int session) { return std::chrono::microseconds(30'000 + 7'500 * (session % 8)); }

  void schedule(int session, Clock::time_point when) {
    Queue& q = queues_[static_cast<std::size_t>(session) % queues_.size()];
    {
      std::lock_guard lock(q.mu);
      q.due.emplace(when, session);
    }
    q.cv.notify_one();
  }

  void loop(int t) {
    Queue& q = queues_[static_cast<std::size_t>(t)];
    std::unique_lock lock(q.mu);
    while (!stopping_) {
      if (q.due.empty()) {
        q.cv.wait(lock);
        continue;
      }
      if (q.due.begin()->first > Clock::now()) {
        q.cv.wait_until(lock, q.due.begin()->first);
        continue;
      }
      int session = q.due.begin()->second;
      q.due.erase(q.due.begin());
      lock.unlock();
      start_call(session);
      lock.lock();
    }
  }

  void start_call(int session) {
    const bool stream = step_.fetch_add(1) % 3 == 2;  // two unary calls, then a stream of 4 replies
    v1::EchoRequest req;
    req.set_text(std::to_string(session));
    req.set_repeat(stream ? 4 : 0);
    transport::Envelope env;
    env.set_method(stream ? "parley.v1.Echo/Stream" : "parley.v1.Echo/Echo");
    env.set_session_id(req.text());
    env.mutable_payload()->PackFrom(req);
    const auto start = Clock::now();
    in_flight_.fetch_add(1);
    auto replies = std::make_shared<int>(0);
    client_.call(std::move(env), {.timeout = 5s, .idempotent = !stream},
                 [this, session, start, stream, replies](Result<transport::Envelope> r) {
                   if (r.ok() && !r->end_of_stream()) {
                     ++*replies;
                     return;
                   }
                   const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
                   {
                     std::lock_guard lock(mu_);
                     if (!r.ok() || (stream && *replies != 4)) {
                       ++failed_;
                       if (first_error_.empty()) {
                         first_error_ = r.ok() ? std::string("a stream lost replies") : r.status().to_string();
                       }
                     } else {
                       latencies_ms_.push_back(ms);
                     }
                   }
                   if (!stopping_) schedule(session, Clock::now() + think(session));
                   in_flight_.fetch_sub(1);
                 });
  }

  transport::Client& client_;
  std::vector<Queue> queues_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> in_flight_{0};
  std::atomic<std::uint64_t> step_{0};
  std::mutex mu_;
  std::vector<double> latencies_ms_;  // guarded by mu_
  std::size_t failed_ = 0;            // guarded by mu_
  std::string first_error_;           // guarded by mu_
};

/// An echo service on the real host: unary Echo and a server-streaming Stream (`repeat` replies
/// written one by one from the worker, then the final reply).
std::unique_ptr<service::Host> start_echo_host() {
  config::Schema schema = config::service_base_schema("stall-test", "issue 18 regression test");
  const char* argv[] = {"stall-test", "--transport.bind=tcp://127.0.0.1:*", "--http.port=0", "--service.workers=2",
                        "--log.level=warn"};
  auto host = service::Host::create("stall", schema, static_cast<int>(std::size(argv)), argv);
  host->unary<v1::EchoRequest, v1::EchoReply>("parley.v1.Echo/Echo",
                                              [](const v1::EchoRequest& r, service::CallContext&) {
                                                v1::EchoReply reply;
                                                reply.set_text(r.text());
                                                return Result<v1::EchoReply>(std::move(reply));
                                              });
  host->server_stream<v1::EchoRequest, v1::EchoReply>(
      "parley.v1.Echo/Stream",
      [](const v1::EchoRequest& r, service::StreamWriter<v1::EchoReply>& w, service::CallContext&) -> Status {
        for (int i = 0; i < r.repeat(); ++i) {
          v1::EchoReply reply;
          reply.set_text(r.text());
          reply.set_index(i);
          if (!w.write(reply)) return cancelled("stream stopped");
        }
        return Status::ok();
      });
  Status s = host->start();
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  return s.is_ok() ? std::move(host) : nullptr;
}

TEST(TransportStallTest, NoCallIsStuckUnderSustainedMixedLoad) {
  auto host = start_echo_host();
  ASSERT_NE(host, nullptr);
  transport::ClientOptions options;
  options.targets = {host->endpoints().at(0)};
  options.name = "echo";
  // Default timers on purpose (ping_interval 1 s): the timer that ends a stall is the production one.
  auto client = transport::Client::create(options);
  ASSERT_TRUE(client.ok()) << client.status().to_string();
  ASSERT_TRUE((*client)->wait_for_live(1, 5s));

  Sessions::Figures f;
  {
    Sessions sessions(**client, kSessions, kSessionThreads);
    std::this_thread::sleep_for(kRun);
    sessions.stop();
    f = sessions.figures();
  }
  std::printf("%zu calls (unary + streams, %d sessions), %zu failed, %zu took >= %lld ms; p50 %.3f ms, p99 %.3f ms, "
              "max %.1f ms\n",
              f.calls, kSessions, f.failed, f.stuck, static_cast<long long>(kStuck.count()), f.p50_ms, f.p99_ms,
              f.max_ms);
  EXPECT_EQ(f.failed, 0u) << f.first_error;
  EXPECT_GE(f.calls, 2000u) << "too little traffic for the check to mean anything";
  EXPECT_EQ(f.stuck, 0u) << "calls parked for >= " << kStuck.count() << " ms: a lost wake-up in an I/O loop";
  host->stop();
}

}  // namespace
}  // namespace parley
