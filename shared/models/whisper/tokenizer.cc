// Whisper tokenizer (see tokenizer.h). Depends on shared/text/bpe.h, shared/common/json_document.h.
#include "shared/models/whisper/tokenizer.h"

#include <cctype>

#include <fstream>

#include "shared/common/json_document.h"

namespace parley::whisper {

namespace {
constexpr std::size_t kMaxVocab = 1 << 20;
}

Result<std::unique_ptr<WhisperTokenizer>> WhisperTokenizer::load(const std::string& vocabulary_path,
                                                                 const std::string& tokenizer_json_path) {
  std::ifstream in(vocabulary_path);
  if (!in) return not_found("whisper tokenizer: cannot open " + vocabulary_path);
  std::vector<std::string> tokens;
  std::string line;
  while (std::getline(in, line)) {
    if (tokens.size() >= kMaxVocab) return invalid_argument("whisper tokenizer: " + vocabulary_path + " has too many lines");
    tokens.push_back(line);
  }
  std::vector<std::string> merges;
  if (!tokenizer_json_path.empty()) {
    json::ParseOptions po;
    po.allow_duplicate_keys = true;  // the duplicate check is quadratic in the 50k-entry vocab object
    auto doc = json::parse_file(tokenizer_json_path, po);
    if (!doc.ok()) return doc.status();
    const json::Value* model = doc->find("model");
    const json::Value* m = model ? model->find("merges") : nullptr;
    if (m == nullptr || !m->is_array()) return invalid_argument("whisper tokenizer: " + tokenizer_json_path + " has no model.merges");
    merges.reserve(m->as_array().size());
    for (const json::Value& v : m->as_array()) {
      if (v.is_string()) {
        merges.push_back(v.as_string());
      } else if (v.is_array() && v.as_array().size() == 2 && v.as_array()[0].is_string() && v.as_array()[1].is_string()) {
        merges.push_back(v.as_array()[0].as_string() + " " + v.as_array()[1].as_string());
      } else {
        return invalid_argument("whisper tokenizer: " + tokenizer_json_path + ": a merge is neither \"a b\" nor [a, b]");
      }
    }
  }
  std::unique_ptr<WhisperTokenizer> t(new WhisperTokenizer());
  Status s = t->init(std::move(tokens), merges);
  if (!s.is_ok()) return s.with_context(vocabulary_path);
  return t;
}

Result<std::unique_ptr<WhisperTokenizer>> WhisperTokenizer::create(std::vector<std::string> tokens,
                                                                   const std::vector<std::string>& merges) {
  std::unique_ptr<WhisperTokenizer> t(new WhisperTokenizer());
  PARLEY_RETURN_IF_ERROR(t->init(std::move(tokens), merges));
  return t;
}

Status WhisperTokenizer::init(std::vector<std::string> tokens, const std::vector<std::string>& merges) {
  auto find = [&](std::string_view name) -> int {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i] == name) return static_cast<int>(i);
    }
    return -1;
  };
  SpecialIds& s = special_;
  s.eot = find("<|endoftext|>");
  s.sot = find("<|startoftranscript|>");
  s.translate = find("<|translate|>");
  s.transcribe = find("<|transcribe|>");
  s.sot_lm = find("<|startoflm|>");
  s.sot_prev = find("<|startofprev|>");
  s.no_speech = find("<|nocaptions|>");
  if (s.no_speech < 0) s.no_speech = find("<|nospeech|>");
  s.no_timestamps = find("<|notimestamps|>");
  s.english = find("<|en|>");
  for (auto [id, name] : {std::pair{s.eot, "<|endoftext|>"}, std::pair{s.sot, "<|startoftranscript|>"},
                          std::pair{s.transcribe, "<|transcribe|>"}, std::pair{s.translate, "<|translate|>"},
                          std::pair{s.sot_prev, "<|startofprev|>"}, std::pair{s.sot_lm, "<|startoflm|>"},
                          std::pair{s.no_speech, "<|nocaptions|> / <|nospeech|>"}, std::pair{s.no_timestamps, "<|notimestamps|>"}}) {
    if (id < 0) return invalid_argument(std::string("whisper tokenizer: no ") + name + " token in the vocabulary");
  }
  s.timestamp_begin = s.no_timestamps + 1;
  s.timestamp_end = static_cast<int>(tokens.size()) - 1;
  if (s.timestamp_begin > s.timestamp_end || tokens[static_cast<std::size_t>(s.timestamp_begin)] != "<|0.00|>") {
    return invalid_argument("whisper tokenizer: <|0.00|> does not follow <|notimestamps|>");
  }
  size_ = tokens.size();
  std::vector<text::TokenType> types(tokens.size(), text::TokenType::kNormal);
  for (std::size_t i = static_cast<std::size_t>(s.eot); i < tokens.size(); ++i) types[i] = text::TokenType::kControl;
  text::SpecialTokens sp;
  sp.eos = s.eot;
  sp.bos = s.eot;
  text::BpeConfig cfg;
  has_merges_ = !merges.empty();
  auto bpe = text::BpeTokenizer::create(std::move(tokens), std::move(types), merges, sp, cfg);
  if (!bpe.ok()) return bpe.status();
  bpe_ = std::move(*bpe);
  return Status::ok();
}

std::string WhisperTokenizer::decode_text(std::span<const int> ids) const {
  std::vector<text::TokenId> text_ids;
  text_ids.reserve(ids.size());
  for (int id : ids) {
    if (id >= 0 && id < special_.eot) text_ids.push_back(id);
  }
  return bpe_->decode(text_ids);
}

std::string WhisperTokenizer::piece(int id) const {
  if (id < 0 || id >= special_.eot) return "";
  return bpe_->token_piece(id);
}

Result<std::vector<int>> WhisperTokenizer::encode(std::string_view text) const {
  if (!has_merges_) return unimplemented("whisper tokenizer: loaded without tokenizer.json merges, cannot encode");
  text::EncodeOptions o;
  o.add_special = false;
  PARLEY_ASSIGN_OR_RETURN(auto ids, bpe_->encode(text, o));
  return std::vector<int>(ids.begin(), ids.end());
}

std::string_view WhisperTokenizer::token_text(int id) const { return bpe_->token_text(id); }

int WhisperTokenizer::language_token(std::string_view code) const {
  const std::size_t cut = code.find_first_of("-_");
  if (cut != std::string_view::npos) code = code.substr(0, cut);
  if (code.size() < 2 || code.size() > 3) return -1;
  std::string name = "<|";
  for (char c : code) {
    if (!std::isalpha(static_cast<unsigned char>(c))) return -1;
    name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  name += "|>";
  for (int id = special_.sot + 1; id < special_.translate; ++id) {
    if (token_text(id) == name) return id;
  }
  return -1;
}

}  // namespace parley::whisper
