// BotModel: validation, training and parsing of one bot (see bot_model.h).
#include "services/nlu/bot_model.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <thread>

namespace parley::nlu {

namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t);
}

std::string slot_list(const v1::TrainRequest& r) {
  if (r.slots().empty()) return "none";
  std::string s;
  for (const auto& d : r.slots()) s += (s.empty() ? "" : ", ") + d.name();
  return s;
}

Status training_cancelled() { return cancelled("training cancelled (deadline passed or the client went away)"); }

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

Status check_name(const std::string& what, const std::string& name, const TrainLimits& limits) {
  if (name.empty()) return invalid_argument(what + " has an empty name");
  if (name.size() > limits.max_name_bytes) {
    return invalid_argument(what + " name '" + excerpt(name) + "' is longer than " +
                            std::to_string(limits.max_name_bytes) + " bytes");
  }
  if (find_invalid_utf8(name)) return invalid_argument(what + " name is not valid UTF-8");
  return Status::ok();
}

}  // namespace

void BotModel::warn_on_conflicting_examples(const std::vector<std::string>& texts, const std::vector<int>& labels) {
  // The same words (case and spacing aside) under two intents teach the classifier both answers
  // at once: usually a copy-paste slip. Reported, not refused (the data may mean it), at most
  // kShown by name so the message stays bounded.
  constexpr std::size_t kShown = 5;
  std::map<std::string, std::set<int>> by_text;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    std::string key;
    bool space = false;
    for (char c : texts[i]) {
      if (std::isspace(static_cast<unsigned char>(c))) {
        space = !key.empty();
        continue;
      }
      if (space) key.push_back(' ');
      space = false;
      key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    by_text[key].insert(labels[i]);
  }
  std::size_t conflicts = 0;
  for (const auto& [text, intents] : by_text) {
    if (intents.size() < 2) continue;
    if (++conflicts > kShown) continue;
    std::string names;
    for (int y : intents) names += (names.empty() ? "'" : ", '") + intents_[static_cast<std::size_t>(y)] + "'";
    warnings_.push_back("example '" + excerpt(text) + "' is under several intents (" + names +
                        "): the classifier cannot tell them apart by it");
  }
  if (conflicts > kShown) {
    warnings_.push_back(std::to_string(conflicts - kShown) + " more examples are under several intents");
  }
}

