// WordPiece tokenizer: HF BertNormalizer, BertPreTokenizer and WordPiece model, with offsets.
// Exists for BERT-family encoders (see wordpiece.h); the rules follow HF tokenizers (Rust), which
// is what tokenizer.json describes. Depends on unicode.h, shared/common/json_document.h, special_split.h.
#include "shared/text/wordpiece.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "shared/common/json_document.h"
#include "shared/text/unicode.h"

namespace parley::text {

struct WordPieceTokenizer::NormChar {
  char32_t cp;
  std::uint32_t begin;  // original byte span of the code point this came from
  std::uint32_t end;
};

namespace {

using unicode::Category;

// HF's BertNormalizer: tab, newline and CR count as whitespace, not control.
bool is_bert_whitespace(char32_t cp) {
  return cp == '\t' || cp == '\n' || cp == '\r' || unicode::is_whitespace(cp);
}

bool is_bert_control(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  return unicode::is_other(unicode::category(cp));
}

// Rust's char::is_ascii_punctuation || Unicode P*: ASCII symbols such as $ + < = > ^ ` | ~ count.
bool is_bert_punctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126)) {
    return true;
  }
  return unicode::is_punctuation(unicode::category(cp));
}

// The CJK ranges of BERT's _is_chinese_char (HF keeps 0x2B920 as the start of the 5th range).
bool is_chinese_char(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

Result<std::string> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot open " + path);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return data;
}

// HF token settings are either "[CLS]" or {"content": "[CLS]", ...}.
std::optional<std::string> token_setting(const json::Value& v) {
  if (v.is_string()) return v.as_string();
  if (v.is_object()) {
    if (const json::Value* c = v.find("content"); c && c->is_string()) return c->as_string();
  }
  return std::nullopt;
}

constexpr std::size_t kMaxModelLength = std::size_t{1} << 20;  // HF writes 1e30 for "no limit"

}  // namespace

Result<std::unique_ptr<WordPieceTokenizer>> WordPieceTokenizer::create(std::vector<std::string> vocab,
                                                                       WordPieceConfig config) {
  std::unique_ptr<WordPieceTokenizer> tok(new WordPieceTokenizer());
  PARLEY_RETURN_IF_ERROR(tok->init(std::move(vocab), std::move(config)));
  return tok;
}

Status WordPieceTokenizer::init(std::vector<std::string> vocab, WordPieceConfig config) {
  if (vocab.empty()) return invalid_argument("WordPiece vocabulary is empty");
  if (vocab.size() > static_cast<std::size_t>(INT32_MAX)) return invalid_argument("vocabulary too large");
  config_ = std::move(config);
  vocab_ = std::move(vocab);
  token_to_id_.reserve(vocab_.size());
  for (std::size_t i = 0; i < vocab_.size(); ++i) {
    token_to_id_.emplace(vocab_[i], static_cast<TokenId>(i));  // first occurrence wins, as HF
    max_token_bytes_ = std::max(max_token_bytes_, vocab_[i].size());
  }
  auto find = [&](const std::string& t) { return detail::lookup(token_to_id_, t); };
  special_.unk = find(config_.unk_token);
  special_.cls = find(config_.cls_token);
  special_.sep = find(config_.sep_token);
  special_.pad = find(config_.pad_token);
  special_.mask = find(config_.mask_token);
  if (special_.unk == kNoToken) {
    return invalid_argument("WordPiece vocabulary has no unknown token '" + config_.unk_token + "'");
  }
  // BERT frames with [CLS]/[SEP]; expose them as bos/eos too so generic code finds them.
  special_.bos = special_.cls;
  special_.eos = special_.sep;
  add_bos_ = special_.cls != kNoToken;
  add_eos_ = special_.sep != kNoToken;
  types_.assign(vocab_.size(), TokenType::kNormal);
  for (TokenId id : {special_.cls, special_.sep, special_.pad, special_.mask}) {
    if (id != kNoToken) types_[static_cast<std::size_t>(id)] = TokenType::kControl;
  }
  types_[static_cast<std::size_t>(special_.unk)] = TokenType::kUnknown;
  for (TokenId id : {special_.unk, special_.cls, special_.sep, special_.pad, special_.mask}) {
    if (id != kNoToken) {
      specials_.push_back({vocab_[static_cast<std::size_t>(id)], id, types_[static_cast<std::size_t>(id)]});
    }
  }
  detail::sort_specials(specials_);
  return Status::ok();
}

