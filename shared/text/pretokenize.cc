// Hand-written equivalents of the BPE pre-tokenizer regexes (see pretokenize.h).
// Exists because the regexes need Unicode categories and lookahead; each alternative below is
// commented with the part of the regex it implements. Depends on unicode.h.
#include "shared/text/pretokenize.h"

#include <cstdint>

#include "shared/text/unicode.h"

namespace parley::text {
namespace {

enum : std::uint8_t { kLetter = 1, kNumber = 2, kSpace = 4, kCrLf = 8 };

struct Cp {
  char32_t cp;
  std::uint32_t offset;  // byte offset of this code point in the text
  std::uint8_t cls;
};

class Splitter {
 public:
  Splitter(std::string_view text, std::vector<std::pair<std::size_t, std::size_t>>& out)
      : text_(text), out_(out) {
    cps_.reserve(text.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
      const unicode::Decoded d = unicode::decode_utf8(text, pos);
      std::uint8_t cls = 0;
      if (d.valid) {
        const unicode::Category c = unicode::category(d.cp);
        if (unicode::is_letter(c)) cls = kLetter;
        else if (unicode::is_number(c)) cls = kNumber;
        if (unicode::is_whitespace(d.cp)) cls |= kSpace;
        if (d.cp == '\r' || d.cp == '\n') cls |= kCrLf;
      }
      cps_.push_back({d.valid ? d.cp : char32_t{0xFFFD}, static_cast<std::uint32_t>(pos), cls});
      pos += d.len;
    }
  }

  std::size_t size() const { return cps_.size(); }

  void gpt2(std::size_t s, std::size_t e) {
    std::size_t i = s;
    while (i < e) {
      // 's|'t|'re|'ve|'m|'ll|'d
      if (const std::size_t n = contraction(i, e, false)) {
        emit(i, i + n);
        i += n;
        continue;
      }
      //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+  (which one is decided by the char after the space)
      const std::size_t j = (cps_[i].cp == ' ' && i + 1 < e && !is(i + 1, kSpace)) ? i + 1 : i;
      if (!is(j, kSpace)) {
        std::size_t k = j + 1;
        if (is(j, kLetter)) {
          while (k < e && is(k, kLetter)) ++k;
        } else if (is(j, kNumber)) {
          while (k < e && is(k, kNumber)) ++k;
        } else {
          while (k < e && is_other(k)) ++k;
        }
        emit(i, k);
        i = k;
        continue;
      }
      i = whitespace(i, e);
    }
  }

  void llama3(std::size_t s, std::size_t e, std::size_t max_digits) {
    std::size_t i = s;
    while (i < e) {
      // (?i:'s|'t|'re|'ve|'m|'ll|'d)
      if (const std::size_t n = contraction(i, e, true)) {
        emit(i, i + n);
        i += n;
        continue;
      }
      // [^\r\n\p{L}\p{N}]?\p{L}+
      std::size_t j = i;
      if (!is(i, kLetter) && !is(i, kNumber) && !is(i, kCrLf) && i + 1 < e && is(i + 1, kLetter)) j = i + 1;
      if (is(j, kLetter)) {
        std::size_t k = j + 1;
        while (k < e && is(k, kLetter)) ++k;
        emit(i, k);
        i = k;
        continue;
      }
      // \p{N}{1,3}  (Qwen2: \p{N})
      if (is(i, kNumber)) {
        std::size_t k = i + 1;
        while (k < e && is(k, kNumber) && k - i < max_digits) ++k;
        emit(i, k);
        i = k;
        continue;
      }
      //  ?[^\s\p{L}\p{N}]+[\r\n]*
      j = (cps_[i].cp == ' ' && i + 1 < e && is_other(i + 1)) ? i + 1 : i;
      if (is_other(j)) {
        std::size_t k = j + 1;
        while (k < e && is_other(k)) ++k;
        while (k < e && is(k, kCrLf)) ++k;
        emit(i, k);
        i = k;
        continue;
      }
      // \s*[\r\n]+ : the whitespace run up to and including its last CR/LF
      std::size_t k = i;
      std::size_t last_crlf = e;
      while (k < e && is(k, kSpace)) {
        if (is(k, kCrLf)) last_crlf = k;
        ++k;
      }
      if (last_crlf != e) {
        emit(i, last_crlf + 1);
        i = last_crlf + 1;
        continue;
      }
      i = whitespace(i, e);
    }
  }

