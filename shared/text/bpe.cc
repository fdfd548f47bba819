// Byte-level BPE: GPT-2's byte <-> printable-char mapping, rank-ordered merges with a heap.
// Exists for the LM (see bpe.h). Same result as llama.cpp's llm_tokenizer_bpe_session: the
// lowest-rank pair merges first, ties go to the leftmost pair. Depends on pretokenize.h, unicode.h.
#include "shared/text/bpe.h"

#include <algorithm>
#include <array>
#include <queue>

#include "shared/text/unicode.h"

namespace parley::text {
namespace {

// GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the rest to U+0100 + n.
char32_t byte_to_char(std::uint8_t b) {
  static const auto table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 256;
    for (int i = 0; i < 256; ++i) {
      const bool printable = (i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255);
      t[static_cast<std::size_t>(i)] = printable ? static_cast<char32_t>(i) : next++;
    }
    return t;
  }();
  return table[b];
}

int char_to_byte(char32_t c) {
  static const auto table = [] {
    std::array<std::int16_t, 324> t{};
    t.fill(-1);
    for (int i = 0; i < 256; ++i) t[byte_to_char(static_cast<std::uint8_t>(i))] = static_cast<std::int16_t>(i);
    return t;
  }();
  return c < table.size() ? table[c] : -1;
}

std::uint64_t pair_key(TokenId a, TokenId b) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
}

}  // namespace

