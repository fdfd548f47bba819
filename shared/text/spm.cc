// SentencePiece BPE over piece scores (see spm.h): start from UTF-8 characters, repeatedly merge
// the adjacent pair whose concatenation is the highest-scoring piece (leftmost on ties), then
// emit pieces, falling back to <0xNN> byte tokens. Depends on unicode.h, special_split.h.
#include "shared/text/spm.h"

#include <cstdio>
#include <queue>

#include "shared/text/unicode.h"

namespace parley::text {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

std::string escape_spaces(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    if (c == ' ') out.append(kSpaceMark);
    else out.push_back(c);
  }
  return out;
}

// Parses "<0xNN>"; -1 when the text is not a byte token.
int parse_byte_token(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  int v = 0;
  for (char h : t.substr(3, 2)) {
    v <<= 4;
    if (h >= '0' && h <= '9') v |= h - '0';
    else if (h >= 'A' && h <= 'F') v |= h - 'A' + 10;
    else if (h >= 'a' && h <= 'f') v |= h - 'a' + 10;
    else return -1;
  }
  return v;
}

}  // namespace

Result<std::unique_ptr<SpmTokenizer>> SpmTokenizer::create(std::vector<std::string> tokens, std::vector<float> scores,
                                                           std::vector<TokenType> types, SpecialTokens special,
                                                           SpmConfig config) {
  if (tokens.empty()) return invalid_argument("SentencePiece vocabulary is empty");
  if (tokens.size() > static_cast<std::size_t>(INT32_MAX)) return invalid_argument("vocabulary too large");
  if (!scores.empty() && scores.size() != tokens.size()) return invalid_argument("scores do not match tokens");
  if (!types.empty() && types.size() != tokens.size()) return invalid_argument("token types do not match tokens");
  const auto n = static_cast<TokenId>(tokens.size());
  for (TokenId* id : {&special.bos, &special.eos, &special.eot, &special.unk, &special.pad, &special.sep,
                      &special.cls, &special.mask}) {
    if (*id != kNoToken && (*id < 0 || *id >= n)) {
      return invalid_argument("special token id " + std::to_string(*id) + " outside the vocabulary of " +
                              std::to_string(n));
    }
  }
  std::unique_ptr<SpmTokenizer> t(new SpmTokenizer());
  t->config_ = std::move(config);
  t->special_ = special;
  t->add_bos_ = t->config_.add_bos && special.bos != kNoToken;
  t->add_eos_ = t->config_.add_eos && special.eos != kNoToken;
  t->eog_ids_ = t->config_.eog_ids;
  t->set_vocab(std::move(tokens), std::move(types));
  t->scores_ = scores.empty() ? std::vector<float>(t->tokens_.size(), 0.0f) : std::move(scores);
  std::fill(std::begin(t->byte_token_), std::end(t->byte_token_), kNoToken);
  t->pieces_.resize(t->tokens_.size());
  for (std::size_t i = 0; i < t->tokens_.size(); ++i) {
    const std::string& text = t->tokens_[i];
    const auto id = static_cast<TokenId>(i);
    const TokenType type = t->types_[i];
    const int byte = parse_byte_token(text);
    if (type == TokenType::kByte && byte >= 0) {
      if (t->byte_token_[byte] == kNoToken) t->byte_token_[byte] = id;
      t->pieces_[i] = std::string(1, static_cast<char>(byte));
    } else if (type == TokenType::kControl || type == TokenType::kUnknown || type == TokenType::kUserDefined) {
      t->pieces_[i] = text;
      t->specials_.push_back({text, id, type});
    } else {
      std::string piece;
      std::size_t pos = 0;
      while (true) {
        const std::size_t hit = text.find(kSpaceMark, pos);
        piece.append(text, pos, hit == std::string::npos ? std::string::npos : hit - pos);
        if (hit == std::string::npos) break;
        piece.push_back(' ');
        pos = hit + kSpaceMark.size();
      }
      t->pieces_[i] = std::move(piece);
    }
  }
  detail::sort_specials(t->specials_);
  return t;
}

void SpmTokenizer::encode_text(const std::string& text, std::vector<TokenId>& out) const {
  struct Symbol {
    std::uint32_t begin;
    std::uint32_t len;  // 0 once merged into its left neighbour
    std::int32_t prev;
    std::int32_t next;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    const std::uint32_t len = unicode::decode_utf8(text, pos).len;
    const auto index = static_cast<std::int32_t>(symbols.size());
    symbols.push_back({static_cast<std::uint32_t>(pos), len, index - 1, -1});
    if (index > 0) symbols[static_cast<std::size_t>(index - 1)].next = index;
    pos += len;
  }
  struct Bigram {
    float score;
    std::int32_t left;
    std::int32_t right;
    std::uint32_t size;
    bool operator<(const Bigram& o) const { return score != o.score ? score < o.score : left > o.left; }
  };
  std::priority_queue<Bigram> queue;  // highest score first, then leftmost
  const std::string_view view(text);
  auto consider = [&](std::int32_t l, std::int32_t r) {
    if (l < 0 || r < 0) return;
    const Symbol& a = symbols[static_cast<std::size_t>(l)];
    const Symbol& b = symbols[static_cast<std::size_t>(r)];
    const TokenId id = detail::lookup(token_to_id_, view.substr(a.begin, a.len + b.len));
    if (id == kNoToken) return;
    queue.push({scores_[static_cast<std::size_t>(id)], l, r, a.len + b.len});
  };
  for (std::size_t i = 1; i < symbols.size(); ++i) {
    consider(static_cast<std::int32_t>(i - 1), static_cast<std::int32_t>(i));
  }
  while (!queue.empty()) {
    const Bigram g = queue.top();
    queue.pop();
    Symbol& left = symbols[static_cast<std::size_t>(g.left)];
    Symbol& right = symbols[static_cast<std::size_t>(g.right)];
    if (left.len == 0 || right.len == 0 || left.len + right.len != g.size) continue;  // stale
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<std::size_t>(right.next)].prev = g.left;
    consider(left.prev, g.left);
    consider(g.left, left.next);
  }
  for (std::int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[static_cast<std::size_t>(i)].next) {
    const Symbol& s = symbols[static_cast<std::size_t>(i)];
    const TokenId id = detail::lookup(token_to_id_, view.substr(s.begin, s.len));
    if (id != kNoToken) {
      out.push_back(id);
      continue;
    }
    for (std::uint32_t k = 0; k < s.len; ++k) {
      const TokenId b = byte_token_[static_cast<std::uint8_t>(text[s.begin + k])];
      if (b != kNoToken) out.push_back(b);
      else if (special_.unk != kNoToken) out.push_back(special_.unk);
    }
  }
}

Result<std::vector<TokenId>> SpmTokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  if (text.size() > kMaxInputBytes) return resource_exhausted("input text larger than 64 MiB");
  std::vector<TokenId> out;
  if (options.add_special && add_bos_) out.push_back(special_.bos);
  bool after_special = true;  // the start of the text counts as "after a special token"
  for (const detail::Fragment& f : detail::split_special(text, specials_, options.parse_special)) {
    if (f.token != kNoToken) {
      out.push_back(f.token);
      after_special = true;
      continue;
    }
    std::string raw;
    if (config_.add_space_prefix && after_special) raw.push_back(' ');
    raw.append(text.substr(f.begin, f.end - f.begin));
    encode_text(escape_spaces(raw), out);
    after_special = false;
  }
  if (options.add_special && add_eos_) out.push_back(special_.eos);
  return out;
}

}  // namespace parley::text
