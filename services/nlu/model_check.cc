// Scores a bot model on its own training examples (see model_check.h).
#include "services/nlu/model_check.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace parley::nlu {

std::string ExampleScore::to_string() const {
  return std::to_string(exact) + " of " + std::to_string(examples) + " exact, " + std::to_string(intents_right) +
         " intents right";
}

Result<ExampleScore> score_on_examples(const BotModel& model, const Featurizer& featurizer,
                                       const v1::TrainRequest& request, std::size_t max_examples) {
  struct Item {
    const std::string* intent;
    const v1::TrainingExample* example;
  };
  std::vector<Item> all;
  for (const auto& intent : request.intents()) {
    for (const auto& ex : intent.examples()) all.push_back({&intent.name(), &ex});
  }
  std::vector<Item> sample;
  if (max_examples > 0 && !all.empty()) {
    const std::size_t n = std::min(max_examples, all.size());
    for (std::size_t k = 0; k < n; ++k) sample.push_back(all[k * all.size() / n]);
  }
  ExampleScore score;
  constexpr std::size_t kChunk = 64;
  std::vector<std::string> texts;
  std::vector<TextFeatures> features;
  for (std::size_t first = 0; first < sample.size(); first += kChunk) {
    const std::size_t last = std::min(sample.size(), first + kChunk);
    texts.clear();
    for (std::size_t k = first; k < last; ++k) texts.push_back(sample[k].example->text());
    PARLEY_RETURN_IF_ERROR(featurizer.featurize(texts, features));
    for (std::size_t k = first; k < last; ++k) {
      PARLEY_ASSIGN_OR_RETURN(v1::ParseResponse parsed, model.parse(texts[k - first], features[k - first], {}));
      ++score.examples;
      const bool intent_right = parsed.intents_size() > 0 && parsed.intents(0).name() == *sample[k].intent;
      if (!intent_right) continue;
      ++score.intents_right;
      // A gold span is found when a slot of its name covers the same words (the tagger answers
      // whole words; an annotation may cut one).
      const std::vector<ByteSpan>& words = features[k - first].words;
      const auto& gold = sample[k].example->slots();
      const bool all_found = std::all_of(gold.begin(), gold.end(), [&](const v1::SlotSpan& g) {
        std::int64_t begin = g.start(), end = g.end();
        for (const ByteSpan& w : words) {
          if (static_cast<std::int64_t>(w.begin) < g.end() && g.start() < static_cast<std::int64_t>(w.end)) {
            begin = std::min<std::int64_t>(begin, static_cast<std::int64_t>(w.begin));
            end = std::max<std::int64_t>(end, static_cast<std::int64_t>(w.end));
          }
        }
        return std::any_of(parsed.slots().begin(), parsed.slots().end(), [&](const v1::SlotValue& p) {
          return p.slot() == g.slot() && p.start() == begin && p.end() == end;
        });
      });
      if (all_found) ++score.exact;
    }
  }
  return score;
}

}  // namespace parley::nlu
