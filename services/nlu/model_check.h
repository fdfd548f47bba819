// How well a bot's model parses a sample of the bot's own training examples. Why: the NLU
// service adopts a fine-tuned model only when it does not parse them clearly worse than the
// frozen-encoder model it replaces (a fine-tuning that went wrong must not silently take over a
// bot: issue 17, the ATIS / MPNet tagger that tagged everything O). Depends on bot_model.h.
#pragma once

#include <cstddef>
#include <string>

#include "parley/v1/nlu.pb.h"
#include "services/nlu/bot_model.h"
#include "services/nlu/featurizer.h"

namespace parley::nlu {

struct ExampleScore {
  int examples = 0;       ///< examples parsed
  int intents_right = 0;  ///< top intent is the example's
  int exact = 0;          ///< top intent right and every annotated slot span found (same slot, same bytes)
  std::string to_string() const;
};

/// Parses up to `max_examples` of `request`'s examples (spread evenly over all of them, in the
/// request's order: deterministic) with `model` on features from `featurizer`.
Result<ExampleScore> score_on_examples(const BotModel& model, const Featurizer& featurizer,
                                       const v1::TrainRequest& request, std::size_t max_examples);

}  // namespace parley::nlu
