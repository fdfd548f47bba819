// Load benchmark of the dialog orchestrator: N concurrent sessions (closed loop: each sends its
// next text turn when the last one answered) through the real session actors, policy and ZeroMQ
// service clients, against the model-free fake NLU/QA/LM on the real transport. Prints text turns/s
// and p50/p99/p99.9/max latencies, splitting the orchestrator's own time from service time and transport.
// Depends on services/dialog (engine, transport services, fakes), shared/store, shared/actor.
//
//   dialog_load_bench [--sessions 1,50,200] [--seconds 3] [--store memory://|redis://host:port]
//                     [--think-ms 0,50] [--service-delay-us 0] [--actor-threads 2]
// Think time 0 is a closed loop at saturation (latency = sessions / throughput: queueing); a
// think time (a user reading and typing) offers a load below capacity, where the orchestrator's
// own overhead is what a user sees.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <queue>
#include <thread>
#include <sstream>
#include <string>
#include <vector>

#include "services/dialog/engine/bot_registry.h"
#include "services/dialog/engine/sessions.h"
#include "services/dialog/engine/transport_services.h"
#include "services/dialog/testing/fake_services.h"
#include "shared/actor/actor_system.h"
#include "shared/actor/executor.h"
#include "shared/common/log.h"
#include "shared/store/session_store.h"

#ifndef PARLEY_DIALOG_DEMO_BOT
#define PARLEY_DIALOG_DEMO_BOT "services/dialog/bots/demo/bot.yaml"
#endif

