// QA batching benchmark: throughput and latency percentiles of Answer at 32 concurrent clients,
// with question embedding batched (DynamicBatcher, max batch 32) versus one question per embed
// call, on the same number of engine worker threads. Prints both and the ratio.
//
// Embedder: the real MiniLM encoder (default, --embedder encoder); when it does not load the
// benchmark fails (exit 1) rather than measure something else. `--embedder stand-in` asks
// explicitly for a stand-in with MiniLM's feed-forward shapes (6 layers of 384→1536→384, f32,
// through kernels' cpu::gemm) for machines without the model; its name is printed with the figures.
// Exit 1 when any Answer call failed (failed calls are excluded from the figures).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "kernels/cpu/thread_pool.h"
#include "kernels/ops/gemm.h"
#include "services/qa/embedder_factory.h"
#include "services/qa/qa_service.h"
#include "tests/support/closed_loop.h"

namespace {

using namespace parley;
using Clock = std::chrono::steady_clock;

/// Hash features (384) → 6 × [Linear 384→1536 + GELU, Linear 1536→384, residual] → L2 norm.
class FfnStandInEmbedder final : public qa::Embedder {
 public:
  FfnStandInEmbedder() : hash_(kDim) {
    std::mt19937 rng(7);
    std::normal_distribution<float> n(0.0f, 0.02f);
    for (int l = 0; l < kLayers; ++l) {
      up_.emplace_back(std::size_t{kFfn} * kDim);
      down_.emplace_back(std::size_t{kDim} * kFfn);
      for (auto& w : up_.back()) w = n(rng);
      for (auto& w : down_.back()) w = n(rng);
    }
  }
  int dim() const override { return kDim; }
  std::string name() const override { return "ffn-stand-in-384"; }
  Result<qa::Embeddings> embed(const std::vector<std::string>& texts) const override {
    PARLEY_ASSIGN_OR_RETURN(qa::Embeddings x, hash_.embed(texts));
    auto m = static_cast<std::int64_t>(texts.size());
    std::vector<float> h(static_cast<std::size_t>(m) * kFfn), y(static_cast<std::size_t>(m) * kDim);
    thread_local kernels::ThreadPool pool(1);  // one core per engine worker, in both modes
    kernels::ExecContext ctx;
    ctx.threads = &pool;
    for (int l = 0; l < kLayers; ++l) {
      kernels::GemmArgs up{.m = m, .n = kFfn, .k = kDim, .a = x.data.data(), .lda = kDim, .b = up_[l].data(),
                           .ldb = kDim, .c = h.data(), .ldc = kFfn, .activation = kernels::Activation::kGeluErf};
      PARLEY_RETURN_IF_ERROR(kernels::cpu::gemm(up, ctx));
      kernels::GemmArgs down{.m = m, .n = kDim, .k = kFfn, .a = h.data(), .lda = kFfn, .b = down_[l].data(),
                             .ldb = kFfn, .c = y.data(), .ldc = kDim};
      PARLEY_RETURN_IF_ERROR(kernels::cpu::gemm(down, ctx));
      for (std::size_t i = 0; i < y.size(); ++i) x.data[i] += y[i];
    }
    for (std::int64_t r = 0; r < m; ++r) {
      float* row = x.data.data() + r * kDim;
      double s = 0;
      for (int d = 0; d < kDim; ++d) s += double(row[d]) * row[d];
      auto inv = static_cast<float>(1.0 / std::sqrt(std::max(s, 1e-12)));
      for (int d = 0; d < kDim; ++d) row[d] *= inv;
    }
    return x;
  }

 private:
  static constexpr int kDim = 384;
  static constexpr int kFfn = 1536;
  static constexpr int kLayers = 6;
  qa::HashEmbedder hash_;
  std::vector<std::vector<float>> up_, down_;
};

struct Figures {
  double qps = 0, p50_ms = 0, p99_ms = 0, mean_batch = 0;
  std::size_t errors = 0;
};

// Appends rather than `"x" + std::to_string(i)`: GCC 12 reports a false -Wrestrict on that.
std::string numbered(const char* prefix, std::size_t i, const char* suffix = "") {
  std::string s = prefix;
  s += std::to_string(i);
  s += suffix;
  return s;
}

std::vector<std::string> load_questions(std::vector<std::string>& paragraphs) {
  // Paragraph and question text from the SQuAD file when present (a crude scan: fine for a
  // benchmark's inputs); otherwise synthetic ones.
  std::ifstream in(std::string(PARLEY_TESTDATA) + "/qa/squad_v2_dev_subset_Normans.json");
  std::vector<std::string> questions;
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    std::string t = ss.str();
    auto grab = [&](const std::string& key, std::vector<std::string>& out) {
      for (std::size_t p = t.find(key); p != std::string::npos; p = t.find(key, p + 1)) {
        std::size_t b = t.find('"', p + key.size()) + 1;
        std::size_t e = b;
        while (e < t.size() && !(t[e] == '"' && t[e - 1] != '\\')) ++e;
        out.push_back(t.substr(b, e - b));
      }
    };
    grab("\"context\":", paragraphs);
    grab("\"question\":", questions);
  }
  if (paragraphs.empty()) {
    for (int i = 0; i < 40; ++i) paragraphs.push_back(numbered("Paragraph about topic ", static_cast<std::size_t>(i) * 7, "."));
  }
  if (questions.empty()) {
    for (int i = 0; i < 200; ++i) questions.push_back(numbered("What about topic ", static_cast<std::size_t>(i), "?"));
  }
  return questions;
}

