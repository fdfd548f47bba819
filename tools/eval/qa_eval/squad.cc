// SQuAD JSON reading and official scoring.
#include "tools/eval/qa_eval/squad.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <sstream>

#include "shared/common/json_document.h"

namespace parley::qa_eval {

namespace {

std::vector<std::string> tokens(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

}  // namespace

Result<SquadData> parse_squad(std::string_view text) {
  PARLEY_ASSIGN_OR_RETURN(json::Value root, json::parse(text));
  const json::Value* data = root.find("data");
  if (data == nullptr || !data->is_array()) return invalid_argument("SQuAD: no 'data' array");
  auto str = [](const json::Value* v) { return v != nullptr ? v->as_string() : std::string(); };
  SquadData out;
  for (const json::Value& article : data->as_array()) {
    const json::Value* title = article.find("title");
    if (out.title.empty() && title != nullptr) out.title = title->as_string();
    const json::Value* paragraphs = article.find("paragraphs");
    if (paragraphs == nullptr || !paragraphs->is_array()) return invalid_argument("SQuAD: article without 'paragraphs'");
    for (const json::Value& p : paragraphs->as_array()) {
      const json::Value* context = p.find("context");
      if (context == nullptr || !context->is_string()) return invalid_argument("SQuAD: paragraph without 'context'");
      std::size_t index = out.paragraphs.size();
      out.paragraphs.push_back(context->as_string());
      out.paragraph_titles.push_back(str(title));
      const json::Value* qas = p.find("qas");
      if (qas == nullptr) continue;
      for (const json::Value& q : qas->as_array()) {
        SquadQuestion sq;
        sq.paragraph = index;
        sq.id = str(q.find("id"));
        sq.question = str(q.find("question"));
        const json::Value* impossible = q.find("is_impossible");
        if (impossible == nullptr || !impossible->as_bool()) {
          if (const json::Value* answers = q.find("answers")) {
            for (const json::Value& a : answers->as_array()) {
              if (const json::Value* t = a.find("text")) sq.answers.push_back(t->as_string());
            }
          }
        }
        out.questions.push_back(std::move(sq));
      }
    }
  }
  return out;
}

std::string normalize_answer(std::string_view s) {
  std::string lower;
  for (unsigned char c : s) {
    if (std::ispunct(c) != 0) continue;  // string.punctuation is ASCII punctuation
    lower.push_back(static_cast<char>(std::tolower(c)));
  }
  std::string out;
  for (const auto& w : tokens(lower)) {
    if (w == "a" || w == "an" || w == "the") continue;
    if (!out.empty()) out.push_back(' ');
    out += w;
  }
  return out;
}

double exact_match(std::string_view prediction, std::string_view truth) {
  return normalize_answer(prediction) == normalize_answer(truth) ? 1.0 : 0.0;
}

double f1_score(std::string_view prediction, std::string_view truth) {
  auto p = tokens(normalize_answer(prediction));
  auto t = tokens(normalize_answer(truth));
  if (p.empty() || t.empty()) return p.empty() && t.empty() ? 1.0 : 0.0;
  std::map<std::string, int> counts;
  for (const auto& w : t) ++counts[w];
  int common = 0;
  for (const auto& w : p) {
    auto it = counts.find(w);
    if (it != counts.end() && it->second > 0) {
      ++common;
      --it->second;
    }
  }
  if (common == 0) return 0.0;
  double precision = double(common) / double(p.size());
  double recall = double(common) / double(t.size());
  return 2 * precision * recall / (precision + recall);
}

double max_over(double (*metric)(std::string_view, std::string_view), std::string_view prediction,
                const std::vector<std::string>& answers) {
  if (answers.empty()) return metric(prediction, "");
  double best = 0;
  for (const auto& a : answers) best = std::max(best, metric(prediction, a));
  return best;
}

}  // namespace parley::qa_eval
