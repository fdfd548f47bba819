// SQuAD JSON reading and official scoring.
#include "tools/eval/qa_eval/squad.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <sstream>

namespace parley::qa_eval {

namespace {

// A tiny JSON DOM: enough for SQuAD (objects, arrays, strings, numbers, booleans, null).
struct Json {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = Kind::kNull;
  bool b = false;
  double n = 0;
  std::string s;
  std::vector<Json> a;
  std::vector<std::pair<std::string, Json>> o;
  const Json* get(std::string_view key) const {
    for (const auto& [k, v] : o) {
      if (k == key) return &v;
    }
    return nullptr;
  }
};

class Parser {
 public:
  explicit Parser(std::string_view t) : t_(t) {}
  Result<Json> parse() {
    Json j;
    PARLEY_RETURN_IF_ERROR(value(j, 0));
    ws();
    if (i_ != t_.size()) return err("trailing characters");
    return j;
  }

 private:
  Status err(const std::string& what) const {
    return invalid_argument("JSON: " + what + " at byte " + std::to_string(i_));
  }
  void ws() {
    while (i_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[i_])) != 0) ++i_;
  }
  static void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  Result<unsigned> hex4() {
    if (i_ + 4 > t_.size()) return err("short \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = t_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<unsigned>(c - 'A' + 10);
      } else {
        return err("bad \\u escape");
      }
    }
    return v;
  }
  Status string(std::string& out) {
    ++i_;  // opening quote
    while (i_ < t_.size() && t_[i_] != '"') {
      char c = t_[i_++];
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= t_.size()) return err("bad escape");
      char e = t_[i_++];
      switch (e) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'u': {
          PARLEY_ASSIGN_OR_RETURN(unsigned cp, hex4());
          if (cp >= 0xD800 && cp <= 0xDBFF && i_ + 1 < t_.size() && t_[i_] == '\\' && t_[i_ + 1] == 'u') {
            i_ += 2;
            PARLEY_ASSIGN_OR_RETURN(unsigned lo, hex4());
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          put_utf8(out, cp);
          break;
        }
        default: out.push_back(e);
      }
    }
    if (i_ >= t_.size()) return err("unterminated string");
    ++i_;
    return Status::ok();
  }
  Status value(Json& j, int depth) {
    if (depth > 64) return err("nesting too deep");
    ws();
    if (i_ >= t_.size()) return err("unexpected end");
    char c = t_[i_];
    if (c == '{') {
      j.kind = Json::Kind::kObject;
      ++i_;
      ws();
      if (i_ < t_.size() && t_[i_] == '}') {
        ++i_;
        return Status::ok();
      }
      for (;;) {
        ws();
        if (i_ >= t_.size() || t_[i_] != '"') return err("expected a key");
        std::string key;
        PARLEY_RETURN_IF_ERROR(string(key));
        ws();
        if (i_ >= t_.size() || t_[i_] != ':') return err("expected ':'");
        ++i_;
        Json v;
        PARLEY_RETURN_IF_ERROR(value(v, depth + 1));
        j.o.emplace_back(std::move(key), std::move(v));
        ws();
        if (i_ < t_.size() && t_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < t_.size() && t_[i_] == '}') {
          ++i_;
          return Status::ok();
        }
        return err("expected ',' or '}'");
      }
    }
    if (c == '[') {
      j.kind = Json::Kind::kArray;
      ++i_;
      ws();
      if (i_ < t_.size() && t_[i_] == ']') {
        ++i_;
        return Status::ok();
      }
      for (;;) {
        Json v;
        PARLEY_RETURN_IF_ERROR(value(v, depth + 1));
        j.a.push_back(std::move(v));
        ws();
        if (i_ < t_.size() && t_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < t_.size() && t_[i_] == ']') {
          ++i_;
          return Status::ok();
        }
        return err("expected ',' or ']'");
      }
    }
    if (c == '"') {
      j.kind = Json::Kind::kString;
      return string(j.s);
    }
    if (t_.substr(i_, 4) == "true") {
      j.kind = Json::Kind::kBool;
      j.b = true;
      i_ += 4;
      return Status::ok();
    }
    if (t_.substr(i_, 5) == "false") {
      j.kind = Json::Kind::kBool;
      i_ += 5;
      return Status::ok();
    }
    if (t_.substr(i_, 4) == "null") {
      i_ += 4;
      return Status::ok();
    }
    std::size_t b = i_;
    while (i_ < t_.size() && (std::isdigit(static_cast<unsigned char>(t_[i_])) != 0 || t_[i_] == '-' ||
                              t_[i_] == '+' || t_[i_] == '.' || t_[i_] == 'e' || t_[i_] == 'E')) {
      ++i_;
    }
    if (b == i_) return err("unexpected character");
    j.kind = Json::Kind::kNumber;
    j.n = std::strtod(std::string(t_.substr(b, i_ - b)).c_str(), nullptr);
    return Status::ok();
  }

  std::string_view t_;
  std::size_t i_ = 0;
};

std::vector<std::string> tokens(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

}  // namespace

Result<SquadData> parse_squad(std::string_view text) {
  PARLEY_ASSIGN_OR_RETURN(Json root, Parser(text).parse());
  const Json* data = root.get("data");
  if (data == nullptr || data->kind != Json::Kind::kArray) return invalid_argument("SQuAD: no 'data' array");
  SquadData out;
  for (const Json& article : data->a) {
    const Json* title = article.get("title");
    if (out.title.empty() && title != nullptr) out.title = title->s;
    const Json* paragraphs = article.get("paragraphs");
    if (paragraphs == nullptr) return invalid_argument("SQuAD: article without 'paragraphs'");
    for (const Json& p : paragraphs->a) {
      const Json* context = p.get("context");
      if (context == nullptr) return invalid_argument("SQuAD: paragraph without 'context'");
      std::size_t index = out.paragraphs.size();
      out.paragraphs.push_back(context->s);
      out.paragraph_titles.push_back(title != nullptr ? title->s : "");
      const Json* qas = p.get("qas");
      if (qas == nullptr) continue;
      for (const Json& q : qas->a) {
        SquadQuestion sq;
        sq.paragraph = index;
        if (const Json* id = q.get("id")) sq.id = id->s;
        if (const Json* question = q.get("question")) sq.question = question->s;
        const Json* impossible = q.get("is_impossible");
        if (impossible == nullptr || !impossible->b) {
          if (const Json* answers = q.get("answers")) {
            for (const Json& a : answers->a) {
              if (const Json* t = a.get("text")) sq.answers.push_back(t->s);
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
