// config.json / sentence-transformers head parsing (see config.h).
// Why: these files come from users; every missing or odd field is a Status naming it.
// Depends on config.h, shared/common/json_document.h.
#include "shared/models/encoder/config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "shared/common/json_document.h"

namespace parley::encoder {

std::string_view family_name(Family f) {
  switch (f) {
    case Family::kBert: return "bert";
    case Family::kDistilBert: return "distilbert";
    case Family::kRoberta: return "roberta";
    case Family::kMpnet: return "mpnet";
  }
  return "?";
}

std::string_view pooling_name(Pooling p) {
  switch (p) {
    case Pooling::kMean: return "mean";
    case Pooling::kCls: return "cls";
    case Pooling::kMax: return "max";
  }
  return "?";
}

Status EncoderConfig::validate() const {
  auto bad = [](const std::string& m) { return invalid_argument("encoder config: " + m); };
  if (vocab_size <= 0 || vocab_size > 10'000'000) return bad("vocab_size " + std::to_string(vocab_size) + " out of range");
  if (hidden <= 0 || hidden > 65536) return bad("hidden_size " + std::to_string(hidden) + " out of range");
  if (layers <= 0 || layers > 1024) return bad("num_hidden_layers " + std::to_string(layers) + " out of range");
  if (heads <= 0 || hidden % heads != 0) {
    return bad("num_attention_heads " + std::to_string(heads) + " does not divide hidden_size " + std::to_string(hidden));
  }
  if (intermediate <= 0 || intermediate > 1'000'000) return bad("intermediate_size out of range");
  if (max_positions <= 0 || max_positions > 1'000'000) return bad("max_position_embeddings out of range");
  if (type_vocab < 0 || type_vocab > 1024) return bad("type_vocab_size out of range");
  if (position_offset < 0 || position_offset >= max_positions) return bad("position offset out of range");
  if (!(layer_norm_eps > 0.0f)) return bad("layer_norm_eps must be > 0");
  if (relative_buckets < 0 || relative_buckets > 1024 || (relative_buckets > 0 && relative_buckets < 4)) {
    return bad("relative_attention_num_buckets " + std::to_string(relative_buckets) + " out of range (4 .. 1024)");
  }
  if (relative_buckets > 0 && (relative_max_distance < relative_buckets / 4 + 1 || relative_max_distance > 65536)) {
    return bad("relative max distance " + std::to_string(relative_max_distance) + " out of range");
  }
  return Status::ok();
}

namespace {

Result<kernels::Activation> parse_activation(const std::string& s) {
  if (s == "gelu") return kernels::Activation::kGeluErf;
  if (s == "gelu_new" || s == "gelu_pytorch_tanh" || s == "gelu_fast") return kernels::Activation::kGeluTanh;
  if (s == "relu") return kernels::Activation::kRelu;
  if (s == "silu" || s == "swish") return kernels::Activation::kSilu;
  return invalid_argument("encoder config: unsupported hidden_act \"" + s + "\" (gelu, gelu_new, relu, silu)");
}

// Integer field with a default when absent; a present field of the wrong type is an error.
Result<std::int64_t> int_or(const json::Value& o, std::string_view key, std::int64_t fallback) {
  if (o.find(key) == nullptr || o.find(key)->is_null()) return fallback;
  return json::get_int(o, key);
}

}  // namespace

std::int64_t relative_position_bucket(std::int64_t d, std::int64_t buckets, std::int64_t max_distance) {
  // transformers' MPNet / T5: n = -d; half the buckets for n < 0; exact below max_exact, then
  // max_exact + log(n / max_exact) / log(max_distance / max_exact) * (half - max_exact), in f32.
  const std::int64_t half = buckets / 2, max_exact = half / 2;
  std::int64_t n = -d, ret = 0;
  if (n < 0) ret += half;
  n = n < 0 ? -n : n;
  if (n < max_exact) return ret + n;
  const float ratio = std::log(static_cast<float>(n) / static_cast<float>(max_exact)) /
                      static_cast<float>(std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact)));
  const auto large = max_exact + static_cast<std::int64_t>(ratio * static_cast<float>(half - max_exact));
  return ret + std::min(large, half - 1);
}

