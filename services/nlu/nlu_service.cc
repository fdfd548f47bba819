// NluService: Train / Parse / DropBot (see nlu_service.h).
#include "services/nlu/nlu_service.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <set>

#include "services/nlu/model_check.h"
#include "shared/common/log.h"
#include "shared/common/sha256.h"

namespace parley::nlu {

namespace {
using Clock = std::chrono::steady_clock;

// Adapts the host's CallContext to the trainer's cancellation poll.
bool call_over(service::CallContext* ctx) { return ctx != nullptr && ctx->cancelled(); }

// What identifies a training: SHA-256 of the request's deterministic encoding (the same request
// re-encoded by a restarted dialog hashes alike). SHA-256, not FNV-1a: the request is a bot
// author's data, and a crafted collision would leave another bot's training in place.
std::array<std::uint8_t, 32> request_digest(const v1::TrainRequest& request) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&out);
  }
  Sha256 h;
  h.update(bytes);
  return h.finish();
}

v1::TrainResponse describe(const std::string& bot_id, const BotModel& model) {
  v1::TrainResponse reply;
  reply.set_bot_id(bot_id);
  reply.set_examples(model.examples());
  reply.set_intents(static_cast<std::int32_t>(model.intents().size()));
  reply.set_out_of_scope_similarity(model.similarity_floor());
  for (const auto& w : model.warnings()) reply.add_warnings(w);
  return reply;
}
}  // namespace

NluService::NluService(NluOptions options, std::shared_ptr<const Featurizer> featurizer, NluMetrics* metrics)
    : options_(std::move(options)), featurizer_(std::move(featurizer)), metrics_(metrics) {}

NluService::~NluService() {
  jobs_.reset();  // cancels and joins the fine-tuning worker (it calls back into this object)
  if (batcher_) batcher_->stop();
}

Result<std::unique_ptr<NluService>> NluService::create(NluOptions options, std::shared_ptr<const Featurizer> featurizer,
                                                       NluMetrics* metrics) {
  if (!featurizer) return invalid_argument("nlu: no featurizer");
  std::unique_ptr<NluService> svc(new NluService(options, featurizer, metrics));
  if (options.batch.max_batch_size > 1 && options.batch.workers > 0) {
    const Featurizer* f = featurizer.get();
    auto b = batching::DynamicBatcher<std::string, TextFeatures>::create(
        options.batch, [f](std::vector<std::string>& texts) {
          std::vector<TextFeatures> features;
          Status st = f->featurize(texts, features);
          std::vector<Result<TextFeatures>> out;
          out.reserve(texts.size());
          for (std::size_t i = 0; i < texts.size(); ++i) {
            if (st.is_ok()) {
              out.emplace_back(std::move(features[i]));
            } else {
              out.emplace_back(st);
            }
          }
          return out;
        });
    if (!b.ok()) return b.status();
    svc->batcher_ = std::move(*b);
  }
  if (options.base_encoder) {
    NluService* self = svc.get();
    svc->jobs_ = std::make_unique<FinetuneJobs>(
        options.finetune, options.base_encoder,
        [self](const std::string& bot_id, std::uint64_t generation, FinetunedEncoder tuned) {
          v1::TrainRequest request;
          {
            std::lock_guard lock(self->mu_);
            auto it = self->pending_.find(bot_id);
            if (it == self->pending_.end()) return cancelled("bot was dropped");
            request = it->second;
          }
          return self->install_finetuned(bot_id, generation, request, std::move(tuned));
        },
        metrics);
  }
  svc->update_gauges();
  return svc;
}