Status BotModel::validate(const v1::TrainRequest& r, const TrainLimits& limits) {
  if (r.intents().empty()) return invalid_argument("no intents: a bot needs at least one intent with examples");
  if (static_cast<std::size_t>(r.intents_size()) > limits.max_intents) {
    return invalid_argument(std::to_string(r.intents_size()) + " intents; the limit is " +
                            std::to_string(limits.max_intents));
  }
  if (static_cast<std::size_t>(r.slots_size()) > limits.max_slots) {
    return invalid_argument(std::to_string(r.slots_size()) + " slots; the limit is " +
                            std::to_string(limits.max_slots));
  }
  if (!(r.out_of_scope_threshold() >= 0.0f && r.out_of_scope_threshold() <= 1.0f)) {
    return invalid_argument("out_of_scope_threshold must be within [0, 1], got " +
                            std::to_string(r.out_of_scope_threshold()));
  }
  if (!(r.out_of_scope_similarity() <= 1.0f) || std::isnan(r.out_of_scope_similarity())) {
    return invalid_argument("out_of_scope_similarity must be at most 1 (0 = derived, negative = off)");
  }
  std::set<std::string> slot_names;
  for (int i = 0; i < r.slots_size(); ++i) {
    const auto& d = r.slots(i);
    PARLEY_RETURN_IF_ERROR(check_name("slot #" + std::to_string(i + 1), d.name(), limits));
    if (!slot_names.insert(d.name()).second) return invalid_argument("slot '" + d.name() + "' is defined twice");
    if (d.type() == v1::SlotDefinition::TYPE_UNSPECIFIED) {
      return invalid_argument("slot '" + d.name() +
                              "': type is unspecified (CATEGORICAL, REGEX, NUMBER, DATE_TIME or FREE_TEXT)");
    }
  }
  std::set<std::string> intent_names;
  std::size_t total = 0;
  for (int i = 0; i < r.intents_size(); ++i) {
    const auto& intent = r.intents(i);
    PARLEY_RETURN_IF_ERROR(check_name("intent #" + std::to_string(i + 1), intent.name(), limits));
    if (!intent_names.insert(intent.name()).second)
      return invalid_argument("intent '" + intent.name() + "' is defined twice");
    if (intent.examples().empty()) return invalid_argument("intent '" + intent.name() + "' has no examples");
    total += static_cast<std::size_t>(intent.examples_size());
    if (total > limits.max_examples) {
      return invalid_argument("more than " + std::to_string(limits.max_examples) + " training examples");
    }
    for (int j = 0; j < intent.examples_size(); ++j) {
      const auto& ex = intent.examples(j);
      std::string where = "intent '" + intent.name() + "' example " + std::to_string(j + 1);
      if (auto bad = find_invalid_utf8(ex.text())) {
        return invalid_argument(where + ": text is not valid UTF-8 (byte " + std::to_string(*bad) + ")");
      }
      where += " ('" + excerpt(ex.text()) + "')";
      if (blank(ex.text())) return invalid_argument(where + ": text is empty");
      if (ex.text().size() > limits.max_example_bytes) {
        return invalid_argument(where + ": text is " + std::to_string(ex.text().size()) + " bytes; the limit is " +
                                std::to_string(limits.max_example_bytes));
      }
      std::vector<std::pair<int, int>> spans;
      for (const auto& s : ex.slots()) {
        if (slot_names.count(s.slot()) == 0) {
          return invalid_argument(where + ": slot '" + excerpt(s.slot()) +
                                  "' is not defined (defined slots: " + slot_list(r) + ")");
        }
        const auto size = static_cast<std::int64_t>(ex.text().size());
        if (s.start() < 0 || s.end() > size || s.start() >= s.end()) {
          return invalid_argument(where + ": span of slot '" + s.slot() + "' [" + std::to_string(s.start()) + ", " +
                                  std::to_string(s.end()) + ") is out of range (the text is " + std::to_string(size) +
                                  " bytes; spans are byte offsets [start, end) with start < end)");
        }
        if (!on_utf8_boundary(ex.text(), static_cast<std::size_t>(s.start())) ||
            !on_utf8_boundary(ex.text(), static_cast<std::size_t>(s.end()))) {
          return invalid_argument(where + ": span of slot '" + s.slot() + "' [" + std::to_string(s.start()) + ", " +
                                  std::to_string(s.end()) + ") cuts a UTF-8 character");
        }
        for (const auto& [b, e] : spans) {
          if (s.start() < e && b < s.end()) {
            return invalid_argument(where + ": span of slot '" + s.slot() + "' [" + std::to_string(s.start()) + ", " +
                                    std::to_string(s.end()) + ") overlaps another span [" + std::to_string(b) + ", " +
                                    std::to_string(e) + ")");
          }
        }
        spans.emplace_back(s.start(), s.end());
      }
    }
  }
  return Status::ok();
}

Result<std::shared_ptr<const BotModel>> BotModel::train_owning(const v1::TrainRequest& request,
                                                               std::shared_ptr<const Featurizer> featurizer,
                                                               const TrainOptions& options, TrainReport* report) {
  if (!featurizer) return invalid_argument("no featurizer");
  PARLEY_ASSIGN_OR_RETURN(auto model, train(request, *featurizer, options, report));
  // train() made the only reference: completing it here is still "before it is shared".
  auto owned = std::const_pointer_cast<BotModel>(std::move(model));
  owned->own_featurizer_ = std::move(featurizer);
  return std::shared_ptr<const BotModel>(std::move(owned));
}

