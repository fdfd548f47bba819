// EncoderModel: the immutable, shared weights of one BERT-family encoder, converted once at load
// into the engine's layouts (INT8 per-output-channel, packed BF16 or FP32 [out, in] linears,
// Q|K|V fused) and placed on the model's device.
// Why: a model is loaded once per process and shared by every worker (EncoderSession holds the
// per-worker scratch). Depends on config.h, shared/engine/safetensors, shared/models/runtime,
// kernels/ (backend table).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shared/common/status.h"
#include "shared/engine/device.h"
#include "shared/engine/safetensors/safetensors.h"
#include "shared/models/encoder/batch.h"
#include "shared/models/encoder/config.h"
#include "shared/models/runtime/model_device.h"

namespace parley::encoder {

/// Precision of the linear layers (embeddings, norms and attention stay FP32).
enum class Precision : std::uint8_t {
  kInt8 = 0,  ///< reduced precision: W8A8 (int8 weights per output channel, activations per
              ///< token) and BF16 linears as LoadOptions choose
  kFp32 = 1,
};
std::string_view precision_name(Precision p);

/// One linear layer y = x W^T + b, W stored [out, in] (PyTorch layout), in HOST memory: the
/// load-time form the converters work on (DeviceLinear is what the session runs).
struct Linear {
  std::int64_t out = 0, in = 0;
  bool int8 = false;
  std::vector<float> w;               ///< FP32 [out, in] (when !int8)
  std::vector<std::int8_t> wq;        ///< INT8 [out, in] (when int8; [2*out, in] with weight_two_pass)
  std::vector<float> w_scales;        ///< [out] (when int8; [2*out] with weight_two_pass)
  std::vector<float> bias;            ///< [out]
  /// SmoothQuant: the input is multiplied column-wise by in_scale (1/s) before it is quantized;
  /// the int8 weights hold W * s. Empty = no smoothing.
  std::vector<float> in_scale;        ///< [in] or empty
  /// Two-pass activations: x ~ s1*q1 + s2*q2 where q2 quantizes the residual x - s1*q1, so the
  /// layer runs two int8 GEMMs (~15-bit activations at 2x the int8 cost, still < FP32's).
  bool two_pass = false;
  /// Two-pass weights: rows [out, 2*out) of wq / w_scales quantize the per-channel residual
  /// W*s - w_scales*wq of rows [0, out) (~15-bit weights); the GEMM runs over 2*out channels.
  bool weight_two_pass = false;
  /// BF16: runs as the backend's bf16_linear; W is packed into the device's layout when the model
  /// is placed (w is then empty; bf16_bytes says how much the packed copy takes).
  bool bf16 = false;
  std::size_t bf16_bytes = 0;
  /// 2:4 sparse INT8 (LoadOptions::sparse24): wq is 2:4 sparse and runs as the backend's
  /// sparse24_gemm, compressed (kernels kCpu layout) and packed by the device's backend when the
  /// model is placed; sparse24_bytes says how much the packed copy takes.
  bool sparse24 = false;
  std::size_t sparse24_bytes = 0;
};

struct NormWeights {
  std::vector<float> gamma, beta;
};

struct LayerWeights {
  Linear qkv;        ///< [3*hidden, hidden]: rows 0..H-1 query, H..2H-1 key, 2H..3H-1 value
  Linear attn_out;   ///< [hidden, hidden]
  NormWeights attn_norm;
  Linear ffn_in;     ///< [intermediate, hidden]
  Linear ffn_out;    ///< [hidden, intermediate]
  NormWeights ffn_norm;
};

struct EncoderWeights {
  std::vector<float> word;         ///< [vocab, hidden]
  std::vector<float> position;     ///< [max_positions, hidden]
  std::vector<float> token_type;   ///< [type_vocab, hidden] (empty when type_vocab == 0)
  NormWeights embed_norm;
  std::vector<LayerWeights> layers;
  /// MPNet's relative position bias, expanded from its buckets to one value per head and
  /// key-minus-query distance: [heads, 2 * relative_max_distance + 1] (kernels' rel_bias layout;
  /// shared by every layer); empty when the config has no relative buckets. Not trained.
  std::vector<float> relative_bias;
  /// When set, the word table is this array, shared with another model, and `word` is empty: a
  /// fine-tuned encoder whose word embeddings were not trained shares its base's instead of
  /// holding a copy (MiniLM: 47 MB of its 64 MB). Read the table through word_table().
  std::shared_ptr<const std::vector<float>> shared_word;
  const std::vector<float>& word_table() const { return shared_word ? *shared_word : word; }
};

/// Expands an MPNet relative_attention_bias table ([buckets, heads], as stored) into
/// EncoderWeights::relative_bias. InvalidArgument when its size does not match the config.
Result<std::vector<float>> expand_relative_bias(const std::vector<float>& buckets_by_head, const EncoderConfig& config);

/// A linear on the model's device: views of Linear's arrays (the arrays themselves on the CPU),
/// or the backend's packed BF16 copy.
struct DeviceLinear {
  std::int64_t out = 0, in = 0;
  bool int8 = false, two_pass = false, weight_two_pass = false, bf16 = false, sparse24 = false;
  models::DeviceView<float> w, w_scales, bias, in_scale;
  models::DeviceView<std::int8_t> wq;  ///< empty when sparse24
  models::DeviceBuffer wb;  ///< bf16: the backend's pack_bf16 layout; sparse24: its pack_sparse24 layout
};

struct DeviceNorm {
  models::DeviceView<float> gamma, beta;
};

struct DeviceLayer {
  DeviceLinear qkv, attn_out, ffn_in, ffn_out;
  DeviceNorm attn_norm, ffn_norm;
};

/// Every weight on the model's device (what EncoderSession reads).
struct DeviceWeights {
  models::DeviceView<float> word, position, token_type, relative_bias;
  DeviceNorm embed_norm;
  std::vector<DeviceLayer> layers;
};

/// Which linears of each layer run in INT8 / BF16 when precision is kInt8 (bit masks).
enum LinearMask : std::uint32_t {
  kQkvLinear = 1u, kAttnOutLinear = 2u, kFfnInLinear = 4u, kFfnOutLinear = 8u, kAllLinears = 15u,
};

struct LoadOptions {
  Precision precision = Precision::kInt8;
  /// Defaults (all-MiniLM-L6-v2, model test's 100 sentences, cosine to FP64): INT8 weights for
  /// Q|K|V, attention output and FFN input (two-pass activations on Q|K|V and FFN input); the FFN
  /// output, whose per-channel int8 weights alone cost up to 0.3% cosine on short inputs, in BF16
  /// on CPUs with AVX-512 BF16 (twice the FP32 rate, FP32-class accuracy), else FP32.
  /// Min 0.9992, mean 0.9998; with the BF16 FFN output 1.4-1.5x ONNX Runtime FP32 here.
  /// bf16() (every linear BF16: min 0.99994) is the most accurate fast preset where BF16 exists;
  /// fast_int8() is plain W8A8 everywhere (cosine ~0.985 min / 0.998 mean).
  std::uint32_t int8_linears = kQkvLinear | kAttnOutLinear | kFfnInLinear;  ///< LinearMask bits (with AVX-512 BF16)
  std::uint32_t int8_linears_without_bf16 = kQkvLinear | kAttnOutLinear | kFfnInLinear;  ///< LinearMask bits
  /// SmoothQuant (kInt8): per input channel j, s_j = amax(X_j)^alpha / amax(W_j)^(1-alpha) moves
  /// activation outliers (BERT's LayerNorm outputs have a few huge channels) into the weights.
  /// amax(X_j) comes from an FP32 calibration pass at load over `calibration` (real text is best:
  /// the Encoder facade passes tokenized built-in sentences) or, when null, over pseudo-random
  /// token ids (fixed seed; the outlier channels are a property of the model, not of the text).
  std::uint32_t int8_two_pass = kQkvLinear | kFfnInLinear;  ///< int8 linears with two-pass activations
  /// int8 linears with two-pass weights (see Linear::weight_two_pass).
  std::uint32_t int8_weight_two_pass = 0;
  /// Linears outside int8_linears run in BF16 (bf16 weights and activations, f32 accumulation:
  /// twice the FP32 rate, FP32-class accuracy: all four in BF16 give min 0.99994) when the
  /// device's backend offers bf16_linear (the CPU only with AVX-512 BF16; every CUDA device);
  /// otherwise, or outside this mask, FP32. 0 = no BF16 anywhere (then int8_linears applies).
  std::uint32_t bf16_linears = kAllLinears;
  bool smooth = true;
  float smooth_alpha = 0.5f;
  /// 2:4 sparse INT8: the int8 linears hold weights already pruned to 2:4 (a model fine-tuned with
  /// fixed 2:4 masks, encoder::train) and run as the backend's sparse24_gemm (W8A8, one activation
  /// and one weight pass: int8_two_pass / int8_weight_two_pass are ignored for them). Half the
  /// weight bytes; faster only where the backend has sparse math (CUDA sparse tensor cores: the
  /// CPU expands the weights into dense tiles, kernels/README.md). InvalidArgument at load names
  /// a linear that is not 2:4; UNIMPLEMENTED when the device's backend has no 2:4 GEMM.
  bool sparse24 = false;
  const TokenBatch* calibration = nullptr;
  /// Maximum tokens per sequence; 0 = sentence_bert_config.json's max_seq_length when present,
  /// else the model's max_position_embeddings (minus the RoBERTa offset). Clamped to the latter.
  std::int64_t max_length = 0;
  /// Where the model runs (weights uploaded once at load; calibration always runs on the CPU).
  /// UNAVAILABLE at load when no backend serves it.
  engine::Device device = engine::Device::cpu();

