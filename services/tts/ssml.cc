// SSML-lite parser. Why: see ssml.h. Depends on ssml.h.
#include "services/tts/ssml.h"

#include <cctype>
#include <cstdlib>

namespace parley::tts {
namespace {

Status bad(std::size_t at, const std::string& what) {
  return invalid_argument("ssml: " + what + " at byte " + std::to_string(at));
}

// attr="value" pairs of a tag body.
Result<std::vector<std::pair<std::string, std::string>>> attributes(std::string_view body, std::size_t at) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t i = 0;
  while (i < body.size()) {
    while (i < body.size() && std::isspace(static_cast<unsigned char>(body[i]))) ++i;
    if (i >= body.size() || body[i] == '/') break;
    std::size_t k = i;
    while (k < body.size() && (std::isalnum(static_cast<unsigned char>(body[k])) || body[k] == '-' || body[k] == ':')) ++k;
    if (k == i || k >= body.size() || body[k] != '=' || k + 1 >= body.size() || (body[k + 1] != '"' && body[k + 1] != '\'')) {
      return bad(at, "malformed attribute");
    }
    const char q = body[k + 1];
    const std::size_t v = k + 2, e = body.find(q, v);
    if (e == std::string_view::npos) return bad(at, "unterminated attribute value");
    out.emplace_back(std::string(body.substr(i, k - i)), std::string(body.substr(v, e - v)));
    i = e + 1;
  }
  return out;
}

Result<float> parse_rate(const std::string& v, std::size_t at) {
  if (v == "x-slow") return 0.5f;
  if (v == "slow") return 0.75f;
  if (v == "medium" || v == "default") return 1.0f;
  if (v == "fast") return 1.25f;
  if (v == "x-fast") return 1.5f;
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (end == v.c_str()) return bad(at, "prosody rate '" + v + "' is not a number, a percentage or x-slow..x-fast");
  if (*end == '%') {
    x /= 100.0;
    ++end;
  }
  if (*end != '\0' || !(x >= 0.25 && x <= 4.0)) return bad(at, "prosody rate '" + v + "' is outside 25%..400%");
  return static_cast<float>(x);
}

Result<int> parse_break(const std::vector<std::pair<std::string, std::string>>& attrs, std::size_t at, int max_ms) {
  int ms = 400;
  for (const auto& [k, v] : attrs) {
    if (k == "time") {
      char* end = nullptr;
      const double x = std::strtod(v.c_str(), &end);
      const std::string unit = end ? std::string(end) : "";
      if (end == v.c_str() || x < 0 || (unit != "ms" && unit != "s")) return bad(at, "break time '" + v + "' is not like 300ms or 1.5s");
      ms = static_cast<int>(unit == "s" ? x * 1000 : x);
    } else if (k == "strength") {
      static const std::pair<const char*, int> kStrength[] = {{"none", 0},   {"x-weak", 100}, {"weak", 200},
                                                              {"medium", 400}, {"strong", 700}, {"x-strong", 1000}};
      bool found = false;
      for (const auto& [n, m] : kStrength) {
        if (v == n) {
          ms = m;
          found = true;
        }
      }
      if (!found) return bad(at, "break strength '" + v + "'");
    } else {
      return bad(at, "unknown break attribute '" + k + "'");
    }
  }
  return std::min(ms, max_ms);
}

}  // namespace

SpeechPlan plain_plan(std::string_view text) {
  SpeechPlan p;
  p.text = std::string(text);
  p.items.push_back({SpeechItem::Kind::kText, 0, text.size(), 1.0f, 0});
  return p;
}

Result<SpeechPlan> parse_ssml(std::string_view s, int max_break_ms) {
  SpeechPlan p;
  p.text = std::string(s);
  std::vector<float> rates = {1.0f};
  std::vector<std::string> open;
  std::size_t text_start = 0;
  auto flush_text = [&](std::size_t end) {
    if (end > text_start) p.items.push_back({SpeechItem::Kind::kText, text_start, end, rates.back(), 0});
  };
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '&') {
      static const std::pair<std::string_view, char> kEntities[] = {
          {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
      bool ok = false;
      for (const auto& [e, c] : kEntities) {
        if (s.substr(i, e.size()) == e) {
          p.text[i] = c;  // same length: the character, then blanks
          for (std::size_t k = 1; k < e.size(); ++k) p.text[i + k] = ' ';
          i += e.size();
          ok = true;
          break;
        }
      }
      if (!ok) return bad(i, "unknown entity (use &amp; &lt; &gt; &quot; &apos;)");
      continue;
    }
    if (s[i] != '<') {
      ++i;
      continue;
    }
    const std::size_t close = s.find('>', i);
    if (close == std::string_view::npos) return bad(i, "unterminated tag");
    std::string_view tag = s.substr(i + 1, close - i - 1);
    const bool closing = !tag.empty() && tag[0] == '/';
    const bool self_closing = !tag.empty() && tag.back() == '/';
    if (closing) tag.remove_prefix(1);
    std::size_t ne = 0;
    while (ne < tag.size() && (std::isalnum(static_cast<unsigned char>(tag[ne])) || tag[ne] == ':')) ++ne;
    const std::string name(tag.substr(0, ne));
    flush_text(i);
    for (std::size_t k = i; k <= close; ++k) p.text[k] = ' ';
    if (name == "speak" || name == "p" || name == "s" || name == "prosody") {
      if (closing) {
        if (open.empty() || open.back() != name) return bad(i, "</" + name + "> does not close the open tag");
        open.pop_back();
        if (name == "prosody") rates.pop_back();
        if (name == "p" || name == "s") p.items.push_back({SpeechItem::Kind::kBreak, i, close + 1, rates.back(), name == "p" ? 500 : 250});
      } else if (!self_closing) {
        PARLEY_ASSIGN_OR_RETURN(auto attrs, attributes(tag.substr(ne), i));
        float rate = rates.back();
        for (const auto& [k, v] : attrs) {
          if (name == "prosody" && k == "rate") {
            PARLEY_ASSIGN_OR_RETURN(float r, parse_rate(v, i));
            rate *= r;
          } else if (name == "prosody" && (k == "pitch" || k == "volume")) {
            return bad(i, "prosody " + k + " is not supported (rate only)");
          } else if (name == "speak" && (k == "version" || k == "xmlns" || k == "xml:lang")) {
            continue;
          } else {
            return bad(i, "unknown attribute '" + k + "' on <" + name + ">");
          }
        }
        open.push_back(name);
        if (name == "prosody") rates.push_back(std::max(0.25f, std::min(4.0f, rate)));
      }
    } else if (name == "break") {
      if (!self_closing) return bad(i, "<break> must be self-closing (<break time=\"300ms\"/>)");
      std::string_view body = tag.substr(ne);
      body.remove_suffix(1);
      PARLEY_ASSIGN_OR_RETURN(auto attrs, attributes(body, i));
      PARLEY_ASSIGN_OR_RETURN(int ms, parse_break(attrs, i, max_break_ms));
      p.items.push_back({SpeechItem::Kind::kBreak, i, close + 1, rates.back(), ms});
    } else {
      return bad(i, "unsupported tag <" + name + "> (speak, break, prosody, p, s)");
    }
    i = close + 1;
    text_start = i;
  }
  if (!open.empty()) return bad(s.size(), "<" + open.back() + "> is never closed");
  flush_text(s.size());
  return p;
}

}  // namespace parley::tts
