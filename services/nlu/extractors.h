// Slot extractors: one per slot type, turning raw text into normalized values (categorical
// synonyms -> canonical value, number words -> numbers, dates -> ISO) and finding values without
// the tagger (regex matches, lookup-table hits, dates/numbers when a form asks for that slot).
// Why: deterministic, explainable extraction next to the learned tagger; the place to add a new
// slot type. Depends on numbers.h, datetime.h, shared/text/regex.h (RE2), proto (SlotDefinition).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "parley/v1/nlu.pb.h"
#include "services/nlu/datetime.h"
#include "services/nlu/text_checks.h"
#include "shared/common/status.h"

namespace parley::nlu {

/// REGEX slot patterns only see this many leading bytes of a text. Bot patterns run on RE2
/// (shared/text/regex.h: linear time, bounded memory); this bounds the work of one match.
inline constexpr std::size_t kMaxRegexInputBytes = 4096;
/// Matches of one REGEX slot in one text, at most.
inline constexpr std::size_t kMaxRegexMatches = 64;

/// What extraction needs to know about the request.
struct ExtractContext {
  ReferenceTime reference;
  /// The caller's deadline: extractors stop matching once it has passed (and the parse fails
  /// DEADLINE_EXCEEDED), so work for a caller that gave up does not go on.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct Extraction {
  ByteSpan span;
  std::string value;
};

/// One slot's extractor. Immutable after creation; all methods const and thread-safe.
class SlotExtractor {
 public:
  virtual ~SlotExtractor() = default;
  /// The normalized value of a span the tagger labelled with this slot; nullopt when the text is
  /// not a value of this type (the caller keeps the raw text as value).
  virtual std::optional<std::string> normalize(std::string_view raw, const ExtractContext& ctx) const = 0;
  /// Values of this slot anywhere in `text`, left to right.
  virtual std::vector<Extraction> find(std::string_view text, const ExtractContext& ctx) const = 0;
  /// Whether find() results count even when nobody asked for this slot (regex, lookup tables);
  /// number and date finders only fill the slot a form asked for (expected_slot) or, for dates,
  /// the bot's only DATE_TIME slot.
  virtual bool finds_unprompted() const = 0;
};

/// Builds the extractor of `def`. InvalidArgument naming the slot for a bad definition (no
/// values for a categorical slot, an empty or invalid regex, an unspecified type).
Result<std::unique_ptr<SlotExtractor>> make_extractor(const v1::SlotDefinition& def);

/// The canonical value of a phrase for a categorical slot: exact (case-insensitive, spaces
/// collapsed) synonym or canonical match. Exposed for tests.
class LookupTable {
 public:
  void add(std::string_view phrase, const std::string& canonical);
  std::optional<std::string> get(std::string_view phrase) const;
  /// Longest non-overlapping phrase matches on word boundaries.
  std::vector<Extraction> find(std::string_view text) const;
  std::size_t size() const { return phrases_.size(); }

 private:
  static std::string key(std::string_view phrase);
  std::unordered_map<std::string, std::string> phrases_;  // key -> canonical
  std::size_t max_words_ = 0;
};

}  // namespace parley::nlu
