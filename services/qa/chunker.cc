// Chunker: Markdown/plain text → sections → sentences → overlapping passages.
#include "services/qa/chunker.h"

#include <algorithm>
#include <cctype>

namespace parley::qa {

namespace {

struct Section {
  std::string context;
  std::string text;  // plain text, paragraphs separated by blank lines
};

std::string_view trim_view(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Removes inline Markdown: **bold**, *em*, _em_, `code`, [text](url) → text, ![alt](src) → alt.
std::string strip_inline(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '!' && i + 1 < line.size() && line[i + 1] == '[') continue;
    if (c == '[') {
      auto close = line.find(']', i);
      if (close != std::string_view::npos && close + 1 < line.size() && line[close + 1] == '(') {
        auto paren = line.find(')', close);
        if (paren != std::string_view::npos) {
          out.append(line.substr(i + 1, close - i - 1));
          i = paren;
          continue;
        }
      }
    }
    if (c == '*' || c == '`') continue;
    // `_` only as emphasis at word edges (keep snake_case words).
    if (c == '_' && (i == 0 || i + 1 == line.size() || line[i - 1] == ' ' || line[i + 1] == ' ')) continue;
    out.push_back(c);
  }
  return out;
}

// Strips a list marker ("- ", "* ", "+ ", "12. ") or a block quote ("> ").
std::string_view strip_block_marker(std::string_view s) {
  if (s.size() >= 2 && (s[0] == '-' || s[0] == '*' || s[0] == '+' || s[0] == '>') && s[1] == ' ') return s.substr(2);
  std::size_t d = 0;
  while (d < s.size() && std::isdigit(static_cast<unsigned char>(s[d])) != 0) ++d;
  if (d > 0 && d + 1 < s.size() && (s[d] == '.' || s[d] == ')') && s[d + 1] == ' ') return s.substr(d + 2);
  return s;
}

std::vector<Section> split_sections(std::string_view title, std::string_view doc) {
  std::vector<Section> sections;
  std::vector<std::string> headings;  // index = level - 1
  auto context = [&] {
    std::string c(title);
    for (const auto& h : headings) {
      if (h.empty()) continue;
      if (!c.empty()) c += " > ";
      c += h;
    }
    return c;
  };
  sections.push_back({context(), ""});
  bool in_fence = false;
  std::size_t pos = 0;
  while (pos <= doc.size()) {
    auto nl = doc.find('\n', pos);
    std::string_view raw = doc.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? doc.size() + 1 : nl + 1;
    std::string_view line = trim_view(raw);
    if (line.starts_with("```") || line.starts_with("~~~")) {
      in_fence = !in_fence;
      sections.back().text += "\n\n";
      continue;
    }
    if (!in_fence && line.starts_with('#')) {
      std::size_t level = 0;
      while (level < line.size() && line[level] == '#') ++level;
      if (level <= 6 && (level == line.size() || line[level] == ' ')) {
        std::string heading = strip_inline(trim_view(line.substr(level)));
        while (!heading.empty() && heading.back() == '#') heading.pop_back();
        heading = std::string(trim_view(heading));
        headings.resize(level);
        headings[level - 1] = heading;
        sections.push_back({context(), ""});
        continue;
      }
    }
    if (line.empty()) {
      sections.back().text += "\n\n";
      continue;
    }
    std::string_view body = in_fence ? line : strip_block_marker(line);
    // A list item is a sentence of its own: end it with a paragraph break.
    bool item = !in_fence && body.size() != line.size();
    if (item) sections.back().text += "\n\n";
    sections.back().text += in_fence ? std::string(body) : strip_inline(body);
    sections.back().text += item ? "\n\n" : " ";
  }
  return sections;
}

// Cuts an over-long sentence into pieces of at most `max_words` words.
void append_sentence(std::string_view text, Span s, std::size_t max_words, std::vector<Span>& out) {
  auto w = words(text.substr(s.begin, s.size()));
  if (count_words(text.substr(s.begin, s.size())) <= max_words || w.size() <= max_words) {
    out.push_back(s);
    return;
  }
  for (std::size_t i = 0; i < w.size(); i += max_words) {
    std::size_t b = s.begin + w[i].span.begin;
    std::size_t e = i + max_words < w.size() ? s.begin + w[i + max_words].span.begin : s.end;
    out.push_back({b, e});
  }
}

}  // namespace

std::vector<Chunk> chunk_document(std::string_view title, std::string_view document, const ChunkOptions& options) {
  std::vector<Chunk> chunks;
  std::size_t budget = std::max<std::size_t>(options.chunk_words, 1);
  for (const Section& section : split_sections(title, document)) {
    std::vector<Span> sentences;
    for (Span s : split_sentences(section.text)) {
      append_sentence(section.text, s, std::max<std::size_t>(options.max_sentence_words, 1), sentences);
    }
    std::vector<std::size_t> lens;
    for (Span s : sentences) lens.push_back(count_words(std::string_view(section.text).substr(s.begin, s.size())));
    std::size_t i = 0;
    while (i < sentences.size()) {
      // Take sentences [i, j) within the budget (at least one).
      std::size_t j = i;
      std::size_t total = 0;
      while (j < sentences.size() && (j == i || total + lens[j] <= budget)) total += lens[j++];
      Chunk c;
      c.context = section.context;
      for (std::size_t k = i; k < j; ++k) {
        if (!c.text.empty()) c.text += ' ';
        std::size_t b = c.text.size();
        c.text.append(section.text, sentences[k].begin, sentences[k].size());
        c.sentences.push_back({b, c.text.size()});
      }
      chunks.push_back(std::move(c));
      if (j >= sentences.size()) break;
      // Next chunk starts with trailing sentences of this one, within the overlap budget, but
      // always moves forward by at least one sentence.
      std::size_t next = j;
      std::size_t overlap = 0;
      while (next > i + 1 && overlap + lens[next - 1] <= options.overlap_words) overlap += lens[--next];
      i = next;
    }
  }
  return chunks;
}

}  // namespace parley::qa
