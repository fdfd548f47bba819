// FinetuneJobs: queue, worker, per-bot state (see finetune_jobs.h).
#include "services/nlu/finetune_jobs.h"

#include <chrono>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "shared/common/log.h"

namespace parley::nlu {

namespace {
using Clock = std::chrono::steady_clock;
const char* mode_name(v1::FineTuneMode m) { return m == v1::FINE_TUNE_LORA ? "lora" : "full"; }
}  // namespace

FinetuneJobs::FinetuneJobs(FinetuneJobOptions options, BaseProvider base, Install install, NluMetrics* metrics)
    : options_(std::move(options)), base_(std::move(base)), install_(std::move(install)), metrics_(metrics) {
  worker_ = std::thread([this] { run(); });
}

FinetuneJobs::~FinetuneJobs() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    for (auto& [_, c] : cancel_) c->store(true);
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void FinetuneJobs::update_gauges() {
  if (metrics_ == nullptr) return;
  metrics_->finetune_active.labels({"queued"}).set(static_cast<double>(queue_.size()));
  metrics_->finetune_active.labels({"running"}).set(running_ ? 1.0 : 0.0);
}

Result<v1::FineTuneStatus> FinetuneJobs::submit(const v1::TrainRequest& request, v1::FineTuneMode mode,
                                                std::uint64_t generation, const std::set<std::string>& installed) {
  if (mode != v1::FINE_TUNE_FULL && mode != v1::FINE_TUNE_LORA) return invalid_argument("fine-tuning mode must be FULL or LORA");
  std::lock_guard lock(mu_);
  // A re-train replaces the bot's queued job; a running one is cancelled.
  if (auto it = cancel_.find(request.bot_id()); it != cancel_.end()) {
    it->second->store(true);
    cancel_.erase(it);
  }
  for (auto it = queue_.begin(); it != queue_.end();) {
    it = it->bot_id == request.bot_id() ? queue_.erase(it) : it + 1;
  }
  // Every fine-tuned model holds its own encoder layers for as long as its bot is loaded: the
  // count of bots that hold one or will is bounded, not just the queue.
  std::set<std::string> holding = installed;
  for (const auto& [bot, s] : state_) {
    if (s.state() == v1::FineTuneStatus::QUEUED || s.state() == v1::FineTuneStatus::RUNNING) holding.insert(bot);
  }
  holding.erase(request.bot_id());
  Status refused;
  if (holding.size() >= options_.max_models) {
    refused = resource_exhausted(options_.max_models == 0
                                     ? std::string("fine-tuning is off on this NLU (nlu.finetune.max_models is 0)")
                                     : std::to_string(holding.size()) +
                                           " other bots hold or are training a fine-tuned encoder, the limit "
                                           "(nlu.finetune.max_models); this bot serves the frozen model");
  } else if (queue_.size() >= options_.max_queued) {
    refused = resource_exhausted(std::to_string(queue_.size()) + " fine-tuning jobs are queued, the limit (nlu.finetune.max_queued)");
  }
  if (!refused.is_ok()) {
    // The bot's state says why (an earlier READY would otherwise still show while it serves frozen).
    v1::FineTuneStatus& s = state_[request.bot_id()];
    s = v1::FineTuneStatus{};
    s.set_state(v1::FineTuneStatus::FAILED);
    s.set_mode(mode_name(mode));
    s.set_message(refused.to_string());
    if (metrics_ != nullptr) metrics_->finetune_jobs.labels({"rejected"}).inc();
    update_gauges();
    return refused;
  }
  Job job;
  job.bot_id = request.bot_id();
  job.request = request;
  job.mode = mode;
  job.generation = generation;
  job.cancel = std::make_shared<std::atomic<bool>>(false);
  cancel_[job.bot_id] = job.cancel;
  v1::FineTuneStatus s;
  s.set_state(v1::FineTuneStatus::QUEUED);
  s.set_mode(mode_name(mode));
  state_[job.bot_id] = s;
  queue_.push_back(std::move(job));
  update_gauges();
  cv_.notify_one();
  return s;
}

void FinetuneJobs::forget(const std::string& bot_id) {
  std::lock_guard lock(mu_);
  if (auto it = cancel_.find(bot_id); it != cancel_.end()) it->second->store(true);
  for (auto it = queue_.begin(); it != queue_.end();) {
    it = it->bot_id == bot_id ? queue_.erase(it) : it + 1;
  }
  state_.erase(bot_id);
  update_gauges();
}

v1::FineTuneStatus FinetuneJobs::status(const std::string& bot_id) const {
  std::lock_guard lock(mu_);
  auto it = state_.find(bot_id);
  return it == state_.end() ? v1::FineTuneStatus{} : it->second;
}

void FinetuneJobs::mark_installed(const std::string& bot_id) {
  std::lock_guard lock(mu_);
  auto it = state_.find(bot_id);
  if (it == state_.end()) return;
  if (it->second.state() == v1::FineTuneStatus::RUNNING || it->second.state() == v1::FineTuneStatus::QUEUED) {
    it->second.set_state(v1::FineTuneStatus::READY);
    it->second.set_progress(1.0f);
  }
}

void FinetuneJobs::finish(const Job& job, v1::FineTuneStatus::State state, const std::string& message) {
  std::lock_guard lock(mu_);
  if (metrics_ != nullptr) {
    const char* outcome = state == v1::FineTuneStatus::READY ? "ok" : state == v1::FineTuneStatus::CANCELLED ? "cancelled" : "failed";
    metrics_->finetune_jobs.labels({outcome}).inc();
  }
  auto c = cancel_.find(job.bot_id);
  const bool current = c != cancel_.end() && c->second == job.cancel;
  if (current) {
    cancel_.erase(c);
    auto& s = state_[job.bot_id];
    s.set_state(state);
    s.set_message(message);
    if (state == v1::FineTuneStatus::READY) s.set_progress(1.0f);
  }
}

Result<FinetunedWeights> FinetuneJobs::weights_for(const Job& job, const std::shared_ptr<const encoder::Encoder>& base_ptr, const FinetuneOptions& o,
                                                  FinetuneReport& report, bool& from_cache) {
  from_cache = false;
  const encoder::Encoder& base = *base_ptr;
  const FinetuneCache* cache = options_.cache.get();
  if (cache == nullptr) return train_finetuned(job.request, base, o, &report);
  auto count = [&](const char* outcome) {
    if (metrics_ != nullptr) {
      metrics_->finetune_cache.labels({outcome}).inc();
    }
  };
  if (id_base_ != base_ptr) {  // hashing the base's weights takes ~1 s per 100M values: once per base
    base_id_ = FinetuneCache::base_id(base.model());
    id_base_ = base_ptr;
  }
  const std::string key = FinetuneCache::key(job.request, job.mode, o, base_id_);
  auto hit = cache->load(key, base.model(), joint_label_count(job.request), joint_tag_count(job.request));
  if (!hit.ok()) {
    count("damaged");
    PARLEY_LOG(kWarn).kv("bot", job.bot_id) << hit.status().to_string() << "; fine-tuning afresh";
  } else if (hit->has_value()) {
    count("hit");
    from_cache = true;
    return std::move(**hit);
  } else {
    count("miss");
  }
  auto tuned = train_finetuned(job.request, base, o, &report);
  if (tuned.ok() && !job.cancel->load()) {
    const Status stored = cache->store(key, *tuned, base.model());
    count(stored.is_ok() ? "stored" : "store_failed");
    if (!stored.is_ok()) {
      PARLEY_LOG(kWarn).kv("bot", job.bot_id) << stored.to_string();
    }
  }
  return tuned;
}

void FinetuneJobs::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      running_ = true;
      state_[job.bot_id].set_state(v1::FineTuneStatus::RUNNING);
      update_gauges();
    }
    const auto t0 = Clock::now();
    const FinetuneOptions& base_opts = job.mode == v1::FINE_TUNE_LORA ? options_.lora : options_.full;
    FinetuneOptions o = base_opts;
    auto cancel = job.cancel;
    o.joint.cancelled = [cancel] { return cancel->load(); };
    std::int64_t last_step = 0;
    o.joint.progress = [&](const encoder::train::JointProgress& p) {
      if (metrics_ != nullptr) metrics_->finetune_steps.inc(static_cast<double>(p.step - last_step));
      last_step = p.step;
      std::lock_guard lock(mu_);
      auto c = cancel_.find(job.bot_id);
      if (c == cancel_.end() || c->second != job.cancel) return;
      auto& s = state_[job.bot_id];
      // Training is ~90% of a job; the heads on the new features the rest.
      s.set_progress(0.9f * static_cast<float>(p.step) / static_cast<float>(std::max<std::int64_t>(1, p.steps)));
      s.set_epoch(p.epoch);
      s.set_epochs(p.epochs);
      s.set_step(p.step);
      s.set_steps(p.steps);
      s.set_loss(p.loss);
      s.set_elapsed_seconds(p.seconds);
    };
    Status st;
    FinetuneReport report;
    bool from_cache = false;
    auto base = base_();
    if (!base.ok()) {
      st = base.status().with_context("loading the FP32 encoder to fine-tune");
    } else {
      auto tuned = weights_for(job, *base, o, report, from_cache);
      if (!tuned.ok()) {
        st = tuned.status();
      } else if (cancel->load()) {
        st = cancelled("fine-tuning cancelled");
      } else {
        auto served = serve_finetuned(std::move(*tuned), **base, o, &report);
        st = served.ok() ? install_(job.bot_id, job.generation, std::move(*served)) : served.status();
      }
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
#if defined(__GLIBC__)
    // A job allocates and frees ~100 MB of training state (MiniLM; MPNet ~8x) and glibc keeps the
    // freed pages in its arenas: the pod's resident memory, what its limit and the OOM killer
    // see, grew 30-40 MB per fine-tuned bot against 17.6 MB in use. Hand them back.
    malloc_trim(0);
#endif
    {
      std::lock_guard lock(mu_);
      running_ = false;
      update_gauges();
    }
    if (st.is_ok()) {
      if (metrics_ != nullptr) metrics_->finetune_duration.observe(Clock::now() - t0);
      finish(job, v1::FineTuneStatus::READY, from_cache ? "loaded from the fine-tuning cache" : "");
      std::lock_guard lock(mu_);
      if (auto it = state_.find(job.bot_id); it != state_.end()) it->second.set_elapsed_seconds(secs);
      PARLEY_LOG(kInfo).kv("bot", job.bot_id).kv("mode", mode_name(job.mode)).kv("steps", report.steps).kv("seconds", secs)
          << (from_cache ? "fine-tuned bot loaded from the cache" : "fine-tuned bot");
    } else if (st.code() == StatusCode::kCancelled) {
      finish(job, v1::FineTuneStatus::CANCELLED, st.message());
    } else {
      finish(job, v1::FineTuneStatus::FAILED, st.to_string());
      PARLEY_LOG(kWarn).kv("bot", job.bot_id) << "fine-tuning failed: " << st.to_string();
    }
  }
}

