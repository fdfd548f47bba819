// NLU batching benchmark: throughput and latency percentiles of Parse at 32 concurrent clients
// (closed loop, in-process NluService), with featurization behind the DynamicBatcher versus one
// text per encoder call on the handler threads. Prints both and the ratios. Defaults are the
// service's: each featurizing thread runs the encoder alone (--thread-alone 1), 2 batch workers
// (--workers), max batch 16 (--max-batch); --rounds alternating windows of --seconds each.
//
// Bot: the first 1000 SNIPS train examples (texts to parse: SNIPS dev) when the shared test data
// is present, else a small synthetic bot. Featurizer: the MiniLM encoder when it loads (the case
// that matters); else the hash stand-in, whose cost does not depend on batching (say so).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "services/nlu/eval/jointbert.h"
#include "services/nlu/nlu_service.h"
#include "tests/support/closed_loop.h"
#include "shared/common/model_paths.h"

namespace {

using namespace parley;
using Clock = std::chrono::steady_clock;

struct Figures {
  double qps = 0, p50_ms = 0, p99_ms = 0, mean_batch = 0;
  std::size_t errors = 0;
};

class BenchContext : public service::CallContext {
 public:
  const std::string& method() const override { return empty_; }
  const std::string& session_id() const override { return empty_; }
  const std::string& trace_id() const override { return empty_; }
  Clock::time_point deadline() const override { return Clock::now() + std::chrono::minutes(10); }
  bool cancelled() const override { return false; }
  void add_timing(std::string, std::chrono::microseconds) override {}

 private:
  std::string empty_;
};

std::unique_ptr<nlu::NluService> make_service(std::shared_ptr<const nlu::Featurizer> featurizer,
                                              const v1::TrainRequest& bot, std::size_t max_batch, int workers) {
  nlu::NluOptions o;
  o.batch.max_batch_size = max_batch;
  o.batch.max_queue_delay = std::chrono::milliseconds(2);
  o.batch.workers = workers;
  auto svc = nlu::NluService::create(o, std::move(featurizer), nullptr);
  BenchContext ctx;
  if (!svc.ok()) {
    std::cerr << svc.status().to_string() << "\n";
    std::exit(1);
  }
  if (auto r = (*svc)->train(bot, ctx); !r.ok()) {
    std::cerr << r.status().to_string() << "\n";
    std::exit(1);
  }
  return std::move(*svc);
}

Figures measure(nlu::NluService& svc, const std::string& bot_id, int clients, double seconds,
                const std::vector<std::string>& texts) {
  std::uint64_t batches0 = 0, requests0 = 0;
  if (svc.batcher() != nullptr) {
    auto snap = svc.batcher()->stats().snapshot();
    batches0 = snap.batches;
    requests0 = snap.executed;
  }
  testing::LoadFigures load = testing::run_closed_loop(clients, seconds, [&](int c, std::size_t i) {
    v1::ParseRequest req;
    req.set_bot_id(bot_id);
    req.set_text(texts[(static_cast<std::size_t>(c) * 13 + i) % texts.size()]);
    return svc.parse(req, Clock::now() + std::chrono::seconds(60)).ok();
  });
  Figures f;
  f.qps = load.per_second;
  f.p50_ms = load.p50_ms;
  f.p99_ms = load.p99_ms;
  f.errors = load.errors;
  f.mean_batch = 1.0;
  if (svc.batcher() != nullptr) {
    auto snap = svc.batcher()->stats().snapshot();
    if (snap.batches > batches0) {
      f.mean_batch = static_cast<double>(snap.executed - requests0) / static_cast<double>(snap.batches - batches0);
    }
  }
  return f;
}

Figures median(std::vector<Figures> v) {
  auto mid = [&](auto key) {
    std::vector<double> x;
    for (const auto& f : v) x.push_back(key(f));
    std::sort(x.begin(), x.end());
    return x[x.size() / 2];
  };
  Figures m;
  m.qps = mid([](const Figures& f) { return f.qps; });
  m.p50_ms = mid([](const Figures& f) { return f.p50_ms; });
  m.p99_ms = mid([](const Figures& f) { return f.p99_ms; });
  m.mean_batch = mid([](const Figures& f) { return f.mean_batch; });
  for (const auto& f : v) m.errors += f.errors;
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 4;
  int clients = 32;
  std::size_t max_batch = 16;
  int workers = 2;
  int rounds = 3;
  std::string encoder_dir;
  bool thread_alone = true;
  std::string only;  // --only single|batched: measure one mode (profiling)
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--seconds") seconds = std::atof(argv[i + 1]);
    if (k == "--clients") clients = std::atoi(argv[i + 1]);
    if (k == "--max-batch") max_batch = static_cast<std::size_t>(std::atoi(argv[i + 1]));
    if (k == "--workers") workers = std::atoi(argv[i + 1]);
    if (k == "--rounds") rounds = std::max(1, std::atoi(argv[i + 1]));
    if (k == "--encoder-dir") encoder_dir = argv[i + 1];
    if (k == "--thread-alone") thread_alone = std::atoi(argv[i + 1]) != 0;
    if (k == "--only") only = argv[i + 1];
  }
  if (encoder_dir.empty()) {
    const char* env = std::getenv("PARLEY_ENCODER_DIR");
    encoder_dir = env != nullptr && *env != '\0' ? env : parley::default_encoder_dir();
  }
  std::shared_ptr<const nlu::Featurizer> featurizer;
  if (auto f = nlu::EncoderFeaturizer::open(encoder_dir, false, thread_alone); f.ok()) {
    featurizer = std::move(*f);
  } else {
    // No silent stand-in: figures of another featurizer would be reported as the encoder's.
    std::cerr << "nlu_batching_bench: the encoder does not load (" << f.status().to_string()
              << "); run tools/models/fetch or pass --encoder-dir\n";
    return 1;
  }

