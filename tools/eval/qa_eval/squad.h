// SQuAD 2.0 data and scoring for tools/eval/qa: a minimal JSON reader for the dataset file and the
// official answer normalisation, exact match and token F1. Exists so the evaluation needs no
// Python and scores exactly like the official script. Depends on shared/common.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "shared/common/status.h"

namespace parley::qa_eval {

struct SquadQuestion {
  std::string id;
  std::string question;
  std::vector<std::string> answers;  ///< empty: unanswerable
  std::size_t paragraph = 0;         ///< index into SquadData::paragraphs
};

struct SquadData {
  std::string title;  ///< of the first article (the subset has one)
  std::vector<std::string> paragraphs;
  std::vector<std::string> paragraph_titles;
  std::vector<SquadQuestion> questions;
};

/// Parses SQuAD v1.1/v2.0 JSON. INVALID_ARGUMENT naming the byte offset on malformed input.
Result<SquadData> parse_squad(std::string_view json);

/// Official SQuAD normalisation: lower case, remove punctuation, remove articles (a, an, the),
/// collapse whitespace.
std::string normalize_answer(std::string_view s);
/// 1 when normalised strings are equal.
double exact_match(std::string_view prediction, std::string_view truth);
/// Token-level F1 of normalised strings; both empty → 1, one empty → 0.
double f1_score(std::string_view prediction, std::string_view truth);
/// Max over references; for no references the truth is "" (unanswerable).
double max_over(double (*metric)(std::string_view, std::string_view), std::string_view prediction,
                const std::vector<std::string>& answers);

}  // namespace parley::qa_eval
