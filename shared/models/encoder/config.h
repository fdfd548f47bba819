// EncoderConfig: the shape of a BERT-family encoder (BERT, MiniLM, DistilBERT, RoBERTa, MPNet) and its
// sentence-embedding head (pooling + normalize), read from the Hugging Face / sentence-transformers
// files of a model directory.
// Why: one block structure serves every family; a family is a config and a weight-name map, never
// a new class. Depends on shared/common, shared/common/json_document.h, kernels/ops/common.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kernels/ops/common.h"
#include "shared/common/status.h"

namespace parley::encoder {

/// Weight naming/layout families (see weights.cc for the names each one reads).
enum class Family : std::uint8_t { kBert = 0, kDistilBert = 1, kRoberta = 2, kMpnet = 3 };
std::string_view family_name(Family f);

struct EncoderConfig {
  Family family = Family::kBert;
  std::int64_t vocab_size = 0;
  std::int64_t hidden = 0;
  std::int64_t layers = 0;
  std::int64_t heads = 0;
  std::int64_t intermediate = 0;
  std::int64_t max_positions = 512;
  std::int64_t type_vocab = 2;        ///< 0 = no token-type embeddings (DistilBERT)
  std::int64_t position_offset = 0;   ///< RoBERTa: positions start at pad_token_id + 1
  std::int32_t pad_token_id = 0;
  float layer_norm_eps = 1e-12f;
  kernels::Activation activation = kernels::Activation::kGeluErf;
  /// MPNet: a learned bias per head on every attention score, looked up by the bucket of the
  /// key's distance from the query (T5's bidirectional buckets); 0 = none.
  std::int64_t relative_buckets = 0;
  std::int64_t relative_max_distance = 128;  ///< distances past this share the last bucket

  std::int64_t head_dim() const { return heads > 0 ? hidden / heads : 0; }
  /// InvalidArgument naming the field when the shape is inconsistent or out of sane bounds.
  Status validate() const;
};

/// The bucket of key-minus-query distance `d` (T5 / MPNet relative_position_bucket, bidirectional:
/// half the buckets for keys before the query; exact up to buckets/4, then logarithmic up to
/// max_distance), computed in f32 as the reference implementations do.
std::int64_t relative_position_bucket(std::int64_t d, std::int64_t buckets, std::int64_t max_distance);

/// Parses a Hugging Face config.json (model_type bert / distilbert / roberta / xlm-roberta / mpnet and
/// architectures derived from them; hidden_act gelu, gelu_new, gelu_pytorch_tanh, relu, silu).
Result<EncoderConfig> parse_config_json(std::string_view text);

enum class Pooling : std::uint8_t { kMean = 0, kCls = 1, kMax = 2 };
std::string_view pooling_name(Pooling p);

/// The sentence-embedding head: sentence-transformers' Pooling (1_Pooling/config.json) and
/// Normalize (listed in modules.json) modules, and its max_seq_length (sentence_bert_config.json).
struct SentenceConfig {
  Pooling pooling = Pooling::kMean;
  bool normalize = true;
  std::int64_t max_seq_length = 0;  ///< 0 = unknown (use the model's max_positions)
};

/// Reads what exists of 1_Pooling/config.json, modules.json and sentence_bert_config.json in
/// `dir`. Missing files keep the defaults above (mean pooling, L2-normalized: what
/// all-MiniLM-L6-v2 and most sentence-transformers models do). Bad JSON is InvalidArgument.
Result<SentenceConfig> read_sentence_config(const std::string& dir);

/// Whole-file read helper (NotFound when absent; files over 64 MiB are refused).
Result<std::string> read_text_file(const std::string& path);

}  // namespace parley::encoder
