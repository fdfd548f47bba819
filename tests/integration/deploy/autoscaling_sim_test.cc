// Autoscaling simulation (issue 16; no cluster here): a small controller in the test applies the
// Kubernetes HPA formula — desired = ceil(current × avg(metric) / target), 10 % tolerance,
// immediate scale-up, a scale-down stabilization window — to the real /metrics of real
// parley-nlu processes (the chart's NLU backlog metric, parley_in_flight_requests), starting and
// terminating (SIGTERM, as the kubelet does) replicas on loopback. The dialog (real parley-dialog)
// knows the replica slots up front, as it would know a headless Service's pods; a slot with no
// process refuses connections. A load ramp (1 → 6 → 1 closed-loop clients) runs turns through
// the dialog's HTTP API. The test shows: the backlog triggers scale-out, a new replica serves
// turns within seconds, no turn fails on scale-out or scale-in, after scale-out the backlog per
// pod is back at the target and p99 under the test's objective (250 ms), and the replicas return
// to the minimum once the load is gone. It prints the curve
// (per second: clients, replicas, backlog per pod, turns/s, p99) — deploy/README.md shows one.
// The NLU runs the real MiniLM encoder (one thread per replica, as a 1-CPU pod); QA and LM are
// in-test fakes. Skips when the encoder model is absent. Depends on tests/support,
// services/dialog/testing (fake QA/LM).
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <filesystem>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "parley/v1/dialog.pb.h"
#include "services/dialog/testing/fake_services.h"
#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/service.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using dialog::testing::FakeServiceServer;
using testing::ChildProcess;
using Clock = std::chrono::steady_clock;

constexpr int kSlots = 3;            // maxReplicas
constexpr int kMinReplicas = 1;
constexpr double kTarget = 2.0;      // targetBacklogPerPod
constexpr double kTolerance = 0.1;   // the HPA's default
constexpr auto kScaleDownWindow = 5s;  // the chart's 300 s, shortened for the test
constexpr double kLatencyObjectiveMs = 250;  // p99 of a turn at peak once scaled out

double metric(const std::string& body, const std::string& name) {
  std::istringstream in(body);
  double total = 0;
  bool found = false;
  for (std::string l; std::getline(in, l);) {
    if (l.rfind(name, 0) != 0) continue;
    const char next = l.size() > name.size() ? l[name.size()] : '\0';
    if (next != ' ' && next != '{') continue;
    total += std::stod(l.substr(l.rfind(' ') + 1));
    found = true;
  }
  return found ? total : -1;
}

struct Slot {
  int zmq_port = 0, http_port = 0;
  std::unique_ptr<ChildProcess> process;  // the running replica
  std::unique_ptr<ChildProcess> old;      // a terminated one still draining (holds the port)
  bool ready = false;
  Clock::time_point started{};
  double first_parse_after_s = -1;  // seconds from start to its first served Parse
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(zmq_port); }
};

struct TurnSample {
  double at_s;
  double latency_ms;
};

class AutoscalingSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    encoder_ = testing::model_dir() + "/encoder-minilm";
    if (!std::filesystem::exists(encoder_)) GTEST_SKIP() << "no encoder model at " << encoder_ << " (tools/models/fetch)";
    dir_ = testing::make_temp_dir("parley-autoscale-sim");
    qa_ = std::move(*FakeServiceServer::start("qa"));
    lm_ = std::move(*FakeServiceServer::start("lm"));
    for (auto& s : slots_) {
      s.zmq_port = testing::free_tcp_port();
      s.http_port = testing::free_tcp_port();
    }
  }
  void TearDown() override {
    stop_ = true;
    for (auto& t : clients_) t.join();
  }

  void start_replica(int i) {
    Slot& s = slots_[i];
    s.process = std::make_unique<ChildProcess>(
        std::vector<std::string>{testing::built_binary("services/nlu/parley-nlu"), "--nlu.encoder_dir=" + encoder_,
                                 "--nlu.batch.workers=1", "--transport.bind=" + s.endpoint(),
                                 "--http.port=" + std::to_string(s.http_port), "--service.drain_grace=10s",
                                 "--log.level=warn"},
        dir_ + "/nlu" + std::to_string(i) + "-" + std::to_string(++starts_) + ".log",
        std::vector<std::string>{"PARLEY_NUM_THREADS=1"});
    s.ready = false;
    s.started = Clock::now();
    s.first_parse_after_s = -1;
  }

  int running() const {
    int n = 0;
    for (const auto& s : slots_) n += s.process ? 1 : 0;
    return n;
  }

  /// Scrapes every running replica: readiness, backlog, Parse calls served.
  double scrape_backlog() {
    double sum = 0;
    int n = 0;
    for (auto& s : slots_) {
      if (!s.process) continue;
      auto r = testing::http_get(s.http_port, "/metrics");
      if (!r.ok() || r->status != 200) continue;
      auto ready = testing::http_get(s.http_port, "/readyz");
      s.ready = ready.ok() && ready->status == 200;
      if (!s.ready) continue;
      sum += std::max(0.0, metric(r->body, "parley_in_flight_requests"));
      ++n;
      if (s.first_parse_after_s < 0) {
        std::smatch m;
        static const std::regex parse_line(R"(parley_requests_total\{[^}]*Nlu/Parse[^}]*\} ([0-9.e+]+))");
        if (std::regex_search(r->body, m, parse_line) && std::stod(m[1]) > 0) {
          s.first_parse_after_s = std::chrono::duration<double>(Clock::now() - s.started).count();
        }
      }
    }
    return n == 0 ? 0 : sum / n;
  }

  Result<testing::HttpReply> call(const std::string& method, const std::string& target, const std::string& body = "") {
    std::map<std::string, std::string> headers;
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return testing::http_request(method, api_port_, target, body, 30s, headers);
  }

  void client_loop(int index) {
    static const char* kTexts[] = {"book a table for 4 at 7pm", "hello there", "I want to book a table tomorrow"};
    while (!stop_) {
      if (index >= active_clients_.load()) {
        std::this_thread::sleep_for(20ms);
        continue;
      }
      auto s = call("POST", "/v1/bots/demo/sessions");
      v1::Session session;
      if (!s.ok() || s->status != 201 || !google::protobuf::util::JsonStringToMessage(s->body, &session).ok()) {
        fail("create: " + (s.ok() ? std::to_string(s->status) + " " + s->body : s.status().to_string()));
        continue;
      }
      for (const char* text : kTexts) {
        if (stop_) break;
        const auto t0 = Clock::now();
        auto r = call("POST", "/v1/sessions/" + session.id() + "/turns", std::string("{\"text\": \"") + text + "\"}");
        const auto t1 = Clock::now();
        v1::TurnResponse turn;
        if (!r.ok() || r->status != 200 || !google::protobuf::util::JsonStringToMessage(r->body, &turn).ok()) {
          fail("turn: " + (r.ok() ? std::to_string(r->status) + " " + r->body : r.status().to_string()));
          continue;
        }
        if (turn.errors_size() > 0 || turn.outcome() == "error") {
          fail("turn with service errors: " + r->body);
          continue;
        }
        std::lock_guard lock(mu_);
        samples_.push_back({std::chrono::duration<double>(t1 - t_start_).count(),
                            std::chrono::duration<double, std::milli>(t1 - t0).count()});
      }
    }
  }
  void fail(const std::string& what) {
    failures_.fetch_add(1);
    std::lock_guard lock(mu_);
    if (failure_samples_.size() < 5) failure_samples_.push_back(what);
  }

  /// p99 (ms) and count of turns that ended in [from, to) seconds.
  std::pair<double, int> p99(double from, double to) {
    std::vector<double> v;
    std::lock_guard lock(mu_);
    for (const auto& s : samples_) {
      if (s.at_s >= from && s.at_s < to) v.push_back(s.latency_ms);
    }
    if (v.empty()) return {0, 0};
    std::sort(v.begin(), v.end());
    return {v[std::min(v.size() - 1, static_cast<std::size_t>(std::ceil(0.99 * v.size())) - 1)], static_cast<int>(v.size())};
  }

  std::string encoder_, dir_;
  std::unique_ptr<FakeServiceServer> qa_, lm_;
  Slot slots_[kSlots];
  int starts_ = 0;
  int api_port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> active_clients_{0}, failures_{0};
  std::vector<std::thread> clients_;
  std::mutex mu_;
  std::vector<TurnSample> samples_;
  std::vector<std::string> failure_samples_;
  Clock::time_point t_start_;
};

