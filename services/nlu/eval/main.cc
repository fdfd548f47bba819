// parley-nlu-eval: trains a bot on a JointBERT data set's train split (SNIPS or ATIS) — on the
// frozen encoder, or on an encoder fine-tuned for it (--finetune) — and reports intent accuracy
// and slot span-F1 on an evaluation split (--split, default dev), with timings.
// Run it through tools/eval/nlu.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "services/nlu/bio.h"
#include "services/nlu/bot_model.h"
#include "services/nlu/featurizer.h"
#include "services/nlu/finetune.h"
#include "services/nlu/finetune_cache.h"
#include "shared/models/encoder/train/trainable_encoder.h"
#include "services/nlu/eval/jointbert.h"
#include "shared/common/cli_number.h"
#include "shared/common/model_paths.h"
#include "shared/engine/device.h"

namespace {

using Clock = std::chrono::steady_clock;

void usage() {
  std::cout
      << "usage: parley-nlu-eval --dataset snips|atis [options]\n"
         "  --split NAME          evaluation split directory under <data-dir>/<dataset>/ (default dev)\n"
         "  --data-dir DIR        JointBERT data root (default: the shared test data's nlu/)\n"
         "  --encoder-dir DIR     encoder model (default: $PARLEY_ENCODER_DIR or $PARLEY_MODEL_DIR/encoder-minilm)\n"
         "  --featurizer NAME     encoder (default) | hash (the unit-test stand-in)\n"
         "  --fp32                FP32 encoder instead of INT8\n"
         "  --shared-pool         split every encoder op over all cores (default: one core per thread)\n"
         "  --intent-epochs N     --tagger-epochs N   (0 = automatic)\n"
         "  --neighbour-context   add neighbours' contextual vectors to the tagger\n"
         "  --no-sparse           no lexical string features\n"
         "  --limit-train N       train on the first N examples only\n"
         "  --errors N            print the first N misparsed evaluation examples\n"
         "fine-tuning (the encoder trained jointly for intent and slots on the train split first):\n"
         "  --finetune MODE       off (default) | full (every layer) | lora (top --ft-full-layers layers\n"
         "                        in full, LoRA on the --ft-lora-layers below them)\n"
         "  --ft-epochs N  --ft-lr X  --ft-head-lr X  --ft-batch N  --ft-warmup X  --ft-seed N\n"
         "  --ft-full-layers N  --ft-lora-layers N  --ft-lora-rank N  --ft-word-embeddings\n"
         "  --ft-no-stack         the bot's heads see the fine-tuned encoder alone, not the joint heads' logits\n"
         "  --ft-sparse24         prune every trained linear to 2:4 and fine-tune with the masks fixed\n"
         "  --ft-dropout X        dropout on the attention and FFN outputs while fine-tuning (default: the\n"
         "                        service's, nlu.finetune.dropout)\n"
         "  --ft-bf16 | --ft-fp32  mixed precision (the linears' products in bf16 where the CPU has\n"
         "                        AVX512_BF16) or all FP32 (default: the service's, nlu.finetune.bf16)\n"
         "  --ft-cache DIR        keep the fine-tuned encoder in DIR (nlu.finetune.cache_dir) and reuse it when the\n"
         "                        train split, encoder and fine-tuning options are the same\n"
         "  --ft-device D         where fine-tuning runs: cpu (default) | cuda | cuda:N | auto; the tuned\n"
         "                        encoder is evaluated on the CPU either way\n"
         "  --prune24             prune the encoder's linears to 2:4 and evaluate without fine-tuning\n"
         "  --serve-fp32          the fine-tuned encoder serves in FP32 (default: the INT8 preset)\n"
         "  --serve-sparse24      the fine-tuned (--ft-sparse24, --finetune full) or --prune24 encoder serves on\n"
         "                        the 2:4 INT8 GEMM (LoadOptions::sparse24_int8)\n"
         "exit status: 0 ok, 1 failure, 2 usage, 3 missing data/model\n";
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
  std::string split_name = "dev", finetune_mode = "off", ft_cache_dir;
  bool ft_cache_hit = false;
  bool prune24 = false, serve_fp32 = false, serve_sparse24 = false;
  TrainOptions options;
  FinetuneOptions ft;
  const auto number = cli::number_or_exit;
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
    else if (a == "--split")
      split_name = next();
    else if (a == "--finetune")
      finetune_mode = next();
    else if (a == "--ft-epochs")
      ft.joint.epochs = static_cast<int>(number(a, next(), 1, 1000));
    else if (a == "--ft-lr")
      ft.joint.lr = static_cast<float>(number(a, next(), 0, 1));
    else if (a == "--ft-head-lr")
      ft.joint.head_lr = static_cast<float>(number(a, next(), 0, 1));
    else if (a == "--ft-batch")
      ft.joint.batch_size = static_cast<std::int64_t>(number(a, next(), 1, 4096));
    else if (a == "--ft-warmup")
      ft.joint.warmup = static_cast<float>(number(a, next(), 0, 1));
    else if (a == "--ft-seed")
      ft.joint.seed = static_cast<std::uint32_t>(number(a, next(), 0, 4294967295.0));
    else if (a == "--ft-full-layers")
      ft.joint.encoder.full_layers = static_cast<int>(number(a, next(), -1, 1000));
    else if (a == "--ft-lora-layers")
      ft.joint.encoder.lora_layers = static_cast<int>(number(a, next(), 0, 1000));
    else if (a == "--ft-lora-rank")
      ft.joint.encoder.lora_rank = static_cast<int>(number(a, next(), 1, 1024));
    else if (a == "--ft-no-stack")
      ft.stack_heads = false;
    else if (a == "--ft-word-embeddings")
      ft.joint.encoder.train_word_embeddings = true;
    else if (a == "--ft-sparse24")
      ft.joint.encoder.sparse24 = true;
    else if (a == "--ft-dropout")
      ft.joint.encoder.dropout = static_cast<float>(number(a, next(), 0, 0.9));
    else if (a == "--ft-bf16")
      ft.joint.encoder.bf16 = true;
    else if (a == "--ft-fp32")
      ft.joint.encoder.bf16 = false;
    else if (a == "--ft-cache")
      ft_cache_dir = next();
    else if (a == "--ft-device") {
      auto d = engine::resolve_device_setting(next(), "--ft-device");
      if (!d.ok()) {
        std::cerr << "parley-nlu-eval: " << d.status().to_string() << "\n";
        return 2;
      }
      ft.device = *d;
    }
    else if (a == "--prune24")
      prune24 = true;
    else if (a == "--serve-fp32")
      serve_fp32 = true;
    else if (a == "--serve-sparse24")
      serve_sparse24 = true;
    else if (a == "--intent-epochs")
      options.intent.epochs = static_cast<int>(number(a, next(), 0, 10000));
    else if (a == "--tagger-epochs")
      options.tagger.epochs = static_cast<int>(number(a, next(), 0, 10000));
    else if (a == "--neighbour-context")
      options.tagger.features.neighbour_context = true;
    else if (a == "--no-intent-context")
      options.tagger.features.context = false;
    else if (a == "--no-sparse")
      options.tagger.features.sparse = options.intent.sparse = false;
    else if (a == "--limit-train")
      limit_train = static_cast<std::size_t>(number(a, next(), 1, 1e9));
    else if (a == "--errors")
      show_errors = static_cast<std::size_t>(number(a, next(), 0, 1e9));
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
  if (finetune_mode != "off" && finetune_mode != "full" && finetune_mode != "lora") {
    std::cerr << "--finetune: '" << finetune_mode << "' is not off, full or lora\n";
    return 2;
  }
  if (split_name.empty() || split_name.find('/') != std::string::npos || split_name == "..") {
    std::cerr << "--split: '" << split_name << "' is not a split directory name\n";
    return 2;
  }
  if (finetune_mode == "full") {
    ft.joint.encoder.full_layers = -1;
    ft.joint.encoder.lora_layers = 0;
  } else if (finetune_mode == "lora") {
    if (ft.joint.encoder.full_layers < 0) ft.joint.encoder.full_layers = 2;
    if (ft.joint.encoder.lora_layers == 0) ft.joint.encoder.lora_layers = 4;
  }
  if (data_dir.empty()) data_dir = std::string(PARLEY_TESTDATA) + "/nlu";
  if (encoder_dir.empty()) {
    const char* env = std::getenv("PARLEY_ENCODER_DIR");
    encoder_dir = env != nullptr && *env != '\0' ? env : parley::default_encoder_dir();
  }
  auto train = eval::read_split(data_dir + "/" + dataset + "/train");
  auto dev = eval::read_split(data_dir + "/" + dataset + "/" + split_name);
  if (!train.ok() || !dev.ok()) {
    std::cerr << "parley-nlu-eval: " << (!train.ok() ? train.status() : dev.status()).to_string() << "\n";
    return 3;
  }
  if (limit_train > 0 && train->examples.size() > limit_train) train->examples.resize(limit_train);

  std::unique_ptr<Featurizer> featurizer;
  auto t_load = Clock::now();
  if (featurizer_name == "hash") {
    featurizer = std::make_unique<HashFeaturizer>(64);
  } else if (finetune_mode == "off" && !prune24) {
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
  FinetuneReport ft_report;
  double finetune_s = 0.0;
  std::shared_ptr<const JointHeads> joint_heads;  // fine-tuned with stacking: also scored on their own
  if (featurizer == nullptr) {
    // Fine-tuned (or pruned) encoder: start from the FP32 weights, serve in the INT8 preset.
    if (auto st = encoder::check_model_dir(encoder_dir, "or pass --encoder-dir"); !st.is_ok()) {
      std::cerr << "parley-nlu-eval: " << st.to_string() << "\n";
      return 3;
    }
    encoder::EncoderOptions eo;
    eo.load.precision = encoder::Precision::kFp32;
    auto base = encoder::Encoder::open(encoder_dir, eo);
    if (!base.ok()) {
      std::cerr << "parley-nlu-eval: " << base.status().to_string() << "\n";
      return 3;
    }
    load_s = secs(Clock::now() - t_load);
    if (serve_sparse24) ft.serve = encoder::LoadOptions::sparse24_int8();
    if (serve_fp32 || fp32) ft.serve.precision = encoder::Precision::kFp32;
    auto t_ft = Clock::now();
    std::shared_ptr<const encoder::Encoder> tuned;
    std::shared_ptr<const JointHeads> heads;
    if (finetune_mode == "off") {  // --prune24: the pruned encoder, no training
      encoder::EncoderWeights w = (*base)->model().weights();
      for (encoder::LayerWeights& l : w.layers) {
        for (encoder::Linear* lin : {&l.qkv, &l.attn_out, &l.ffn_in, &l.ffn_out}) {
          auto mask = encoder::train::mask_2to4(lin->w.data(), lin->out, lin->in);
          for (std::size_t i = 0; i < mask.size(); ++i) lin->w[i] = mask[i] ? lin->w[i] : 0.0f;
        }
      }
      auto m = encoder::EncoderModel::from_host_weights(std::move(w), (*base)->model().config(),
                                                        (*base)->model().sentence(), ft.serve);
      if (!m.ok()) {
        std::cerr << "parley-nlu-eval: " << m.status().to_string() << "\n";
        return 1;
      }
      tuned = encoder::Encoder::create(std::move(*m), (*base)->shared_tokenizer(), (*base)->options());
    } else {
      std::int64_t last = -1;
      ft.joint.progress = [&](const encoder::train::JointProgress& p) {
        if (p.step == p.steps || p.step / 50 != last) {
          last = p.step / 50;
          std::fprintf(stderr, "  fine-tuning epoch %d/%d step %lld/%lld loss %.4f %.0f s\n", p.epoch, p.epochs,
                       static_cast<long long>(p.step), static_cast<long long>(p.steps), p.loss, p.seconds);
        }
      };
      Result<FinetunedEncoder> t = failed_precondition("not fine-tuned");
      if (ft_cache_dir.empty()) {
        t = finetune_encoder(request, **base, ft, &ft_report);
      } else {
        // --ft-cache: the service's cache (finetune_cache.h), so runs that change only the bot's
        // heads reuse one fine-tuning.
        auto cache = FinetuneCache::open({.dir = ft_cache_dir});
        if (!cache.ok()) {
          std::cerr << "parley-nlu-eval: --ft-cache: " << cache.status().to_string() << "\n";
          return 2;
        }
        const v1::FineTuneMode mode = finetune_mode == "lora" ? v1::FINE_TUNE_LORA : v1::FINE_TUNE_FULL;
        const std::string key = FinetuneCache::key(request, mode, ft, FinetuneCache::base_id((*base)->model()));
        auto hit = (*cache)->load(key, (*base)->model(), joint_label_count(request), joint_tag_count(request));
        if (!hit.ok()) std::cerr << "  " << hit.status().to_string() << "\n";
        Result<FinetunedWeights> w = failed_precondition("not fine-tuned");
        if (hit.ok() && hit->has_value()) {
          std::fprintf(stderr, "  fine-tuning cache: hit, %s\n", (*cache)->path(key).c_str());
          ft_cache_hit = true;
          w = std::move(**hit);
        } else {
          w = train_finetuned(request, **base, ft, &ft_report);
          if (w.ok()) {
            const Status st = (*cache)->store(key, *w, (*base)->model());
            std::fprintf(stderr, "  fine-tuning cache: %s %s\n", st.is_ok() ? "stored" : st.to_string().c_str(),
                         (*cache)->path(key).c_str());
          }
        }
        if (w.ok())
          t = serve_finetuned(std::move(*w), **base, ft, &ft_report);
        else
          t = w.status();
      }
      if (!t.ok()) {
        std::cerr << "parley-nlu-eval: fine-tuning failed: " << t.status().to_string() << "\n";
        return 1;
      }
      tuned = std::move(t->encoder);
      heads = std::move(t->heads);
    }
    finetune_s = secs(Clock::now() - t_ft);
    joint_heads = heads;
    featurizer = std::make_unique<EncoderFeaturizer>(std::move(tuned), 128, !shared_pool, std::move(heads));
  }
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
  // The joint heads on their own (argmax intent on [CLS], argmax BIO tag on each word's first
  // sub-word): what end-to-end training learned before the bot's heads build on it.
  std::size_t joint_intent_ok = 0;
  eval::SpanScore joint_score;
  if (joint_heads) {
    std::vector<std::string> slot_order;  // joint_examples' tag order: slots by first appearance
    for (const auto& intent : request.intents()) {
      for (const auto& ex : intent.examples()) {
        for (const auto& sl : ex.slots()) {
          if (std::find(slot_order.begin(), slot_order.end(), sl.slot()) == slot_order.end()) slot_order.push_back(sl.slot());
        }
      }
    }
    const auto h = static_cast<std::size_t>(features.empty() ? 0 : features[0].context_dim - joint_heads->tags);
    for (std::size_t i = 0; i < dev->examples.size(); ++i) {
      const TextFeatures& f = features[i];
      const auto& lg = f.intent_logits;
      const auto best = static_cast<int>(std::max_element(lg.begin(), lg.end()) - lg.begin());
      joint_intent_ok += request.intents(best).name() == dev->examples[i].intent ? 1 : 0;
      std::vector<int> tags;
      for (std::size_t w = 0; w < f.size(); ++w) {
        const float* row = f.context_row(w) + h;
        tags.push_back(static_cast<int>(std::max_element(row, row + joint_heads->tags) - row));
      }
      std::vector<eval::GoldSpan> predicted;
      for (const WordSpan& ws : tags_to_spans(tags)) {
        predicted.push_back({slot_order[static_cast<std::size_t>(ws.slot)], static_cast<int>(f.words[ws.first].begin),
                             static_cast<int>(f.words[ws.last].end)});
      }
      joint_score.add(dev->examples[i].spans, predicted);
    }
  }
  // A malformed evaluation line (invalid UTF-8, tag count != word count, empty) is an error of
  // the evaluation, never silently dropped: it counts as a wrong intent and a wrong sentence.
  const std::size_t malformed = dev->skipped;
  const double n = static_cast<double>(dev->examples.size() + malformed);
  std::printf("dataset            %s (train %zu examples, %zu skipped; %s %zu)\n", dataset.c_str(),
              train->examples.size(), train->skipped, split_name.c_str(), dev->examples.size() + malformed);
  std::printf("malformed lines    %zu in %s (counted as errors)\n", malformed, split_name.c_str());
  if (finetune_mode != "off" && ft_cache_hit) {
    std::printf("fine-tuning        %s: loaded from the fine-tuning cache in %.1f s\n", finetune_mode.c_str(), finetune_s);
  } else if (finetune_mode != "off") {
    std::printf("fine-tuning        %s: %.1f s (%lld examples, %d epochs, %lld steps, %.0f tokens/s, %lld trainable values, "
                "final loss %.4f, conversion %.1f s)\n",
                finetune_mode.c_str(), finetune_s, static_cast<long long>(ft_report.examples), ft_report.epochs,
                static_cast<long long>(ft_report.steps),
                static_cast<double>(ft_report.tokens) / std::max(1e-9, ft_report.train_seconds),
                static_cast<long long>(ft_report.trainable_values), ft_report.final_loss, ft_report.convert_seconds);
  } else if (prune24) {
    std::printf("encoder            pruned to 2:4 (every linear), not fine-tuned\n");
  }
  std::printf("featurizer         %s (loaded in %.1f s)\n", featurizer->name().c_str(), load_s);
  std::printf(
      "training           %.1f s (featurize %.1f s, intent head %.1f s / %d epochs, slot tagger %.1f s / %d epochs)\n",
      train_s, report.featurize.count() / 1e3, report.intent.count() / 1e3, report.intent_epochs,
      report.tagger.count() / 1e3, report.tagger_epochs);
  std::printf("intent accuracy    %.2f%%\n", 100.0 * static_cast<double>(intent_ok) / n);
  std::printf("slot F1            %.2f%% (precision %.2f%%, recall %.2f%%; %zu gold spans)\n", 100 * score.f1(),
              100 * score.precision(), 100 * score.recall(), score.gold);
  std::printf("sentence accuracy  %.2f%%\n", 100.0 * static_cast<double>(sentence_ok) / n);
  if (joint_heads) {
    std::printf("joint heads alone  intent %.2f%%, slot F1 %.2f%% (the fine-tuning's own heads, without the bot's)\n",
                100.0 * static_cast<double>(joint_intent_ok) / n, 100 * joint_score.f1());
  }
  std::printf("out of scope       %.2f%% of dev flagged (similarity floor %.3f)\n",
              100.0 * static_cast<double>(oos) / n, (*model)->similarity_floor());
  std::printf("dev parse          %.1f s (%.2f ms per text, batches of 64)\n", dev_s, 1e3 * dev_s / n);
  std::printf(
      "{\"dataset\":\"%s\",\"split\":\"%s\",\"intent_accuracy\":%.4f,\"slot_f1\":%.4f,\"sentence_accuracy\":%.4f,"
      "\"train_seconds\":%.2f,\"finetune_seconds\":%.2f,\"dev_ms_per_text\":%.3f,\"out_of_scope_rate\":%.4f,"
      "\"malformed_lines\":%zu}\n",
      dataset.c_str(), split_name.c_str(), static_cast<double>(intent_ok) / n, score.f1(),
      static_cast<double>(sentence_ok) / n, train_s, finetune_s, 1e3 * dev_s / n, static_cast<double>(oos) / n, malformed);
  if (malformed > 0) std::fprintf(stderr, "parley-nlu-eval: %zu malformed evaluation lines counted as errors\n", malformed);
  return 0;
}
