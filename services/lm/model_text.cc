// ModelText: GGUF tokenizer keys -> shared/text tokenizer + chat template (see model_text.h).
// Depends on shared/text (the GGUF adapter gguf_vocab.h), shared/engine/gguf.
#include "services/lm/model_text.h"

#include <algorithm>

#include "shared/common/log.h"
#include "shared/text/factory.h"
#include "shared/text/gguf_vocab.h"
#include "shared/text/stream_decoder.h"

namespace parley::lm {
namespace {

class DecoderStream final : public TokenTextStream {
 public:
  explicit DecoderStream(const text::Tokenizer& tok) : dec_(tok) {}
  std::string push(std::int32_t token) override { return dec_.push(token); }
  std::string finish() override { return dec_.finish(); }

 private:
  text::StreamDecoder dec_;
};

}  // namespace

Result<ModelText> ModelText::from_gguf(const engine::gguf::GgufFile& f) {
  PARLEY_ASSIGN_OR_RETURN(text::VocabData d, text::vocab_from_gguf(f));
  std::string jinja = d.chat_template;

  ModelText mt;
  PARLEY_ASSIGN_OR_RETURN(mt.tokenizer, text::tokenizer_from_vocab(std::move(d)));
  if (!jinja.empty()) {
    Result<text::ChatTemplate> t = text::ChatTemplate::detect(jinja);
    if (t.ok()) {
      mt.chat = *t;
      mt.chat_template_detected = true;
    } else {
      PARLEY_LOG(kWarn) << "unrecognised chat template, using ChatML: " << t.status().to_string();
    }
  }
  mt.chat_stop_strings = mt.chat.stop_strings();
  const text::Tokenizer& tok = *mt.tokenizer;
  for (std::size_t id = 0; id < tok.vocab_size(); ++id) {
    if (tok.is_eog(static_cast<text::TokenId>(id))) mt.eog_tokens.push_back(static_cast<std::int32_t>(id));
  }
  // The template's end-of-turn markers as single tokens end generation too.
  for (const std::string& s : mt.chat_stop_strings) {
    std::optional<text::TokenId> id = tok.find_token(s);
    if (id && std::find(mt.eog_tokens.begin(), mt.eog_tokens.end(), *id) == mt.eog_tokens.end()) {
      mt.eog_tokens.push_back(*id);
    }
  }
  return mt;
}

TextStreamFactory ModelText::stream_factory() const {
  const text::Tokenizer* tok = tokenizer.get();
  return [tok]() -> std::unique_ptr<TokenTextStream> { return std::make_unique<DecoderStream>(*tok); };
}

}  // namespace parley::lm