Status NluService::install_finetuned(const std::string& bot_id, std::uint64_t generation,
                                     const v1::TrainRequest& request, FinetunedEncoder tuned) {
  // The bot's heads (intent classifier, CRF tagger, out-of-scope floor) trained again on the
  // fine-tuned encoder's features; the bot's own featurizer serves its parses from then on.
  auto featurizer = std::make_shared<EncoderFeaturizer>(std::move(tuned.encoder), 128, false, std::move(tuned.heads));
  TrainOptions o = options_.train;
  auto model = BotModel::train_owning(request, featurizer, o);
  if (!model.ok()) return model.status().with_context("training the heads on the fine-tuned encoder");
  if (std::shared_ptr<const BotModel> frozen = find(bot_id); frozen && options_.finetune.check_examples > 0) {
    // A fine-tuning that went wrong (diverged, or heads that failed on its features) must not take
    // the bot over: both models parse a sample of the bot's own examples first.
    const Featurizer& frozen_features = frozen->own_featurizer() ? *frozen->own_featurizer() : *featurizer_;
    PARLEY_ASSIGN_OR_RETURN(ExampleScore before,
                            score_on_examples(*frozen, frozen_features, request, options_.finetune.check_examples));
    PARLEY_ASSIGN_OR_RETURN(ExampleScore after,
                            score_on_examples(**model, *featurizer, request, options_.finetune.check_examples));
    const double allowed = options_.finetune.check_tolerance * static_cast<double>(before.examples);
    PARLEY_LOG(kInfo).kv("bot", bot_id).kv("frozen", before.to_string()).kv("fine_tuned", after.to_string())
        << "fine-tuned model checked on the bot's own examples";
    if (static_cast<double>(after.exact) < static_cast<double>(before.exact) - allowed) {
      if (metrics_ != nullptr) metrics_->finetune_refused.inc();
      {
        // The same request would train the same model (seeded) and meet the same refusal: an
        // identical Train later keeps this outcome instead of running the job again.
        std::lock_guard lock(mu_);
        if (auto g = generation_.find(bot_id); g != generation_.end() && g->second == generation) {
          not_adopted_[bot_id] = generation;
        }
      }
      return failed_precondition("the fine-tuned model parses the bot's own examples worse than the frozen one (" +
                                 after.to_string() + ", against " + before.to_string() +
                                 "): not adopted, the frozen model keeps serving");
    }
  }
  {
    std::lock_guard lock(mu_);
    auto g = generation_.find(bot_id);
    if (g == generation_.end() || g->second != generation || bots_.count(bot_id) == 0) {
      return cancelled("bot was re-trained or dropped while fine-tuning");
    }
    bots_[bot_id] = *model;
    pending_.erase(bot_id);
    if (jobs_ != nullptr) jobs_->mark_installed(bot_id);  // lock order: mu_, then the jobs' own
  }
  update_gauges();
  return Status::ok();
}

std::optional<v1::TrainResponse> NluService::unchanged(const std::string& bot_id,
                                                      const std::array<std::uint8_t, 32>& digest, bool finetune) const {
  std::shared_ptr<const BotModel> model;
  v1::FineTuneStatus job;
  bool not_adopted = false;
  {
    std::lock_guard lock(mu_);  // then the jobs' own lock, as in train()
    auto d = digest_.find(bot_id);
    auto b = bots_.find(bot_id);
    if (d == digest_.end() || d->second != digest || b == bots_.end()) return std::nullopt;
    model = b->second;
    if (jobs_ != nullptr) job = jobs_->status(bot_id);
    auto refused = not_adopted_.find(bot_id);
    auto g = generation_.find(bot_id);
    not_adopted = refused != not_adopted_.end() && g != generation_.end() && refused->second == g->second;
  }
  // One queued, running or done is the same job this request would start, and so is one whose
  // model the adoption check refused (seeded: it would be refused again). Any other failure, or a
  // cancellation, is tried again (a place under max_models may have come free).
  const auto state = job.state();
  const bool settled = state == v1::FineTuneStatus::QUEUED || state == v1::FineTuneStatus::RUNNING ||
                       state == v1::FineTuneStatus::READY || (state == v1::FineTuneStatus::FAILED && not_adopted);
  if (finetune && jobs_ != nullptr && !settled) return std::nullopt;
  v1::TrainResponse reply = describe(bot_id, *model);
  job.set_serving(model->own_featurizer() ? "fine-tuned" : "frozen");
  *reply.mutable_fine_tune() = std::move(job);
  reply.set_unchanged(true);
  return reply;
}

Status NluService::check_bot_id(const std::string& bot_id) const {
  if (bot_id.empty()) return invalid_argument("bot_id is empty");
  if (bot_id.size() > options_.limits.max_bot_id_bytes) {
    return invalid_argument("bot_id is longer than " + std::to_string(options_.limits.max_bot_id_bytes) + " bytes");
  }
  if (find_invalid_utf8(bot_id)) return invalid_argument("bot_id is not valid UTF-8");
  return Status::ok();
}

std::shared_ptr<const BotModel> NluService::find(const std::string& bot_id) const {
  std::lock_guard lock(mu_);
  auto it = bots_.find(bot_id);
  return it == bots_.end() ? nullptr : it->second;
}

std::vector<std::string> NluService::bots() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, _] : bots_) out.push_back(id);
  return out;
}

void NluService::update_gauges() {
  if (metrics_ == nullptr) return;
  std::lock_guard lock(mu_);
  std::size_t bytes = 0, tuned = 0;
  for (const auto& [_, m] : bots_) {
    bytes += m->bytes();
    tuned += m->own_featurizer() ? 1 : 0;
  }
  metrics_->bots.set(static_cast<double>(bots_.size()));
  metrics_->model_bytes.set(static_cast<double>(bytes));
  metrics_->finetuned_bots.set(static_cast<double>(tuned));
}