namespace {

using namespace parley;
using Clock = std::chrono::steady_clock;

/// One conversation, cycled by every session: form turns (NLU only), a KB question (NLU + QA),
/// an out-of-scope line (NLU + LM stream).
const std::vector<std::string> kScript = {"reserve a table for 4", "at 7pm", "make it 5", "yes",
                                          "when is check-out", "what do you think about penguins"};

struct Sample {
  double total_us = 0;         // the turn as the caller saw it (tell -> reply callback)
  double orchestrator_us = 0;  // TurnResponse "orchestrator": total minus service round trips
  double service_us = 0;       // sum of "<stage>.service": the services' own time (reply envelopes)
  double transport_us = 0;     // round trips minus service time: client, wire, server queues
  double store_us = 0;
  bool ok = false;
};

/// `v` sorted ascending.
double percentile(const std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

Sample sample_of(const v1::TurnResponse& r, double total_us) {
  Sample s;
  s.ok = true;
  s.total_us = total_us;
  double round_trips = 0;
  for (const auto& t : r.timings()) {
    const std::string& st = t.stage();
    const auto d = static_cast<double>(t.duration_us());
    if (st == "orchestrator") s.orchestrator_us = d;
    if (st == "store") s.store_us = d;
    if (st == "nlu" || st == "qa" || st == "lm" || st == "webhook") round_trips += d;
    if (st.size() > 8 && st.ends_with(".service")) s.service_us += d;
  }
  s.transport_us = std::max(0.0, round_trips - s.service_us);
  return s;
}

struct Level {
  int sessions = 0;
  double seconds = 0;
  std::size_t turns = 0, failed = 0;
  std::vector<Sample> samples;
};

/// Calls tasks at their due time, one thread (the think-time pauses between a session's turns).
class Scheduler {
 public:
  Scheduler() : thread_([this] { loop(); }) {}
  ~Scheduler() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void at(Clock::time_point when, std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      queue_.emplace(when, std::move(fn));
    }
    cv_.notify_all();
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (queue_.empty()) {
        cv_.wait(lock);
        continue;
      }
      auto when = queue_.begin()->first;
      if (Clock::now() < when) {
        cv_.wait_until(lock, when);
        continue;
      }
      auto fn = std::move(queue_.begin()->second);
      queue_.erase(queue_.begin());
      lock.unlock();
      fn();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, std::function<void()>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

Level run_level(dialog::SessionManager& sessions, int n, double seconds, int think_ms, Scheduler& scheduler) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    auto s = sessions.create("demo", {});
    if (!s.ok()) {
      std::fprintf(stderr, "create: %s\n", s.status().to_string().c_str());
      std::exit(1);
    }
    ids.push_back(s->id());
  }
  std::mutex mu;
  std::condition_variable cv;
  Level level;
  level.sessions = n;
  std::atomic<bool> measuring{false}, stopping{false};
  std::atomic<int> in_flight{0};
  std::vector<std::size_t> step(static_cast<std::size_t>(n), 0);

  std::function<void(int)> next = [&](int i) {
    if (stopping) return;
    const std::string text = kScript[step[static_cast<std::size_t>(i)]++ % kScript.size()];
    const auto start = Clock::now();
    ++in_flight;
    sessions.turn(ids[static_cast<std::size_t>(i)], text, {}, [&, i, start](Result<v1::TurnResponse> r) {
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
      if (measuring) {
        std::lock_guard lock(mu);
        if (r.ok()) {
          level.samples.push_back(sample_of(*r, us));
        } else {
          ++level.failed;
          PARLEY_LOG_EVERY_MS(kWarn, 1000) << "turn failed: " << r.status().to_string();
        }
      }
      if (think_ms > 0 && !stopping) {
        // Spread the first turns so the sessions do not stay in lock step.
        scheduler.at(Clock::now() + std::chrono::milliseconds(think_ms), [&next, i] { next(i); });
      } else {
        next(i);
      }
      if (--in_flight == 0) cv.notify_all();
    });
  };
  for (int i = 0; i < n; ++i) {
    if (think_ms > 0) {
      scheduler.at(Clock::now() + std::chrono::microseconds(1000LL * think_ms * i / n), [&next, i] { next(i); });
    } else {
      next(i);
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500 + think_ms));  // warm-up: connections, caches
  measuring = true;
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  measuring = false;
  level.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  stopping = true;
  std::unique_lock lock(mu);
  cv.wait_for(lock, std::chrono::seconds(30), [&] { return in_flight.load() == 0; });
  lock.unlock();
  std::this_thread::sleep_for(std::chrono::milliseconds(think_ms + 50));  // pending pauses fire and stop
  level.turns = level.samples.size();
  for (const auto& id : ids) (void)sessions.remove(id);
  return level;
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) out.push_back(std::atoi(part.c_str()));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> levels = {1, 50, 200};
  double seconds = 3;
  std::string store_url = "memory://";
  int delay_us = 0, actor_threads = 2;
  std::vector<int> thinks = {0, 50};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--sessions") levels = parse_list(v);
    else if (k == "--think-ms") thinks = parse_list(v);
    else if (k == "--seconds") seconds = std::atof(v.c_str());
    else if (k == "--store") store_url = v;
    else if (k == "--service-delay-us") delay_us = std::atoi(v.c_str());
    else if (k == "--actor-threads") actor_threads = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  log::set_level(log::Level::kWarn);

