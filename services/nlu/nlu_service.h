// NluService: the parley.v1.Nlu methods — Train (validate + train a bot, swap it in atomically;
// a bot that already holds this exact training keeps its model),
// Parse (checked input -> batched featurization -> the bot's heads), DropBot — over a registry of
// isolated bots sharing one featurizer. Why: the service logic, separate from the process
// (main.cc) so tests and benchmarks run it in-process. Depends on bot_model, shared/batching,
// shared/service (CallContext), nlu_metrics.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "parley/v1/nlu.pb.h"
#include "services/nlu/bot_model.h"
#include "services/nlu/finetune_jobs.h"
#include "services/nlu/nlu_metrics.h"
#include "shared/batching/dynamic_batcher.h"
#include "shared/service/method.h"

namespace parley::nlu {

struct NluLimits {
  std::size_t max_text_bytes = 16 * 1024;  ///< Parse text
  std::size_t max_bots = 64;
  std::size_t max_bot_id_bytes = 128;
};

struct NluOptions {
  NluLimits limits;
  TrainOptions train;
  /// Parse featurization behind a dynamic batcher; max_batch_size 1 (or workers 0) = featurize
  /// inline on the handler's thread, one text per encoder call.
  batching::DynamicBatcherOptions batch{
      .name = "parse", .max_batch_size = 16, .max_queue_delay = std::chrono::microseconds(1500), .workers = 2};
  /// Per-bot fine-tuning (a background job after the frozen-encoder model serves). The mode a
  /// TrainRequest gets when it says FINE_TUNE_DEFAULT (nlu.finetune.mode).
  v1::FineTuneMode finetune_default = v1::FINE_TUNE_OFF;
  FinetuneJobOptions finetune;
  /// The FP32 encoder fine-tuning starts from (called on the job thread the first time a job
  /// runs; cache it). Null: fine-tuning unavailable (hash featurizer), a request asking for it is
  /// FAILED_PRECONDITION.
  FinetuneJobs::BaseProvider base_encoder;
};

/// Thread-safe: all methods may be called from any number of handler threads. Trainings of
/// different bots run side by side; a re-train replaces the old model only once it succeeded
/// (parses in flight finish on the model they started with).
///
///   auto svc = NluService::create(options, featurizer, &metrics);
///   host->unary<v1::ParseRequest, v1::ParseResponse>("parley.v1.Nlu/Parse",
///       [&](const auto& r, auto& ctx) { return (*svc)->parse(r, ctx); });
class NluService {
 public:
  /// `featurizer` is shared by every bot; `metrics` may be null (tests).
  static Result<std::unique_ptr<NluService>> create(NluOptions options, std::shared_ptr<const Featurizer> featurizer,
                                                    NluMetrics* metrics);
  ~NluService();
  NluService(const NluService&) = delete;
  NluService& operator=(const NluService&) = delete;

  Result<v1::TrainResponse> train(const v1::TrainRequest& request, service::CallContext& ctx);
  Result<v1::ParseResponse> parse(const v1::ParseRequest& request, service::CallContext& ctx);
  Result<v1::DropBotResponse> drop_bot(const v1::DropBotRequest& request, service::CallContext& ctx);
  /// The bot's fine-tuning job (state, progress, loss) and which model serves it.
  Result<v1::TrainingStatusResponse> training_status(const v1::TrainingStatusRequest& request) const;

  /// Same as parse() with a deadline instead of a call context (benchmarks, in-process callers).
  Result<v1::ParseResponse> parse(const v1::ParseRequest& request, std::chrono::steady_clock::time_point deadline);

  std::vector<std::string> bots() const;
  /// The batcher (null when batching is off): for stats export.
  batching::DynamicBatcher<std::string, TextFeatures>* batcher() { return batcher_.get(); }

 private:
  NluService(NluOptions options, std::shared_ptr<const Featurizer> featurizer, NluMetrics* metrics);
  Status check_bot_id(const std::string& bot_id) const;
  std::shared_ptr<const BotModel> find(const std::string& bot_id) const;
  void update_gauges();
  /// The reply to a Train identical to the one the bot's model came from (its job, if it asked for
  /// fine-tuning, queued, running or ready); nullopt: train it.
  std::optional<v1::TrainResponse> unchanged(const std::string& bot_id, const std::array<std::uint8_t, 32>& digest,
                                             bool finetune) const;
  Status install_finetuned(const std::string& bot_id, std::uint64_t generation, const v1::TrainRequest& request,
                           FinetunedEncoder tuned);

  NluOptions options_;
  std::shared_ptr<const Featurizer> featurizer_;
  NluMetrics* metrics_;
  std::unique_ptr<batching::DynamicBatcher<std::string, TextFeatures>> batcher_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const BotModel>> bots_;  // guarded by mu_
  std::map<std::string, std::uint64_t> generation_;               // guarded by mu_: the last Train's
  std::map<std::string, std::array<std::uint8_t, 32>> digest_;     // guarded by mu_: the last Train's request
  std::map<std::string, std::uint64_t> not_adopted_;  // guarded by mu_: generation whose model the check refused
  std::uint64_t next_generation_ = 0;                              // guarded by mu_
  std::map<std::string, v1::TrainRequest> pending_;  // guarded by mu_: requests of queued/running jobs
  std::unique_ptr<FinetuneJobs> jobs_;  // last: its worker stops before the rest goes
};

}  // namespace parley::nlu
