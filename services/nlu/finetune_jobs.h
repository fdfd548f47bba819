// FinetuneJobs: the background fine-tuning jobs of the NLU service — a queue, one worker thread
// (fine-tuning takes every core it is given; two at once would only share them), per-bot state
// and progress for parley.v1.Nlu/TrainingStatus, cancellation on re-train / DropBot, metrics.
// Why: Train answers as soon as the frozen-encoder model serves; the fine-tuned one replaces it
// when ready. Depends on finetune.h, nlu_metrics.h, proto (nlu.proto).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "parley/v1/nlu.pb.h"
#include "services/nlu/finetune.h"
#include "services/nlu/finetune_cache.h"
#include "services/nlu/nlu_metrics.h"

namespace parley::nlu {

struct FinetuneJobOptions {
  FinetuneOptions full;   ///< FINE_TUNE_FULL
  FinetuneOptions lora;   ///< FINE_TUNE_LORA
  std::size_t max_queued = 16;  ///< jobs waiting; more is RESOURCE_EXHAUSTED
  /// Bots holding a fine-tuned encoder or a job that will make one, at most (each such model is a
  /// copy of the encoder's weights: ~60 MB for MiniLM, ~4x for MPNet); more is RESOURCE_EXHAUSTED
  /// and the bot serves the frozen model. 0 = no bot may fine-tune.
  std::size_t max_models = 8;
  /// Before a fine-tuned model replaces the frozen one, both parse up to this many of the bot's
  /// own examples (model_check.h); 0 = adopt without checking.
  std::size_t check_examples = 256;
  /// The fine-tuned model is refused (job FAILED, the frozen model keeps serving) when it parses
  /// more than this fraction of the checked examples fewer exactly than the frozen one.
  double check_tolerance = 0.05;
  /// Fine-tuned encoders kept on disk (nlu.finetune.cache_dir); null = none. A job whose entry
  /// is there loads it instead of training; a trained one is stored.
  std::shared_ptr<const FinetuneCache> cache;
};

/// Thread-safe. The worker calls `base()` (the FP32 encoder every job starts from; loaded lazily
/// by the caller) and, when a job's encoder is ready, `install(bot_id, generation, encoder,
/// progress)`: the service trains the bot's heads on it and swaps the model in when `generation`
/// is still the bot's current one (returns CANCELLED otherwise). Destruction cancels and joins.
class FinetuneJobs {
 public:
  using BaseProvider = std::function<Result<std::shared_ptr<const encoder::Encoder>>()>;
  using Install = std::function<Status(const std::string& bot_id, std::uint64_t generation,
                                       FinetunedEncoder tuned)>;
  FinetuneJobs(FinetuneJobOptions options, BaseProvider base, Install install, NluMetrics* metrics);
  ~FinetuneJobs();
  FinetuneJobs(const FinetuneJobs&) = delete;
  FinetuneJobs& operator=(const FinetuneJobs&) = delete;

  /// Queues a job for `bot_id` (cancelling the bot's previous one). mode FULL or LORA.
  /// `installed`: the bots serving a fine-tuned model now; with those whose jobs are queued or
  /// running (this bot aside) they count against max_models. A job not queued (a limit) leaves the
  /// bot's state FAILED with the reason, counted as outcome "rejected".
  Result<v1::FineTuneStatus> submit(const v1::TrainRequest& request, v1::FineTuneMode mode, std::uint64_t generation,
                                    const std::set<std::string>& installed = {});
  /// Cancels the bot's job (queued or running) and forgets its state (DropBot).
  void forget(const std::string& bot_id);
  /// The bot's job state (NONE when it never had one); `serving` is left to the caller.
  v1::FineTuneStatus status(const std::string& bot_id) const;
  /// Called by the install callback once the bot's fine-tuned model serves (with the caller's
  /// lock held): the job reads READY from that moment, not only when the worker has finished
  /// its bookkeeping (which hands memory back first), so no one sees "RUNNING, serving fine-tuned".
  void mark_installed(const std::string& bot_id);

 private:
  struct Job {
    std::string bot_id;
    v1::TrainRequest request;
    v1::FineTuneMode mode = v1::FINE_TUNE_FULL;
    std::uint64_t generation = 0;
    std::shared_ptr<std::atomic<bool>> cancel;
  };
  void run();
  void finish(const Job& job, v1::FineTuneStatus::State state, const std::string& message);
  void update_gauges();  // mu_ held
  // The trained (or cached) weights of `job`; `from_cache` says which. Worker thread only.
  Result<FinetunedWeights> weights_for(const Job& job, const std::shared_ptr<const encoder::Encoder>& base, const FinetuneOptions& o,
                                       FinetuneReport& report, bool& from_cache);

  FinetuneJobOptions options_;
  BaseProvider base_;
  Install install_;
  NluMetrics* metrics_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::map<std::string, v1::FineTuneStatus> state_;
  std::map<std::string, std::shared_ptr<std::atomic<bool>>> cancel_;  // the bot's live job
  bool running_ = false;
  bool stop_ = false;
  std::thread worker_;
  // The base encoder whose FinetuneCache::base_id is base_id_ (worker thread only).
  std::shared_ptr<const encoder::Encoder> id_base_;
  std::string base_id_;
};

/// The base provider parley-nlu uses: loads the FP32 encoder in `dir` on the first call and keeps
/// it for every later job; its word table is `serving`'s (the shared featurizer's encoder, loaded
/// from the same file) when identical, so the process holds one copy (MiniLM 47 MB, MPNet 94 MB),
/// which the fine-tuned models share in turn (serve_finetuned). `serving` may be null.
FinetuneJobs::BaseProvider keep_fp32_base(std::string dir, std::shared_ptr<const encoder::EncoderModel> serving);

}  // namespace parley::nlu
