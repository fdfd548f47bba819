// A tiny BERT-family encoder with random weights, for unit tests that need a real encoder but no
// download (gradient checks, featurizers). Header-only; depends on shared/models/encoder.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "shared/models/encoder/model.h"

namespace parley::encoder::testing {

inline EncoderConfig tiny_encoder_config(std::int64_t vocab = 40, std::int64_t hidden = 16, std::int64_t layers = 2) {
  EncoderConfig c;
  c.vocab_size = vocab;
  c.hidden = hidden;
  c.layers = layers;
  c.heads = 2;
  c.intermediate = 2 * hidden;
  c.max_positions = 16;
  c.type_vocab = 2;
  c.layer_norm_eps = 1e-5f;
  return c;
}

/// N(0, stddev) everywhere; norm scales N(1, stddev). The same seed gives the same weights.
inline EncoderWeights random_encoder_weights(const EncoderConfig& c, std::uint32_t seed, float stddev = 0.3f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, stddev);
  auto vec = [&](std::int64_t n, float base = 0.0f) {
    std::vector<float> v(static_cast<std::size_t>(n));
    for (float& x : v) x = base + nd(rng);
    return v;
  };
  auto lin = [&](std::int64_t out, std::int64_t in) {
    Linear l;
    l.out = out;
    l.in = in;
    l.w = vec(out * in);
    l.bias = vec(out);
    return l;
  };
  EncoderWeights w;
  w.word = vec(c.vocab_size * c.hidden);
  w.position = vec(c.max_positions * c.hidden);
  w.token_type = vec(c.type_vocab * c.hidden);
  w.embed_norm = {vec(c.hidden, 1.0f), vec(c.hidden)};
  for (std::int64_t i = 0; i < c.layers; ++i) {
    LayerWeights l;
    l.qkv = lin(3 * c.hidden, c.hidden);
    l.attn_out = lin(c.hidden, c.hidden);
    l.attn_norm = {vec(c.hidden, 1.0f), vec(c.hidden)};
    l.ffn_in = lin(c.intermediate, c.hidden);
    l.ffn_out = lin(c.hidden, c.intermediate);
    l.ffn_norm = {vec(c.hidden, 1.0f), vec(c.hidden)};
    w.layers.push_back(std::move(l));
  }
  return w;
}

}  // namespace parley::encoder::testing
