// Test support: writes a tiny random Llama GGUF *with a tokenizer* (byte-level GPT-2 BPE over the
// 256 bytes, one merge, ChatML specials and template), so the LM service runs end to end without
// a download. Used by the unit, integration, CLI tests and the benchmark's smoke mode.
// Depends on shared/engine/gguf (writer).
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "shared/common/status.h"
#include "shared/engine/gguf/gguf_writer.h"

namespace parley::lm::testing {

struct TinyLmSpec {
  std::int64_t hidden = 64, heads = 4, kv_heads = 2, ffn = 128, layers = 2;
  std::uint32_t context = 512;
  std::uint32_t seed = 7;
};

/// GPT-2's byte -> printable code point table, as UTF-8 strings (index = byte).
inline std::vector<std::string> gpt2_byte_tokens() {
  std::vector<int> cps(256, -1);
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    cps[b] = printable ? b : 256 + n++;
  }
  std::vector<std::string> out(256);
  for (int b = 0; b < 256; ++b) {
    const int cp = cps[b];
    std::string s;
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else {
      s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    out[b] = s;
  }
  return out;
}

/// Token ids of the tiny vocabulary: 0..255 bytes, 256 "he", then the specials.
inline constexpr std::int32_t kTinyEndOfText = 257;
inline constexpr std::int32_t kTinyImStart = 258;
inline constexpr std::int32_t kTinyImEnd = 259;
inline constexpr std::int32_t kTinyVocab = 260;

/// The whole file. Weights are random f32 (outputs are gibberish, but deterministic).
inline std::vector<std::uint8_t> tiny_lm_bytes(const TinyLmSpec& s = {}) {
  namespace gguf = engine::gguf;
  std::mt19937 rng(s.seed);
  gguf::GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "tiny-random-lm");
  w.set_u32("llama.block_count", static_cast<std::uint32_t>(s.layers));
  w.set_u32("llama.context_length", s.context);
  w.set_u32("llama.embedding_length", static_cast<std::uint32_t>(s.hidden));
  w.set_u32("llama.feed_forward_length", static_cast<std::uint32_t>(s.ffn));
  w.set_u32("llama.attention.head_count", static_cast<std::uint32_t>(s.heads));
  w.set_u32("llama.attention.head_count_kv", static_cast<std::uint32_t>(s.kv_heads));
  w.set_f32("llama.rope.freq_base", 10000.0f);
  w.set_u32("llama.rope.dimension_count", static_cast<std::uint32_t>(s.hidden / s.heads));
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);

  std::vector<std::string> tokens = gpt2_byte_tokens();
  tokens.push_back("he");
  tokens.push_back("<|endoftext|>");
  tokens.push_back("<|im_start|>");
  tokens.push_back("<|im_end|>");
  std::vector<std::int32_t> types(tokens.size(), 1);
  types[kTinyEndOfText] = types[kTinyImStart] = types[kTinyImEnd] = 3;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "smollm");
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_i32_array("tokenizer.ggml.token_type", types);
  w.set_string_array("tokenizer.ggml.merges", {"h e"});
  w.set_u32("tokenizer.ggml.bos_token_id", kTinyImStart);
  w.set_u32("tokenizer.ggml.eos_token_id", kTinyImEnd);
  w.set_u32("tokenizer.ggml.unknown_token_id", kTinyEndOfText);
  w.set_bool("tokenizer.ggml.add_bos_token", false);
  w.set_string("tokenizer.chat_template",
               "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
               "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
               "{% endif %}");

  auto add = [&](const std::string& name, std::int64_t rows, std::int64_t cols, float scale, float mean = 0.0f) {
    std::normal_distribution<float> d(mean, scale);
    std::vector<float> v(static_cast<std::size_t>(rows * cols));
    for (float& x : v) x = d(rng);
    std::vector<std::int64_t> dims = rows == 1 ? std::vector<std::int64_t>{cols} : std::vector<std::int64_t>{cols, rows};
    (void)w.add_tensor_f32(name, dims, v);
  };
  const std::int64_t hd = s.hidden / s.heads;
  const float in_scale = 1.0f / std::sqrt(static_cast<float>(s.hidden));
  add("token_embd.weight", kTinyVocab, s.hidden, 1.0f);
  for (std::int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", 1, s.hidden, 0.1f, 1.0f);
    add(p + "attn_q.weight", s.heads * hd, s.hidden, 2 * in_scale);
    add(p + "attn_k.weight", s.kv_heads * hd, s.hidden, 2 * in_scale);
    add(p + "attn_v.weight", s.kv_heads * hd, s.hidden, in_scale);
    add(p + "attn_output.weight", s.hidden, s.heads * hd, in_scale);
    add(p + "ffn_norm.weight", 1, s.hidden, 0.1f, 1.0f);
    add(p + "ffn_gate.weight", s.ffn, s.hidden, in_scale);
    add(p + "ffn_up.weight", s.ffn, s.hidden, in_scale);
    add(p + "ffn_down.weight", s.hidden, s.ffn, 1.0f / std::sqrt(static_cast<float>(s.ffn)));
  }
  add("output_norm.weight", 1, s.hidden, 0.1f, 1.0f);
  add("output.weight", kTinyVocab, s.hidden, 3.0f * in_scale);
  return w.serialize();
}

inline Status write_tiny_lm(const std::string& path, const TinyLmSpec& s = {}) {
  std::vector<std::uint8_t> bytes = tiny_lm_bytes(s);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return unavailable("cannot write " + path);
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  std::fclose(f);
  return ok ? Status::ok() : unavailable("short write to " + path);
}

}  // namespace parley::lm::testing