  /// Every linear BF16 where the CPU has AVX-512 BF16 (no INT8); elsewhere the INT8 default.
  static LoadOptions bf16() {
    LoadOptions o;
    o.int8_linears = 0;
    return o;
  }

  /// Plain W8A8 on every linear, one activation pass (fastest; lower accuracy, see above).
  static LoadOptions fast_int8() {
    LoadOptions o;
    o.int8_linears = kAllLinears;
    o.int8_linears_without_bf16 = kAllLinears;
    o.int8_two_pass = 0;
    return o;
  }

  /// fast_int8() on 2:4 sparse weights: every linear a 2:4 INT8 GEMM (see sparse24).
  static LoadOptions sparse24_int8() {
    LoadOptions o = fast_int8();
    o.sparse24 = true;
    return o;
  }
};

/// Prunes every linear of FP32 host weights to 2:4 by magnitude (kernels::prune24: per group of 4
/// along the input, the 2 largest stay), the starting point of a 2:4 model (sparse24_int8; its
/// accuracy needs fine-tuning with the masks fixed, encoder/train). InvalidArgument for int8 or
/// packed linears (no FP32 weights left) or an input size that is not a multiple of 4.
Status prune_linears_2to4(EncoderWeights& weights);

/// Immutable after load; share it as std::shared_ptr<const EncoderModel> between threads.
///
///   PARLEY_ASSIGN_OR_RETURN(auto model, EncoderModel::load(dir, {.precision = Precision::kInt8}));
///   EncoderSession session(model);          // one per worker thread (session.h)
class EncoderModel {
 public:
  /// Reads `dir`/config.json, `dir`/model.safetensors and the optional sentence-transformers files
  /// (1_Pooling/config.json, modules.json, sentence_bert_config.json). NotFound names a missing
  /// file; InvalidArgument/DataLoss name the bad tensor.
  static Result<std::shared_ptr<const EncoderModel>> load(const std::string& dir, const LoadOptions& options = {});
  /// From an open weights file and a parsed config (tests build tiny models in memory).
  static Result<std::shared_ptr<const EncoderModel>> from_weights(const safetensors::File& file, const EncoderConfig& config,
                                                                  const SentenceConfig& sentence,
                                                                  const LoadOptions& options = {});

