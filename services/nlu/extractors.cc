// Slot extractors by type (see extractors.h). To add a slot type: a SlotDefinition::Type value in
// proto/parley/v1/nlu.proto, a class here, a case in make_extractor, tests in
// tests/unit/nlu/extractors_test.cc.
#include "services/nlu/extractors.h"

#include <algorithm>

#include "services/nlu/numbers.h"
#include "shared/text/regex.h"

namespace parley::nlu {

std::string LookupTable::key(std::string_view phrase) {
  std::string lower = ascii_lower(phrase);
  std::string out;
  for (const ByteSpan& w : split_words(lower)) {
    if (!out.empty()) out.push_back(' ');
    out.append(lower, w.begin, w.end - w.begin);
  }
  return out;
}

void LookupTable::add(std::string_view phrase, const std::string& canonical) {
  std::string k = key(phrase);
  if (k.empty()) return;
  max_words_ = std::max(max_words_, static_cast<std::size_t>(std::count(k.begin(), k.end(), ' ') + 1));
  phrases_.emplace(std::move(k), canonical);
}

std::optional<std::string> LookupTable::get(std::string_view phrase) const {
  auto it = phrases_.find(key(phrase));
  if (it == phrases_.end()) return std::nullopt;
  return it->second;
}

std::vector<Extraction> LookupTable::find(std::string_view text) const {
  std::vector<Extraction> out;
  std::string lower = ascii_lower(text);
  std::vector<ByteSpan> words = split_words(lower);
  for (std::size_t i = 0; i < words.size();) {
    std::size_t matched = 0;
    std::string canonical;
    std::string k;
    for (std::size_t n = 1; n <= max_words_ && i + n <= words.size(); ++n) {
      if (n > 1) k.push_back(' ');
      const ByteSpan& w = words[i + n - 1];
      k.append(lower, w.begin, w.end - w.begin);
      auto it = phrases_.find(k);
      if (it != phrases_.end()) {
        matched = n;
        canonical = it->second;
      }
    }
    if (matched == 0) {
      ++i;
      continue;
    }
    out.push_back({{words[i].begin, words[i + matched - 1].end}, canonical});
    i += matched;
  }
  return out;
}

namespace {

class CategoricalExtractor final : public SlotExtractor {
 public:
  explicit CategoricalExtractor(LookupTable table) : table_(std::move(table)) {}
  std::optional<std::string> normalize(std::string_view raw, const ExtractContext&) const override {
    return table_.get(raw);
  }
  std::vector<Extraction> find(std::string_view text, const ExtractContext&) const override {
    return table_.find(text);
  }
  bool finds_unprompted() const override { return true; }

 private:
  LookupTable table_;
};

class RegexExtractor final : public SlotExtractor {
 public:
  explicit RegexExtractor(text::Regex re) : re_(std::move(re)) {}
  std::optional<std::string> normalize(std::string_view raw, const ExtractContext&) const override {
    return std::string(raw);
  }
  std::vector<Extraction> find(std::string_view text, const ExtractContext& ctx) const override {
    std::vector<Extraction> out;
    // RE2 matches in linear time; the input bound (kMaxRegexInputBytes, applied by the Regex)
    // and the match count bound the work of one call, and the caller's deadline stops it.
    for (const text::RegexMatch& m : re_.find_all(text, kMaxRegexMatches, ctx.deadline)) {
      auto b = static_cast<std::uint32_t>(m.begin);
      auto e = static_cast<std::uint32_t>(m.end);
      out.push_back({{b, e}, std::string(text.substr(b, e - b))});
    }
    return out;
  }
  bool finds_unprompted() const override { return true; }