  v1::TrainRequest bot;
  std::vector<std::string> texts;
  auto train = nlu::eval::read_split(std::string(PARLEY_TESTDATA) + "/nlu/snips/train");
  auto dev = nlu::eval::read_split(std::string(PARLEY_TESTDATA) + "/nlu/snips/dev");
  if (train.ok() && dev.ok()) {
    if (train->examples.size() > 1000) train->examples.resize(1000);
    bot = nlu::eval::to_train_request(*train, "snips1k");
    for (const auto& e : dev->examples) texts.push_back(e.text);
  } else {
    bot.set_bot_id("synthetic");
    for (const char* name : {"greet", "bye", "book"}) {
      auto* i = bot.add_intents();
      i->set_name(name);
      for (int k = 0; k < 5; ++k) i->add_examples()->set_text(std::string(name) + " example " + std::to_string(k));
    }
    texts = {"hello there", "book a table for two tomorrow at seven", "goodbye and thanks", "can you book it"};
  }
  std::printf(
      "nlu batching bench: featurizer %s, %d clients, %d rounds of %.0f s per mode, bot %s (%d intents), %zu texts\n",
      featurizer->name().c_str(), clients, rounds, seconds, bot.bot_id().c_str(), bot.intents_size(), texts.size());
  // Both services live side by side; measurement windows alternate (single, batched, single, ...)
  // so load from other processes on a shared machine hits both modes alike; medians are printed.
  auto single_svc = make_service(featurizer, bot, 1, 0);
  auto batched_svc = make_service(featurizer, bot, max_batch, workers);
  std::vector<Figures> singles, batches;
  for (int r = 0; r < rounds; ++r) {
    singles.push_back(only == "batched" ? Figures{} : measure(*single_svc, bot.bot_id(), clients, seconds, texts));
    batches.push_back(only == "single" ? Figures{} : measure(*batched_svc, bot.bot_id(), clients, seconds, texts));
    std::printf("  round %d: single %.1f/s p99 %.1f ms | batched %.1f/s p99 %.1f ms\n", r + 1, singles.back().qps,
                singles.back().p99_ms, batches.back().qps, batches.back().p99_ms);
  }
  Figures single = median(singles);
  Figures batched = median(batches);
  std::printf("%-28s %10s %10s %10s %10s %8s\n", "mode", "parses/s", "p50 ms", "p99 ms", "mean batch", "errors");
  std::printf("%-28s %10.1f %10.2f %10.2f %10.2f %8zu\n", "one text per encoder call", single.qps, single.p50_ms,
              single.p99_ms, single.mean_batch, single.errors);
  std::printf("%-28s %10.1f %10.2f %10.2f %10.2f %8zu\n",
              ("batched (max " + std::to_string(max_batch) + ", " + std::to_string(workers) + " workers)").c_str(),
              batched.qps, batched.p50_ms, batched.p99_ms, batched.mean_batch, batched.errors);
  std::printf("throughput ratio batched/single: %.2fx; p99 ratio: %.2fx\n", batched.qps / std::max(single.qps, 1e-9),
              batched.p99_ms / std::max(single.p99_ms, 1e-9));
  if (single.errors + batched.errors > 0) {
    std::fprintf(stderr, "nlu_batching_bench: %zu parses failed (excluded from the figures above)\n",
                 single.errors + batched.errors);
    return 1;
  }
  return 0;
}