Result<v1::TrainResponse> NluService::train(const v1::TrainRequest& request, service::CallContext& ctx) {
  const auto start = Clock::now();
  auto count = [&](const char* outcome) {
    if (metrics_ != nullptr) metrics_->trainings.labels({outcome}).inc();
  };
  Status st = check_bot_id(request.bot_id());
  if (st.is_ok()) {
    std::lock_guard lock(mu_);
    if (bots_.count(request.bot_id()) == 0 && bots_.size() >= options_.limits.max_bots) {
      st = resource_exhausted(std::to_string(bots_.size()) +
                              " bots are loaded, the limit (nlu.max_bots); drop one first");
    }
  }
  if (st.is_ok()) st = BotModel::validate(request, options_.train.limits);
  const v1::FineTuneMode mode = request.fine_tune() == v1::FINE_TUNE_DEFAULT ? options_.finetune_default : request.fine_tune();
  const bool finetune = mode == v1::FINE_TUNE_FULL || mode == v1::FINE_TUNE_LORA;
  if (st.is_ok() && !v1::FineTuneMode_IsValid(request.fine_tune())) {
    st = invalid_argument("fine_tune " + std::to_string(static_cast<int>(request.fine_tune())) + " is not a FineTuneMode");
  }
  if (st.is_ok() && finetune && jobs_ == nullptr && request.fine_tune() != v1::FINE_TUNE_DEFAULT) {
    st = failed_precondition("fine-tuning needs the encoder featurizer (nlu.featurizer=encoder); this service runs '" +
                             featurizer_->name() + "'");
  }
  if (!st.is_ok()) {
    count("invalid");
    return st.with_context("bot '" + excerpt(request.bot_id()) + "'");
  }
  const std::array<std::uint8_t, 32> digest = request_digest(request);
  if (std::optional<v1::TrainResponse> same = unchanged(request.bot_id(), digest, finetune)) {
    count("unchanged");
    same->set_training_ms(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
    PARLEY_LOG(kInfo).kv("bot", request.bot_id()).kv("serving", same->fine_tune().serving())
        << "bot unchanged (same training request): kept its model";
    return *same;
  }
  TrainOptions o = options_.train;
  o.cancelled = [&ctx] { return call_over(&ctx); };
  TrainReport report;
  auto model = BotModel::train(request, *featurizer_, o, &report);
  if (!model.ok()) {
    count(model.status().code() == StatusCode::kInvalidArgument ? "invalid" : "failed");
    return model.status().with_context("bot '" + excerpt(request.bot_id()) + "'");
  }
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    bots_[request.bot_id()] = *model;  // atomic replace: parses in flight keep the old one
    digest_[request.bot_id()] = digest;
    not_adopted_.erase(request.bot_id());
    generation = ++next_generation_;
    generation_[request.bot_id()] = generation;
    if (finetune && jobs_ != nullptr) {
      pending_[request.bot_id()] = request;
    } else {
      pending_.erase(request.bot_id());
    }
  }
  v1::FineTuneStatus job;
  if (jobs_ != nullptr) {
    if (finetune) {
      // Under mu_, so that two bots trained at once cannot both take the last place under
      // nlu.finetune.max_models (lock order: mu_, then the jobs' own).
      std::lock_guard lock(mu_);
      std::set<std::string> installed;
      for (const auto& [id, m] : bots_) {
        if (m->own_featurizer()) installed.insert(id);
      }
      auto queued = jobs_->submit(request, mode, generation, installed);
      if (queued.ok()) {
        job = *queued;
      } else {
        job.set_state(v1::FineTuneStatus::FAILED);
        job.set_message(queued.status().to_string());
      }
    } else {
      jobs_->forget(request.bot_id());  // a re-train without fine-tuning ends the old job
    }
  }
  job.set_serving("frozen");
  update_gauges();
  count("ok");
  const auto elapsed = Clock::now() - start;
  if (metrics_ != nullptr) metrics_->training_duration.observe(elapsed);
  ctx.add_timing("nlu_featurize", report.featurize);
  ctx.add_timing("nlu_train_heads", report.intent + report.tagger);
  v1::TrainResponse reply = describe(request.bot_id(), **model);
  reply.set_training_ms(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count());
  *reply.mutable_fine_tune() = job;
  PARLEY_LOG(kInfo).kv("bot", request.bot_id()).kv("examples", reply.examples()).kv("ms", reply.training_ms())
      << "trained bot";
  return reply;
}

Result<v1::ParseResponse> NluService::parse(const v1::ParseRequest& request, service::CallContext& ctx) {
  return parse(request, ctx.deadline());
}

