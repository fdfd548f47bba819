// parley-nlu-eval: trains a bot on a JointBERT data set's train split (SNIPS or ATIS) and reports
// intent accuracy and slot span-F1 on dev, with timings. Run it through tools/eval/nlu.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "services/nlu/bot_model.h"
#include "services/nlu/eval/jointbert.h"
#include "shared/common/model_paths.h"

namespace {

using Clock = std::chrono::steady_clock;

void usage() {
  std::cout
      << "usage: parley-nlu-eval --dataset snips|atis [options]\n"
         "  --data-dir DIR        JointBERT data root (default: the shared test data's nlu/)\n"
         "  --encoder-dir DIR     encoder model (default: $PARLEY_ENCODER_DIR or $PARLEY_MODEL_DIR/encoder-minilm)\n"
         "  --featurizer NAME     encoder (default) | hash (the unit-test stand-in)\n"
         "  --fp32                FP32 encoder instead of INT8\n"
         "  --shared-pool         split every encoder op over all cores (default: one core per thread)\n"
         "  --intent-epochs N     --tagger-epochs N   (0 = automatic)\n"
         "  --neighbour-context   add neighbours' contextual vectors to the tagger\n"
         "  --no-sparse           no lexical string features\n"
         "  --limit-train N       train on the first N examples only\n"
         "  --errors N            print the first N misparsed dev examples\n";
}

double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  using namespace parley;
  using namespace parley::nlu;
  std::string dataset, data_dir, encoder_dir, featurizer_name = "encoder";
  bool fp32 = false;
  bool shared_pool = false;
  std::size_t limit_train = 0, show_errors = 0;
  TrainOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dataset")
      dataset = next();
    else if (a == "--data-dir")
      data_dir = next();
    else if (a == "--encoder-dir")
      encoder_dir = next();
    else if (a == "--featurizer")
      featurizer_name = next();
    else if (a == "--fp32")
      fp32 = true;
    else if (a == "--shared-pool")
      shared_pool = true;
    else if (a == "--intent-epochs")
      options.intent.epochs = std::stoi(next());
    else if (a == "--tagger-epochs")
      options.tagger.epochs = std::stoi(next());
    else if (a == "--neighbour-context")
      options.tagger.features.neighbour_context = true;
    else if (a == "--no-intent-context")
      options.tagger.features.context = false;
    else if (a == "--no-sparse")
      options.tagger.features.sparse = options.intent.sparse = false;
    else if (a == "--limit-train")
      limit_train = static_cast<std::size_t>(std::stoul(next()));
    else if (a == "--errors")
      show_errors = static_cast<std::size_t>(std::stoul(next()));
    else if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else {
      std::cerr << "unknown argument " << a << "\n";
      usage();
      return 2;
    }
  }
  if (dataset != "snips" && dataset != "atis") {
    usage();
    return 2;
  }
  if (data_dir.empty()) data_dir = std::string(PARLEY_TESTDATA) + "/nlu";
  if (encoder_dir.empty()) {
    const char* env = std::getenv("PARLEY_ENCODER_DIR");
    encoder_dir = env != nullptr && *env != '\0' ? env : parley::default_encoder_dir();
  }
  auto train = eval::read_split(data_dir + "/" + dataset + "/train");
  auto dev = eval::read_split(data_dir + "/" + dataset + "/dev");
  if (!train.ok() || !dev.ok()) {
    std::cerr << "parley-nlu-eval: " << (!train.ok() ? train.status() : dev.status()).to_string() << "\n";
    return 3;
  }
  if (limit_train > 0 && train->examples.size() > limit_train) train->examples.resize(limit_train);

  std::unique_ptr<Featurizer> featurizer;
  auto t_load = Clock::now();
  if (featurizer_name == "hash") {
    featurizer = std::make_unique<HashFeaturizer>(64);
  } else {
    auto f = EncoderFeaturizer::open(encoder_dir, fp32, !shared_pool);
    if (!f.ok()) {
      std::cerr << "parley-nlu-eval: " << f.status().to_string() << "\n";
      return 3;
    }
    featurizer = std::move(*f);
  }
  double load_s = secs(Clock::now() - t_load);

  v1::TrainRequest request = eval::to_train_request(*train, dataset);
  request.set_out_of_scope_threshold(0.0f);
  TrainReport report;
  auto t0 = Clock::now();
  auto model = BotModel::train(request, *featurizer, options, &report);
  double train_s = secs(Clock::now() - t0);
  if (!model.ok()) {
    std::cerr << "parley-nlu-eval: training failed: " << model.status().to_string() << "\n";
    return 1;
  }

  // Dev: featurize in batches (as the service's batcher does), then parse each.
  auto t1 = Clock::now();
  std::vector<std::string> texts;
  for (const auto& ex : dev->examples) texts.push_back(ex.text);
  std::vector<TextFeatures> features, part;
  for (std::size_t first = 0; first < texts.size(); first += 64) {
    std::size_t n = std::min<std::size_t>(64, texts.size() - first);
    auto st = featurizer->featurize(std::span<const std::string>(texts).subspan(first, n), part);
    if (!st.is_ok()) {
      std::cerr << "parley-nlu-eval: " << st.to_string() << "\n";
      return 1;
    }
    for (auto& f : part) features.push_back(std::move(f));
  }
  ParseOptions po;
  po.context.reference = ReferenceTime{2024, 5, 10, 12, 0};
  std::size_t intent_ok = 0, sentence_ok = 0, oos = 0, errors_shown = 0;
  eval::SpanScore score;
  for (std::size_t i = 0; i < dev->examples.size(); ++i) {
    const auto& ex = dev->examples[i];
    auto reply = (*model)->parse(ex.text, features[i], po);
    if (!reply.ok()) {
      std::cerr << "parley-nlu-eval: parse failed: " << reply.status().to_string() << "\n";
      return 1;
    }
    bool iok = reply->intents_size() > 0 && reply->intents(0).name() == ex.intent;
    intent_ok += iok ? 1 : 0;
    oos += reply->out_of_scope() ? 1 : 0;
    std::vector<eval::GoldSpan> predicted;
    for (const auto& s : reply->slots()) predicted.push_back({s.slot(), s.start(), s.end()});
    eval::SpanScore one;
    one.add(ex.spans, predicted);
    score.add(ex.spans, predicted);
    bool sok = iok && one.correct == one.gold && one.correct == one.predicted;
    sentence_ok += sok ? 1 : 0;
    if (!sok && errors_shown < show_errors) {
      ++errors_shown;
      std::cout << "  x \"" << ex.text << "\" intent " << ex.intent << " -> "
                << (reply->intents_size() > 0 ? reply->intents(0).name() : "?") << "\n    gold:";
      for (const auto& s : ex.spans)
        std::cout << " " << s.slot << "='" << ex.text.substr(s.start, s.end - s.start) << "'";
      std::cout << "\n    pred:";
      for (const auto& s : predicted)
        std::cout << " " << s.slot << "='" << ex.text.substr(s.start, s.end - s.start) << "'";
      std::cout << "\n";
    }
  }
  double dev_s = secs(Clock::now() - t1);
  const double n = static_cast<double>(dev->examples.size());
  std::printf("dataset            %s (train %zu examples, %zu skipped; dev %zu)\n", dataset.c_str(),
              train->examples.size(), train->skipped, dev->examples.size());
  std::printf("featurizer         %s (loaded in %.1f s)\n", featurizer->name().c_str(), load_s);
  std::printf(
      "training           %.1f s (featurize %.1f s, intent head %.1f s / %d epochs, slot tagger %.1f s / %d epochs)\n",
      train_s, report.featurize.count() / 1e3, report.intent.count() / 1e3, report.intent_epochs,
      report.tagger.count() / 1e3, report.tagger_epochs);
  std::printf("intent accuracy    %.2f%%\n", 100.0 * static_cast<double>(intent_ok) / n);
  std::printf("slot F1            %.2f%% (precision %.2f%%, recall %.2f%%; %zu gold spans)\n", 100 * score.f1(),
              100 * score.precision(), 100 * score.recall(), score.gold);
  std::printf("sentence accuracy  %.2f%%\n", 100.0 * static_cast<double>(sentence_ok) / n);
  std::printf("out of scope       %.2f%% of dev flagged (similarity floor %.3f)\n",
              100.0 * static_cast<double>(oos) / n, (*model)->similarity_floor());
  std::printf("dev parse          %.1f s (%.2f ms per text, batches of 64)\n", dev_s, 1e3 * dev_s / n);
  std::printf(
      "{\"dataset\":\"%s\",\"intent_accuracy\":%.4f,\"slot_f1\":%.4f,\"sentence_accuracy\":%.4f,"
      "\"train_seconds\":%.2f,\"dev_ms_per_text\":%.3f,\"out_of_scope_rate\":%.4f}\n",
      dataset.c_str(), static_cast<double>(intent_ok) / n, score.f1(), static_cast<double>(sentence_ok) / n, train_s,
      1e3 * dev_s / n, static_cast<double>(oos) / n);
  return 0;
}