Result<std::unique_ptr<WordPieceTokenizer>> WordPieceTokenizer::from_vocab_txt(const std::string& path,
                                                                               WordPieceConfig config) {
  PARLEY_ASSIGN_OR_RETURN(std::string data, read_whole_file(path));
  std::vector<std::string> vocab;
  std::size_t pos = 0;
  while (pos < data.size()) {
    std::size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size();
    std::string line = data.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    vocab.push_back(std::move(line));
    pos = nl + 1;
  }
  auto tok = create(std::move(vocab), std::move(config));
  if (!tok.ok()) return tok.status().with_context(path);
  return tok;
}

Result<WordPieceConfig> WordPieceTokenizer::read_tokenizer_config(const std::string& path,
                                                                  WordPieceConfig base) {
  PARLEY_ASSIGN_OR_RETURN(json::Value root, json::parse_file(path));
  if (!root.is_object()) return invalid_argument(path + ": not a JSON object");
  if (const auto* v = root.find("do_lower_case"); v && v->is_bool()) base.lowercase = v->as_bool();
  if (const auto* v = root.find("strip_accents")) {
    if (v->is_bool()) base.strip_accents = v->as_bool();
    else if (v->is_null()) base.strip_accents.reset();
  }
  if (const auto* v = root.find("tokenize_chinese_chars"); v && v->is_bool()) {
    base.handle_chinese_chars = v->as_bool();
  }
  if (const auto* v = root.find("model_max_length"); v && v->is_number() && v->as_double() > 0) {
    const double n = v->as_double();
    base.model_max_length = n >= static_cast<double>(kMaxModelLength) ? kMaxModelLength : static_cast<std::size_t>(n);
  }
  const std::pair<const char*, std::string*> tokens[] = {
      {"unk_token", &base.unk_token}, {"cls_token", &base.cls_token}, {"sep_token", &base.sep_token},
      {"pad_token", &base.pad_token}, {"mask_token", &base.mask_token}};
  for (const auto& [key, dest] : tokens) {
    if (const auto* v = root.find(key)) {
      if (auto t = token_setting(*v)) *dest = *t;
    }
  }
  return base;
}

Result<std::unique_ptr<WordPieceTokenizer>> WordPieceTokenizer::from_tokenizer_json(
    const std::string& path, const std::string& tokenizer_config_path) {
  PARLEY_ASSIGN_OR_RETURN(json::Value root, json::parse_file(path));
  const json::Value* model = root.find("model");
  if (!model || !model->is_object()) return invalid_argument(path + ": no \"model\" object");
  const json::Value* type = model->find("type");
  if (!type || !type->is_string() || type->as_string() != "WordPiece") {
    return invalid_argument(path + ": model.type is not WordPiece");
  }
  WordPieceConfig config;
  if (!tokenizer_config_path.empty()) {
    PARLEY_ASSIGN_OR_RETURN(config, read_tokenizer_config(tokenizer_config_path, config));
  }
  if (const auto* v = model->find("unk_token"); v && v->is_string()) config.unk_token = v->as_string();
  if (const auto* v = model->find("continuing_subword_prefix"); v && v->is_string()) {
    config.continuing_subword_prefix = v->as_string();
  }
  if (const auto* v = model->find("max_input_chars_per_word"); v && v->is_number()) {
    config.max_input_chars_per_word = static_cast<std::size_t>(v->as_double());
  }
  if (const json::Value* norm = root.find("normalizer"); norm && norm->is_object()) {
    const json::Value* ntype = norm->find("type");
    if (ntype && ntype->is_string() && ntype->as_string() == "BertNormalizer") {
      if (const auto* v = norm->find("lowercase"); v && v->is_bool()) config.lowercase = v->as_bool();
      if (const auto* v = norm->find("clean_text"); v && v->is_bool()) config.clean_text = v->as_bool();
      if (const auto* v = norm->find("handle_chinese_chars"); v && v->is_bool()) {
        config.handle_chinese_chars = v->as_bool();
      }
      if (const auto* v = norm->find("strip_accents")) {
        if (v->is_bool()) config.strip_accents = v->as_bool();
        else config.strip_accents.reset();
      }
    } else {
      return unimplemented(path + ": normalizer type " + (ntype && ntype->is_string() ? ntype->as_string() : "?") +
                           " is not supported (only BertNormalizer)");
    }
  }
  // Post-processor names the framing tokens (BertProcessing: "cls": ["[CLS]", 101]).
  if (const json::Value* post = root.find("post_processor"); post && post->is_object()) {
    for (const auto& [key, dest] : {std::pair<const char*, std::string*>{"cls", &config.cls_token},
                                    std::pair<const char*, std::string*>{"sep", &config.sep_token}}) {
      const json::Value* v = post->find(key);
      if (v && v->is_array() && !v->as_array().empty() && v->as_array()[0].is_string()) *dest = v->as_array()[0].as_string();
    }
  }
  const json::Value* vocab_obj = model->find("vocab");
  if (!vocab_obj || !vocab_obj->is_object()) return invalid_argument(path + ": model.vocab is not an object");
  std::vector<std::string> vocab(vocab_obj->as_object().size());
  for (const auto& [token, id] : vocab_obj->as_object()) {
    if (!id.is_number() || id.as_double() < 0 || id.as_double() >= static_cast<double>(vocab.size())) {
      return invalid_argument(path + ": vocab id of '" + token + "' is not in [0, vocab size)");
    }
    vocab[static_cast<std::size_t>(id.as_double())] = token;
  }
  auto tok = create(std::move(vocab), std::move(config));
  if (!tok.ok()) return tok.status().with_context(path);
  return tok;
}

