// Piper voice loading, phoneme ids and synthesis. Why: see piper_voice.h. Depends on
// piper_voice.h, shared/common/json_document.h, shared/text/unicode.h.
#include "services/tts/piper_voice.h"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "shared/common/json_document.h"
#include "shared/text/unicode.h"

namespace parley::tts {

Result<VoiceConfig> parse_voice_config(std::string_view text, const std::string& name) {
  auto doc = json::parse(text);
  if (!doc.ok()) return doc.status().with_context(name);
  const json::Value& v = *doc;
  VoiceConfig c;
  c.name = name;
  auto bad = [&](const std::string& what) { return invalid_argument(name + ": " + what); };
  if (const json::Value* a = v.find("audio")) {
    if (const json::Value* sr = a->find("sample_rate")) {
      if (!sr->as_int() || *sr->as_int() < 8000 || *sr->as_int() > 96000) return bad("audio.sample_rate is not a rate in [8000, 96000]");
      c.sample_rate = static_cast<int>(*sr->as_int());
    }
  }
  if (const json::Value* e = v.find("espeak")) {
    if (const json::Value* vo = e->find("voice"); vo && vo->is_string()) c.espeak_voice = vo->as_string();
  }
  if (const json::Value* inf = v.find("inference")) {
    if (const json::Value* x = inf->find("noise_scale")) c.noise_scale = static_cast<float>(x->as_double());
    if (const json::Value* x = inf->find("length_scale")) c.length_scale = static_cast<float>(x->as_double());
    if (const json::Value* x = inf->find("noise_w")) c.noise_w = static_cast<float>(x->as_double());
  }
  if (const json::Value* ns = v.find("num_speakers"); ns && ns->as_int()) c.num_speakers = static_cast<int>(*ns->as_int());
  if (c.num_speakers != 1) return unimplemented(name + ": multi-speaker voices (" + std::to_string(c.num_speakers) + " speakers)");
  if (const json::Value* pt = v.find("phoneme_type"); pt && pt->is_string() && pt->as_string() != "espeak") {
    return unimplemented(name + ": phoneme_type '" + pt->as_string() + "' (espeak voices only)");
  }
  const json::Value* map = v.find("phoneme_id_map");
  if (map == nullptr || !map->is_object()) return bad("phoneme_id_map is missing");
  for (const auto& [key, ids] : map->as_object()) {
    const auto d = text::unicode::decode_utf8(key, 0);
    if (key.empty() || !d.valid || d.len != key.size()) return bad("phoneme_id_map key '" + key + "' is not one code point");
    if (!ids.is_array() || ids.as_array().empty()) return bad("phoneme_id_map['" + key + "'] is not a list of ids");
    for (const json::Value& id : ids.as_array()) {
      if (!id.as_int() || *id.as_int() < 0 || *id.as_int() > 100000) return bad("phoneme_id_map['" + key + "'] has a bad id");
      c.phoneme_ids[d.cp].push_back(*id.as_int());
    }
  }
  for (char32_t need : {U'^', U'_', U'$'}) {
    if (!c.phoneme_ids.count(need)) return bad("phoneme_id_map lacks the BOS/PAD/EOS symbols ^ _ $");
  }
  return c;
}

std::vector<std::int64_t> phonemes_to_ids(const VoiceConfig& c, std::string_view phonemes, int* unknown) {
  const auto& bos = c.phoneme_ids.at(U'^');
  const auto& pad = c.phoneme_ids.at(U'_');
  const auto& eos = c.phoneme_ids.at(U'$');
  std::vector<std::int64_t> ids(bos.begin(), bos.end());
  ids.insert(ids.end(), pad.begin(), pad.end());
  int missing = 0;
  for (std::size_t i = 0; i < phonemes.size();) {
    const auto d = text::unicode::decode_utf8(phonemes, i);
    i += d.len;
    char32_t parts[4];
    const std::size_t n = text::unicode::decompose(d.cp, parts);
    for (std::size_t k = 0; k < n; ++k) {
      auto it = c.phoneme_ids.find(parts[k]);
      if (it == c.phoneme_ids.end()) {
        ++missing;
        continue;
      }
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      ids.insert(ids.end(), pad.begin(), pad.end());
    }
  }
  ids.insert(ids.end(), eos.begin(), eos.end());
  if (unknown) *unknown = missing;
  return ids;
}

Result<std::shared_ptr<const PiperVoice>> PiperVoice::load(const std::string& onnx_path) {
  const std::string json_path = onnx_path + ".json";
  std::ifstream f(json_path);
  if (!f) return not_found("voice config '" + json_path + "' not found (a Piper voice is a .onnx plus its .onnx.json)");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string stem = onnx_path.substr(onnx_path.find_last_of('/') + 1);
  if (stem.size() > 5 && stem.substr(stem.size() - 5) == ".onnx") stem.resize(stem.size() - 5);
  PARLEY_ASSIGN_OR_RETURN(VoiceConfig config, parse_voice_config(ss.str(), stem));
  PARLEY_ASSIGN_OR_RETURN(std::shared_ptr<const onnx::Model> model, onnx::Model::load(onnx_path));
  bool has_input = false, has_lengths = false, has_scales = false;
  for (const auto& in : model->inputs()) {
    has_input |= in.name == "input";
    has_lengths |= in.name == "input_lengths";
    has_scales |= in.name == "scales";
  }
  if (!has_input || !has_lengths || !has_scales || model->inputs().size() != 3) {
    return invalid_argument(onnx_path + ": not a single-speaker Piper voice (inputs must be input, input_lengths, scales)");
  }
  auto voice = std::make_shared<PiperVoice>(std::move(config), model);
  // The decoder split: the input of ".../dec/conv_pre/Conv" and the upsampling strides.
  std::string latent;
  std::int64_t hop = 1;
  for (const onnx::Node& n : model->data().graphs.front().nodes) {
    const bool dec = n.name.find("/dec/") != std::string::npos;
    if (dec && n.op_type == "Conv" && n.name.size() >= 13 && n.name.substr(n.name.size() - 13) == "conv_pre/Conv" &&
        !n.inputs.empty() && n.inputs[0] >= 0) {
      latent = model->data().values[static_cast<std::size_t>(n.inputs[0])].name;
    }
    if (dec && n.op_type == "ConvTranspose") {
      const auto strides = n.attr_ints("strides");
      const std::int64_t st = strides.empty() ? 1 : strides[0];
      // A stride outside [1, 1024] or a hop past 2^20 samples a frame is no vocoder: no split.
      hop = st >= 1 && st <= 1024 && hop <= (std::int64_t{1} << 20) / st ? hop * st : 0;
    }
  }
  if (!latent.empty() && hop > 1) {
    voice->set_split(latent, static_cast<int>(hop));
    voice->set_decoder_reach(decoder_reach_frames(model->data(), latent));
  }
  return std::shared_ptr<const PiperVoice>(std::move(voice));
}

std::optional<int> decoder_reach_frames(const onnx::ModelData& model, const std::string& latent) {
  if (model.graphs.empty()) return std::nullopt;
  const onnx::Graph& g = model.graphs.front();
  // How far (in latent frames, each side) a value's position reads the latent, and how many
  // positions it has per latent frame. Nodes are in topological order (ONNX requires it).
  struct Reach {
    double left = 0, right = 0;
    std::int64_t rate = 1;
  };
  std::map<int, Reach> reach;
  for (std::size_t v = 0; v < model.values.size(); ++v) {
    if (model.values[v].name == latent) reach[static_cast<int>(v)] = Reach{};
  }
  if (reach.empty()) return std::nullopt;
  // Ops that keep every position where it was (element-wise, or a size-1 axis added/removed).
  static const std::set<std::string> kPositionwise = {
      "Add", "Sub", "Mul", "Div", "LeakyRelu", "Relu", "Tanh", "Sigmoid", "Clip", "Cast", "Identity",
      "Squeeze", "Unsqueeze", "Neg", "Abs", "Pow", "Sqrt", "Exp", "Erf"};
  for (const onnx::Node& n : g.nodes) {
    std::optional<Reach> in;
    for (std::size_t i = 0; i < n.inputs.size(); ++i) {
      auto it = reach.find(n.inputs[i]);
      if (it == reach.end()) continue;
      // Conv/ConvTranspose: input 0 is the signal; a fused residual (input 3) is position-wise.
      const bool conv = n.op_type == "Conv" || n.op_type == "ConvTranspose";
      if (conv && i != 0 && i != 3) return std::nullopt;
      Reach r = it->second;
      if (conv && i == 0) {
        const int w = n.inputs.size() > 1 ? n.inputs[1] : -1;
        if (w < 0 || model.values[static_cast<std::size_t>(w)].dims.size() != 3) return std::nullopt;
        const std::int64_t k = model.values[static_cast<std::size_t>(w)].dims[2];
        const auto dil = n.attr_ints("dilations"), pads = n.attr_ints("pads"), strides = n.attr_ints("strides");
        const std::int64_t d = dil.empty() ? 1 : dil[0], p = pads.empty() ? 0 : pads[0], s = strides.empty() ? 1 : strides[0];
        if (n.attr_string("auto_pad", "NOTSET") != "NOTSET") return std::nullopt;
        // Values no vocoder has (the op itself rejects some at run time): no claim.
        if (k < 1 || d < 1 || p < 0 || s < 1 || s > 1024 || r.rate > (std::int64_t{1} << 20) / s) return std::nullopt;
        const double span = static_cast<double>((k - 1) * d);
        if (n.op_type == "Conv") {
          if (s != 1) return std::nullopt;
          // out[o] reads in[o - p + j*d], j in [0, k)
          r.left += static_cast<double>(p) / static_cast<double>(r.rate);
          r.right += (span - static_cast<double>(p)) / static_cast<double>(r.rate);
        } else {
          // out[o] reads in[i] where i*s = o + p - j*d: i in [o/s - (span - p)/s, o/s + p/s].
          r.left += (span - static_cast<double>(p)) / static_cast<double>(s) / static_cast<double>(r.rate);
          r.right += static_cast<double>(p) / static_cast<double>(s) / static_cast<double>(r.rate);
          r.rate *= s;
        }
      } else if (!conv && !kPositionwise.contains(n.op_type)) {
        return std::nullopt;  // an op that moves positions: no claim
      }
      if (in && in->rate != r.rate) return std::nullopt;
      if (!in) in = r;
      in->left = std::max(in->left, r.left);
      in->right = std::max(in->right, r.right);
    }
    if (!in) continue;
    for (int o : n.outputs) {
      if (o >= 0) reach[o] = *in;
    }
  }
  if (g.outputs.empty()) return std::nullopt;
  auto it = reach.find(g.outputs.front());
  if (it == reach.end()) return std::nullopt;
  // A window decoded with this many latent frames of context on each side matches the whole decode.
  return static_cast<int>(std::ceil(std::max(it->second.left, it->second.right) - 1e-9));
}

Synthesizer::Synthesizer(std::shared_ptr<const PiperVoice> voice, std::uint64_t seed, bool bf16)
    : voice_(std::move(voice)),
      session_(voice_->model(), onnx::SessionOptions{.seed = seed, .threads = nullptr, .allow_bf16 = bf16}) {}

Result<std::vector<float>> Synthesizer::synthesize(const std::vector<std::int64_t>& ids, const SynthesisParams& p,
                                                   const std::function<bool()>& cancelled) {
  const auto n = static_cast<std::int64_t>(ids.size());
  PARLEY_ASSIGN_OR_RETURN(onnx::Tensor input, onnx::Tensor::from_vector<std::int64_t>({1, n}, ids));
  PARLEY_ASSIGN_OR_RETURN(onnx::Tensor lengths, onnx::Tensor::from_vector<std::int64_t>({1}, {n}));
  PARLEY_ASSIGN_OR_RETURN(onnx::Tensor scales, onnx::Tensor::from_vector<float>({3}, {p.noise_scale, p.length_scale, p.noise_w}));
  onnx::RunOptions run;
  run.cancelled = cancelled;
  run.threads = threads_;
  PARLEY_ASSIGN_OR_RETURN(std::vector<onnx::Tensor> out,
                          session_.run({{"input", input}, {"input_lengths", lengths}, {"scales", scales}}, run));
  if (out.empty() || out[0].type() != onnx::DataType::kFloat) return internal_error("voice produced no float audio");
  return out[0].to_vector<float>();
}

Status Synthesizer::synthesize_windows(const std::vector<std::int64_t>& ids, const SynthesisParams& p,
                                       const DecoderWindows& w, const std::function<bool(std::vector<float>)>& emit,
                                       const std::function<bool()>& cancelled) {
  if (voice_->latent_name().empty()) {
    PARLEY_ASSIGN_OR_RETURN(std::vector<float> all, synthesize(ids, p, cancelled));
    emit(std::move(all));
    return Status::ok();
  }
  const auto n = static_cast<std::int64_t>(ids.size());
  PARLEY_ASSIGN_OR_RETURN(onnx::Tensor input, onnx::Tensor::from_vector<std::int64_t>({1, n}, ids));
  PARLEY_ASSIGN_OR_RETURN(onnx::Tensor lengths, onnx::Tensor::from_vector<std::int64_t>({1}, {n}));
  PARLEY_ASSIGN_OR_RETURN(onnx::Tensor scales, onnx::Tensor::from_vector<float>({3}, {p.noise_scale, p.length_scale, p.noise_w}));
  onnx::RunOptions run;
  run.cancelled = cancelled;
  run.threads = threads_;
  const std::string& latent = voice_->latent_name();
  PARLEY_ASSIGN_OR_RETURN(std::vector<onnx::Tensor> zs,
                          session_.run_partial({{"input", input}, {"input_lengths", lengths}, {"scales", scales}}, {latent}, run));
  const onnx::Tensor& z = zs[0];
  if (z.rank() != 3 || z.dim(0) != 1) return internal_error("decoder input '" + latent + "' is " + z.describe() + ", expected [1, C, frames]");
  const std::int64_t ch = z.dim(1), frames = z.dim(2), hop = voice_->hop();
  const std::string& out_name = voice_->model()->outputs().front().name;
  const float* zp = z.data<float>();
  const std::int64_t context = w.context >= 0 ? w.context : voice_->decoder_reach().value_or(16);
  for (std::int64_t f0 = 0; f0 < frames;) {
    const std::int64_t size = std::max(1, f0 == 0 ? w.first_frames : w.frames);
    std::int64_t f1 = std::min(frames, f0 + size);
    if (frames - f1 < size / 2) f1 = frames;  // no short tail window: one seam less
    const std::int64_t a = std::max<std::int64_t>(0, f0 - context), b = std::min(frames, f1 + context);
    std::vector<float> win(static_cast<std::size_t>(ch * (b - a)));
    for (std::int64_t c = 0; c < ch; ++c) {
      std::copy(zp + c * frames + a, zp + c * frames + b, win.begin() + c * (b - a));
    }
    PARLEY_ASSIGN_OR_RETURN(onnx::Tensor zw, onnx::Tensor::from_vector<float>({1, ch, b - a}, win));
    PARLEY_ASSIGN_OR_RETURN(std::vector<onnx::Tensor> out, session_.run_partial({{latent, zw}}, {out_name}, run));
    const float* y = out[0].data<float>();
    const std::int64_t total = out[0].numel();
    const std::int64_t s0 = (f0 - a) * hop, s1 = std::min(total, (f1 - a) * hop);
    if (s1 > s0 && !emit(std::vector<float>(y + s0, y + s1))) return Status::ok();
    f0 = f1;
  }
  return Status::ok();
}

}  // namespace parley::tts
