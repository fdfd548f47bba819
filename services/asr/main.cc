// parley-asr: the speech recognition service — Recognize (bidirectional: audio in, speech events,
// partials and finals out) and Transcribe (a whole file) on Whisper (INT8, our kernels) with
// Silero VAD endpointing and windows batched across streams. Template: services/echo/main.cc.
// Depends on asr_service.h, shared/service/host.h, shared/config.
#include <iostream>

#include "kernels/backend.h"
#include "services/asr/asr_service.h"
#include "shared/models/smart_turn/smart_turn.h"
#include "shared/engine/device.h"
#include "shared/common/model_paths.h"
#include "shared/config/base_schema.h"
#include "shared/models/runtime/device_config.h"
#include "shared/models/runtime/device_metrics.h"
#include "shared/service/host.h"

int main(int argc, char** argv) {
  using namespace parley;
  using std::chrono::milliseconds;
  config::Schema schema = config::service_base_schema("parley-asr", "ASR service: streaming speech recognition (Whisper + Silero VAD)");
  schema.set_default("transport.bind", std::string("tcp://127.0.0.1:7105"));
  schema.set_default("http.port", 9105);
  // Recognize streams hold no thread (Host::stream); workers run their messages, the VAD and the
  // turn-end model, and Transcribe calls (which wait for their windows).
  schema.set_default("service.workers", 4);
  schema.add_string("asr.model_dir", "", "Whisper CTranslate2 folder (model.bin, vocabulary.txt, config.json); empty = $PARLEY_MODEL_DIR/whisper-tiny-en (whisper-base: the multilingual option)");
  schema.add_string("asr.vad_model", "", "Silero VAD safetensors; empty = $PARLEY_MODEL_DIR/vad-silero/silero_vad_16k.safetensors");
  schema.add_string("asr.weights", "int8", "Whisper weights after load: int8 (per-channel W8A8) or f32", config::one_of({"int8", "f32"}));
  models::add_device_key(schema, "asr.device");
  schema.add_int("asr.max_streams", 32, "Open Recognize streams before RESOURCE_EXHAUSTED", config::int_range(1, 4096));
  schema.add_int("asr.max_batch", 8, "Windows (utterances) per encoder batch", config::int_range(1, 64));
  schema.add_duration("asr.max_queue_delay", milliseconds(5), "Longest a window waits for others to batch with",
                      config::duration_range(milliseconds(0), milliseconds(1000)));
  schema.add_int("asr.queue_capacity", 64, "Windows waiting for the engine before RESOURCE_EXHAUSTED", config::int_range(1, 1 << 16));
  schema.add_int("asr.engine_workers", 1, "Threads running batches (each with its own scratch)", config::int_range(1, 64));
  schema.add_int("asr.max_chunk_bytes", 256 * 1024, "Largest audio chunk of a stream", config::int_range(1024, 64 << 20));
  schema.add_double("asr.max_stream_seconds", 3600, "Audio one stream may send", config::double_range(1, 86400 * 7));
  schema.add_duration("asr.idle_timeout", milliseconds(10'000), "A stream that sends nothing this long ends DEADLINE_EXCEEDED",
                      config::duration_range(milliseconds(100), milliseconds(3'600'000)));
  schema.add_double("asr.max_transcribe_seconds", 600, "Audio one Transcribe may hold", config::double_range(1, 86400));
  schema.add_int("asr.partial_interval_ms", 300, "New speech between partial results", config::int_range(32, 60'000));
  schema.add_double("asr.vad_threshold", 0.5, "Silero probability that counts as speech", config::double_range(0.05, 0.95));
  const asr::EndpointOptions ep;  // the tuned defaults (services/asr/README.md "Endpointing")
  schema.add_int("asr.min_silence_ms", ep.min_silence_ms, "Shortest pause that ends a turn when the turn-end classifier agrees",
                 config::int_range(32, 10'000));
  schema.add_int("asr.max_silence_ms", ep.max_silence_ms, "A pause this long always ends the turn", config::int_range(32, 30'000));
  schema.add_string("asr.turn_end", "smart_turn",
                    "Turn-end classifier at pauses: smart_turn (pipecat's audio model), punctuation (Whisper's) or none (silence only)",
                    config::one_of({"smart_turn", "punctuation", "none"}));
  schema.add_string("asr.turn_model", "", "smart-turn ONNX file; empty = $PARLEY_MODEL_DIR/turn-smart-turn/smart-turn-v3.2-cpu.onnx");
  schema.add_double("asr.turn_threshold", ep.turn_end_threshold, "Classifier probability that ends the turn at a pause",
                    config::double_range(0.01, 0.99));
  schema.add_int("asr.turn_reask_ms", ep.reask_ms, "Ask the classifier again every this much more silence (0: once per pause)",
                 config::int_range(0, 10'000));
  schema.add_bool("asr.speculative_finals", false,
                  "At a pause, decode the final while the turn-end classifier runs (lower latency when CPU is spare; one extra window per pause that does not end the turn)");
  schema.add_double("asr.final_context_s", 10.0,
                    "Finals decode on at least this much audio context instead of the full 30 s window, re-run on 30 s when "
                    "the text looks degenerate (30: always the full window)",
                    config::double_range(2.0, 30.0));
  auto host = service::Host::create("asr", schema, argc, argv);
  const config::Config& cfg = host->config();

  asr::EngineOptions eo;
  eo.model_dir = cfg.get_string("asr.model_dir").empty() ? model_root() + "/whisper-tiny-en" : cfg.get_string("asr.model_dir");
  eo.vad_path = cfg.get_string("asr.vad_model").empty() ? model_root() + "/vad-silero/silero_vad_16k.safetensors"
                                                        : cfg.get_string("asr.vad_model");
  eo.precision = cfg.get_string("asr.weights") == "f32" ? whisper::WhisperPrecision::kFp32 : whisper::WhisperPrecision::kInt8;
  auto device = models::resolve_device_key(cfg, "asr.device");
  if (!device.ok()) {
    std::cerr << "parley-asr: " << device.status().to_string() << "\n";
    return 2;
  }
  eo.device = *device;
  models::register_device_metrics(host->metrics(), "asr", *device);
  eo.max_batch = static_cast<std::size_t>(cfg.get_int("asr.max_batch"));
  eo.max_queue_delay = std::chrono::duration_cast<milliseconds>(cfg.get_duration("asr.max_queue_delay"));
  eo.queue_capacity = static_cast<std::size_t>(cfg.get_int("asr.queue_capacity"));
  eo.workers = static_cast<int>(cfg.get_int("asr.engine_workers"));
  asr::AsrMetrics metrics(host->metrics());
  host->set_ready(false, "loading models");
  auto engine = asr::AsrEngine::create(eo, &metrics);
  if (!engine.ok()) {
    std::cerr << "parley-asr: " << engine.status().to_string() << "\n";
    return 1;
  }
  std::unique_ptr<asr::TurnEndClassifier> turn_end;
  const std::string turn = cfg.get_string("asr.turn_end");
  if (turn == "smart_turn") {
    const std::string path = cfg.get_string("asr.turn_model").empty() ? model_root() + "/turn-smart-turn/smart-turn-v3.2-cpu.onnx"
                                                                     : cfg.get_string("asr.turn_model");
    auto st = smart_turn::SmartTurn::load(path);
    if (!st.ok()) {
      std::cerr << "parley-asr: asr.turn_end=smart_turn: " << st.status().to_string()
                << " (run tools/models/fetch, or set asr.turn_end=punctuation)\n";
      return 1;
    }
    turn_end = std::make_unique<asr::SmartTurnEnd>(*st);
  } else if (turn == "punctuation") {
    turn_end = std::make_unique<asr::PunctuationTurnEnd>();
  }
  asr::ServiceOptions so;
  so.max_streams = static_cast<int>(cfg.get_int("asr.max_streams"));
  so.idle_timeout = std::chrono::duration_cast<milliseconds>(cfg.get_duration("asr.idle_timeout"));
  so.max_transcribe_seconds = cfg.get_double("asr.max_transcribe_seconds");
  so.session.max_chunk_bytes = static_cast<std::size_t>(cfg.get_int("asr.max_chunk_bytes"));
  so.session.max_stream_seconds = cfg.get_double("asr.max_stream_seconds");
  so.session.partial_interval_ms = static_cast<int>(cfg.get_int("asr.partial_interval_ms"));
  so.session.endpoint.speech_threshold = static_cast<float>(cfg.get_double("asr.vad_threshold"));
  so.session.endpoint.silence_threshold = std::max(0.01f, so.session.endpoint.speech_threshold - 0.15f);
  so.session.endpoint.min_silence_ms = static_cast<int>(cfg.get_int("asr.min_silence_ms"));
  so.session.endpoint.max_silence_ms = static_cast<int>(cfg.get_int("asr.max_silence_ms"));
  so.session.endpoint.turn_end_threshold = static_cast<float>(cfg.get_double("asr.turn_threshold"));
  so.session.endpoint.reask_ms = static_cast<int>(cfg.get_int("asr.turn_reask_ms"));
  so.session.speculative_finals = cfg.get_bool("asr.speculative_finals");
  so.session.final_context_seconds = cfg.get_double("asr.final_context_s");
  asr::AsrService svc(**engine, so, &metrics, turn_end.get());
  service::StreamOptions stream_options;
  stream_options.idle_timeout = so.idle_timeout;
  host->stream<v1::RecognizeRequest, v1::RecognizeResponse, asr::WindowDone>(
      "parley.v1.Asr/Recognize", stream_options, [&svc](asr::RecognizeCall& call) { return svc.open(call); });
  host->unary<v1::TranscribeRequest, v1::TranscribeResponse>(
      "parley.v1.Asr/Transcribe", [&svc](const v1::TranscribeRequest& r, service::CallContext& c) { return svc.transcribe(r, c); });
  host->set_ready(true);
  const int rc = host->run();
  (*engine)->stop();
  return rc;
}
