// Per-bot fine-tuning (see finetune.h).
#include "services/nlu/finetune.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "kernels/cpu/thread_pool.h"
#include "services/nlu/bio.h"
#include "shared/models/runtime/model_device.h"

namespace parley::nlu {

namespace {
// Slot name -> index, in order of first appearance (like BotModel's tagger slots).
std::map<std::string, int> slot_order(const v1::TrainRequest& r) {
  std::map<std::string, int> order;
  int next = 0;
  for (const auto& intent : r.intents()) {
    for (const auto& ex : intent.examples()) {
      for (const auto& s : ex.slots()) {
        if (order.emplace(s.slot(), next).second) ++next;
      }
    }
  }
  return order;
}
}  // namespace

int joint_label_count(const v1::TrainRequest& request) { return std::max(1, request.intents_size()); }
int joint_tag_count(const v1::TrainRequest& request) { return 1 + 2 * static_cast<int>(slot_order(request).size()); }

Result<std::vector<encoder::train::JointExample>> joint_examples(const v1::TrainRequest& r,
                                                                 const text::WordPieceTokenizer& tokenizer,
                                                                 std::size_t max_length, int* tags) {
  const std::map<std::string, int> order = slot_order(r);
  *tags = 1 + 2 * static_cast<int>(order.size());
  std::vector<encoder::train::JointExample> out;
  text::WordPieceEncodeOptions o;
  o.max_length = max_length;
  for (int i = 0; i < r.intents_size(); ++i) {
    for (const auto& ex : r.intents(i).examples()) {
      const text::Encoding e = tokenizer.encode_with_offsets(ex.text(), o);
      // Words as the featurizer sees them: runs of tokens with the same word id.
      std::vector<ByteSpan> words;
      std::vector<std::size_t> first_token;
      std::int32_t current = -1;
      for (std::size_t t = 0; t < e.size(); ++t) {
        if (e.special_mask[t] != 0 || e.word_ids[t] < 0) continue;
        if (e.word_ids[t] != current) {
          current = e.word_ids[t];
          words.push_back({e.offsets[t].begin, e.offsets[t].end});
          first_token.push_back(t);
        }
        words.back().begin = std::min(words.back().begin, e.offsets[t].begin);
        words.back().end = std::max(words.back().end, e.offsets[t].end);
      }
      std::vector<std::pair<int, ByteSpan>> spans;
      for (const auto& s : ex.slots()) {
        spans.emplace_back(order.at(s.slot()), ByteSpan{static_cast<std::uint32_t>(s.start()), static_cast<std::uint32_t>(s.end())});
      }
      const std::vector<int> word_tags = spans_to_tags(words, spans);
      encoder::train::JointExample j;
      j.ids.assign(e.ids.begin(), e.ids.end());
      j.tags.assign(e.size(), -1);
      for (std::size_t w = 0; w < words.size(); ++w) j.tags[first_token[w]] = word_tags[w];
      j.label = i;
      out.push_back(std::move(j));
    }
  }
  if (out.empty()) return invalid_argument("no examples to fine-tune on");
  return out;
}

Result<FinetunedWeights> train_finetuned(const v1::TrainRequest& request, const encoder::Encoder& base,
                                         const FinetuneOptions& options, FinetuneReport* report) {
  const encoder::EncoderModel& model = base.model();
  if (model.precision() != encoder::Precision::kFp32) {
    return failed_precondition("fine-tuning starts from an FP32 encoder (load it with Precision::kFp32)");
  }
  int tags = 1;
  PARLEY_ASSIGN_OR_RETURN(auto examples, joint_examples(request, base.tokenizer(),
                                                        static_cast<std::size_t>(model.max_length()), &tags));
  encoder::train::JointOptions jo = options.joint;
  if (jo.epochs <= 0) {
    const double e = static_cast<double>(options.example_passes) / static_cast<double>(examples.size());
    jo.epochs = std::clamp(static_cast<int>(e + 0.5), options.min_epochs, options.max_epochs);
  }
  std::unique_ptr<kernels::ThreadPool> pool;
  if (options.threads > 0) pool = std::make_unique<kernels::ThreadPool>(options.threads);
  models::ModelDevice dev = models::ModelDevice::cpu(pool.get());
  models::OwnedStream stream;
  if (!options.device.is_cpu()) {
    PARLEY_ASSIGN_OR_RETURN(dev, models::ModelDevice::open(options.device));
    PARLEY_RETURN_IF_ERROR(models::bind_own_stream(dev, stream, "fine-tuning"));
  }
  PARLEY_ASSIGN_OR_RETURN(auto result, encoder::train::train_joint(model.weights(), model.config(), examples,
                                                                   joint_label_count(request), tags, jo, dev));
  FinetunedWeights out;
  out.heads.hidden = static_cast<int>(model.config().hidden);
  out.heads.labels = joint_label_count(request);
  out.heads.tags = tags;
  out.heads.label_w = std::move(result.label_w);
  out.heads.label_b = std::move(result.label_b);
  out.heads.tag_w = std::move(result.tag_w);
  out.heads.tag_b = std::move(result.tag_b);
  out.weights = std::move(result.weights);
  if (report != nullptr) {
    report->examples = static_cast<std::int64_t>(examples.size());
    report->steps = result.steps;
    report->tokens = result.tokens;
    report->trainable_values = result.trainable_values;
    report->epochs = jo.epochs;
    report->final_loss = result.final_loss;
    report->train_seconds = result.seconds;
  }
  return out;
}

Result<FinetunedEncoder> serve_finetuned(FinetunedWeights tuned, const encoder::Encoder& base,
                                         const FinetuneOptions& options, FinetuneReport* report) {
  const encoder::EncoderModel& model = base.model();
  const auto t0 = std::chrono::steady_clock::now();
  // Word embeddings are not trained by default (FinetuneOptions): the bot's model then reads its
  // base's table instead of holding a copy of it, 47 MB of MiniLM's 64. Compared, not assumed: a
  // run that trained them differs. The table stays alive with the bot: the base model when it
  // owns its table (so give this the base you keep), or in the service, where the base reads the
  // serving encoder's table (keep_fp32_base), that array alone.
  encoder::share_word_table(tuned.weights, base.shared_model());
  PARLEY_ASSIGN_OR_RETURN(auto converted, encoder::EncoderModel::from_host_weights(std::move(tuned.weights), model.config(),
                                                                                   model.sentence(), options.serve));
  encoder::EncoderOptions eo = base.options();
  eo.load = options.serve;
  // One such encoder per fine-tuned bot: the heads' training featurizes the bot's examples in
  // batches of up to 128 texts (19 MB of scratch in a MiniLM session, measured), a parse a few
  // (0.4-0.7 MB); the large sessions are freed, not kept for the bot's life.
  eo.max_idle_scratch_bytes = std::size_t{16} << 20;
  auto enc = encoder::Encoder::create(std::move(converted), base.shared_tokenizer(), eo);
  if (report != nullptr) {
    report->convert_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  std::shared_ptr<const JointHeads> heads;
  if (options.stack_heads) heads = std::make_shared<JointHeads>(std::move(tuned.heads));
  return FinetunedEncoder{std::move(enc), std::move(heads)};
}

Result<FinetunedEncoder> finetune_encoder(const v1::TrainRequest& request, const encoder::Encoder& base,
                                          const FinetuneOptions& options, FinetuneReport* report) {
  PARLEY_ASSIGN_OR_RETURN(auto tuned, train_finetuned(request, base, options, report));
  return serve_finetuned(std::move(tuned), base, options, report);
}

}  // namespace parley::nlu
