// Clause and piece splitting. Why: see text_splitter.h. Depends on text_splitter.h.
#include "services/tts/text_splitter.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace parley::tts {
namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool closer(char c) { return c == '"' || c == '\'' || c == ')' || c == ']'; }

// True when the word ending just before `dot` (exclusive) is an abbreviation whose period is
// not a sentence end.
bool abbreviation_before(std::string_view s, std::size_t dot) {
  std::size_t b = dot;
  while (b > 0 && !blank(s[b - 1]) && s[b - 1] != '(' && s[b - 1] != '"') --b;
  const std::string_view w = s.substr(b, dot - b);
  if (w.size() == 1 && std::isupper(static_cast<unsigned char>(w[0]))) return true;  // initials: "J. Smith"
  static constexpr std::array<std::string_view, 24> kAbbr = {
      "Dr", "Mr", "Mrs", "Ms", "Prof", "St", "Ave", "Rd", "Blvd", "Jr", "Sr", "vs", "e.g", "i.e", "approx", "Mt",
      "Inc", "Ltd", "Co", "Dept", "Apt", "No", "Fig", "etc"};
  for (std::string_view a : kAbbr) {
    if (w == a) return a != "etc" || (dot + 2 < s.size() && std::islower(static_cast<unsigned char>(s[dot + 2])));
  }
  return false;
}

// A clause worth speaking has a letter, a digit, a non-ASCII character or a symbol the
// normaliser reads ("&" -> "and"); "..." or "!?" alone is punctuation, not speech.
bool speakable(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || u >= 0x80 || c == '&' || c == '@' || c == '+' || c == '=' || c == '#' || c == '%' || c == '$') {
      return true;
    }
  }
  return false;
}

std::size_t words_in(std::string_view s) {
  std::size_t n = 0;
  bool in = false;
  for (char c : s) {
    const bool b = blank(c);
    if (!b && !in) ++n;
    in = !b;
  }
  return n;
}

}  // namespace

std::vector<Clause> split_clauses(std::string_view s) {
  std::vector<Clause> out;
  std::size_t start = 0;
  auto emit = [&](std::size_t body_end, std::size_t end, char term, bool eos) {
    Clause c;
    c.begin = start;
    while (c.begin < body_end && blank(s[c.begin])) ++c.begin;
    c.body_end = body_end;
    while (c.body_end > c.begin && blank(s[c.body_end - 1])) --c.body_end;
    c.end = end;
    c.terminator = term;
    c.end_of_sentence = eos;
    if (c.body_end > c.begin && speakable(s.substr(c.begin, c.body_end - c.begin))) {
      out.push_back(c);
    } else if (eos && !out.empty()) {
      out.back().end_of_sentence = true;  // stray punctuation ends the previous clause's sentence
    }
    start = end;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\n' && i + 1 < s.size() && s[i + 1] == '\n') {
      emit(i, i, '.', true);  // paragraph break: a sentence end without punctuation
      continue;
    }
    const bool after_ok = i + 1 >= s.size() || blank(s[i + 1]) || closer(s[i + 1]);
    if ((c == '.' || c == '!' || c == '?') && after_ok) {
      if (c == '.' && abbreviation_before(s, i)) continue;
      std::size_t j = i + 1;
      // "?!", "...", closing quotes belong to this terminator.
      while (j < s.size() && (s[j] == '.' || s[j] == '!' || s[j] == '?' || closer(s[j]))) ++j;
      emit(i, j, c == '.' && j > i + 1 && s[i + 1] == '.' ? '.' : c, true);
      i = j - 1;
    } else if ((c == '!' || c == '?') && !after_ok) {
      continue;
    } else if ((c == ',' || c == ';' || c == ':') && after_ok) {
      emit(i, i + 1, c, false);
    }
  }
  emit(s.size(), s.size(), 0, true);
  return out;
}

std::vector<TextPiece> split_pieces(std::string_view s, const SplitOptions& o) {
  std::vector<TextPiece> out;
  TextPiece cur;
  auto flush = [&](bool eos) {
    if (cur.clauses.empty()) return;
    cur.begin = cur.clauses.front().begin;
    cur.end = cur.clauses.back().end;
    cur.end_of_sentence = eos;
    out.push_back(std::move(cur));
    cur = TextPiece();
  };
  for (const Clause& c : split_clauses(s)) {
    if (!cur.clauses.empty() && c.end - cur.clauses.front().begin > o.max_piece_bytes) flush(false);
    cur.clauses.push_back(c);
    if (c.end_of_sentence) {
      flush(true);
    } else if (out.empty() && cur.clauses.size() == 1 && o.first_piece_min_words > 0 &&
               words_in(s.substr(c.begin, c.body_end - c.begin)) >= o.first_piece_min_words) {
      flush(false);  // the first clause alone: audio starts sooner
    }
  }
  flush(true);
  return out;
}

}  // namespace parley::tts