Result<v1::ParseResponse> NluService::parse(const v1::ParseRequest& request, Clock::time_point deadline) {
  const auto start = Clock::now();
  PARLEY_RETURN_IF_ERROR(check_bot_id(request.bot_id()));
  const std::string& text = request.text();
  if (text.size() > options_.limits.max_text_bytes) {
    return invalid_argument("text is " + std::to_string(text.size()) + " bytes; the limit is " +
                            std::to_string(options_.limits.max_text_bytes) + " (nlu.max_text_bytes)");
  }
  if (auto bad = find_invalid_utf8(text)) {
    return invalid_argument("text is not valid UTF-8 (bad byte at offset " + std::to_string(*bad) + ")");
  }
  if (text.find_first_not_of(" \t\r\n\f\v") == std::string::npos) return invalid_argument("text is empty");
  std::shared_ptr<const BotModel> model = find(request.bot_id());
  if (!model) {
    auto loaded = bots();
    std::string list;
    for (std::size_t i = 0; i < loaded.size() && i < 10; ++i) list += (i ? ", " : "") + loaded[i];
    return not_found("bot '" + excerpt(request.bot_id()) + "' is not loaded (loaded: " +
                     (list.empty() ? "none" : list) + "); call parley.v1.Nlu/Train first");
  }
  if (!request.expected_slot().empty() && !model->has_slot(request.expected_slot())) {
    return invalid_argument("expected_slot '" + excerpt(request.expected_slot()) + "' is not a slot of bot '" +
                            request.bot_id() + "'");
  }
  ParseOptions po;
  po.expected_slot = request.expected_slot();
  po.context.deadline = deadline;  // the extractors stop once the caller has given up
  PARLEY_ASSIGN_OR_RETURN(po.context.reference, parse_reference_time(request.reference_time()));

  TextFeatures features;
  if (const auto& own = model->own_featurizer()) {  // a fine-tuned bot: its own encoder
    if (Clock::now() >= deadline) return deadline_exceeded("deadline passed before parsing");
    std::vector<TextFeatures> f;
    PARLEY_RETURN_IF_ERROR(own->featurize(std::span<const std::string>(&text, 1), f));
    features = std::move(f.front());
  } else if (batcher_) {
    PARLEY_ASSIGN_OR_RETURN(features, batcher_->call(text, deadline));
  } else {
    if (Clock::now() >= deadline) return deadline_exceeded("deadline passed before parsing");
    std::vector<TextFeatures> f;
    PARLEY_RETURN_IF_ERROR(featurizer_->featurize(std::span<const std::string>(&text, 1), f));
    features = std::move(f.front());
  }
  if (Clock::now() >= deadline) return deadline_exceeded("deadline passed before extracting slots");
  PARLEY_ASSIGN_OR_RETURN(v1::ParseResponse reply, model->parse(text, features, po));
  reply.set_model(model->own_featurizer() ? "fine-tuned" : "frozen");
  if (metrics_ != nullptr) {
    metrics_->parses.inc();
    if (reply.intents_size() > 0) metrics_->intent_confidence.observe(reply.intents(0).confidence());
    if (reply.out_of_scope()) metrics_->out_of_scope.labels({reply.out_of_scope_reason()}).inc();
    for (const auto& s : reply.slots()) metrics_->slots.labels({s.extractor()}).inc();
    metrics_->parse_duration.observe(Clock::now() - start);
  }
  return reply;
}

Result<v1::DropBotResponse> NluService::drop_bot(const v1::DropBotRequest& request, service::CallContext&) {
  PARLEY_RETURN_IF_ERROR(check_bot_id(request.bot_id()));
  {
    std::lock_guard lock(mu_);
    if (bots_.erase(request.bot_id()) == 0) {
      return not_found("bot '" + excerpt(request.bot_id()) + "' is not loaded");
    }
    generation_.erase(request.bot_id());
    digest_.erase(request.bot_id());
    not_adopted_.erase(request.bot_id());
    pending_.erase(request.bot_id());
  }
  if (jobs_ != nullptr) jobs_->forget(request.bot_id());
  update_gauges();
  return v1::DropBotResponse{};
}

Result<v1::TrainingStatusResponse> NluService::training_status(const v1::TrainingStatusRequest& request) const {
  PARLEY_RETURN_IF_ERROR(check_bot_id(request.bot_id()));
  std::shared_ptr<const BotModel> model = find(request.bot_id());
  if (!model) return not_found("bot '" + excerpt(request.bot_id()) + "' is not loaded");
  v1::TrainingStatusResponse reply;
  reply.set_bot_id(request.bot_id());
  if (jobs_ != nullptr) *reply.mutable_fine_tune() = jobs_->status(request.bot_id());
  reply.mutable_fine_tune()->set_serving(model->own_featurizer() ? "fine-tuned" : "frozen");
  return reply;
}

}  // namespace parley::nlu
