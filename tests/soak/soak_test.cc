// The soak test (label soak; not run by tools/test unless asked: `tools/test -L soak`): an hour
// (PARLEY_SOAK_SECONDS) of mixed traffic against a real parley-dialog in front of fake NLU, QA
// and LM processes — text turns, SSE streams read whole, SSE streams and plain turns abandoned
// mid-reply, sessions created and deleted, bots uploaded and deleted — while one service is
// killed (SIGKILL) and restarted every few minutes (PARLEY_SOAK_KILL_EVERY_S). It records the
// dialog's RSS and open fds, the error rate and turn latency over the first and the last window
// (PARLEY_SOAK_WINDOW_S) and prints them (and writes <build>/test-results/soak.json); it fails on
// a leak (fds or RSS growing without bound), on errors at the end, or if the dialog died.
// Depends on parley-dialog, parley-fake-service (tests/soak), tests/support.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "parley/v1/dialog.pb.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::ChildProcess;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

long proc_status_kb(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::string(field).size()));
  }
  return -1;
}

long open_fds(pid_t pid) {
  std::error_code ec;
  long n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

struct Sample {
  double t = 0;  // seconds since the start
  std::string kind;
  bool ok = false;        // 2xx (or a stream ended with its turn), or an abandon as planned
  bool degraded = false;  // answered, but with a service error (fallback): expected while one is down
  double ms = 0;
};

struct Gauge {
  double t = 0;
  long rss_kb = 0;
  long fds = 0;
  long threads = 0;
};

struct Window {
  std::size_t requests = 0, errors = 0, degraded = 0, turns = 0;
  double p50 = 0, p99 = 0;
  double error_rate() const { return requests ? static_cast<double>(errors) / static_cast<double>(requests) : 0; }
};

Window window_of(const std::vector<Sample>& s, double from, double to) {
  Window w;
  std::vector<double> lat;
  for (const auto& x : s) {
    if (x.t < from || x.t >= to) continue;
    ++w.requests;
    if (!x.ok) ++w.errors;
    if (x.degraded) ++w.degraded;
    if (x.kind == "turn" && x.ok) lat.push_back(x.ms);
  }
  w.turns = lat.size();
  if (!lat.empty()) {
    std::sort(lat.begin(), lat.end());
    w.p50 = lat[lat.size() / 2];
    w.p99 = lat[std::min(lat.size() - 1, lat.size() * 99 / 100)];
  }
  return w;
}

class SoakTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir("parley-soak");
    for (const char* kind : {"nlu", "qa", "lm"}) {
      endpoints_[kind] = "tcp://127.0.0.1:" + std::to_string(testing::free_tcp_port());
      start_fake(kind);
    }
    api_port_ = testing::free_tcp_port();
    http_port_ = testing::free_tcp_port();
    dialog_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{testing::built_binary("services/dialog/parley-dialog"), "--api.port=" + std::to_string(api_port_),
                                 "--http.port=" + std::to_string(http_port_),
                                 "--transport.bind=tcp://127.0.0.1:" + std::to_string(testing::free_tcp_port()),
                                 "--dialog.nlu_targets=" + endpoints_["nlu"], "--dialog.qa_targets=" + endpoints_["qa"],
                                 "--dialog.lm_targets=" + endpoints_["lm"], "--dialog.sync_interval=1s",
                                 "--dialog.sync_max_interval=5s", "--dialog.asr_targets=", "--dialog.tts_targets=",
                                 "--log.level=warn"},
        dir_ + "/dialog.log");
    ASSERT_TRUE(testing::wait_until(
        [&] {
          auto r = testing::http_get(api_port_, "/v1/bots/demo");
          v1::Bot b;
          return r.ok() && r->status == 200 && google::protobuf::util::JsonStringToMessage(r->body, &b).ok() && b.nlu_trained();
        },
        30s))
        << dialog_->log();
  }

  void start_fake(const std::string& kind) {
    fakes_[kind] = std::make_unique<ChildProcess>(
        std::vector<std::string>{testing::built_binary("tests/soak/parley-fake-service"), kind, endpoints_[kind]},
        dir_ + "/" + kind + ".log");
  }

  void record(Sample s) {
    std::lock_guard lock(mu_);
    samples_.push_back(std::move(s));
  }
  double now_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  std::string create_session() {
    auto r = testing::http_request("POST", api_port_, "/v1/bots/demo/sessions", "", 5s);
    if (!r.ok() || r->status != 201) return "";
    v1::Session s;
    (void)google::protobuf::util::JsonStringToMessage(r->body, &s);
    return s.id();
  }

  void worker(int index, Clock::time_point end) {
    std::mt19937 rng(static_cast<unsigned>(index * 7919 + 1));
    const std::vector<std::string> lines = {"book a table for 4 at 7pm", "yes", "when is check-out", "hello",
                                            "what do you think about penguins", "I need a double room for 3 nights",
                                            "starting friday", "what time is breakfast", "goodbye", "tell me a story"};
    std::string session = create_session();
    int turns_in_session = 0;
    while (Clock::now() < end) {
      if (session.empty() || turns_in_session >= 40) {
        if (!session.empty()) {
          auto d = testing::http_request("DELETE", api_port_, "/v1/sessions/" + session, "", 5s);
          record({now_s(), "delete", d.ok() && d->status == 204, false, 0});
        }
        session = create_session();
        record({now_s(), "create", !session.empty(), false, 0});
        turns_in_session = 0;
        if (session.empty()) {
          std::this_thread::sleep_for(200ms);
          continue;
        }
      }
      const std::string text = lines[rng() % lines.size()];
      const std::string body = "{\"text\":\"" + text + "\"}";
      const int pick = static_cast<int>(rng() % 100);
      const auto t0 = Clock::now();
      if (pick < 60) {
        auto r = testing::http_request("POST", api_port_, "/v1/sessions/" + session + "/turns", body, 20s,
                                       {{"Content-Type", "application/json"}});
        Sample s{now_s(), "turn", r.ok() && r->status == 200, false,
                 std::chrono::duration<double, std::milli>(Clock::now() - t0).count()};
        if (s.ok) s.degraded = r->body.find("\"outcome\":\"error\"") != std::string::npos;
        if (r.ok() && r->status == 404) session.clear();  // expired or deleted: start another
        record(s);
        ++turns_in_session;
      } else if (pick < 75) {
        testing::RawSocket sse(api_port_);
        bool ok = sse.send(testing::http_post_bytes("/v1/sessions/" + session + "/turns:stream", body)) &&
                  sse.read_until("event: turn", 20s);
        record({now_s(), "sse", ok, false, std::chrono::duration<double, std::milli>(Clock::now() - t0).count()});
        ++turns_in_session;
      } else if (pick < 85) {
        testing::RawSocket sse(api_port_);
        bool sent = sse.send(testing::http_post_bytes("/v1/sessions/" + session + "/turns:stream",
                                                      "{\"text\":\"what do you think about penguins\"}"));
        (void)sse.read_until("event: token", 3s);
        sse.close();  // abandoned mid-stream
        record({now_s(), "sse_abandon", sent, false, 0});
        ++turns_in_session;
      } else if (pick < 92) {
        testing::RawSocket plain(api_port_);
        bool sent = plain.send(testing::http_post_bytes("/v1/sessions/" + session + "/turns", body));
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 30));
        plain.close();  // gone before the answer
        record({now_s(), "turn_abandon", sent, false, 0});
        ++turns_in_session;
      } else {
        const std::string id = "soak" + std::to_string(index) + "-" + std::to_string(rng() % 3);
        const std::string yaml = "bot: {id: " + id + "}\nintents: {a: [hello there, hi], b: [bye now, goodbye]}\n"
                                 "responses: {hi: [Hi " + std::to_string(rng() % 1000) + "]}\n"
                                 "rules: [{intent: a, actions: [hi]}]\n";
        if (rng() % 4 == 0) {
          auto d = testing::http_request("DELETE", api_port_, "/v1/bots/" + id, "", 30s);
          record({now_s(), "bot_delete", d.ok() && (d->status == 204 || d->status == 404), false, 0});
        } else {
          auto p = testing::http_request("PUT", api_port_, "/v1/bots/" + id, yaml, 60s,
                                         {{"Content-Type", "application/yaml"}});
          // 503 = the bot-job queue is full: the bounded answer to a burst, not an error.
          record({now_s(), "bot_put", p.ok() && (p->status == 200 || p->status == 201 || p->status == 503), false,
                  std::chrono::duration<double, std::milli>(Clock::now() - t0).count()});
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 40));
    }
  }

  std::string dir_;
  int api_port_ = 0, http_port_ = 0;
  std::map<std::string, std::string> endpoints_;
  std::map<std::string, std::unique_ptr<ChildProcess>> fakes_;
  std::unique_ptr<ChildProcess> dialog_;
  Clock::time_point start_ = Clock::now();
  std::mutex mu_;
  std::vector<Sample> samples_;  // guarded by mu_
};

