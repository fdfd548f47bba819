// BotModel: everything NLU knows about one bot, trained from its TrainRequest — the intent head,
// the slot tagger, one extractor per slot, and the out-of-scope detector (confidence threshold
// plus similarity to the nearest training example). Why: the unit the service swaps atomically
// on re-train and shares between parse threads. Depends on featurizer, intent_classifier,
// slot_tagger, extractors, proto (nlu.proto).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "parley/v1/nlu.pb.h"
#include "services/nlu/extractors.h"
#include "services/nlu/featurizer.h"
#include "services/nlu/intent_classifier.h"
#include "services/nlu/slot_tagger.h"

namespace parley::nlu {

/// Limits on what one TrainRequest may hold (the service's config keys set them).
struct TrainLimits {
  std::size_t max_intents = 1000;
  std::size_t max_slots = 200;
  std::size_t max_examples = 50'000;
  std::size_t max_example_bytes = 4096;
  std::size_t max_name_bytes = 128;
};

struct TrainOptions {
  TrainLimits limits;
  IntentOptions intent;
  TaggerOptions tagger;
  /// Training examples whose sentence vectors are kept for the similarity check (sampled).
  std::size_t max_similarity_examples = 20'000;
  /// Threads featurizing the examples (chunks of 256 texts each); 0 = one per core (max 8).
  int featurize_threads = 0;
  /// Polled between phases; true aborts training with CANCELLED.
  std::function<bool()> cancelled;
};

/// Where training time went.
struct TrainReport {
  std::chrono::milliseconds featurize{0}, intent{0}, tagger{0}, total{0};
  int intent_epochs = 0, tagger_epochs = 0;
};

struct ParseOptions {
  std::string expected_slot;
  ExtractContext context;
  std::size_t max_intents = 10;  ///< ranked intents returned
};

/// Immutable after train(); parse() is const and thread-safe. Shared as shared_ptr<const BotModel>.
///
///   auto model = BotModel::train(request, featurizer, {});
///   std::vector<TextFeatures> f;  featurizer.featurize({text}, f);
///   auto reply = (*model)->parse(text, f[0], {.expected_slot = "time"});
class BotModel {
 public:
  /// Validates the request (each problem named: intent, example index, slot) and trains.
  static Result<std::shared_ptr<const BotModel>> train(const v1::TrainRequest& request, const Featurizer& featurizer,
                                                       const TrainOptions& options, TrainReport* report = nullptr);
  /// Same, and the model keeps `featurizer` as its own (a bot's fine-tuned encoder): parse()
  /// callers featurize with own_featurizer() instead of the shared one.
  static Result<std::shared_ptr<const BotModel>> train_owning(const v1::TrainRequest& request,
                                                              std::shared_ptr<const Featurizer> featurizer,
                                                              const TrainOptions& options, TrainReport* report = nullptr);
  /// Checks the request only (no featurizer needed).
  static Status validate(const v1::TrainRequest& request, const TrainLimits& limits);

  /// Intent ranking, slots and out-of-scope for `text` whose features are `f`. The caller has
  /// validated the text (UTF-8, size) and expected_slot (has_slot).
  Result<v1::ParseResponse> parse(std::string_view text, const TextFeatures& f, const ParseOptions& options) const;

  bool has_slot(const std::string& name) const { return slot_index_.count(name) > 0; }
  const std::string& bot_id() const { return bot_id_; }
  int examples() const { return examples_; }
  const std::vector<std::string>& intents() const { return intents_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  float similarity_floor() const { return similarity_floor_; }
  /// Heads, example vectors and, for a fine-tuned bot, its own encoder's weights.
  std::size_t bytes() const;
  /// The bot's own featurizer (fine-tuned encoder), or null when it uses the shared one.
  const std::shared_ptr<const Featurizer>& own_featurizer() const { return own_featurizer_; }

 private:
  BotModel() = default;
  float nearest_similarity(const TextFeatures& f) const;

  std::string bot_id_;
  int examples_ = 0;
  std::vector<std::string> intents_;
  std::vector<v1::SlotDefinition> slots_;
  std::unordered_map<std::string, int> slot_index_;
  std::vector<std::unique_ptr<SlotExtractor>> extractors_;
  std::unique_ptr<IntentClassifier> intent_;
  std::unique_ptr<SlotTagger> tagger_;  // null when no example has slot annotations
  std::vector<int> tagger_slot_;        // tagger slot -> index into slots_
  std::vector<float> example_vectors_;  // [n, dim] normalized sentence vectors
  int vector_dim_ = 0;
  float confidence_floor_ = 0;
  float similarity_floor_ = -1;
  int date_time_slots_ = 0;
  std::vector<std::string> warnings_;
  std::shared_ptr<const Featurizer> own_featurizer_;

  /// Adds a warning per example text (case and spacing aside) found under several intents.
  void warn_on_conflicting_examples(const std::vector<std::string>& texts, const std::vector<int>& labels);
};

}  // namespace parley::nlu