Figures run(std::shared_ptr<const qa::Embedder> embedder, std::size_t max_batch, int workers, int clients,
            double seconds, const std::vector<std::string>& paragraphs, const std::vector<std::string>& questions) {
  qa::QaOptions o;
  o.batch.max_batch_size = max_batch;
  o.batch.workers = workers;
  o.batch.max_queue_delay = std::chrono::microseconds(500);
  auto svc = qa::QaService::create(o, std::move(embedder), nullptr, nullptr);
  if (!svc.ok()) {
    std::cerr << svc.status().to_string() << "\n";
    std::exit(1);
  }
  v1::IngestRequest ing;
  ing.set_kb_id("bench");
  for (std::size_t i = 0; i < paragraphs.size(); ++i) {
    auto* d = ing.add_documents();
    d->set_id(numbered("p", i));
    d->set_text(paragraphs[i]);
  }
  if (auto r = (*svc)->ingest(ing, Clock::now() + std::chrono::minutes(5)); !r.ok()) {
    std::cerr << r.status().to_string() << "\n";
    std::exit(1);
  }
  testing::LoadFigures load = testing::run_closed_loop(clients, seconds, [&](int c, std::size_t i) {
    v1::AnswerRequest req;
    req.set_kb_id("bench");
    req.set_question(questions[(static_cast<std::size_t>(c) * 7 + i) % questions.size()]);
    return (*svc)->answer(req, Clock::now() + std::chrono::seconds(30)).ok();
  });
  Figures f;
  f.qps = load.per_second;
  f.p50_ms = load.p50_ms;
  f.p99_ms = load.p99_ms;
  f.errors = load.errors;
  f.mean_batch = (*svc)->batcher()->stats().snapshot().mean_batch_size();
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  int clients = 32;
  int workers = 2;
  std::string kind = "encoder";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--seconds") seconds = std::atof(argv[i + 1]);
    if (k == "--clients") clients = std::atoi(argv[i + 1]);
    if (k == "--workers") workers = std::atoi(argv[i + 1]);
    if (k == "--embedder") kind = argv[i + 1];
  }
  std::shared_ptr<const qa::Embedder> embedder;
  if (kind != "stand-in") {
    auto e = qa::make_embedder(kind, "", 1);
    if (!e.ok()) {
      std::cerr << "qa_batching_bench: embedder '" << kind << "' does not load (" << e.status().to_string()
                << "); run tools/models/fetch, or pass --embedder stand-in explicitly\n";
      return 1;
    }
    embedder = *e;
  } else {
    embedder = std::make_shared<FfnStandInEmbedder>();
  }
  std::vector<std::string> paragraphs;
  auto questions = load_questions(paragraphs);
  std::printf("qa_batching_bench: embedder %s, %d clients, %d engine workers, %.0f s per run, %zu passages source\n",
              embedder->name().c_str(), clients, workers, seconds, paragraphs.size());
  Figures one = run(embedder, 1, workers, clients, seconds, paragraphs, questions);
  Figures batched = run(embedder, 32, workers, clients, seconds, paragraphs, questions);
  auto line = [](const char* name, const Figures& f) {
    std::printf("  %-22s %8.1f answers/s   p50 %7.2f ms   p99 %7.2f ms   mean batch %5.1f   errors %zu\n", name,
                f.qps, f.p50_ms, f.p99_ms, f.mean_batch, f.errors);
  };
  line("one question per call", one);
  line("dynamic batching (32)", batched);
  std::printf("  ratio: throughput x%.2f, p99 x%.2f (target: throughput >= 2x at a p99 no worse)\n",
              batched.qps / std::max(one.qps, 1e-9), batched.p99_ms / std::max(one.p99_ms, 1e-9));
  if (one.errors + batched.errors > 0) {
    std::fprintf(stderr, "qa_batching_bench: %zu answers failed (excluded from the figures above)\n",
                 one.errors + batched.errors);
    return 1;
  }
  return 0;
}