Result<std::shared_ptr<const BotModel>> BotModel::train(const v1::TrainRequest& r, const Featurizer& featurizer,
                                                        const TrainOptions& options, TrainReport* report) {
  const auto start = Clock::now();
  PARLEY_RETURN_IF_ERROR(validate(r, options.limits));
  auto stop_requested = [&] { return options.cancelled && options.cancelled(); };
  std::shared_ptr<BotModel> m(new BotModel());
  m->bot_id_ = r.bot_id();
  m->confidence_floor_ = r.out_of_scope_threshold();
  for (int i = 0; i < r.slots_size(); ++i) {
    const auto& d = r.slots(i);
    m->slots_.push_back(d);
    m->slot_index_[d.name()] = i;
    auto ex = make_extractor(d);
    if (!ex.ok()) return ex.status();
    m->extractors_.push_back(std::move(*ex));
    if (d.type() == v1::SlotDefinition::DATE_TIME) ++m->date_time_slots_;
  }

  // Examples, their intents and their spans (as tagger slots).
  std::vector<std::string> texts;
  std::vector<int> labels;
  std::vector<std::vector<std::pair<int, ByteSpan>>> spans;
  std::vector<int> def_to_tagger(static_cast<std::size_t>(r.slots_size()), -1);
  for (int i = 0; i < r.intents_size(); ++i) {
    m->intents_.push_back(r.intents(i).name());
    for (const auto& ex : r.intents(i).examples()) {
      texts.push_back(ex.text());
      labels.push_back(i);
      std::vector<std::pair<int, ByteSpan>> s;
      for (const auto& span : ex.slots()) {
        int def = m->slot_index_.at(span.slot());
        int& tag_slot = def_to_tagger[static_cast<std::size_t>(def)];
        if (tag_slot < 0) {
          tag_slot = static_cast<int>(m->tagger_slot_.size());
          m->tagger_slot_.push_back(def);
        }
        s.emplace_back(tag_slot,
                       ByteSpan{static_cast<std::uint32_t>(span.start()), static_cast<std::uint32_t>(span.end())});
      }
      spans.push_back(std::move(s));
    }
  }
  m->examples_ = static_cast<int>(texts.size());
  m->warn_on_conflicting_examples(texts, labels);
  for (std::size_t d = 0; d < def_to_tagger.size(); ++d) {
    if (def_to_tagger[d] >= 0) continue;
    const auto& def = m->slots_[d];
    std::string how = def.type() == v1::SlotDefinition::CATEGORICAL || def.type() == v1::SlotDefinition::REGEX
                          ? "found by its values/pattern only"
                          : "filled only when a form asks for it (expected_slot)";
    m->warnings_.push_back("slot '" + def.name() + "' has no annotated examples: " + how);
  }

  // Features.
  auto t0 = Clock::now();
  std::vector<TextFeatures> features(texts.size());
  {
    // Chunks go to a few threads: the encoder's serial parts (tokenizing, attention per text,
    // pooling) would otherwise leave cores idle.
    constexpr std::size_t kChunk = 256;
    const std::size_t chunks = (texts.size() + kChunk - 1) / kChunk;
    std::size_t threads = options.featurize_threads > 0 ? static_cast<std::size_t>(options.featurize_threads)
                                                        : std::min<std::size_t>(8, std::thread::hardware_concurrency());
    threads = std::clamp<std::size_t>(threads, 1, std::max<std::size_t>(chunks, 1));
    std::atomic<std::size_t> next{0};
    std::mutex mu;
    Status failure;
    auto work = [&] {
      std::vector<TextFeatures> part;
      for (std::size_t c = next++; c < chunks; c = next++) {
        if (stop_requested()) return;
        const std::size_t first = c * kChunk;
        const std::size_t n = std::min(kChunk, texts.size() - first);
        Status st = featurizer.featurize(std::span<const std::string>(texts).subspan(first, n), part);
        if (!st.is_ok()) {
          std::lock_guard lock(mu);
          failure = st;
          return;
        }
        for (std::size_t k = 0; k < n; ++k) features[first + k] = std::move(part[k]);
      }
    };
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (stop_requested()) return training_cancelled();
    PARLEY_RETURN_IF_ERROR(failure);
  }
  std::vector<const TextFeatures*> fp;
  for (const auto& f : features) fp.push_back(&f);
  TrainReport rep;
  rep.featurize = since(t0);
  if (stop_requested()) return training_cancelled();

  // Intent head.
  t0 = Clock::now();
  auto intent = IntentClassifier::train(fp, labels, static_cast<int>(m->intents_.size()), options.intent);
  if (!intent.ok()) return intent.status().with_context("training the intent head");
  m->intent_ = std::move(*intent);
  rep.intent = since(t0);
  rep.intent_epochs = m->intent_->epochs_run();
  if (stop_requested()) return training_cancelled();

  // Slot tagger.
  t0 = Clock::now();
  if (!m->tagger_slot_.empty()) {
    std::vector<std::string> names;
    for (int d : m->tagger_slot_) names.push_back(m->slots_[static_cast<std::size_t>(d)].name());
    BioTags bio(names);
    std::vector<std::vector<int>> gold;
    std::size_t snapped = 0;
    for (std::size_t i = 0; i < features.size(); ++i) {
      gold.push_back(spans_to_tags(features[i].words, spans[i]));
      for (const auto& [slot, span] : spans[i]) {
        bool begins = false, ends = false;
        for (const ByteSpan& w : features[i].words) {
          begins |= w.begin == span.begin;
          ends |= w.end == span.end;
        }
        if (!begins || !ends) ++snapped;
      }
    }
    if (snapped > 0) {
      m->warnings_.push_back(
          std::to_string(snapped) +
          " slot spans do not start/end on word boundaries; the tagger learns them widened to whole words");
    }
    std::vector<std::string> contexts;
    for (int y : labels) contexts.push_back(m->intents_[static_cast<std::size_t>(y)]);
    auto tagger = SlotTagger::train(fp, gold, bio.size(), options.tagger, contexts);
    if (!tagger.ok()) return tagger.status().with_context("training the slot tagger");
    m->tagger_ = std::move(*tagger);
    rep.tagger_epochs = m->tagger_->epochs_run();
  }
  rep.tagger = since(t0);

  // Out-of-scope: keep (a sample of) the examples' sentence vectors and derive the similarity floor.
  m->vector_dim_ = featurizer.sentence_dim();
  std::vector<std::size_t> keep(features.size());
  std::iota(keep.begin(), keep.end(), 0);
  if (keep.size() > options.max_similarity_examples) {
    std::mt19937_64 rng(7);
    std::shuffle(keep.begin(), keep.end(), rng);
    keep.resize(options.max_similarity_examples);
    std::sort(keep.begin(), keep.end());
  }
  const auto dim = static_cast<std::size_t>(m->vector_dim_);
  for (std::size_t i : keep)
    m->example_vectors_.insert(m->example_vectors_.end(), features[i].sentence.begin(), features[i].sentence.end());
  if (r.out_of_scope_similarity() > 0) {
    m->similarity_floor_ = r.out_of_scope_similarity();
  } else if (r.out_of_scope_similarity() < 0 || keep.size() < 2) {
    m->similarity_floor_ = -1;
  } else {
    // Leave-one-out nearest-neighbour similarity of (up to 1000) examples; the floor sits below
    // the 2nd percentile, so almost every in-domain text passes.
    std::vector<float> loo;
    const std::size_t probes = std::min<std::size_t>(keep.size(), 1000);
    const std::size_t n = keep.size();
    for (std::size_t p = 0; p < probes; ++p) {
      std::size_t i = p * n / probes;
      const float* a = m->example_vectors_.data() + i * dim;
      float best = -1;
      for (std::size_t j = 0; j < n; ++j) {
        if (j == i) continue;
        const float* b = m->example_vectors_.data() + j * dim;
        float s = 0;
        for (std::size_t k = 0; k < dim; ++k) s += a[k] * b[k];
        best = std::max(best, s);
      }
      loo.push_back(best);
    }
    std::sort(loo.begin(), loo.end());
    float p2 = loo[loo.size() * 2 / 100];
    m->similarity_floor_ = std::clamp(p2 - 0.1f, 0.1f, 0.35f);
  }
  rep.total = since(start);
  if (report != nullptr) *report = rep;
  return std::shared_ptr<const BotModel>(std::move(m));
}