 private:
  text::Regex re_;
};

class NumberExtractor final : public SlotExtractor {
 public:
  std::optional<std::string> normalize(std::string_view raw, const ExtractContext&) const override {
    if (auto v = parse_number(raw)) return format_number(*v);
    auto found = find_numbers(raw);
    if (found.size() == 1) return format_number(found.front().value);
    return std::nullopt;
  }
  std::vector<Extraction> find(std::string_view text, const ExtractContext&) const override {
    std::vector<Extraction> out;
    for (const NumberMatch& m : find_numbers(text)) out.push_back({m.span, format_number(m.value)});
    return out;
  }
  bool finds_unprompted() const override { return false; }
};

class DateTimeExtractor final : public SlotExtractor {
 public:
  std::optional<std::string> normalize(std::string_view raw, const ExtractContext& ctx) const override {
    return parse_date_time(raw, ctx.reference);
  }
  std::vector<Extraction> find(std::string_view text, const ExtractContext& ctx) const override {
    std::vector<Extraction> out;
    for (DateTimeMatch& m : find_date_times(text, ctx.reference)) out.push_back({m.span, std::move(m.value)});
    return out;
  }
  bool finds_unprompted() const override { return false; }
};

class FreeTextExtractor final : public SlotExtractor {
 public:
  std::optional<std::string> normalize(std::string_view raw, const ExtractContext&) const override {
    return std::string(raw);
  }
  // Asked for explicitly, the whole (trimmed) answer is the value.
  std::vector<Extraction> find(std::string_view text, const ExtractContext&) const override {
    std::size_t b = text.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    std::size_t e = text.find_last_not_of(" \t\r\n") + 1;
    return {{{static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(e)}, std::string(text.substr(b, e - b))}};
  }
  bool finds_unprompted() const override { return false; }
};

}  // namespace

Result<std::unique_ptr<SlotExtractor>> make_extractor(const v1::SlotDefinition& def) {
  const std::string where = "slot '" + def.name() + "'";
  switch (def.type()) {
    case v1::SlotDefinition::CATEGORICAL: {
      if (def.values().empty()) return invalid_argument(where + ": a CATEGORICAL slot needs at least one value");
      LookupTable table;
      // Sorted for a deterministic winner when two values share a synonym.
      std::vector<std::string> canon;
      for (const auto& [value, _] : def.values()) canon.push_back(value);
      std::sort(canon.begin(), canon.end());
      for (const std::string& value : canon) {
        if (value.empty()) return invalid_argument(where + ": a value is empty");
        if (find_invalid_utf8(value)) return invalid_argument(where + ": value is not valid UTF-8");
        table.add(value, value);
        for (const std::string& syn : def.values().at(value).synonyms()) {
          if (find_invalid_utf8(syn))
            return invalid_argument(where + ": a synonym of '" + value + "' is not valid UTF-8");
          table.add(syn, value);
        }
      }
      return std::unique_ptr<SlotExtractor>(std::make_unique<CategoricalExtractor>(std::move(table)));
    }
    case v1::SlotDefinition::REGEX: {
      if (def.pattern().empty()) return invalid_argument(where + ": a REGEX slot needs a pattern");
      text::RegexLimits limits;
      limits.max_input_bytes = kMaxRegexInputBytes;
      auto re = text::Regex::compile(def.pattern(), limits);
      if (!re.ok()) {
        return invalid_argument(where + ": pattern '" + excerpt(def.pattern()) + "' is not a valid regex (" +
                                re.status().message() + ")");
      }
      return std::unique_ptr<SlotExtractor>(std::make_unique<RegexExtractor>(std::move(*re)));
    }
    case v1::SlotDefinition::NUMBER:
      return std::unique_ptr<SlotExtractor>(std::make_unique<NumberExtractor>());
    case v1::SlotDefinition::DATE_TIME:
      return std::unique_ptr<SlotExtractor>(std::make_unique<DateTimeExtractor>());
    case v1::SlotDefinition::FREE_TEXT:
      return std::unique_ptr<SlotExtractor>(std::make_unique<FreeTextExtractor>());
    default:
      return invalid_argument(where + ": type is unspecified (CATEGORICAL, REGEX, NUMBER, DATE_TIME or FREE_TEXT)");
  }
}

}  // namespace parley::nlu
