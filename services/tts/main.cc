// parley-tts: the speech synthesis service (parley.v1.Tts/Synthesize) on the ONNX runtime with
// the Piper voice en_US-joe-medium by default. Config keys: services/tts/README.md.
#include <unistd.h>

#include <climits>
#include <iostream>

#include "services/tts/tts_service.h"
#include "shared/common/model_paths.h"
#include "shared/config/base_schema.h"
#include "shared/service/host.h"

namespace {

// parley-phonemize beside this binary: <dir>/phonemizer/ in the build tree, <dir>/ when installed.
std::string default_phonemizer() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "parley-phonemize";
  std::string dir(buf, static_cast<std::size_t>(n));
  dir = dir.substr(0, dir.find_last_of('/'));
  for (const std::string& c : {dir + "/phonemizer/parley-phonemize", dir + "/parley-phonemize"}) {
    if (::access(c.c_str(), X_OK) == 0) return c;
  }
  return dir + "/phonemizer/parley-phonemize";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace parley;
  config::Schema schema = config::service_base_schema("parley-tts", "Speech synthesis: text in, streamed PCM16 audio out");
  schema.set_default("transport.bind", std::string("tcp://127.0.0.1:7106"));
  schema.set_default("http.port", 9106);
  schema.add_list("tts.voices", {}, "Piper voices (.onnx, each with its .onnx.json); the first is the default. "
                                    "Empty = $PARLEY_MODEL_DIR/tts-joe/en_US-joe-medium.onnx");
  schema.add_string("tts.phonemizer", "", "The parley-phonemize program (espeak-ng, GPL-3.0, run as a child process); empty = beside parley-tts");
  schema.add_string("tts.espeak_data", "", "espeak-ng data directory; empty = the library's default (Debian espeak-ng-data)");
  schema.add_int("tts.engines", 2, "Syntheses run at once (one ONNX session and one phonemizer process each)",
                 config::int_range(1, 64));
  schema.add_int("tts.max_text_bytes", 5000, "Longest request text (bytes)", config::int_range(1, 1 << 20));
  schema.add_int("tts.max_break_ms", 10000, "Longest SSML <break> (ms)", config::int_range(0, 600000));
  schema.add_int("tts.max_piece_bytes", 200, "Sentences longer than this are cut at clauses into several pieces",
                 config::int_range(16, 1 << 20));
  schema.add_int("tts.first_piece_min_words", 3,
                 "The first clause is synthesized alone when it has at least this many words (0 = whole first sentence)",
                 config::int_range(0, 1000));
  schema.add_bool("tts.normalize_audio", true, "Scale each piece to peak 1.0 (as piper-tts does)");
  schema.add_bool("tts.bf16", true,
                  "Long convolutions multiply in bf16 where the CPU has AVX512_BF16 (f32 accumulation; ~1.26x faster synthesis, "
                  "43-44 dB SNR against f32); false = f32 everywhere");
  schema.add_bool("tts.stream_first_piece", true,
                  "Run the first piece's decoder in windows so audio starts after the first window");
  schema.add_int("tts.stream_first_frames", 24, "Latent frames in the first decoder window (256 samples each)",
                 config::int_range(1, 100000));
  schema.add_int("tts.stream_frames", 200, "Latent frames in later decoder windows", config::int_range(1, 100000));
  schema.add_int("tts.stream_context", -1,
                 "Latent frames of overlap on each side of a window; -1: the decoder's receptive field, read from the voice's graph (exact seams)",
                 config::int_range(-1, 1000));
  schema.add_double("tts.stream_gain", 2.0, "Fixed gain of a streamed piece (its peak is not known in advance)");
  schema.add_double("tts.noise_scale", -1.0, "VITS noise scale; < 0 = the voice's own");
  schema.add_double("tts.noise_w", -1.0, "VITS duration noise; < 0 = the voice's own");
  auto host = service::Host::create("tts", schema, argc, argv);
  const config::Config& cfg = host->config();

  tts::TtsOptions o;
  o.voice_paths = cfg.get_list("tts.voices");
  if (o.voice_paths.empty()) o.voice_paths.push_back(model_root() + "/tts-joe/en_US-joe-medium.onnx");
  o.phonemizer.program = cfg.get_string("tts.phonemizer").empty() ? default_phonemizer() : cfg.get_string("tts.phonemizer");
  o.phonemizer.data_dir = cfg.get_string("tts.espeak_data");
  o.engines = static_cast<int>(cfg.get_int("tts.engines"));
  o.max_text_bytes = static_cast<std::size_t>(cfg.get_int("tts.max_text_bytes"));
  o.max_break_ms = static_cast<int>(cfg.get_int("tts.max_break_ms"));
  o.split.max_piece_bytes = static_cast<std::size_t>(cfg.get_int("tts.max_piece_bytes"));
  o.split.first_piece_min_words = static_cast<std::size_t>(cfg.get_int("tts.first_piece_min_words"));
  o.normalize_audio = cfg.get_bool("tts.normalize_audio");
  o.bf16 = cfg.get_bool("tts.bf16");
  o.stream_first_piece = cfg.get_bool("tts.stream_first_piece");
  o.windows.first_frames = static_cast<int>(cfg.get_int("tts.stream_first_frames"));
  o.windows.frames = static_cast<int>(cfg.get_int("tts.stream_frames"));
  o.windows.context = static_cast<int>(cfg.get_int("tts.stream_context"));
  o.stream_gain = static_cast<float>(cfg.get_double("tts.stream_gain"));
  o.noise_scale = static_cast<float>(cfg.get_double("tts.noise_scale"));
  o.noise_w = static_cast<float>(cfg.get_double("tts.noise_w"));
  auto svc = tts::TtsService::create(o, &host->metrics());
  if (!svc.ok()) {
    std::cerr << "parley-tts: " << svc.status().to_string() << "\n";
    return 1;
  }
  tts::TtsService& t = **svc;
  host->server_stream<v1::SynthesizeRequest, v1::SynthesizeResponse>(
      "parley.v1.Tts/Synthesize",
      [&t](const v1::SynthesizeRequest& r, service::StreamWriter<v1::SynthesizeResponse>& w, service::CallContext& c) {
        return t.synthesize(r, w, c);
      });
  host->set_ready(true);
  return host->run();
}