Result<std::unique_ptr<WordPieceTokenizer>> WordPieceTokenizer::from_directory(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string config_path = (fs::path(dir) / "tokenizer_config.json").string();
  const bool has_config = fs::exists(config_path, ec);
  const std::string json_path = (fs::path(dir) / "tokenizer.json").string();
  if (fs::exists(json_path, ec)) return from_tokenizer_json(json_path, has_config ? config_path : "");
  const std::string vocab_path = (fs::path(dir) / "vocab.txt").string();
  if (!fs::exists(vocab_path, ec)) return not_found(dir + ": neither tokenizer.json nor vocab.txt");
  WordPieceConfig config;
  if (has_config) {
    PARLEY_ASSIGN_OR_RETURN(config, read_tokenizer_config(config_path, config));
  }
  return from_vocab_txt(vocab_path, std::move(config));
}

// Normalizes raw text [begin, end) and splits it into words of normalized code points that
// remember their original byte spans.
void WordPieceTokenizer::normalize_fragment(std::string_view text, std::size_t begin, std::size_t end,
                                            std::vector<std::vector<NormChar>>& words) const {
  const bool strip = config_.strips_accents();
  std::vector<NormChar> word;
  auto finish = [&] {
    if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  };
  char32_t decomposed[4];
  char32_t lowered[2];
  std::size_t pos = begin;
  while (pos < end) {
    const unicode::Decoded d = unicode::decode_utf8(text.substr(0, end), pos);
    const auto b = static_cast<std::uint32_t>(pos);
    const auto e = static_cast<std::uint32_t>(pos + d.len);
    pos += d.len;
    char32_t cp = d.cp;  // invalid bytes arrive as U+FFFD
    if (config_.clean_text) {
      if (cp == 0 || cp == 0xFFFD || is_bert_control(cp)) continue;
      if (is_bert_whitespace(cp)) cp = ' ';
    }
    if (config_.handle_chinese_chars && is_chinese_char(cp)) {
      finish();
      // Compatibility ideographs (U+F900..) decompose to unified ones under NFD.
      const std::size_t n = strip ? unicode::decompose(cp, decomposed) : (decomposed[0] = cp, 1);
      for (std::size_t i = 0; i < n; ++i) word.push_back({decomposed[i], b, e});
      finish();
      continue;
    }
    std::size_t n = 1;
    decomposed[0] = cp;
    if (strip) n = unicode::decompose(cp, decomposed);
    for (std::size_t i = 0; i < n; ++i) {
      if (strip && unicode::category(decomposed[i]) == Category::kMn) continue;
      std::size_t m = 1;
      lowered[0] = decomposed[i];
      if (config_.lowercase) m = unicode::to_lower(decomposed[i], lowered);
      for (std::size_t j = 0; j < m; ++j) {
        const char32_t c = lowered[j];
        if (is_bert_whitespace(c)) {
          finish();
        } else if (is_bert_punctuation(c)) {
          finish();
          word.push_back({c, b, e});
          finish();
        } else {
          word.push_back({c, b, e});
        }
      }
    }
  }
  finish();
}