TEST_F(AutoscalingSimTest, HpaFormulaOnRealBacklogScalesOutAndInWithoutFailedTurns) {
  start_replica(0);
  api_port_ = testing::free_tcp_port();
  std::string targets;
  for (const auto& s : slots_) targets += (targets.empty() ? "" : ",") + s.endpoint();
  ChildProcess dialog({testing::built_binary("services/dialog/parley-dialog"), "--api.port=" + std::to_string(api_port_),
                       "--http.port=" + std::to_string(testing::free_tcp_port()),
                       "--transport.bind=tcp://127.0.0.1:" + std::to_string(testing::free_tcp_port()),
                       "--dialog.nlu_targets=" + targets, "--dialog.qa_targets=" + qa_->endpoint(),
                       "--dialog.lm_targets=" + lm_->endpoint(), "--dialog.asr_targets=", "--dialog.tts_targets=",
                       "--dialog.sync_interval=200ms", "--dialog.nlu_timeout=10s", "--log.level=warn"},
                      dir_ + "/dialog.log");
  ASSERT_TRUE(testing::wait_until(
      [&] {
        auto r = call("GET", "/v1/bots/demo");
        v1::Bot bot;
        return r.ok() && r->status == 200 && google::protobuf::util::JsonStringToMessage(r->body, &bot).ok() &&
               bot.nlu_trained() && bot.kb_ingested();
      },
      60s))
      << dialog.log() << slots_[0].process->log();

  // The load ramp: phase A 1 client, B 6 clients, C 1 client (seconds from t_start_).
  constexpr double kA = 4, kB = 20, kEnd = 34;
  constexpr int kPeak = 6;
  t_start_ = Clock::now();
  for (int i = 0; i < kPeak; ++i) clients_.emplace_back([this, i] { client_loop(i); });

  struct Row {
    int second, clients, replicas;
    double backlog;
  };
  std::vector<Row> rows;
  std::deque<std::pair<Clock::time_point, int>> recommendations;  // for the scale-down window
  std::vector<double> window;                                     // backlog samples this second
  int replicas = 1, max_replicas_seen = 1;
  std::vector<int> drained_codes;  // exit codes of terminated replicas
  double first_scale_out_s = -1, back_to_min_s = -1;
  for (int tick = 0;; ++tick) {
    const double now_s = std::chrono::duration<double>(Clock::now() - t_start_).count();
    if (now_s >= kEnd) break;
    active_clients_ = now_s < kA ? 1 : now_s < kB ? kPeak : 1;
    window.push_back(scrape_backlog());
    std::this_thread::sleep_for(200ms);
    if (tick % 5 != 4) continue;
    // The controller, once a second: the HPA's formula on the mean backlog of the last second.
    double avg = 0;
    for (double b : window) avg += b;
    avg /= static_cast<double>(window.size());
    window.clear();
    int desired = replicas;
    if (std::abs(avg / kTarget - 1.0) > kTolerance) {
      desired = static_cast<int>(std::ceil(replicas * avg / kTarget));
    }
    desired = std::clamp(desired, kMinReplicas, kSlots);
    const auto t = Clock::now();
    recommendations.emplace_back(t, desired);
    while (!recommendations.empty() && t - recommendations.front().first > kScaleDownWindow) recommendations.pop_front();
    int stabilized = desired;
    for (const auto& [_, d] : recommendations) stabilized = std::max(stabilized, d);  // scale down slowly
    if (desired > replicas) stabilized = desired;                                     // scale up at once
    for (int i = 0; i < kSlots && running() < stabilized; ++i) {
      Slot& s = slots_[i];
      if (s.old && !s.old->running()) {
        drained_codes.push_back(s.old->wait_for(0ms).value_or(-1));
        s.old.reset();
      }
      if (!s.process && !s.old) start_replica(i);
    }
    for (int i = kSlots - 1; i >= 0 && running() > stabilized; --i) {
      Slot& s = slots_[i];
      if (s.process && !s.old) {
        s.process->terminate();  // drains (SIGTERM); reaped later
        s.old = std::move(s.process);
      }
    }
    if (stabilized > replicas && first_scale_out_s < 0) first_scale_out_s = now_s;
    replicas = stabilized;
    max_replicas_seen = std::max(max_replicas_seen, replicas);
    if (now_s > kB && replicas == kMinReplicas && back_to_min_s < 0) back_to_min_s = now_s;
    rows.push_back({static_cast<int>(now_s + 0.5), active_clients_.load(), replicas, avg});
  }
  stop_ = true;
  for (auto& t : clients_) t.join();
  clients_.clear();
  for (auto& s : slots_) {
    if (s.old) drained_codes.push_back(s.old->wait_for(15s).value_or(-1));
  }

  std::printf("\n  t(s)  clients  replicas  backlog/pod  turns/s  p99(ms)\n");
  for (const auto& r : rows) {
    auto [p, n] = p99(r.second - 1, r.second);
    std::printf("  %4d  %7d  %8d  %11.2f  %7d  %7.1f\n", r.second, r.clients, r.replicas, r.backlog, n, p);
  }
  std::string samples;
  for (const auto& s : failure_samples_) samples += "\n  " + s;
  const auto [p99_before, n_before] = p99(kA, kA + 2);     // peak load, one replica
  const auto [p99_after, n_after] = p99(kB - 5, kB);       // peak load, after scale-out
  std::printf("scale-out at %.1f s; max replicas %d; p99 at peak: %.1f ms in its first 2 s, new replicas starting (%d turns) -> %.1f ms in its last 5 s "
              "(%d turns); back to %d replica at %.1f s; failures %d\n",
              first_scale_out_s, max_replicas_seen, p99_before, n_before, p99_after, n_after, kMinReplicas,
              back_to_min_s, failures_.load());
  for (int i = 0; i < kSlots; ++i) {
    if (slots_[i].first_parse_after_s >= 0) {
      std::printf("slot %d: first Parse served %.1f s after its (last) start\n", i, slots_[i].first_parse_after_s);
    }
  }

  EXPECT_EQ(failures_.load(), 0) << "failed turns:" << samples << "\n" << dialog.log();
  EXPECT_GE(first_scale_out_s, kA) << "scaled out before the load rose";
  EXPECT_LT(first_scale_out_s, kA + 4) << "the backlog did not trigger scale-out within 4 s";
  EXPECT_GE(max_replicas_seen, 2);
  for (int i = 1; i < kSlots; ++i) {
    if (slots_[i].started != Clock::time_point{}) {
      EXPECT_GE(slots_[i].first_parse_after_s, 0) << "replica " << i << " never served a turn";
      EXPECT_LT(slots_[i].first_parse_after_s, 10) << "replica " << i << " took too long to get load";
    }
  }
  EXPECT_GT(n_before, 0);
  EXPECT_GT(n_after, 0);
  // After scale-out the backlog per pod is back at (or under) the target — what the HPA aims for —
  // and p99 is under the test's latency objective. (p99 before vs after is printed, not asserted:
  // on a 2-core machine shared with other jobs, CPU rather than replicas bounds it.)
  double backlog_after = 0;
  int n_rows = 0;
  for (const auto& r : rows) {
    if (r.second >= kB - 5 && r.second < kB) {
      backlog_after += r.backlog;
      ++n_rows;
    }
  }
  ASSERT_GT(n_rows, 0);
  backlog_after /= n_rows;
  EXPECT_LE(backlog_after, kTarget * (1 + kTolerance)) << "the backlog per pod stayed above the target after scale-out";
  EXPECT_LT(p99_after, kLatencyObjectiveMs) << "p99 above the objective after scale-out";
  EXPECT_GT(back_to_min_s, kB) << "did not scale back in after the load went away";
  EXPECT_FALSE(drained_codes.empty()) << "no replica was terminated";
  for (int code : drained_codes) EXPECT_EQ(code, 0) << "a terminated replica did not drain cleanly";
}

}  // namespace
}  // namespace parley
