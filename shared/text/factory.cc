// tokenizer_from_vocab: GGUF-style vocabulary data to a concrete tokenizer (see factory.h).
// Exists to keep family defaults (llama.cpp's) in one place. Depends on bpe.h, spm.h, wordpiece.h.
#include "shared/text/factory.h"

#include <algorithm>

#include "shared/text/bpe.h"
#include "shared/text/spm.h"
#include "shared/text/wordpiece.h"

namespace parley::text {
namespace {

// Tokens that end a turn by convention (llama.cpp marks them end-of-generation by name).
constexpr std::string_view kEogNames[] = {"<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>",
                                          "<|eom_id|>", "<EOT>", "<|endoftext|>"};

void find_eog(VocabData& data, std::vector<TokenId>& eog) {
  for (std::string_view name : kEogNames) {
    const auto it = std::find(data.tokens.begin(), data.tokens.end(), name);
    if (it == data.tokens.end()) continue;
    const auto id = static_cast<TokenId>(it - data.tokens.begin());
    eog.push_back(id);
    if (data.special.eot == kNoToken && name != "<|eom_id|>") data.special.eot = id;
    // A turn marker must never be produced from plain text: treat it as a control token.
    if (!data.types.empty() && data.types[static_cast<std::size_t>(id)] == TokenType::kNormal) {
      data.types[static_cast<std::size_t>(id)] = TokenType::kControl;
    }
  }
}

Result<std::unique_ptr<Tokenizer>> make_wordpiece(VocabData& data) {
  // GGUF stores BERT vocabularies llama.cpp-style: word-initial pieces as "▁word", continuation
  // pieces bare. Convert back to HF form ("word", "##piece"); bracketed specials stay as they are.
  static constexpr std::string_view kMark = "\xE2\x96\x81";
  std::vector<std::string> vocab;
  vocab.reserve(data.tokens.size());
  for (std::size_t i = 0; i < data.tokens.size(); ++i) {
    const std::string& t = data.tokens[i];
    const bool special = !data.types.empty() && data.types[i] != TokenType::kNormal;
    if (t.compare(0, kMark.size(), kMark) == 0) {
      vocab.push_back(t.substr(kMark.size()));
    } else if (special || (t.size() >= 2 && t.front() == '[' && t.back() == ']')) {
      vocab.push_back(t);
    } else {
      vocab.push_back("##" + t);
    }
  }
  WordPieceConfig config;
  auto name_of = [&](TokenId id, std::string& dest) {
    if (id >= 0 && static_cast<std::size_t>(id) < vocab.size()) dest = vocab[static_cast<std::size_t>(id)];
  };
  name_of(data.special.unk, config.unk_token);
  name_of(data.special.cls != kNoToken ? data.special.cls : data.special.bos, config.cls_token);
  name_of(data.special.sep, config.sep_token);
  name_of(data.special.pad, config.pad_token);
  name_of(data.special.mask, config.mask_token);
  PARLEY_ASSIGN_OR_RETURN(auto tok, WordPieceTokenizer::create(std::move(vocab), std::move(config)));
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> tokenizer_from_vocab(VocabData data) {
  if (data.tokens.empty()) return invalid_argument("tokenizer has no tokens");
  if (!data.types.empty() && data.types.size() != data.tokens.size()) {
    return invalid_argument("tokenizer.ggml.token_type has " + std::to_string(data.types.size()) +
                            " entries for " + std::to_string(data.tokens.size()) + " tokens");
  }
  if (data.model == "bert") return make_wordpiece(data);
  std::vector<TokenId> eog;
  find_eog(data, eog);
  if (data.model == "gpt2") {
    PARLEY_ASSIGN_OR_RETURN(PreTokenizer pre, pre_tokenizer_from_name(data.pre));
    BpeConfig config;
    config.pre = pre;
    const bool llama3 = pre == PreTokenizer::kLlama3 && data.pre != "chatglm-bpe" && data.pre != "dbrx" &&
                        data.pre != "smaug-bpe";
    config.ignore_merges = llama3;
    config.add_bos = data.add_bos.value_or(llama3);
    config.add_eos = data.add_eos.value_or(false);
    config.eog_ids = std::move(eog);
    PARLEY_ASSIGN_OR_RETURN(auto tok, BpeTokenizer::create(std::move(data.tokens), std::move(data.types),
                                                            data.merges, data.special, std::move(config)));
    return std::unique_ptr<Tokenizer>(std::move(tok));
  }
  if (data.model == "llama") {
    SpmConfig config;
    config.add_space_prefix = data.add_space_prefix.value_or(true);
    config.add_bos = data.add_bos.value_or(true);
    config.add_eos = data.add_eos.value_or(false);
    config.eog_ids = std::move(eog);
    if (data.special.bos == kNoToken && data.tokens.size() > 1) data.special.bos = 1;  // llama.cpp defaults
    if (data.special.eos == kNoToken && data.tokens.size() > 2) data.special.eos = 2;
    if (data.special.unk == kNoToken) data.special.unk = 0;
    PARLEY_ASSIGN_OR_RETURN(auto tok, SpmTokenizer::create(std::move(data.tokens), std::move(data.scores),
                                                           std::move(data.types), data.special, std::move(config)));
    return std::unique_ptr<Tokenizer>(std::move(tok));
  }
  return invalid_argument("unsupported tokenizer model '" + data.model + "' (supported: gpt2, llama, bert)");
}

}  // namespace parley::text