Result<std::unique_ptr<BpeTokenizer>> BpeTokenizer::create(std::vector<std::string> tokens,
                                                           std::vector<TokenType> types,
                                                           const std::vector<std::string>& merges,
                                                           SpecialTokens special, BpeConfig config) {
  if (tokens.empty()) return invalid_argument("BPE vocabulary is empty");
  if (tokens.size() > static_cast<std::size_t>(INT32_MAX)) return invalid_argument("BPE vocabulary too large");
  if (!types.empty() && types.size() != tokens.size()) {
    return invalid_argument("BPE token types: " + std::to_string(types.size()) + " entries for " +
                            std::to_string(tokens.size()) + " tokens");
  }
  std::unique_ptr<BpeTokenizer> t(new BpeTokenizer());
  const auto n = static_cast<TokenId>(tokens.size());
  for (TokenId* id : {&special.bos, &special.eos, &special.eot, &special.unk, &special.pad, &special.sep,
                      &special.cls, &special.mask}) {
    if (*id != kNoToken && (*id < 0 || *id >= n)) {
      return invalid_argument("special token id " + std::to_string(*id) + " outside the vocabulary of " +
                              std::to_string(n));
    }
  }
  t->config_ = std::move(config);
  t->special_ = special;
  t->add_bos_ = t->config_.add_bos && special.bos != kNoToken;
  t->add_eos_ = t->config_.add_eos && special.eos != kNoToken;
  t->eog_ids_ = t->config_.eog_ids;
  t->set_vocab(std::move(tokens), std::move(types));

  for (int b = 0; b < 256; ++b) {
    std::string s;
    unicode::append_utf8(s, byte_to_char(static_cast<std::uint8_t>(b)));
    t->byte_token_[b] = detail::lookup(t->token_to_id_, s);
    t->byte_char_[b] = std::move(s);
  }
  // Merges become (left id, right id) -> (rank, merged id); a merge whose parts or result are not
  // tokens can never fire on ids, so it is dropped.
  t->merges_.reserve(merges.size());
  std::string joined;
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& m = merges[rank];
    const std::size_t sp = m.find(' ', 1);
    if (sp == std::string::npos) continue;
    const TokenId left = detail::lookup(t->token_to_id_, std::string_view(m).substr(0, sp));
    const TokenId right = detail::lookup(t->token_to_id_, std::string_view(m).substr(sp + 1));
    joined.assign(m, 0, sp);
    joined.append(m, sp + 1);
    const TokenId result = detail::lookup(t->token_to_id_, joined);
    if (left == kNoToken || right == kNoToken || result == kNoToken) continue;
    t->merges_.emplace(pair_key(left, right), Merge{static_cast<std::int32_t>(rank), result});  // first rank wins
  }
  // Decoded bytes of every token.
  t->pieces_.resize(t->tokens_.size());
  for (std::size_t i = 0; i < t->tokens_.size(); ++i) {
    const std::string& text = t->tokens_[i];
    const TokenType type = t->types_[i];
    if (type == TokenType::kControl || type == TokenType::kUserDefined || type == TokenType::kUnknown) {
      t->pieces_[i] = text;
      t->specials_.push_back({text, static_cast<TokenId>(i), type});
      continue;
    }
    std::string bytes;
    std::size_t pos = 0;
    while (pos < text.size()) {
      const unicode::Decoded d = unicode::decode_utf8(text, pos);
      const int b = d.valid ? char_to_byte(d.cp) : -1;
      if (b >= 0) bytes.push_back(static_cast<char>(b));
      else bytes.append(text, pos, d.len);  // not a byte-level char: keep as written
      pos += d.len;
    }
    t->pieces_[i] = std::move(bytes);
  }
  detail::sort_specials(t->specials_);
  return t;
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  if (config_.ignore_merges) {
    std::string mapped;
    for (char c : word) mapped += byte_char_[static_cast<std::uint8_t>(c)];
    const TokenId whole = detail::lookup(token_to_id_, mapped);
    if (whole != kNoToken) {
      out.push_back(whole);
      return;
    }
  }
  const std::size_t n = word.size();
  if (n == 1) {
    const TokenId id = byte_token_[static_cast<std::uint8_t>(word[0])];
    out.push_back(id != kNoToken ? id : special_.unk);
    if (out.back() == kNoToken) out.pop_back();
    return;
  }
  // One symbol per byte, linked list; merges fire lowest rank first, leftmost on ties.
  std::vector<TokenId> id(n);
  std::vector<std::int32_t> prev(n), next(n);
  for (std::size_t i = 0; i < n; ++i) {
    id[i] = byte_token_[static_cast<std::uint8_t>(word[i])];
    prev[i] = static_cast<std::int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1;
  }
  struct Candidate {
    std::int32_t rank;
    std::int32_t left;
    std::int32_t right;
    TokenId left_id;
    TokenId right_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto consider = [&](std::int32_t l, std::int32_t r) {
    if (l < 0 || r < 0 || id[l] == kNoToken || id[r] == kNoToken) return;
    const auto it = merges_.find(pair_key(id[l], id[r]));
    if (it != merges_.end()) queue.push({it->second.rank, l, r, id[l], id[r]});
  };
  for (std::size_t i = 0; i + 1 < n; ++i) consider(static_cast<std::int32_t>(i), static_cast<std::int32_t>(i + 1));
  std::vector<bool> dead(n, false);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    // Stale when either side has merged since: ids only grow, so equal ids mean equal symbols.
    if (dead[c.left] || dead[c.right] || next[c.left] != c.right || id[c.left] != c.left_id ||
        id[c.right] != c.right_id) {
      continue;
    }
    id[c.left] = merges_.at(pair_key(c.left_id, c.right_id)).result;
    dead[c.right] = true;
    next[c.left] = next[c.right];
    if (next[c.right] >= 0) prev[next[c.right]] = c.left;
    consider(prev[c.left], c.left);
    consider(c.left, next[c.left]);
  }
  for (std::int32_t i = 0; i >= 0; i = next[i]) {
    if (id[i] != kNoToken) out.push_back(id[i]);
    else if (special_.unk != kNoToken) out.push_back(special_.unk);
  }
}

Result<std::vector<TokenId>> BpeTokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  if (text.size() > kMaxInputBytes) return resource_exhausted("input text larger than 64 MiB");
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 2);
  if (options.add_special && add_bos_) out.push_back(special_.bos);
  for (const detail::Fragment& f : detail::split_special(text, specials_, options.parse_special)) {
    if (f.token != kNoToken) {
      out.push_back(f.token);
      continue;
    }
    const std::string_view fragment = text.substr(f.begin, f.end - f.begin);
    for (const auto& [b, e] : pre_tokenize(config_.pre, fragment)) encode_word(fragment.substr(b, e - b), out);
  }
  if (options.add_special && add_eos_) out.push_back(special_.eos);
  return out;
}

}  // namespace parley::text
