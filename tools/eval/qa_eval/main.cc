// parley-qa-eval: ingests a SQuAD 2.0 article's paragraphs as one knowledge base, answers every
// question with the QA service's extractive mode, and prints retrieval recall@1/@5 and answer
// EM/F1 (official normalisation; unanswerable questions are correct iff we answer nothing).
//
// The no-answer threshold is chosen honestly: on the questions of the EVEN-numbered paragraphs
// (the tuning split) by maximising F1 there, then reported on the ODD-numbered paragraphs (held
// out) and on everything. --threshold T skips tuning and uses T. Depends on services/qa, squad.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>

#include "services/qa/embedder_factory.h"
#include "services/qa/qa_service.h"
#include "shared/common/cli_number.h"
#include "tools/eval/qa_eval/squad.h"

namespace {

using namespace parley;

struct Args {
  std::string data = std::string(PARLEY_TESTDATA) + "/qa/squad_v2_dev_subset_Normans.json";
  std::string embedder = "encoder";
  std::string encoder_dir;
  std::string index = "int8-exact";
  int top_k = 5;
  int chunk_words = 120;
  int overlap_words = 30;
  bool has_threshold = false;
  double threshold = 0;
  bool json = false;
  bool verbose = false;
  std::string weights;  // "semantic,lexical,passage,type"; empty = the service defaults
};

constexpr const char* kUsage =
    "usage: parley-qa-eval [--data FILE] [--embedder encoder|hash] [--encoder-dir DIR]\n"
    "                      [--index int8-exact|float-exact] [--top-k N] [--chunk-words N]\n"
    "                      [--overlap-words N] [--threshold T] [--weights S,L,P,T] [--json] [--verbose]\n"
    "exit status: 0 ok, 2 usage, 3 missing or malformed data, 4 model/service set-up, 5 a failed call\n";

int usage() {
  std::cerr << kUsage;
  return 2;
}

// JSON has no infinity: a threshold of -inf / +inf is "answer always" / "never answer".
std::string json_threshold(double t) {
  if (std::isinf(t)) return t < 0 ? "null,\"threshold_rule\":\"always answer\"" : "null,\"threshold_rule\":\"never answer\"";
  std::ostringstream o;
  o << t << ",\"threshold_rule\":\"answer when confidence >= threshold\"";
  return o.str();
}

struct Outcome {
  std::size_t question = 0;
  bool answerable = false;
  bool tune = false;  // even paragraph
  float confidence = 0;
  std::string span;
  int gold_rank = -1;  // 0-based rank of the gold paragraph among retrieved documents; -1 absent
};

struct Scores {
  std::size_t n = 0, has_ans = 0, no_ans = 0;
  double em = 0, f1 = 0, has_em = 0, has_f1 = 0, no_acc = 0;
};

Scores score(const std::vector<Outcome>& outs, const qa_eval::SquadData& data, double threshold, int split) {
  Scores s;
  for (const auto& o : outs) {
    if (split == 0 && !o.tune) continue;
    if (split == 1 && o.tune) continue;
    const auto& q = data.questions[o.question];
    std::string pred = o.confidence >= threshold ? o.span : "";
    double em = qa_eval::max_over(qa_eval::exact_match, pred, q.answers);
    double f1 = qa_eval::max_over(qa_eval::f1_score, pred, q.answers);
    ++s.n;
    s.em += em;
    s.f1 += f1;
    if (o.answerable) {
      ++s.has_ans;
      s.has_em += em;
      s.has_f1 += f1;
    } else {
      ++s.no_ans;
      s.no_acc += em;
    }
  }
  auto div = [](double a, std::size_t b) { return b == 0 ? 0.0 : 100.0 * a / double(b); };
  s.em = div(s.em, s.n);
  s.f1 = div(s.f1, s.n);
  s.has_em = div(s.has_em, s.has_ans);
  s.has_f1 = div(s.has_f1, s.has_ans);
  s.no_acc = div(s.no_acc, s.no_ans);
  return s;
}

// Built by appending: GCC 12 reports a false -Wrestrict on `"p" + std::to_string(i)`.
std::string doc_id(std::size_t paragraph) {
  std::string s = "p";
  s += std::to_string(paragraph);
  return s;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << k << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--help" || k == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (k == "--data") {
      a.data = next();
    } else if (k == "--embedder") {
      a.embedder = next();
    } else if (k == "--encoder-dir") {
      a.encoder_dir = next();
    } else if (k == "--index") {
      a.index = next();
    } else if (k == "--top-k") {
      a.top_k = static_cast<int>(cli::integer_or_exit(k, next(), 1, 1000));
    } else if (k == "--chunk-words") {
      a.chunk_words = static_cast<int>(cli::integer_or_exit(k, next(), 1, 10000));
    } else if (k == "--overlap-words") {
      a.overlap_words = static_cast<int>(cli::integer_or_exit(k, next(), 0, 10000));
    } else if (k == "--threshold") {
      a.has_threshold = true;
      a.threshold = cli::number_or_exit(k, next(), -1e6, 1e6);
    } else if (k == "--json") {
      a.json = true;
    } else if (k == "--weights") {
      a.weights = next();
    } else if (k == "--verbose") {
      a.verbose = true;
    } else {
      std::cerr << "parley-qa-eval: unknown option '" << k << "'\n";
      return usage();
    }
  }
  std::ifstream in(a.data, std::ios::binary);
  if (!in) {
    std::cerr << "parley-qa-eval: cannot read " << a.data << " (see ../shared/testdata/MANIFEST.md, qa/)\n";
    return 3;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  auto data = qa_eval::parse_squad(buf.str());
  if (!data.ok()) {
    std::cerr << "parley-qa-eval: " << a.data << ": " << data.status().to_string() << "\n";
    return 3;
  }
  auto embedder = qa::make_embedder(a.embedder, a.encoder_dir, 2);
  if (!embedder.ok()) {
    std::cerr << "parley-qa-eval: " << embedder.status().to_string() << "\n";
    return 4;
  }
  qa::QaOptions o;
  o.index_kind = a.index;
  if (!a.weights.empty()) {
    float w[4] = {0, 0, 0, 0};
    if (std::sscanf(a.weights.c_str(), "%f,%f,%f,%f", &w[0], &w[1], &w[2], &w[3]) != 4) return usage();
    o.weights = {.semantic = w[0], .lexical = w[1], .passage = w[2], .answer_type = w[3]};
  }
  o.batch.workers = 0;  // one client: embed inline, a batcher would only add delay
  o.limits.max_document_bytes = 1 << 24;
  o.limits.max_ingest_bytes = 1 << 26;
  auto svc = qa::QaService::create(o, *embedder, nullptr, nullptr);
  if (!svc.ok()) {
    std::cerr << "parley-qa-eval: " << svc.status().to_string() << "\n";
    return 4;
  }
  auto deadline = [] { return std::chrono::steady_clock::now() + std::chrono::minutes(10); };
  v1::IngestRequest ingest;
  ingest.set_kb_id("squad");
  ingest.set_chunk_tokens(a.chunk_words);
  ingest.set_overlap_tokens(a.overlap_words);
  for (std::size_t p = 0; p < data->paragraphs.size(); ++p) {
    auto* d = ingest.add_documents();
    d->set_id(doc_id(p));
    d->set_title(data->paragraph_titles[p]);
    d->set_text(data->paragraphs[p]);
  }
  auto t0 = std::chrono::steady_clock::now();
  auto ingested = (*svc)->ingest(ingest, deadline());
  if (!ingested.ok()) {
    std::cerr << "parley-qa-eval: ingest: " << ingested.status().to_string() << "\n";
    return 5;
  }
  double ingest_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::vector<Outcome> outs;
  std::size_t answerable = 0, r1 = 0, r5 = 0;
  auto t1 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < data->questions.size(); ++i) {
    const auto& q = data->questions[i];
    v1::AnswerRequest req;
    req.set_kb_id("squad");
    req.set_question(q.question);
    req.set_top_k(a.top_k);
    req.set_min_score(-1000);  // always extract; thresholds are applied below
    req.set_short_answer(true);
    auto r = (*svc)->answer(req, deadline());
    if (!r.ok()) {
      std::cerr << "parley-qa-eval: question " << q.id << ": " << r.status().to_string() << "\n";
      return 5;
    }
    Outcome o;
    o.question = i;
    o.answerable = !q.answers.empty();
    o.tune = q.paragraph % 2 == 0;
    o.confidence = r->confidence();
    o.span = r->span();
    std::vector<std::string> docs;  // distinct documents in rank order
    for (const auto& p : r->passages()) {
      if (std::find(docs.begin(), docs.end(), p.document_id()) == docs.end()) docs.push_back(p.document_id());
    }
    std::string gold = doc_id(q.paragraph);
    for (std::size_t k = 0; k < docs.size(); ++k) {
      if (docs[k] == gold) o.gold_rank = static_cast<int>(k);
    }
    if (o.answerable) {
      ++answerable;
      if (o.gold_rank == 0) ++r1;
      if (o.gold_rank >= 0 && o.gold_rank < 5) ++r5;
    }
    if (a.verbose) {
      std::cerr << (o.answerable ? "A " : "U ") << fmt(o.confidence * 100) << " rank=" << o.gold_rank << " Q: "
                << q.question << "\n    -> " << o.span << "\n    gold: " << (q.answers.empty() ? "" : q.answers[0])
                << "\n";
    }
    outs.push_back(std::move(o));
  }
  double answer_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();

  // Threshold: maximise F1 on the tuning split over every distinct confidence seen there (a
  // threshold between two neighbours behaves the same), plus "always" and "never" answer.
  std::string how = "fixed by --threshold";
  double threshold = a.threshold;
  if (!a.has_threshold) {
    std::vector<double> cands = {-std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()};
    for (const auto& o : outs) {
      if (o.tune) cands.push_back(o.confidence);
    }
    std::sort(cands.begin(), cands.end());
    double best_f1 = -1;
    for (double t : cands) {
      double f1 = score(outs, *data, t, 0).f1;
      if (f1 > best_f1) {
        best_f1 = f1;
        threshold = t;
      }
    }
    how = "max F1 on the tuning split (questions of even-numbered paragraphs)";
  }
  Scores all = score(outs, *data, threshold, 2);
  Scores held = score(outs, *data, threshold, 1);
  Scores tune = score(outs, *data, threshold, 0);
  Scores always = score(outs, *data, -std::numeric_limits<double>::infinity(), 2);
  double recall1 = answerable == 0 ? 0 : 100.0 * double(r1) / double(answerable);
  double recall5 = answerable == 0 ? 0 : 100.0 * double(r5) / double(answerable);

  if (a.json) {
    std::cout << "{\"embedder\":\"" << (*embedder)->name() << "\",\"index\":\"" << a.index
              << "\",\"questions\":" << outs.size() << ",\"answerable\":" << answerable
              << ",\"passages\":" << (*svc)->store().get("squad")->passages().size() << ",\"recall_at_1\":" << recall1
              << ",\"recall_at_5\":" << recall5 << ",\"threshold\":" << json_threshold(threshold) << ",\"em\":" << all.em
              << ",\"f1\":" << all.f1 << ",\"heldout_em\":" << held.em << ",\"heldout_f1\":" << held.f1
              << ",\"has_ans_f1\":" << all.has_f1 << ",\"no_ans_acc\":" << all.no_acc
              << ",\"always_answer_has_ans_f1\":" << always.has_f1 << "}\n";
    return 0;
  }
  std::cout << "QA evaluation: " << a.data << "\n"
            << "  embedder " << (*embedder)->name() << ", index " << a.index << ", top_k " << a.top_k << ", "
            << data->paragraphs.size() << " paragraphs -> " << (*svc)->store().get("squad")->passages().size()
            << " passages (ingest " << fmt(ingest_s) << " s), " << outs.size() << " questions (" << answerable
            << " answerable) in " << fmt(answer_s) << " s\n"
            << "  retrieval (answerable): recall@1 " << fmt(recall1) << "  recall@5 " << fmt(recall5) << "\n"
            << "  no-answer threshold " << threshold << " (" << how << ")\n"
            << "  all " << all.n << ":        EM " << fmt(all.em) << "  F1 " << fmt(all.f1) << "  (HasAns F1 "
            << fmt(all.has_f1) << ", NoAns acc " << fmt(all.no_acc) << ")\n"
            << "  held-out " << held.n << ":    EM " << fmt(held.em) << "  F1 " << fmt(held.f1) << "\n"
            << "  tuning " << tune.n << ":      EM " << fmt(tune.em) << "  F1 " << fmt(tune.f1) << "\n"
            << "  always answering: HasAns EM " << fmt(always.has_em) << "  F1 " << fmt(always.has_f1)
            << ", overall F1 " << fmt(always.f1) << "\n";
  return 0;
}