  auto nlu = dialog::testing::FakeServiceServer::start("nlu");
  auto qa = dialog::testing::FakeServiceServer::start("qa");
  auto lm = dialog::testing::FakeServiceServer::start("lm");
  if (!nlu.ok() || !qa.ok() || !lm.ok()) {
    std::fprintf(stderr, "fake services did not start\n");
    return 1;
  }
  for (auto* s : {nlu->get(), qa->get(), lm->get()}) s->delay_us = delay_us;
  dialog::TransportServicesOptions so;
  so.nlu_targets = {(*nlu)->endpoint()};
  so.qa_targets = {(*qa)->endpoint()};
  so.lm_targets = {(*lm)->endpoint()};
  auto services = dialog::make_transport_services(so);
  if (!services.ok()) {
    std::fprintf(stderr, "%s\n", services.status().to_string().c_str());
    return 1;
  }
  auto store = store::open_store(store_url);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
    return 1;
  }
  std::unique_ptr<actor::ThreadPoolExecutor> store_threads;
  if (!store_url.starts_with("memory")) store_threads = std::make_unique<actor::ThreadPoolExecutor>(4, "store");

  dialog::BotRegistry bots(**services, nullptr, std::chrono::seconds(10));
  auto bot = bots.load_file(PARLEY_DIALOG_DEMO_BOT);
  if (!bot.ok() || bots.sync_pending() != 0) {
    std::fprintf(stderr, "demo bot did not load/train: %s\n", bot.ok() ? "sync pending" : bot.status().to_string().c_str());
    return 1;
  }
  actor::ActorSystem system({.name = "dialog", .threads = static_cast<std::size_t>(actor_threads)});
  dialog::SessionDeps deps;
  deps.find_bot = [&bots](const std::string& id) { return bots.find(id); };
  deps.services = services->get();
  deps.store = store->get();
  deps.store_executor = store_threads.get();
  dialog::SessionManager sessions(system, deps, dialog::DialogOptions{});

  std::printf("dialog load benchmark: session actors + policy + ZeroMQ clients -> fake NLU/QA/LM on the real "
              "transport; store %s; %d actor threads; %.0f s per level; script of %zu turns (form, KB, LM)\n",
              (*store)->describe().c_str(), actor_threads, seconds, kScript.size());
  std::printf("latencies in ms; orchestrator = the turn minus service round trips (its own work); service = the\n"
              "services' own time from the reply envelopes; transport = round trips minus service (client, wire,\n"
              "server queues). The tail (p99.9, max) is shown where stalls would show: turn and transport.\n\n");
  std::printf("%8s %6s %9s %6s | %-31s | %-15s | %-15s | %-31s | %s\n", "sessions", "think", "turns/s", "failed",
              "turn p50 / p99 / p99.9 / max", "orch p50 / p99", "svc p50 / p99", "transport p50 / p99 / p99.9 / max",
              "store p50 / p99");
  bool target_met = true;
  std::size_t failed_turns = 0;
  Scheduler scheduler;
  for (int think : thinks)
  for (int n : levels) {
    Level l = run_level(sessions, n, seconds, think, scheduler);
    failed_turns += l.failed;
    struct Tail {
      double p50, p99, p999, max;
    };
    auto col = [&](double Sample::*field) {
      std::vector<double> v;
      for (const auto& s : l.samples) v.push_back(s.*field / 1000.0);
      std::sort(v.begin(), v.end());
      return Tail{percentile(v, 0.5), percentile(v, 0.99), percentile(v, 0.999), v.empty() ? 0.0 : v.back()};
    };
    const Tail t = col(&Sample::total_us), o = col(&Sample::orchestrator_us), s = col(&Sample::service_us),
               q = col(&Sample::transport_us), st = col(&Sample::store_us);
    std::printf("%8d %4dms %9.0f %6zu | %6.2f / %6.2f / %6.2f / %6.1f | %6.3f / %6.3f | %6.3f / %6.3f | "
                "%6.2f / %6.2f / %6.2f / %6.1f | %6.3f / %6.3f\n",
                n, think, static_cast<double>(l.turns) / l.seconds, l.failed, t.p50, t.p99, t.p999, t.max, o.p50, o.p99,
                s.p50, s.p99, q.p50, q.p99, q.p999, q.max, st.p50, st.p99);
    std::fflush(stdout);
    if (n >= 200 && think > 0 && o.p99 >= 2.0) target_met = false;
    if (std::getenv("PARLEY_BENCH_SLOW") != nullptr) {
      std::size_t slow = 0;
      for (const auto& x : l.samples) slow += x.transport_us > 50000;
      std::printf("   slow (transport > 50 ms): %zu of %zu\n", slow, l.samples.size());
    }
  }
  std::printf("\ntarget: orchestrator overhead p99 < 2 ms at 200 sessions (with think time, below saturation): %s\n"
              "think 0 rows are saturation: their latency is queueing (sessions / turns per second)\n",
              target_met ? "met" : "NOT met");
  system.shutdown(std::chrono::seconds(2));
  if (store_threads) store_threads->shutdown();
  if (failed_turns > 0) {
    std::fprintf(stderr, "dialog_load_bench: %zu turns failed (see the warnings above)\n", failed_turns);
    return 1;
  }
  return 0;
}
