// Text helpers for QA.
#include "services/qa/text_utils.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <unordered_set>

namespace parley::qa {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_word_byte(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) != 0 || u >= 0x80;
}

const std::unordered_set<std::string>& abbreviations() {
  static const std::unordered_set<std::string> k = {
      "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "no", "inc", "ltd", "co",
      "corp", "fig", "approx", "u.s", "u.k", "a.d", "b.c", "c", "ca", "cf", "gen", "col", "lt", "sgt", "mt",
      "rev", "vol", "ed", "est", "dept", "univ", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
      "sept", "oct", "nov", "dec"};
  return k;
}

// The word (letters and inner dots) that ends right before position `dot`, lower-cased.
std::string word_before(std::string_view text, std::size_t dot) {
  std::size_t b = dot;
  while (b > 0 && (std::isalpha(static_cast<unsigned char>(text[b - 1])) != 0 || text[b - 1] == '.')) --b;
  std::string w(text.substr(b, dot - b));
  std::transform(w.begin(), w.end(), w.begin(), [](unsigned char c) { return std::tolower(c); });
  return w;
}

Span trim(std::string_view text, Span s) {
  while (s.begin < s.end && is_space(text[s.begin])) ++s.begin;
  while (s.end > s.begin && is_space(text[s.end - 1])) --s.end;
  return s;
}

}  // namespace

std::vector<Span> split_sentences(std::string_view text) {
  std::vector<Span> out;
  auto emit = [&](std::size_t b, std::size_t e) {
    Span s = trim(text, {b, e});
    if (s.size() > 0) out.push_back(s);
  };
  std::size_t start = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    // A blank line always ends a sentence (paragraphs, list items, headings).
    if (c == '\n') {
      std::size_t j = i + 1;
      while (j < text.size() && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r')) ++j;
      if (j < text.size() && text[j] == '\n') {
        emit(start, i);
        start = j + 1;
        i = j + 1;
        continue;
      }
    }
    if (c == '.' || c == '!' || c == '?') {
      std::size_t end = i + 1;
      while (end < text.size() && (text[end] == '.' || text[end] == '!' || text[end] == '?')) ++end;
      while (end < text.size() && (text[end] == '"' || text[end] == '\'' || text[end] == ')' || text[end] == ']')) ++end;
      // UTF-8 closing quotes ” ’ (E2 80 9D / E2 80 99).
      while (end + 2 < text.size() && static_cast<unsigned char>(text[end]) == 0xE2 &&
             static_cast<unsigned char>(text[end + 1]) == 0x80 &&
             (static_cast<unsigned char>(text[end + 2]) == 0x9D || static_cast<unsigned char>(text[end + 2]) == 0x99)) {
        end += 3;
      }
      if (end >= text.size()) break;
      if (!is_space(text[end])) {
        i = end;
        continue;
      }
      std::size_t next = end;
      while (next < text.size() && is_space(text[next])) ++next;
      bool boundary = true;
      if (next < text.size() && std::islower(static_cast<unsigned char>(text[next])) != 0) boundary = false;
      if (boundary && c == '.') {
        std::string w = word_before(text, i);
        if (abbreviations().count(w) != 0) boundary = false;
        // A single capital letter before the dot: an initial ("J. R. R. Tolkien").
        if (i >= 1 && std::isupper(static_cast<unsigned char>(text[i - 1])) != 0 &&
            (i == 1 || !is_word_byte(text[i - 2]))) {
          boundary = false;
        }
      }
      if (boundary) {
        emit(start, end);
        start = next;
      }
      i = next;
      continue;
    }
    ++i;
  }
  emit(start, text.size());
  return out;
}

std::vector<Word> words(std::string_view text) {
  std::vector<Word> out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_word_byte(text[i])) {
      ++i;
      continue;
    }
    std::size_t b = i;
    while (i < text.size() &&
           (is_word_byte(text[i]) || (text[i] == '\'' && i + 1 < text.size() && is_word_byte(text[i + 1]) && i > b))) {
      ++i;
    }
    Word w;
    w.span = {b, i};
    w.norm.reserve(i - b);
    for (std::size_t k = b; k < i; ++k) {
      auto u = static_cast<unsigned char>(text[k]);
      w.norm.push_back(u < 0x80 ? static_cast<char>(std::tolower(u)) : text[k]);
    }
    out.push_back(std::move(w));
  }
  return out;
}

bool is_stop_word(std::string_view w) {
  static const std::unordered_set<std::string_view> k = {
      "a", "an", "the", "of", "in", "on", "at", "to", "for", "from", "by", "with", "and", "or", "but", "is",
      "are", "was", "were", "be", "been", "being", "do", "does", "did", "has", "have", "had", "it", "its", "this",
      "that", "these", "those", "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "as",
      "into", "about", "than", "then", "there", "their", "they", "them", "he", "she", "his", "her", "him", "i",
      "you", "we", "our", "your", "my", "me", "us", "not", "no", "can", "could", "would", "should", "will",
      "shall", "may", "might", "must", "if", "so", "such", "also", "any", "some", "all", "many", "much", "s",
      "up", "out", "over", "after", "before", "during", "while", "between", "under", "other", "one", "name",
      "called", "type", "kind"};
  return k.count(w) != 0;
}

std::string stem(std::string_view w) {
  std::string s(w);
  auto ends = [&](std::string_view suf) { return s.size() > suf.size() + 2 && s.ends_with(suf); };
  if (ends("ies")) return s.substr(0, s.size() - 3) + "y";
  if (ends("ing")) return s.substr(0, s.size() - 3);
  if (ends("ed")) return s.substr(0, s.size() - 2);
  if (ends("es")) return s.substr(0, s.size() - 2);
  if (ends("s") && !s.ends_with("ss")) return s.substr(0, s.size() - 1);
  return s;
}

std::size_t count_words(std::string_view text) {
  std::size_t n = 0;
  bool in = false;
  for (char c : text) {
    bool sp = is_space(c);
    if (!sp && !in) ++n;
    in = !sp;
  }
  return n;
}

}  // namespace parley::qa