  /// From FP32 host weights (a fine-tuned encoder: encoder::train::TrainableEncoder::export_weights),
  /// converted and placed as `options` say, exactly like load(). InvalidArgument when the arrays do
  /// not match `config`.
  static Result<std::shared_ptr<const EncoderModel>> from_host_weights(EncoderWeights weights, const EncoderConfig& config,
                                                                       const SentenceConfig& sentence,
                                                                       const LoadOptions& options = {});

  const EncoderConfig& config() const { return config_; }
  const SentenceConfig& sentence() const { return sentence_; }
  Precision precision() const { return precision_; }
  /// The converted weights in host memory (load-time form; kept for inspection).
  const EncoderWeights& weights() const { return weights_; }
  /// Where the model runs, and its weights there.
  const models::ModelDevice& device() const { return device_; }
  const DeviceWeights& device_weights() const { return device_weights_; }
  std::int64_t hidden_size() const { return config_.hidden; }
  /// Longest sequence encode() accepts, in tokens (specials included).
  std::int64_t max_length() const { return max_length_; }
  /// Bytes of the host arrays this model holds itself (a shared word table is its owner's).
  std::size_t weight_bytes() const;

 private:
  EncoderModel() = default;
  // The common tail of every constructor: length limit, calibration / int8 / bf16, placement.
  static Result<std::shared_ptr<const EncoderModel>> finish(std::shared_ptr<EncoderModel> m, const LoadOptions& options);
  // Calibrates (SmoothQuant, on the CPU) and quantizes the linears selected by
  // options.int8_linears (int8_linears_without_bf16 when the target has no bf16_linear).
  Status to_int8(const LoadOptions& options, bool target_bf16);
  // Marks the remaining FP32 linears selected by options.bf16_linears as BF16.
  void to_bf16(const LoadOptions& options);
  // (Re)builds device_weights_ on `dev` from weights_ (CPU: views; else uploads, BF16 packing).
  Status place(const models::ModelDevice& dev);
  EncoderConfig config_;
  SentenceConfig sentence_;
  Precision precision_ = Precision::kInt8;
  std::int64_t max_length_ = 0;
  EncoderWeights weights_;
  models::ModelDevice device_ = models::ModelDevice::cpu();
  DeviceWeights device_weights_;
};

/// Makes `weights` read `owner`'s word table instead of holding its own copy (EncoderWeights::
/// shared_word; the owner, or the array it shares itself, stays alive with them) when the two are bit-identical: a fine-tuned
/// encoder whose word embeddings were not trained, or the FP32 and INT8 copies of one model.
/// Returns whether it did; otherwise `weights` is unchanged.
bool share_word_table(EncoderWeights& weights, const std::shared_ptr<const EncoderModel>& owner);

}  // namespace parley::encoder
