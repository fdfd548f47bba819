// vocab_from_gguf: GGUF tokenizer keys -> VocabData (see gguf_vocab.h).
#include "shared/text/gguf_vocab.h"

#include <cstdint>
#include <utility>

namespace parley::text {
namespace {

using engine::gguf::GgufFile;

TokenId optional_id(const GgufFile& f, const char* key) {
  if (!f.has(key)) return kNoToken;
  Result<std::uint32_t> v = f.get_u32(key);
  if (v.ok()) return static_cast<TokenId>(*v);
  Result<std::int32_t> i = f.get_i32(key);
  return i.ok() ? *i : kNoToken;
}

void optional_bool(const GgufFile& f, const char* key, std::optional<bool>& out) {
  if (f.has(key)) out = f.get_bool(key).value_or(false);
}

}  // namespace

Result<VocabData> vocab_from_gguf(const GgufFile& f) {
  VocabData d;
  if (!f.has("tokenizer.ggml.model")) {
    return invalid_argument("the model file has no tokenizer (GGUF key tokenizer.ggml.model missing)");
  }
  PARLEY_ASSIGN_OR_RETURN(d.model, f.get_string("tokenizer.ggml.model"));
  if (f.has("tokenizer.ggml.pre")) {
    PARLEY_ASSIGN_OR_RETURN(d.pre, f.get_string("tokenizer.ggml.pre"));
  }
  PARLEY_ASSIGN_OR_RETURN(d.tokens, f.get_string_array("tokenizer.ggml.tokens"));
  if (f.has("tokenizer.ggml.scores")) {
    PARLEY_ASSIGN_OR_RETURN(d.scores, f.get_f32_array("tokenizer.ggml.scores"));
  }
  if (f.has("tokenizer.ggml.token_type")) {
    PARLEY_ASSIGN_OR_RETURN(std::vector<std::int32_t> types, f.get_i32_array("tokenizer.ggml.token_type"));
    d.types.reserve(types.size());
    for (std::int32_t t : types) d.types.push_back(static_cast<TokenType>(t));
  }
  if (f.has("tokenizer.ggml.merges")) {
    PARLEY_ASSIGN_OR_RETURN(d.merges, f.get_string_array("tokenizer.ggml.merges"));
  }
  d.special.bos = optional_id(f, "tokenizer.ggml.bos_token_id");
  d.special.eos = optional_id(f, "tokenizer.ggml.eos_token_id");
  d.special.eot = optional_id(f, "tokenizer.ggml.eot_token_id");
  d.special.unk = optional_id(f, "tokenizer.ggml.unknown_token_id");
  d.special.pad = optional_id(f, "tokenizer.ggml.padding_token_id");
  d.special.sep = optional_id(f, "tokenizer.ggml.seperator_token_id");  // llama.cpp's spelling
  d.special.cls = optional_id(f, "tokenizer.ggml.cls_token_id");
  d.special.mask = optional_id(f, "tokenizer.ggml.mask_token_id");
  optional_bool(f, "tokenizer.ggml.add_bos_token", d.add_bos);
  optional_bool(f, "tokenizer.ggml.add_eos_token", d.add_eos);
  optional_bool(f, "tokenizer.ggml.add_space_prefix", d.add_space_prefix);
  if (f.has("tokenizer.chat_template")) {
    PARLEY_ASSIGN_OR_RETURN(d.chat_template, f.get_string("tokenizer.chat_template"));
  }
  return d;
}

Result<std::unique_ptr<Tokenizer>> tokenizer_from_gguf(const GgufFile& file) {
  PARLEY_ASSIGN_OR_RETURN(VocabData d, vocab_from_gguf(file));
  return tokenizer_from_vocab(std::move(d));
}

}  // namespace parley::text
