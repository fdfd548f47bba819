// Writes the generated seed corpora of the fuzz targets (binary formats that are easier to build
// with our own writers than to keep as files): transport envelopes of every kind, small GGUF and
// safetensors files, PCM16 WAV files. Run by build_fuzz.sh: `fuzz_seeds <dir>` fills
// <dir>/{envelope,gguf,safetensors,wav,ct2}/. Depends on the writers of those formats, parley_proto.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "parley/v1/dialog.pb.h"
#include "parley/v1/envelope.pb.h"
#include "parley/v1/lm.pb.h"
#include "shared/audio/wav.h"
#include "shared/engine/ctranslate2/ct2_file.h"
#include "shared/engine/gguf/gguf_writer.h"
#include "shared/engine/safetensors/safetensors.h"

namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

void envelopes(const fs::path& dir) {
  parley::v1::Envelope req;
  req.set_id("c1");
  req.set_correlation_id("c1");
  req.set_session_id("0123456789abcdef0123456789abcdef");
  req.set_method("parley.v1.Dialog/Turn");
  req.set_kind(parley::v1::REQUEST);
  req.set_deadline_remaining_us(2'000'000);
  req.set_end_of_stream(true);
  req.set_trace_id("t1");
  parley::v1::TurnRequest turn;
  turn.set_session_id(req.session_id());
  turn.set_text("book a table for 4 at 7pm");
  req.mutable_payload()->PackFrom(turn);
  write(dir / "request_turn", req.SerializeAsString());
  parley::v1::GenerateRequest gen;
  gen.set_prompt("Once upon a time");
  gen.mutable_params()->set_max_tokens(16);
  req.set_method("parley.v1.Lm/Generate");
  req.mutable_payload()->PackFrom(gen);
  write(dir / "request_generate", req.SerializeAsString());
  parley::v1::Envelope stream = req;
  stream.clear_payload();
  stream.set_kind(parley::v1::STREAM_DATA);
  stream.set_sequence(3);
  stream.set_end_of_stream(false);
  write(dir / "stream_data", stream.SerializeAsString());
  parley::v1::Envelope cancel;
  cancel.set_correlation_id("c1");
  cancel.set_kind(parley::v1::CANCEL);
  write(dir / "cancel", cancel.SerializeAsString());
  parley::v1::Envelope batch;  // several envelopes in one message (proto/README.md, "Batches")
  batch.set_kind(parley::v1::BATCH);
  batch.add_batch(req.SerializeAsString());
  batch.add_batch(stream.SerializeAsString());
  batch.add_batch(cancel.SerializeAsString());
  write(dir / "batch", batch.SerializeAsString());
  parley::v1::Envelope ping;
  ping.set_kind(parley::v1::PING);
  ping.set_id("p1");
  write(dir / "ping", ping.SerializeAsString());
  parley::v1::Envelope reply;
  reply.set_kind(parley::v1::REPLY);
  reply.set_correlation_id("c1");
  reply.mutable_status()->set_code(parley::v1::Status::INVALID_ARGUMENT);
  reply.mutable_status()->set_message("bad");
  reply.mutable_load()->set_in_flight(2);
  write(dir / "reply_error", reply.SerializeAsString());
}

void gguf_files(const fs::path& dir) {
  parley::engine::gguf::GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.context_length", 128);
  w.set_u32("llama.block_count", 1);
  w.set_f32("llama.rope.freq_base", 10000.0f);
  w.set_bool("general.flag", true);
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "a", "b", "ab"});
  w.set_f32_array("tokenizer.ggml.scores", {0.0f, -1.0f, -2.0f, -3.0f});
  w.set_i32_array("tokenizer.ggml.token_type", {2, 1, 1, 1});
  std::vector<float> embd(4 * 8, 0.5f), norm(8, 1.0f);
  (void)w.add_tensor_f32("token_embd.weight", {8, 4}, embd);
  (void)w.add_tensor_f32("output_norm.weight", {8}, norm);
  auto bytes = w.serialize();
  write(dir / "tiny.gguf", std::string(bytes.begin(), bytes.end()));
  parley::engine::gguf::GgufWriter meta_only;
  meta_only.set_string("general.name", "vocab only");
  meta_only.set_u64("general.size", 1);
  meta_only.set_alignment(64);
  bytes = meta_only.serialize();
  write(dir / "meta_only.gguf", std::string(bytes.begin(), bytes.end()));
}

void safetensors_files(const fs::path& dir) {
  std::vector<float> w(6), b(3, 0.25f);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i) - 2.5f;
  std::vector<parley::safetensors::TensorData> t = {parley::safetensors::f32_tensor("linear.weight", {2, 3}, w),
                                                   parley::safetensors::f32_tensor("linear.bias", {3}, b)};
  parley::safetensors::TensorData i8;
  i8.name = "q.weight";
  i8.dtype = parley::safetensors::DType::kI8;
  i8.shape = {4};
  i8.bytes = std::string("\x01\xff\x7f\x80", 4);
  t.push_back(i8);
  auto s = parley::safetensors::serialize(t, {{"format", "pt"}});
  if (s.ok()) write(dir / "small.safetensors", *s);
  auto empty = parley::safetensors::serialize({}, {});
  if (empty.ok()) write(dir / "empty.safetensors", *empty);
}

void wav_files(const fs::path& dir) {
  std::vector<float> tone(800);
  for (std::size_t i = 0; i < tone.size(); ++i) tone[i] = 0.5f * std::sin(static_cast<float>(i) * 0.1f);
  auto mono = parley::audio::encode_wav_pcm16(tone, 16000, 1);
  if (mono.ok()) write(dir / "mono16k.wav", *mono);
  auto stereo = parley::audio::encode_wav_pcm16(tone, 8000, 2);
  if (stereo.ok()) write(dir / "stereo8k.wav", *stereo);
}

// A Whisper-shaped model.bin: f32 and f16 weights, integer scalars, an alias.
void ct2_files(const fs::path& dir) {
  namespace ct2 = parley::engine::ct2;
  std::vector<ct2::VariableData> vars = {
      ct2::f32_variable("encoder/conv1/weight", {2, 3}, {1, 2, 3, 4, 5, 6}),
      ct2::f16_variable("decoder/embeddings/weight", {3, 2}, {0.5f, -1, 2, 0, 0.25f, 8}),
      ct2::scalar_variable("encoder/num_heads", ct2::Ct2Type::kI32, 6),
      ct2::scalar_variable("decoder/num_heads", ct2::Ct2Type::kI8, 6)};
  auto s = ct2::serialize("WhisperSpec", 3, vars, {{"decoder/projection/weight", "decoder/embeddings/weight"}});
  if (s.ok()) write(dir / "whisper_like.bin", *s);
  auto empty = ct2::serialize("WhisperSpec", 3, {});
  if (empty.ok()) write(dir / "empty.bin", *empty);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds <dir>\n");
    return 2;
  }
  const fs::path dir = argv[1];
  envelopes(dir / "envelope");
  gguf_files(dir / "gguf");
  safetensors_files(dir / "safetensors");
  wav_files(dir / "wav");
  ct2_files(dir / "ct2");
  return 0;
}
