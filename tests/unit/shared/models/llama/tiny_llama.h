// Test support: writes tiny random Llama / Qwen2 GGUF models (any head counts, tied or untied,
// f32 or GGUF-quantized projections incl. K-quant mixtures like llama.cpp's Q4_K_M, QKV biases)
// and a float64 reference forward pass over the same weights.
// Why: the model tests need models whose answers are known without a download. Depends on
// shared/engine/gguf (writer), kernels gguf_quantize, shared/models/llama (tensor_rows_f32).
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/ops/quantize.h"
#include "shared/models/llama/linear.h"
#include "shared/engine/gguf/gguf.h"
#include "shared/engine/gguf/gguf_writer.h"

namespace parley::llama::testing {

namespace gguf = engine::gguf;

struct TinySpec {
  std::int64_t vocab = 96, hidden = 64, heads = 4, kv_heads = 2, ffn = 96, layers = 2;
  std::int64_t rotary_dim = 0;  // 0 = head_dim
  float theta = 10000.0f, eps = 1e-5f;
  bool tied = false;
  gguf::GgmlType proj_type = gguf::GgmlType::kF32;  // kF32 or any GGUF type the engine decodes
  gguf::GgmlType embd_type = gguf::GgmlType::kF32;
  std::uint32_t seed = 1;
  std::string arch = "llama";  // "llama" or "qwen2" (keys qwen2.*, half RoPE)
  bool qkv_bias = false;       // blk.N.attn_{q,k,v}.bias
  std::optional<gguf::GgmlType> v_type;         // attn_v (default proj_type), e.g. q8_0 in Q4_K_M
  std::vector<gguf::GgmlType> down_types;       // ffn_down per layer (cycled; empty = proj_type)
};

inline std::vector<float> random_values(std::mt19937& rng, std::int64_t n, float scale, float mean = 0.0f) {
  std::normal_distribution<float> d(mean, scale);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

inline std::vector<std::byte> encode(const std::vector<float>& w, std::int64_t rows, std::int64_t cols, gguf::GgmlType t) {
  if (t == gguf::GgmlType::kF32) {
    const auto* p = reinterpret_cast<const std::byte*>(w.data());
    return std::vector<std::byte>(p, p + w.size() * 4);
  }
  const engine::DType dt = *gguf::ggml_type_info(t).engine_dtype;
  const std::int64_t rb = engine::row_bytes(dt, cols);
  std::vector<std::byte> out(static_cast<std::size_t>(rows * rb));
  kernels::GgufQuantizeArgs q;
  q.rows = rows; q.cols = cols; q.x = w.data(); q.ldx = cols; q.type = dt; q.y = out.data(); q.y_row_bytes = rb;
  (void)kernels::cpu::gguf_quantize(q);
  return out;
}

/// GGUF bytes of a random model.
inline std::vector<std::uint8_t> tiny_llama_bytes(const TinySpec& s) {
  std::mt19937 rng(s.seed);
  gguf::GgufWriter w;
  const std::string a = s.arch + ".";
  w.set_string("general.architecture", s.arch);
  w.set_string("general.name", "tiny-random-" + s.arch);
  w.set_u32(a + "block_count", static_cast<std::uint32_t>(s.layers));
  w.set_u32(a + "context_length", 256);
  w.set_u32(a + "embedding_length", static_cast<std::uint32_t>(s.hidden));
  w.set_u32(a + "feed_forward_length", static_cast<std::uint32_t>(s.ffn));
  w.set_u32(a + "attention.head_count", static_cast<std::uint32_t>(s.heads));
  w.set_u32(a + "attention.head_count_kv", static_cast<std::uint32_t>(s.kv_heads));
  w.set_f32(a + "rope.freq_base", s.theta);
  w.set_u32(a + "rope.dimension_count", static_cast<std::uint32_t>(s.rotary_dim ? s.rotary_dim : s.hidden / s.heads));
  w.set_f32(a + "attention.layer_norm_rms_epsilon", s.eps);
  const std::int64_t hd = s.hidden / s.heads;
  auto add = [&](const std::string& name, std::int64_t rows, std::int64_t cols, float scale, gguf::GgmlType t, float mean = 0.0f) {
    auto v = random_values(rng, rows * cols, scale, mean);
    std::vector<std::int64_t> dims = rows == 1 ? std::vector<std::int64_t>{cols} : std::vector<std::int64_t>{cols, rows};
    (void)w.add_tensor(name, dims, t, encode(v, rows, cols, t));
  };
  add("token_embd.weight", s.vocab, s.hidden, 1.0f, s.embd_type);
  for (std::int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const float in_scale = 1.0f / std::sqrt(static_cast<float>(s.hidden));
    add(p + "attn_norm.weight", 1, s.hidden, 0.1f, gguf::GgmlType::kF32, 1.0f);
    add(p + "attn_q.weight", s.heads * hd, s.hidden, 2 * in_scale, s.proj_type);
    add(p + "attn_k.weight", s.kv_heads * hd, s.hidden, 2 * in_scale, s.proj_type);
    add(p + "attn_v.weight", s.kv_heads * hd, s.hidden, in_scale, s.v_type.value_or(s.proj_type));
    if (s.qkv_bias) {
      add(p + "attn_q.bias", 1, s.heads * hd, 0.5f, gguf::GgmlType::kF32);
      add(p + "attn_k.bias", 1, s.kv_heads * hd, 0.5f, gguf::GgmlType::kF32);
      add(p + "attn_v.bias", 1, s.kv_heads * hd, 0.1f, gguf::GgmlType::kF32);
    }
    add(p + "attn_output.weight", s.hidden, s.heads * hd, in_scale, s.proj_type);
    add(p + "ffn_norm.weight", 1, s.hidden, 0.1f, gguf::GgmlType::kF32, 1.0f);
    add(p + "ffn_gate.weight", s.ffn, s.hidden, in_scale, s.proj_type);
    add(p + "ffn_up.weight", s.ffn, s.hidden, in_scale, s.proj_type);
    const gguf::GgmlType down = s.down_types.empty() ? s.proj_type : s.down_types[static_cast<std::size_t>(l) % s.down_types.size()];
    add(p + "ffn_down.weight", s.hidden, s.ffn, 1.0f / std::sqrt(static_cast<float>(s.ffn)), down);
  }
  add("output_norm.weight", 1, s.hidden, 0.1f, gguf::GgmlType::kF32, 1.0f);
  if (!s.tied) add("output.weight", s.vocab, s.hidden, 1.0f / std::sqrt(static_cast<float>(s.hidden)), s.proj_type);
  return w.serialize();
}

inline std::shared_ptr<const gguf::GgufFile> tiny_llama(const TinySpec& s) {
  auto r = gguf::GgufFile::from_bytes(tiny_llama_bytes(s), "tiny-llama.gguf");
  return r.ok() ? *r : nullptr;
}

/// Float64 reference: logits [tokens.size(), vocab] for every position of one sequence, computed
/// from the file's weights (dequantized) with no cache. RoPE: interleaved pairs for llama (GGUF's
/// permuted Q/K), halves for qwen2; Q/K/V biases when the file has them.
inline std::vector<double> reference_logits(const gguf::GgufFile& f, const std::vector<std::int32_t>& tokens) {
  const std::string arch = *f.get_string("general.architecture");
  auto u = [&](const char* k) { return static_cast<std::int64_t>(*f.get_u32(arch + "." + k)); };
  const std::int64_t H = u("embedding_length"), F = u("feed_forward_length"), L = u("block_count");
  const std::int64_t nh = u("attention.head_count"), nkv = u("attention.head_count_kv");
  const std::int64_t hd = H / nh, rot = u("rope.dimension_count");
  const double theta = *f.get_f32(arch + ".rope.freq_base"), eps = *f.get_f32(arch + ".attention.layer_norm_rms_epsilon");
  const bool half = arch == "qwen2";
  auto W = [&](const std::string& name) {
    const auto* t = f.find_tensor(name);
    return *tensor_rows_f32(*t, 0, t->rows(), kernels::ExecContext::cpu());
  };
  const auto T = static_cast<std::int64_t>(tokens.size());
  const auto embd = W("token_embd.weight");
  const std::int64_t V = f.find_tensor("token_embd.weight")->rows();
  std::vector<double> x(static_cast<std::size_t>(T * H));
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t i = 0; i < H; ++i) x[t * H + i] = embd[tokens[t] * H + i];
  auto rms = [&](const std::vector<double>& in, const std::vector<float>& g) {
    std::vector<double> out(in.size());
    for (std::int64_t t = 0; t < T; ++t) {
      double ss = 0;
      for (std::int64_t i = 0; i < H; ++i) ss += in[t * H + i] * in[t * H + i];
      const double inv = 1.0 / std::sqrt(ss / H + eps);
      for (std::int64_t i = 0; i < H; ++i) out[t * H + i] = in[t * H + i] * inv * g[i];
    }
    return out;
  };
  auto matmul = [&](const std::vector<double>& in, std::int64_t K, const std::vector<float>& w, std::int64_t N) {
    std::vector<double> out(static_cast<std::size_t>(T * N));
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (std::int64_t k = 0; k < K; ++k) acc += in[t * K + k] * w[n * K + k];
        out[t * N + n] = acc;
      }
    return out;
  };
  auto rope = [&](std::vector<double>& v, std::int64_t heads) {
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t h = 0; h < heads; ++h)
        for (std::int64_t i = 0; i < rot / 2; ++i) {
          const double ang = t * std::pow(theta, -2.0 * i / rot);
          double& a = v[(t * heads + h) * hd + (half ? i : 2 * i)];
          double& b = v[(t * heads + h) * hd + (half ? i + rot / 2 : 2 * i + 1)];
          const double a0 = a, b0 = b;
          a = a0 * std::cos(ang) - b0 * std::sin(ang);
          b = a0 * std::sin(ang) + b0 * std::cos(ang);
        }
  };
  for (std::int64_t l = 0; l < L; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    auto h = rms(x, W(p + "attn_norm.weight"));
    auto q = matmul(h, H, W(p + "attn_q.weight"), nh * hd);
    auto k = matmul(h, H, W(p + "attn_k.weight"), nkv * hd);
    auto v = matmul(h, H, W(p + "attn_v.weight"), nkv * hd);
    if (f.find_tensor(p + "attn_q.bias") != nullptr) {
      for (auto [out, name, n] : {std::tuple{&q, "attn_q.bias", nh * hd}, std::tuple{&k, "attn_k.bias", nkv * hd},
                                  std::tuple{&v, "attn_v.bias", nkv * hd}}) {
        const auto b = W(p + name);
        for (std::int64_t t = 0; t < T; ++t)
          for (std::int64_t i = 0; i < n; ++i) (*out)[t * n + i] += b[i];
      }
    }
    rope(q, nh);
    rope(k, nkv);
    std::vector<double> att(static_cast<std::size_t>(T * nh * hd), 0.0);
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t hh = 0; hh < nh; ++hh) {
        const std::int64_t g = hh / (nh / nkv);
        std::vector<double> sc(static_cast<std::size_t>(t + 1));
        double mx = -1e300;
        for (std::int64_t j = 0; j <= t; ++j) {
          double d = 0;
          for (std::int64_t i = 0; i < hd; ++i) d += q[(t * nh + hh) * hd + i] * k[(j * nkv + g) * hd + i];
          sc[j] = d / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, sc[j]);
        }
        double sum = 0;
        for (auto& s : sc) sum += (s = std::exp(s - mx));
        for (std::int64_t j = 0; j <= t; ++j)
          for (std::int64_t i = 0; i < hd; ++i) att[(t * nh + hh) * hd + i] += sc[j] / sum * v[(j * nkv + g) * hd + i];
      }
    auto o = matmul(att, nh * hd, W(p + "attn_output.weight"), H);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += o[i];
    h = rms(x, W(p + "ffn_norm.weight"));
    auto gate = matmul(h, H, W(p + "ffn_gate.weight"), F);
    auto up = matmul(h, H, W(p + "ffn_up.weight"), F);
    for (std::size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];
    auto d = matmul(gate, F, W(p + "ffn_down.weight"), H);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += d[i];
  }
  auto h = rms(x, W("output_norm.weight"));
  const std::string head = f.find_tensor("output.weight") ? "output.weight" : "token_embd.weight";
  return matmul(h, H, W(head), V);
}

}  // namespace parley::llama::testing
