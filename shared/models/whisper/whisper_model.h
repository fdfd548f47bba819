// WhisperModel: Whisper's weights (from a CTranslate2 WhisperSpec model.bin) converted once to
// the engine's layouts and uploaded to the model's device, plus the tokenizer and the decoding
// config (suppressed tokens) that ship beside it.
// Why: loaded once per process and shared by every worker (WhisperRunner holds per-worker state).
// Depends on shared/engine/ctranslate2, shared/models/runtime (ModelDevice, DeviceBuffer), tokenizer.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "shared/common/status.h"
#include "shared/engine/device.h"
#include "shared/models/runtime/model_device.h"
#include "shared/models/whisper/tokenizer.h"

namespace parley::whisper {

/// Shapes read from the file (tiny.en: 80 mels, d 384, 6 heads, 4 + 4 layers, ffn 1536,
/// vocab 51864, 1500 audio positions, 448 text positions).
struct WhisperConfig {
  int n_mels = 80;
  int d_model = 0;
  int heads = 0;
  int encoder_layers = 0;
  int decoder_layers = 0;
  int ffn = 0;
  int vocab = 0;
  int audio_ctx = 0;
  int text_ctx = 0;
  int head_dim() const { return heads > 0 ? d_model / heads : 0; }
};

enum class WhisperPrecision : std::uint8_t {
  kInt8 = 0,  ///< default: every linear (and conv2) as W8A8, per-channel weights, per-token activations
  kFp32 = 1,  ///< f32 weights (the exact-as-possible path)
};

struct WhisperLoadOptions {
  WhisperPrecision precision = WhisperPrecision::kInt8;
  /// Where the model runs (weights converted on the host, uploaded once at load).
  /// Unavailable at load when no backend serves it.
  engine::Device device = engine::Device::cpu();
};

/// One projection on the device: y = act(x W^T + b), W [n, k].
struct Linear {
  std::int64_t n = 0, k = 0;
  bool int8 = false;
  models::DeviceBuffer w;       ///< int8 [n, k] or f32 [n, k]
  models::DeviceBuffer scales;  ///< f32 [n] (int8 only)
  models::DeviceBuffer bias;    ///< f32 [n] or empty
  /// int8 only, where the backend runs int8_linear fast (CPU: AVX-512 VNNI): w packed once for
  /// it (pack_int8), so products of >= 16 rows skip gemm_int8's per-call packing. Else empty.
  models::DeviceBuffer packed;
};

struct LayerNormW {
  models::DeviceBuffer gamma, beta;  ///< f32 [d]
};

struct EncoderLayerW {
  LayerNormW ln_attn;
  Linear qkv, out;
  LayerNormW ln_ffn;
  Linear fc1, fc2;
};

struct DecoderLayerW {
  LayerNormW ln_self;
  Linear qkv, out;
  LayerNormW ln_cross;
  Linear cross_q, cross_kv, cross_out;
  LayerNormW ln_ffn;
  Linear fc1, fc2;
};

/// Decoding constants from config.json (CTranslate2's Whisper config).
struct DecodingConfig {
  std::vector<int> suppress_ids;        ///< "suppress_tokens = [-1]" expands to these
  std::vector<int> suppress_ids_begin;  ///< suppressed at the first sampled step (blank, eot)
};

/// Immutable after load; share it (shared_ptr) between workers.
///
///   PARLEY_ASSIGN_OR_RETURN(auto model, WhisperModel::load(model_root() + "/whisper-tiny-en"));
///   WhisperRunner runner(model);                      // one per worker thread
class WhisperModel {
 public:
  /// `dir` holds model.bin, vocabulary.txt and (optionally) config.json and tokenizer.json.
  /// NotFound for a missing file; InvalidArgument/DataLoss naming the variable for a bad one;
  /// Unavailable when the device has no backend.
  static Result<std::shared_ptr<const WhisperModel>> load(const std::string& dir, const WhisperLoadOptions& options = {});

  const WhisperConfig& config() const { return config_; }
  const WhisperTokenizer& tokenizer() const { return *tokenizer_; }
  const DecodingConfig& decoding() const { return decoding_; }
  const WhisperLoadOptions& options() const { return options_; }
  /// Where the model runs: device, backend table, allocator (its weights live there).
  const models::ModelDevice& device() const { return device_; }
  /// Bytes of device memory the weights take.
  std::size_t weight_bytes() const { return weight_bytes_; }
  /// English-only vocabulary (tiny.en, base.en: 51864 ids) vs multilingual.
  bool multilingual() const { return config_.vocab >= 51865; }

  // Weights (read by WhisperRunner).
  models::DeviceBuffer conv1_w;   ///< f32 [d, 3 * n_mels], taps outermost: row o = (w[o,:,0], w[o,:,1], w[o,:,2])
  models::DeviceBuffer conv1_b;   ///< f32 [d]
  Linear conv2;           ///< [d, 3 * d], same tap order, stride 2
  models::DeviceBuffer enc_pos;   ///< f32 [audio_ctx, d]
  std::vector<EncoderLayerW> enc;
  LayerNormW enc_ln;
  models::DeviceBuffer tok_emb;   ///< f16 [vocab, d]
  models::DeviceBuffer dec_pos;   ///< f32 [text_ctx, d]
  std::vector<DecoderLayerW> dec;
  LayerNormW dec_ln;
  Linear logits;          ///< [vocab, d] (the embeddings, tied)

 private:
  WhisperModel() = default;
  WhisperConfig config_;
  WhisperLoadOptions options_;
  models::ModelDevice device_ = models::ModelDevice::cpu();
  std::unique_ptr<WhisperTokenizer> tokenizer_;
  DecodingConfig decoding_;
  std::size_t weight_bytes_ = 0;
  friend class WhisperLoader;
};

}  // namespace parley::whisper
