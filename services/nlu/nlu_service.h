// NluService: the parley.v1.Nlu methods — Train (validate + train a bot, swap it in atomically),
// Parse (checked input -> batched featurization -> the bot's heads), DropBot — over a registry of
// isolated bots sharing one featurizer. Why: the service logic, separate from the process
// (main.cc) so tests and benchmarks run it in-process. Depends on bot_model, shared/batching,
// shared/service (CallContext), nlu_metrics.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "parley/v1/nlu.pb.h"
#include "services/nlu/bot_model.h"
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

  NluOptions options_;
  std::shared_ptr<const Featurizer> featurizer_;
  NluMetrics* metrics_;
  std::unique_ptr<batching::DynamicBatcher<std::string, TextFeatures>> batcher_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const BotModel>> bots_;  // guarded by mu_
};

}  // namespace parley::nlu