void WordPieceTokenizer::word_to_tokens(const std::vector<NormChar>& word, std::int32_t word_index,
                                        Encoding& out) const {
  const std::size_t n = word.size();
  auto push = [&](TokenId id, std::size_t first, std::size_t last_exclusive) {
    out.ids.push_back(id);
    out.offsets.push_back({word[first].begin, word[last_exclusive - 1].end});
    out.word_ids.push_back(word_index);
  };
  if (n > config_.max_input_chars_per_word) {
    push(special_.unk, 0, n);
    return;
  }
  // UTF-8 of the word and the byte offset where each code point starts.
  std::string utf8;
  std::vector<std::size_t> starts(n + 1);
  for (std::size_t i = 0; i < n; ++i) {
    starts[i] = utf8.size();
    unicode::append_utf8(utf8, word[i].cp);
  }
  starts[n] = utf8.size();
  const std::size_t mark = out.ids.size();
  std::string candidate;
  std::size_t start = 0;
  while (start < n) {
    TokenId found = kNoToken;
    std::size_t found_end = start;
    const std::size_t prefix = start > 0 ? config_.continuing_subword_prefix.size() : 0;
    for (std::size_t end = n; end > start; --end) {
      const std::size_t bytes = starts[end] - starts[start];
      if (bytes + prefix > max_token_bytes_) continue;
      candidate.clear();
      if (start > 0) candidate += config_.continuing_subword_prefix;
      candidate.append(utf8, starts[start], bytes);
      const TokenId id = detail::lookup(token_to_id_, candidate);
      if (id != kNoToken) {
        found = id;
        found_end = end;
        break;
      }
    }
    if (found == kNoToken) {
      // HF: one unmatched piece makes the whole word unknown.
      out.ids.resize(mark);
      out.offsets.resize(mark);
      out.word_ids.resize(mark);
      push(special_.unk, 0, n);
      return;
    }
    push(found, start, found_end);
    start = found_end;
  }
}

void WordPieceTokenizer::encode_text(std::string_view text, bool parse_special, Encoding& out) const {
  const std::vector<detail::Fragment> fragments = detail::split_special(text, specials_, parse_special);
  std::int32_t word_index = 0;
  std::vector<std::vector<NormChar>> words;
  for (const detail::Fragment& f : fragments) {
    if (f.token != kNoToken) {
      out.ids.push_back(f.token);
      out.offsets.push_back({static_cast<std::uint32_t>(f.begin), static_cast<std::uint32_t>(f.end)});
      out.word_ids.push_back(word_index++);
      continue;
    }
    words.clear();
    normalize_fragment(text, f.begin, f.end, words);
    for (const auto& w : words) word_to_tokens(w, word_index++, out);
  }
  out.type_ids.resize(out.ids.size(), 0);
  out.special_mask.resize(out.ids.size(), 0);
}

std::vector<WordPieceTokenizer::Word> WordPieceTokenizer::pre_tokenize(std::string_view text) const {
  std::vector<Word> result;
  std::vector<std::vector<NormChar>> words;
  normalize_fragment(text, 0, text.size(), words);
  for (const auto& w : words) {
    Word word;
    for (const NormChar& c : w) unicode::append_utf8(word.normalized, c.cp);
    word.span = {w.front().begin, w.back().end};
    result.push_back(std::move(word));
  }
  return result;
}

namespace {

void truncate_to(Encoding& e, std::size_t n) {
  if (e.ids.size() <= n) return;
  e.truncated_tokens += e.ids.size() - n;
  e.ids.resize(n);
  e.offsets.resize(n);
  e.word_ids.resize(n);
  e.type_ids.resize(n);
  e.special_mask.resize(n);
}

void append_special(Encoding& e, TokenId id, std::uint8_t type) {
  if (id == kNoToken) return;
  e.ids.push_back(id);
  e.offsets.push_back({0, 0});
  e.word_ids.push_back(-1);
  e.type_ids.push_back(type);
  e.special_mask.push_back(1);
}

void append_all(Encoding& dst, const Encoding& src, std::uint8_t type) {
  dst.ids.insert(dst.ids.end(), src.ids.begin(), src.ids.end());
  dst.offsets.insert(dst.offsets.end(), src.offsets.begin(), src.offsets.end());
  dst.word_ids.insert(dst.word_ids.end(), src.word_ids.begin(), src.word_ids.end());
  dst.type_ids.insert(dst.type_ids.end(), src.ids.size(), type);
  dst.special_mask.insert(dst.special_mask.end(), src.special_mask.begin(), src.special_mask.end());
  dst.truncated_tokens += src.truncated_tokens;
}

}  // namespace