float BotModel::nearest_similarity(const TextFeatures& f) const {
  const auto dim = static_cast<std::size_t>(vector_dim_);
  if (dim == 0 || f.sentence.size() != dim) return 0;
  const std::size_t n = example_vectors_.size() / dim;
  float best = -1;
  for (std::size_t j = 0; j < n; ++j) {
    const float* b = example_vectors_.data() + j * dim;
    float s = 0;
    for (std::size_t k = 0; k < dim; ++k) s += f.sentence[k] * b[k];
    best = std::max(best, s);
  }
  return best;
}

std::size_t BotModel::bytes() const {
  return example_vectors_.size() * sizeof(float) + (intent_ ? intent_->bytes() : 0) + (tagger_ ? tagger_->bytes() : 0) +
         (own_featurizer_ ? own_featurizer_->weight_bytes() : 0);
}

Result<v1::ParseResponse> BotModel::parse(std::string_view text, const TextFeatures& f, const ParseOptions& o) const {
  v1::ParseResponse reply;
  std::vector<float> probs;
  PARLEY_RETURN_IF_ERROR(intent_->predict(f, probs));
  std::vector<std::size_t> order(probs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return probs[a] > probs[b]; });
  for (std::size_t k = 0; k < order.size() && k < o.max_intents; ++k) {
    auto* s = reply.add_intents();
    s->set_name(intents_[order[k]]);
    s->set_confidence(probs[order[k]]);
  }
  const float top = probs.empty() ? 0.0f : probs[order.front()];
  const float sim = nearest_similarity(f);
  reply.set_nearest_similarity(sim);
  if (confidence_floor_ > 0 && top < confidence_floor_) {
    reply.set_out_of_scope(true);
    reply.set_out_of_scope_reason("low_confidence");
  } else if (similarity_floor_ > 0 && sim < similarity_floor_) {
    reply.set_out_of_scope(true);
    reply.set_out_of_scope_reason("far_from_examples");
  }

  // Slots: spans never overlap; the first claim wins (order below).
  std::vector<v1::SlotValue> slots;
  auto overlaps = [&](ByteSpan s) {
    return std::any_of(slots.begin(), slots.end(), [&](const v1::SlotValue& v) {
      return static_cast<std::int64_t>(s.begin) < v.end() && v.start() < static_cast<std::int64_t>(s.end);
    });
  };
  auto add = [&](int def, ByteSpan span, std::string value, float confidence, const std::string& source) {
    v1::SlotValue v;
    v.set_slot(slots_[static_cast<std::size_t>(def)].name());
    v.set_raw_value(std::string(text.substr(span.begin, span.end - span.begin)));
    v.set_value(std::move(value));
    v.set_start(static_cast<std::int32_t>(span.begin));
    v.set_end(static_cast<std::int32_t>(span.end));
    v.set_confidence(confidence);
    v.set_extractor(source);
    slots.push_back(std::move(v));
  };
  static const char* kSource[] = {"unspecified", "lookup", "regex", "number", "date_time", "free_text"};
  auto source_of = [&](int def) {
    int t = slots_[static_cast<std::size_t>(def)].type();
    return std::string(t >= 0 && t <= 5 ? kSource[t] : "unspecified");
  };
  int expected = -1;
  if (!o.expected_slot.empty()) {
    auto it = slot_index_.find(o.expected_slot);
    if (it != slot_index_.end()) expected = it->second;
  }
  // The bot author's explicit knowledge (patterns, value lists) first, then the tagger's spans
  // where they do not collide with it, then dates for the bot's only DATE_TIME slot.
  auto run_finders = [&](bool unprompted) {
    for (std::size_t def = 0; def < extractors_.size(); ++def) {
      const auto& ex = *extractors_[def];
      const bool only_date = slots_[def].type() == v1::SlotDefinition::DATE_TIME && date_time_slots_ == 1;
      if (unprompted ? !ex.finds_unprompted() : !only_date) continue;
      for (Extraction& e : ex.find(text, o.context)) {
        if (!overlaps(e.span))
          add(static_cast<int>(def), e.span, std::move(e.value), 1.0f, source_of(static_cast<int>(def)));
      }
    }
  };
  // Bot patterns stop at the caller's deadline (extractors.h); a parse past it is not answered.
  auto past_deadline = [&] { return std::chrono::steady_clock::now() >= o.context.deadline; };
  run_finders(true);
  if (past_deadline()) return deadline_exceeded("deadline passed while extracting slots");
  if (tagger_ != nullptr && f.size() > 0) {
    SlotTagger::Decoded d;
    PARLEY_RETURN_IF_ERROR(tagger_->decode(f, d, probs.empty() ? std::string_view{} : intents_[order.front()]));
    for (const WordSpan& ws : tags_to_spans(d.tags)) {
      int def = tagger_slot_[static_cast<std::size_t>(ws.slot)];
      ByteSpan span{f.words[ws.first].begin, f.words[ws.last].end};
      float conf = 0;
      for (std::size_t i = ws.first; i <= ws.last; ++i) conf += d.confidence[i];
      conf /= static_cast<float>(ws.last - ws.first + 1);
      if (slots_[static_cast<std::size_t>(def)].type() == v1::SlotDefinition::DATE_TIME) {
        // The date grammar knows where an expression ends ("tomorrow" + "at 7pm"): widen the
        // tagger's span to the one date/time expression it overlaps.
        std::vector<Extraction> dates = extractors_[static_cast<std::size_t>(def)]->find(text, o.context);
        std::vector<Extraction*> hits;
        for (auto& e : dates) {
          if (e.span.begin < span.end && span.begin < e.span.end) hits.push_back(&e);
        }
        if (hits.size() == 1) {
          span = {std::min(span.begin, hits[0]->span.begin), std::max(span.end, hits[0]->span.end)};
          if (!overlaps(span)) add(def, span, hits[0]->value, conf, "tagger");
          continue;
        }
      }
      std::string_view raw = text.substr(span.begin, span.end - span.begin);
      auto value = extractors_[static_cast<std::size_t>(def)]->normalize(raw, o.context);
      // A number or date slot whose span is no number or date ("penguins" tagged as a date) is a
      // tagger error: filling the slot with it would derail a form, so the span is not a slot.
      const auto type = slots_[static_cast<std::size_t>(def)].type();
      if (!value && (type == v1::SlotDefinition::DATE_TIME || type == v1::SlotDefinition::NUMBER)) continue;
      if (!overlaps(span)) add(def, span, value ? *value : std::string(raw), conf, "tagger");
    }
  }
  run_finders(false);
  if (past_deadline()) return deadline_exceeded("deadline passed while extracting slots");
  if (expected >= 0) {
    bool have =
        std::any_of(slots.begin(), slots.end(), [&](const v1::SlotValue& v) { return v.slot() == o.expected_slot; });
    if (!have) {
      for (Extraction& e : extractors_[static_cast<std::size_t>(expected)]->find(text, o.context)) {
        if (overlaps(e.span) && slots_[static_cast<std::size_t>(expected)].type() != v1::SlotDefinition::FREE_TEXT)
          continue;
        add(expected, e.span, std::move(e.value), 0.9f, source_of(expected));
        break;
      }
    }
  }
  std::sort(slots.begin(), slots.end(),
            [](const v1::SlotValue& a, const v1::SlotValue& b) { return a.start() < b.start(); });
  for (auto& s : slots) *reply.add_slots() = std::move(s);
  return reply;
}

}  // namespace parley::nlu