  void smollm(std::size_t s, std::size_t e) {
    std::size_t run = s;
    for (std::size_t i = s; i < e; ++i) {
      if (!is(i, kNumber)) continue;
      if (run < i) gpt2(run, i);
      emit(i, i + 1);
      run = i + 1;
    }
    if (run < e) gpt2(run, e);
  }

 private:
  bool is(std::size_t i, std::uint8_t cls) const { return (cps_[i].cls & cls) != 0; }
  bool is_other(std::size_t i) const { return (cps_[i].cls & (kLetter | kNumber | kSpace)) == 0; }

  // Length of a contraction at i ('s 't 're 've 'm 'll 'd), 0 if none.
  std::size_t contraction(std::size_t i, std::size_t e, bool ignore_case) const {
    if (cps_[i].cp != '\'' || i + 1 >= e) return 0;
    auto at = [&](std::size_t k) -> char32_t {
      if (k >= e) return 0;
      const char32_t c = cps_[k].cp;
      return (ignore_case && c >= 'A' && c <= 'Z') ? c + 32 : c;
    };
    const char32_t a = at(i + 1);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    const char32_t b = at(i + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
  }

  // \s+(?!\S) | \s+ at i (cps_[i] is whitespace); returns where the next piece starts.
  std::size_t whitespace(std::size_t i, std::size_t e) {
    std::size_t k = i;
    while (k < e && is(k, kSpace)) ++k;
    if (k < e && k - i >= 2) k -= 1;  // leave the last space to prefix the next word
    emit(i, k);
    return k;
  }

  void emit(std::size_t a, std::size_t b) {
    const std::size_t begin = cps_[a].offset;
    const std::size_t end = b < cps_.size() ? cps_[b].offset : text_.size();
    out_.emplace_back(begin, end);
  }

  std::string_view text_;
  std::vector<std::pair<std::size_t, std::size_t>>& out_;
  std::vector<Cp> cps_;
};

}  // namespace

Result<PreTokenizer> pre_tokenizer_from_name(std::string_view name) {
  for (std::string_view n : {"", "default", "gpt2", "gpt-2", "phi-2", "roberta-bpe", "jina-es", "jina-de",
                             "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code", "mpt", "olmo", "jais",
                             "gigachat"}) {
    if (name == n) return PreTokenizer::kGpt2;
  }
  for (std::string_view n : {"llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe", "chatglm-bpe"}) {
    if (name == n) return PreTokenizer::kLlama3;
  }
  for (std::string_view n : {"qwen2", "stablelm2", "megrez", "deepseek-r1-qwen"}) {
    if (name == n) return PreTokenizer::kQwen2;
  }
  for (std::string_view n : {"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"}) {
    if (name == n) return PreTokenizer::kSmollm;
  }
  return invalid_argument("unsupported BPE pre-tokenizer '" + std::string(name) +
                          "' (supported: gpt-2 family, llama-bpe/llama3, qwen2, smollm/starcoder)");
}

std::string_view pre_tokenizer_name(PreTokenizer pre) {
  switch (pre) {
    case PreTokenizer::kGpt2: return "gpt2";
    case PreTokenizer::kLlama3: return "llama3";
    case PreTokenizer::kQwen2: return "qwen2";
    case PreTokenizer::kSmollm: return "smollm";
  }
  return "?";
}

std::vector<std::pair<std::size_t, std::size_t>> pre_tokenize(PreTokenizer pre, std::string_view text) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  if (text.empty()) return out;
  Splitter s(text, out);
  switch (pre) {
    case PreTokenizer::kGpt2: s.gpt2(0, s.size()); break;
    case PreTokenizer::kLlama3: s.llama3(0, s.size(), 3); break;
    case PreTokenizer::kQwen2: s.llama3(0, s.size(), 1); break;
    case PreTokenizer::kSmollm: s.smollm(0, s.size()); break;
  }
  return out;
}

}  // namespace parley::text