Encoding WordPieceTokenizer::encode_with_offsets(std::string_view text,
                                                 const WordPieceEncodeOptions& options) const {
  Encoding body;
  encode_text(text, options.parse_special, body);
  const std::size_t n_special = options.add_special ? (special_.cls != kNoToken) + (special_.sep != kNoToken) : 0;
  if (options.truncate) {
    const std::size_t max_len = options.max_length ? options.max_length : config_.model_max_length;
    truncate_to(body, max_len > n_special ? max_len - n_special : 0);
  }
  if (!options.add_special) return body;
  Encoding out;
  append_special(out, special_.cls, 0);
  append_all(out, body, 0);
  append_special(out, special_.sep, 0);
  return out;
}

Encoding WordPieceTokenizer::encode_pair(std::string_view first, std::string_view second,
                                         const WordPieceEncodeOptions& options) const {
  Encoding a;
  Encoding b;
  encode_text(first, options.parse_special, a);
  encode_text(second, options.parse_special, b);
  if (options.truncate) {
    const std::size_t n_special =
        options.add_special ? (special_.cls != kNoToken) + 2 * (special_.sep != kNoToken) : 0;
    const std::size_t max_len = options.max_length ? options.max_length : config_.model_max_length;
    const std::size_t budget = max_len > n_special ? max_len - n_special : 0;
    std::size_t na = a.size();
    std::size_t nb = b.size();
    while (na + nb > budget) {  // longest first; ties shorten the second text (HF)
      if (na > nb) --na;
      else --nb;
    }
    truncate_to(a, na);
    truncate_to(b, nb);
  }
  Encoding out;
  if (options.add_special) append_special(out, special_.cls, 0);
  append_all(out, a, 0);
  if (options.add_special) append_special(out, special_.sep, 0);
  append_all(out, b, 1);
  if (options.add_special) append_special(out, special_.sep, 1);
  return out;
}

Result<std::vector<TokenId>> WordPieceTokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  if (text.size() > kMaxInputBytes) return resource_exhausted("input text larger than 64 MiB");
  WordPieceEncodeOptions o;
  o.add_special = options.add_special;
  o.parse_special = options.parse_special;
  o.truncate = false;
  return std::move(encode_with_offsets(text, o).ids);
}

std::string WordPieceTokenizer::decode(std::span<const TokenId> ids, const DecodeOptions& options) const {
  std::string raw;
  bool first = true;
  for (TokenId id : ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= vocab_.size()) continue;
    if (options.skip_special && is_special(id)) continue;
    std::string piece = token_piece(id);
    if (first && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    first = false;
    raw += piece;
  }
  // HF's clean_up_tokenization: undo the spaces WordPiece puts before punctuation/contractions.
  static const std::pair<std::string_view, std::string_view> kCleanups[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
      {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kCleanups) {
    std::string out;
    std::size_t pos = 0;
    while (true) {
      const std::size_t hit = raw.find(from, pos);
      if (hit == std::string::npos) break;
      out.append(raw, pos, hit - pos);
      out.append(to);
      pos = hit + from.size();
    }
    out.append(raw, pos);
    raw.swap(out);
  }
  return raw;
}

std::string WordPieceTokenizer::token_piece(TokenId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= vocab_.size()) return {};
  const std::string& t = vocab_[static_cast<std::size_t>(id)];
  const std::string& prefix = config_.continuing_subword_prefix;
  if (types_[static_cast<std::size_t>(id)] == TokenType::kNormal && !prefix.empty() && t.size() >= prefix.size() &&
      t.compare(0, prefix.size(), prefix) == 0) {
    return t.substr(prefix.size());
  }
  return " " + t;
}

std::string_view WordPieceTokenizer::token_text(TokenId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= vocab_.size()) return {};
  return vocab_[static_cast<std::size_t>(id)];
}

std::optional<TokenId> WordPieceTokenizer::find_token(std::string_view token_text) const {
  const TokenId id = detail::lookup(token_to_id_, token_text);
  if (id == kNoToken) return std::nullopt;
  return id;
}

TokenType WordPieceTokenizer::token_type(TokenId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= types_.size()) return TokenType::kUndefined;
  return types_[static_cast<std::size_t>(id)];
}

}  // namespace parley::text
