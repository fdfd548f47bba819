// Extractive answering: sentence scoring and span selection.
#include "services/qa/extractive.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <unordered_set>

#include "services/qa/text_utils.h"

namespace parley::qa {

namespace {

enum class QuestionType { kDate, kNumber, kPerson, kPlace, kOther };

QuestionType question_type(const std::vector<Word>& q) {
  for (std::size_t i = 0; i < q.size(); ++i) {
    const std::string& w = q[i].norm;
    const std::string next = i + 1 < q.size() ? q[i + 1].norm : "";
    if (w == "when") return QuestionType::kDate;
    if ((w == "what" || w == "which") &&
        (next == "year" || next == "years" || next == "century" || next == "date" || next == "decade" ||
         next == "month" || next == "day" || next == "time" || next == "period")) {
      return QuestionType::kDate;
    }
    if (w == "how" && (next == "many" || next == "much" || next == "long" || next == "old" || next == "far")) {
      return QuestionType::kNumber;
    }
    static const std::unordered_set<std::string> kPlaceNouns = {
        "country", "city", "region", "place", "town", "river", "continent", "island", "area", "kingdom",
        "state", "nation", "province", "location", "county", "village", "language", "religion", "empire"};
    static const std::unordered_set<std::string> kPersonNouns = {"person", "king", "leader", "man", "woman",
                                                                  "ruler", "duke", "emperor", "pope", "general"};
    if ((w == "what" || w == "which") && kPlaceNouns.count(next) != 0) return QuestionType::kPlace;
    if ((w == "what" || w == "which") && kPersonNouns.count(next) != 0) return QuestionType::kPerson;
    if (w == "who" || w == "whom" || w == "whose") return QuestionType::kPerson;
    if (w == "where") return QuestionType::kPlace;
  }
  return QuestionType::kOther;
}

bool has_digit(const std::string& w) {
  return std::any_of(w.begin(), w.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

bool is_number_word(const std::string& w) {
  static const std::unordered_set<std::string> k = {
      "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
      "twenty", "thirty", "forty", "fifty", "hundred", "hundreds", "thousand", "thousands", "million",
      "millions", "billion", "dozen", "several", "first", "second", "third", "fourth", "fifth"};
  return k.count(w) != 0;
}

bool is_date_word(const std::string& w) {
  static const std::unordered_set<std::string> k = {
      "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
      "november", "december", "century", "centuries", "ad", "bc", "bce", "ce", "spring", "summer", "autumn",
      "winter", "decade", "year", "years"};
  return k.count(w) != 0 || has_digit(w);
}

bool capitalised(std::string_view text, const Word& w) {
  auto c = static_cast<unsigned char>(text[w.span.begin]);
  return std::isupper(c) != 0 || c >= 0x80;
}

// Whether a punctuation mark between two words breaks a candidate run.
bool separated(std::string_view text, const Word& a, const Word& b) {
  for (std::size_t i = a.span.end; i < b.span.begin; ++i) {
    char c = text[i];
    if (c == ',' || c == ';' || c == ':' || c == '(' || c == ')' || c == '"' || c == '.') return true;
  }
  return false;
}

}  // namespace

bool typed_question(std::string_view question) { return question_type(words(question)) != QuestionType::kOther; }

std::string extract_span(std::string_view question, std::string_view sentence) {
  auto qw = words(question);
  auto sw = words(sentence);
  if (sw.empty()) return "";
  std::unordered_set<std::string> qstems;
  for (const auto& w : qw) {
    if (!is_stop_word(w.norm)) qstems.insert(stem(w.norm));
  }
  std::vector<bool> in_q(sw.size());
  std::vector<std::size_t> anchors;
  for (std::size_t i = 0; i < sw.size(); ++i) {
    in_q[i] = !is_stop_word(sw[i].norm) && qstems.count(stem(sw[i].norm)) != 0;
    if (in_q[i]) anchors.push_back(i);
  }
  QuestionType type = question_type(qw);
  // Which tokens may belong to a candidate of this type; `joiner` tokens may sit inside a run.
  auto member = [&](std::size_t i) {
    if (in_q[i]) return false;
    const std::string& w = sw[i].norm;
    switch (type) {
      case QuestionType::kDate: return is_date_word(w) && !(w == "year" || w == "years");
      case QuestionType::kNumber: return has_digit(w) || is_number_word(w);
      case QuestionType::kPerson:
      case QuestionType::kPlace: return capitalised(sentence, sw[i]) && !is_stop_word(w);
      case QuestionType::kOther: return true;
    }
    return false;
  };
  auto joiner = [&](std::size_t i) {
    const std::string& w = sw[i].norm;
    switch (type) {
      case QuestionType::kDate: return w == "and" || w == "to" || w == "of" || w == "the" || w == "early" || w == "late" || w == "mid";
      case QuestionType::kNumber: return false;
      case QuestionType::kPerson:
      case QuestionType::kPlace: return w == "of" || w == "de" || w == "the" || w == "von" || w == "and";
      case QuestionType::kOther: return !in_q[i];
    }
    return false;
  };
  struct Run {
    std::size_t b, e;  // word indexes [b, e)
  };
  std::vector<Run> runs;
  for (std::size_t i = 0; i < sw.size();) {
    if (!member(i)) {
      ++i;
      continue;
    }
    std::size_t e = i + 1;
    std::size_t last = i + 1;
    while (e < sw.size() && !separated(sentence, sw[e - 1], sw[e]) && (member(e) || joiner(e))) {
      ++e;
      if (member(e - 1)) last = e;
    }
    runs.push_back({i, last});
    i = e;
  }
  // Trim stop words at the edges (generic runs); drop empty ones.
  std::vector<Run> kept;
  for (Run r : runs) {
    while (r.b < r.e && is_stop_word(sw[r.b].norm)) ++r.b;
    while (r.e > r.b && is_stop_word(sw[r.e - 1].norm)) --r.e;
    if (r.e > r.b) kept.push_back(r);
  }
  if (kept.empty()) return "";
  // Nearest to a question word wins; ties: the shorter (generic) or the earlier.
  auto distance = [&](const Run& r) {
    if (anchors.empty()) return std::size_t{0};
    std::size_t best = std::numeric_limits<std::size_t>::max();
    for (std::size_t a : anchors) {
      std::size_t d = a < r.b ? r.b - a : (a >= r.e ? a - r.e + 1 : 0);
      best = std::min(best, d);
    }
    return best;
  };
  const Run* best = &kept[0];
  for (const Run& r : kept) {
    std::size_t d = distance(r);
    std::size_t bd = distance(*best);
    if (d < bd || (d == bd && type == QuestionType::kOther && (r.e - r.b) < (best->e - best->b))) best = &r;
  }
  // Generic runs are capped: a long clause is worse than the sentence's nearest few words.
  std::size_t b = best->b;
  std::size_t e = best->e;
  if (type == QuestionType::kOther && e - b > 6) {
    bool anchor_after = !anchors.empty() && anchors.back() >= e;
    if (anchor_after) {
      b = e - 6;
    } else {
      e = b + 6;
    }
    while (b < e && is_stop_word(sw[b].norm)) ++b;
    while (e > b && is_stop_word(sw[e - 1].norm)) --e;
    if (e == b) return "";
  }
  return std::string(sentence.substr(sw[b].span.begin, sw[e - 1].span.end - sw[b].span.begin));
}

ExtractiveAnswer extract_answer(const KnowledgeBase& kb, std::string_view question,
                                const std::vector<float>& question_vector, const std::vector<SearchHit>& hits,
                                const ExtractiveWeights& weights) {
  ExtractiveAnswer best;
  best.confidence = -std::numeric_limits<float>::infinity();
  QuantizedVector qv = quantize_int8(question_vector);
  const bool typed = typed_question(question);
  std::vector<std::string> qstems;
  float qidf = 0;
  for (const auto& w : words(question)) {
    if (is_stop_word(w.norm)) continue;
    std::string s = stem(w.norm);
    if (std::find(qstems.begin(), qstems.end(), s) != qstems.end()) continue;
    qidf += kb.idf(s);
    qstems.push_back(std::move(s));
  }
  for (std::size_t h = 0; h < hits.size(); ++h) {
    const StoredPassage& p = kb.passages()[hits[h].row];
    for (std::size_t s = 0; s < p.sentences.size(); ++s) {
      std::string_view text = std::string_view(p.text).substr(p.sentences[s].begin, p.sentences[s].size());
      float sem = kb.sentence_similarity(p.first_sentence + s, qv);
      float lex = 0;
      if (qidf > 0) {
        std::unordered_set<std::string> present;
        for (const auto& w : words(text)) present.insert(stem(w.norm));
        for (const auto& q : qstems) {
          if (present.count(q) != 0) lex += kb.idf(q);
        }
        lex /= qidf;
      }
      float score = weights.semantic * sem + weights.lexical * lex + weights.passage * hits[h].score;
      // A typed question (when, how many, who, where) prefers sentences holding that kind of answer.
      if (typed && weights.answer_type != 0 && !extract_span(question, text).empty()) score += weights.answer_type;
      if (score > best.confidence) {
        best.found = true;
        best.confidence = score;
        best.lexical = lex;
        best.sentence = std::string(text);
        best.hit_index = h;
      }
    }
  }
  if (!best.found) {
    best.confidence = 0;
    return best;
  }
  best.span = extract_span(question, best.sentence);
  if (best.span.empty()) best.span = best.sentence;
  return best;
}

}  // namespace parley::qa