TEST_F(SoakTest, AnHourOfMixedTrafficWithServiceRestarts) {
  const int seconds = env_int("PARLEY_SOAK_SECONDS", 3600);
  const int kill_every = env_int("PARLEY_SOAK_KILL_EVERY_S", 180);
  const int workers = env_int("PARLEY_SOAK_WORKERS", 4);
  const double window = std::min<double>(env_int("PARLEY_SOAK_WINDOW_S", 300), seconds / 3.0);
  start_ = Clock::now();
  const auto end = start_ + std::chrono::seconds(seconds);
  std::vector<Gauge> gauges;
  std::atomic<bool> done{false};
  std::vector<std::string> kills;
  std::thread sampler([&] {
    while (!done.load()) {
      const pid_t pid = dialog_->pid();
      gauges.push_back({now_s(), proc_status_kb(pid, "VmRSS:"), open_fds(pid), proc_status_kb(pid, "Threads:")});
      for (int i = 0; i < 50 && !done.load(); ++i) std::this_thread::sleep_for(100ms);
    }
  });
  std::thread killer([&] {
    const char* order[] = {"nlu", "lm", "qa"};
    int n = 0;
    auto next = start_ + std::chrono::seconds(kill_every);
    while (!done.load()) {
      std::this_thread::sleep_for(200ms);
      if (Clock::now() < next || Clock::now() + 10s > end) continue;
      const std::string kind = order[n++ % 3];
      fakes_[kind]->kill();
      (void)fakes_[kind]->wait_for(5s);
      std::this_thread::sleep_for(2s);  // down for a while: turns get fallbacks meanwhile
      start_fake(kind);
      kills.push_back(kind + "@" + std::to_string(static_cast<int>(now_s())) + "s");
      next = Clock::now() + std::chrono::seconds(kill_every);
    }
  });
  std::vector<std::thread> pool;
  for (int i = 0; i < workers; ++i) pool.emplace_back([&, i] { worker(i, end); });
  for (auto& t : pool) t.join();
  done.store(true);
  killer.join();
  sampler.join();

  const double total = now_s();
  Window first = window_of(samples_, 0, window), last = window_of(samples_, total - window, total + 1);
  Window all = window_of(samples_, 0, total + 1);
  const Gauge g0 = gauges.size() > 2 ? gauges[2] : gauges.front();  // after ~10 s of warm-up
  const Gauge g1 = gauges.back();
  std::map<std::string, std::pair<int, int>> by_kind;  // kind -> (count, errors)
  for (const auto& s : samples_) {
    ++by_kind[s.kind].first;
    if (!s.ok) ++by_kind[s.kind].second;
  }
  std::printf("\nsoak: %.0f s, %d workers, %zu requests, %zu service restarts (%s)\n", total, workers, all.requests,
              kills.size(), kills.empty() ? "-" : (kills.front() + " ... " + kills.back()).c_str());
  std::printf("  %-22s %12s %12s\n", "", "start", "end");
  std::printf("  %-22s %12ld %12ld\n", "dialog RSS (KiB)", g0.rss_kb, g1.rss_kb);
  std::printf("  %-22s %12ld %12ld\n", "dialog open fds", g0.fds, g1.fds);
  std::printf("  %-22s %12ld %12ld\n", "dialog threads", g0.threads, g1.threads);
  std::printf("  %-22s %11.2f%% %11.2f%%\n", "error rate", 100 * first.error_rate(), 100 * last.error_rate());
  std::printf("  %-22s %11.2f%% %11.2f%%\n", "degraded (fallback)",
              first.requests ? 100.0 * static_cast<double>(first.degraded) / static_cast<double>(first.requests) : 0.0,
              last.requests ? 100.0 * static_cast<double>(last.degraded) / static_cast<double>(last.requests) : 0.0);
  std::printf("  %-22s %12.1f %12.1f\n", "turn p50 (ms)", first.p50, last.p50);
  std::printf("  %-22s %12.1f %12.1f\n", "turn p99 (ms)", first.p99, last.p99);
  std::printf("  %-22s %12zu %12zu\n", "requests in window", first.requests, last.requests);
  for (const auto& [kind, ce] : by_kind) std::printf("  %-22s %6d (%d failed)\n", kind.c_str(), ce.first, ce.second);
  std::fflush(stdout);
  const std::string results = testing::built_binary("test-results");
  std::filesystem::create_directories(results);
  std::ofstream(results + "/soak.json")
      << "{\"seconds\":" << total << ",\"requests\":" << all.requests << ",\"restarts\":" << kills.size()
      << ",\"rss_kb\":[" << g0.rss_kb << "," << g1.rss_kb << "],\"fds\":[" << g0.fds << "," << g1.fds
      << "],\"threads\":[" << g0.threads << "," << g1.threads << "],\"error_rate\":[" << first.error_rate() << ","
      << last.error_rate() << "],\"turn_p50_ms\":[" << first.p50 << "," << last.p50 << "],\"turn_p99_ms\":["
      << first.p99 << "," << last.p99 << "]}\n";

  EXPECT_TRUE(dialog_->running()) << dialog_->log();
  EXPECT_GT(all.requests, 100u);
  if (seconds > kill_every + 20) {
    EXPECT_GE(kills.size(), 1u);
  }
  // No leak: fds and threads come back to where they were; memory does not keep growing.
  EXPECT_LE(g1.fds, g0.fds + 32) << "open fds grew";
  EXPECT_LE(g1.threads, g0.threads + 8) << "threads grew";
  EXPECT_LE(g1.rss_kb, 2 * g0.rss_kb + 64 * 1024) << "RSS grew";
  // Errors (not fallbacks while a service restarts, which still answer) stay rare.
  EXPECT_LT(all.error_rate(), 0.02);
  EXPECT_LT(last.error_rate(), 0.05);
}

}  // namespace
}  // namespace parley