FinetuneJobs::BaseProvider keep_fp32_base(std::string dir, std::shared_ptr<const encoder::EncoderModel> serving) {
  auto kept = std::make_shared<std::pair<std::mutex, std::shared_ptr<const encoder::Encoder>>>();
  return [dir = std::move(dir), serving = std::move(serving), kept]() -> Result<std::shared_ptr<const encoder::Encoder>> {
    std::lock_guard lock(kept->first);
    if (!kept->second) {
      encoder::EncoderOptions eo;
      eo.load.precision = encoder::Precision::kFp32;  // training starts from the FP32 host weights
      PARLEY_ASSIGN_OR_RETURN(auto fp32, encoder::Encoder::open(dir, eo));
      // The word table is not quantized: the serving encoder's is bit-identical when it was
      // loaded from the same file (compared by share_word_table, not assumed).
      encoder::EncoderWeights w = fp32->model().weights();
      if (encoder::share_word_table(w, serving)) {
        PARLEY_ASSIGN_OR_RETURN(auto m, encoder::EncoderModel::from_host_weights(std::move(w), fp32->model().config(),
                                                                                 fp32->model().sentence(), eo.load));
        fp32 = encoder::Encoder::create(std::move(m), fp32->shared_tokenizer(), eo);
      }
      kept->second = std::move(fp32);
    }
    return kept->second;
  };
}

}  // namespace parley::nlu
