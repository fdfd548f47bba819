// Extractive answering: picks the best sentence of the retrieved passages and, inside it, the
// short span that answers the question. Exists as the answer mode that needs nothing but the
// encoder, and as the fallback when the LM is down. Depends on knowledge_base, text_utils.
//
// Method (documented in services/qa/README.md):
//   sentence score = w_semantic · cos(question, sentence)            (encoder embeddings, INT8)
//                  + w_lexical  · Σ idf(question words in sentence) / Σ idf(question words)
//                  + w_passage  · cos(question, passage)             (retrieval score)
//                  + w_type     if the question is typed (when / how many / who / where) and the
//                               sentence holds a candidate of that type (a date, a number, a name)
//   question words are the stemmed non-stop words; idf is over the KB's passages.
//   The span: the question's type (when/how many/who/where/other) picks candidate token runs of
//   the sentence that are not question words (dates, numbers, capitalised names, or any run);
//   the run nearest to the question words that do occur wins; no candidate → the whole sentence.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "services/qa/index.h"
#include "services/qa/knowledge_base.h"

namespace parley::qa {

struct ExtractiveWeights {
  float semantic = 0.5f;
  float lexical = 0.3f;
  float passage = 0.2f;
  /// Added when the question is typed (when/how many/who/where) and the sentence has a span of that type.
  float answer_type = 0.1f;
};

struct ExtractiveAnswer {
  bool found = false;
  std::string sentence;     ///< the best sentence
  std::string span;         ///< the short answer inside it (may equal the sentence)
  std::size_t hit_index = 0;  ///< which of the hits (retrieved passages) it came from
  float confidence = 0;     ///< the sentence score above
  float lexical = 0;        ///< its lexical part (for diagnostics)
};

/// Scores every sentence of the passages in `hits` (search results over kb.index()).
/// `question_vector` is the question's embedding (dim = kb.dim()).
ExtractiveAnswer extract_answer(const KnowledgeBase& kb, std::string_view question,
                                const std::vector<float>& question_vector, const std::vector<SearchHit>& hits,
                                const ExtractiveWeights& weights);

/// True for when / how many / who / where style questions (a typed answer is expected).
bool typed_question(std::string_view question);

/// The span of `sentence` answering `question` (see the method above); empty when none.
std::string extract_span(std::string_view question, std::string_view sentence);

}  // namespace parley::qa