Result<EncoderConfig> parse_config_json(std::string_view text) {
  auto doc = json::parse(text);
  if (!doc.ok()) return invalid_argument("config.json: " + doc.status().message());
  const json::Value& o = *doc;
  if (!o.is_object()) return invalid_argument("config.json: not a JSON object");
  std::string model_type = "bert";
  if (const json::Value* mt = o.find("model_type"); mt != nullptr && mt->is_string()) model_type = mt->as_string();
  EncoderConfig c;
  PARLEY_ASSIGN_OR_RETURN(c.vocab_size, json::get_int(o, "vocab_size"));
  PARLEY_ASSIGN_OR_RETURN(c.max_positions, int_or(o, "max_position_embeddings", 512));
  PARLEY_ASSIGN_OR_RETURN(std::int64_t pad, int_or(o, "pad_token_id", 0));
  c.pad_token_id = static_cast<std::int32_t>(pad);
  if (model_type == "distilbert") {
    c.family = Family::kDistilBert;
    PARLEY_ASSIGN_OR_RETURN(c.hidden, json::get_int(o, "dim"));
    PARLEY_ASSIGN_OR_RETURN(c.layers, json::get_int(o, "n_layers"));
    PARLEY_ASSIGN_OR_RETURN(c.heads, json::get_int(o, "n_heads"));
    PARLEY_ASSIGN_OR_RETURN(c.intermediate, json::get_int(o, "hidden_dim"));
    c.type_vocab = 0;
    c.layer_norm_eps = 1e-12f;  // fixed in DistilBERT's modeling code
    std::string act = "gelu";
    if (const json::Value* a = o.find("activation"); a != nullptr && a->is_string()) act = a->as_string();
    PARLEY_ASSIGN_OR_RETURN(c.activation, parse_activation(act));
  } else if (model_type == "bert" || model_type == "roberta" || model_type == "xlm-roberta" ||
             model_type == "camembert" || model_type == "electra" || model_type == "mpnet") {
    c.family = (model_type == "bert" || model_type == "electra") ? Family::kBert
               : model_type == "mpnet"                           ? Family::kMpnet
                                                                 : Family::kRoberta;
    PARLEY_ASSIGN_OR_RETURN(c.hidden, json::get_int(o, "hidden_size"));
    PARLEY_ASSIGN_OR_RETURN(c.layers, json::get_int(o, "num_hidden_layers"));
    PARLEY_ASSIGN_OR_RETURN(c.heads, json::get_int(o, "num_attention_heads"));
    PARLEY_ASSIGN_OR_RETURN(c.intermediate, json::get_int(o, "intermediate_size"));
    PARLEY_ASSIGN_OR_RETURN(c.type_vocab, int_or(o, "type_vocab_size", 2));
    if (const json::Value* e = o.find("layer_norm_eps"); e != nullptr && e->is_number()) {
      c.layer_norm_eps = static_cast<float>(e->as_double());
    }
    std::string act = "gelu";
    if (const json::Value* a = o.find("hidden_act"); a != nullptr && a->is_string()) act = a->as_string();
    PARLEY_ASSIGN_OR_RETURN(c.activation, parse_activation(act));
    if (const json::Value* p = o.find("position_embedding_type");
        p != nullptr && p->is_string() && p->as_string() != "absolute") {
      return invalid_argument("config.json: position_embedding_type \"" + p->as_string() +
                              "\" is not supported (absolute only)");
    }
    if (c.family == Family::kRoberta || c.family == Family::kMpnet) c.position_offset = c.pad_token_id + 1;
    if (c.family == Family::kMpnet) {
      // MPNet: no token types; positions as RoBERTa; relative buckets (max distance 128 is fixed
      // in its modeling code).
      c.type_vocab = 0;
      PARLEY_ASSIGN_OR_RETURN(c.relative_buckets, int_or(o, "relative_attention_num_buckets", 32));
    }
  } else {
    return invalid_argument("config.json: model_type \"" + model_type +
                            "\" is not a supported encoder (bert, distilbert, roberta, xlm-roberta, mpnet)");
  }
  PARLEY_RETURN_IF_ERROR(c.validate());
  return c;
}

Result<std::string> read_text_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return not_found(path + ": no such file");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return unavailable(path + ": " + ec.message());
  if (size > 64u * 1024u * 1024u) return invalid_argument(path + ": larger than 64 MiB");
  std::ifstream f(path, std::ios::binary);
  if (!f) return unavailable(path + ": cannot open");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Result<SentenceConfig> read_sentence_config(const std::string& dir) {
  SentenceConfig sc;
  auto pooling = read_text_file(dir + "/1_Pooling/config.json");
  if (pooling.ok()) {
    auto doc = json::parse(*pooling);
    if (!doc.ok()) return invalid_argument(dir + "/1_Pooling/config.json: " + doc.status().message());
    auto flag = [&](std::string_view k) {
      const json::Value* v = doc->find(k);
      return v != nullptr && v->as_bool();
    };
    if (flag("pooling_mode_cls_token")) sc.pooling = Pooling::kCls;
    else if (flag("pooling_mode_max_tokens")) sc.pooling = Pooling::kMax;
    else if (flag("pooling_mode_mean_tokens")) sc.pooling = Pooling::kMean;
    else return invalid_argument(dir + "/1_Pooling/config.json: no supported pooling mode (cls, mean, max)");
  }
  auto modules = read_text_file(dir + "/modules.json");
  if (modules.ok()) {
    auto doc = json::parse(*modules);
    if (!doc.ok()) return invalid_argument(dir + "/modules.json: " + doc.status().message());
    sc.normalize = false;
    for (const json::Value& m : doc->as_array()) {
      const json::Value* type = m.find("type");
      if (type != nullptr && type->as_string().find("Normalize") != std::string::npos) sc.normalize = true;
    }
  }
  auto sb = read_text_file(dir + "/sentence_bert_config.json");
  if (sb.ok()) {
    auto doc = json::parse(*sb);
    if (!doc.ok()) return invalid_argument(dir + "/sentence_bert_config.json: " + doc.status().message());
    if (const json::Value* v = doc->find("max_seq_length"); v != nullptr && v->as_int() && *v->as_int() > 0) {
      sc.max_seq_length = *v->as_int();
    }
  }
  return sc;
}

}  // namespace parley::encoder
