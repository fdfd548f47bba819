// Model-free stand-ins for speech recognition and synthesis, for the voice session's tests and
// benchmark: in-process clients the test scripts event by event (ScriptedAsr, ScriptedTts), and
// a fake ASR + TTS service on the real transport (FakeSpeechServer) whose recognizer is keyed by
// the audio it receives — an energy VAD, and the pitch of a tone picks the transcript from a
// script — and whose synthesizer streams a tone at a real-time-ish pace and honours cancels.
// Test-only: never linked into parley-dialog. Depends on voice/speech_clients.h, shared/transport.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "parley/v1/asr.pb.h"
#include "parley/v1/tts.pb.h"
#include "services/dialog/voice/speech_clients.h"

namespace parley::dialog::testing {

// ---- audio for tests -----------------------------------------------------------------------

/// PCM16 mono: a sine of `hz` for `ms` at `amplitude` (of 32767), or silence.
std::string tone_pcm16(int sample_rate, double hz, int ms, double amplitude = 0.3);
std::string silence_pcm16(int sample_rate, int ms);

// ---- in-process, scripted by the test ------------------------------------------------------

/// AsrClient whose streams the test drives: it sees the audio sent and emits the events it
/// wants. Handlers run on the test's thread. Not thread-safe (unit tests are single-threaded).
class ScriptedAsr final : public voice::AsrClient {
 public:
  struct Stream {
    v1::RecognitionConfig config;
    voice::AsrHandlers handlers;
    std::string audio;  // every byte sent so far
    bool finished = false, cancelled = false, ended = false;
    void emit(const v1::RecognizeResponse& event) {
      if (!ended) handlers.on_event(event);
    }
    void end(Status status) {
      if (ended) return;
      ended = true;
      handlers.on_end(std::move(status));
    }
  };
  std::unique_ptr<voice::AsrStream> recognize(const v1::RecognitionConfig& config, const CallMeta& meta,
                                              voice::AsrHandlers handlers) override;

  /// Fails every new stream at once with UNAVAILABLE (the service is down).
  bool down = false;
  std::vector<std::shared_ptr<Stream>> streams;

  static v1::RecognizeResponse start_of_speech(int audio_ms);
  static v1::RecognizeResponse end_of_speech(int audio_ms);
  static v1::RecognizeResponse partial(const std::string& text);
  static v1::RecognizeResponse final_result(const std::string& text, int start_ms, int end_ms);
};

/// TtsClient recording each request. With `auto_reply` the audio comes back inline (one chunk
/// of `ms_per_char` per character, at the requested rate or 16 kHz, then the end); otherwise the
/// test calls Call::audio / Call::end. Not thread-safe.
class ScriptedTts final : public voice::TtsClient {
 public:
  struct Call {
    v1::SynthesizeRequest request;
    voice::TtsHandlers handlers;
    bool cancelled = false, ended = false;
    void audio(const std::string& pcm16, int sample_rate);
    void end(Status status) {
      if (ended) return;
      ended = true;
      handlers.on_end(std::move(status));
    }
  };
  std::unique_ptr<voice::TtsCall> synthesize(const v1::SynthesizeRequest& request, const CallMeta& meta,
                                             voice::TtsHandlers handlers) override;

  bool auto_reply = true;
  int ms_per_char = 50;
  bool down = false;  ///< every call fails at once with UNAVAILABLE
  std::vector<std::shared_ptr<Call>> calls;
};

// ---- on the real transport ------------------------------------------------------------------

/// What the fake recognizer says for an utterance: the text of the scripted tone nearest its
/// pitch (within 5%), else `default_text` ("" = no words: noise).
struct ToneScript {
  std::vector<std::pair<double, std::string>> tones;  ///< (Hz, transcript)
  std::string default_text;
};

/// The fake recognizer: 20 ms frames; a frame with RMS over `threshold` is sound; 60 ms of
/// sound starts an utterance (START_OF_SPEECH), `hangover` of quiet ends it (END_OF_SPEECH and
/// the final, timed in audio ms); while it lasts, a partial reveals one more word of its text
/// every `word_ms`. Deterministic: the same samples give the same events however they are chunked.
class ToneRecognizer {
 public:
  ToneRecognizer(int sample_rate, ToneScript script, int hangover_ms = 300, int word_ms = 150, double threshold = 500);
  std::vector<v1::RecognizeResponse> feed(std::string_view pcm16);
  /// End of the audio: an utterance in progress ends now.
  std::vector<v1::RecognizeResponse> flush();

 private:
  void frame(const std::int16_t* s, std::vector<v1::RecognizeResponse>& out);
  void end_utterance(std::vector<v1::RecognizeResponse>& out);
  std::string text_now() const;

  int rate_, frame_, hangover_frames_, word_ms_;
  double threshold_;
  ToneScript script_;
  std::string carry_;          // bytes of an incomplete frame
  std::int64_t frames_ = 0;    // frames seen
  int loud_run_ = 0, quiet_run_ = 0;
  bool in_speech_ = false;
  std::int64_t start_frame_ = 0, last_loud_frame_ = 0;
  std::int64_t crossings_ = 0, loud_frames_ = 0;
  int words_shown_ = 0;
  std::int16_t last_sample_ = 0;
};

struct FakeSpeechOptions {
  std::string endpoint = "tcp://127.0.0.1:*";
  ToneScript script;
  /// The recognizer's endpoint: this much quiet ends an utterance; frames over `threshold` RMS
  /// (of 32767) are sound.
  int hangover_ms = 300;
  double threshold = 500;
  bool serve_asr = true, serve_tts = true;
  /// Synthesis: `ms_per_char` of audio per character (at least 200 ms), in chunks of `chunk_ms`,
  /// the first after `first_chunk_ms`, then produced `speed` times faster than real time.
  int ms_per_char = 60;
  int chunk_ms = 100;
  int first_chunk_ms = 20;
  double speed = 4.0;
  int default_rate = 16000;
  double tts_hz = 220;
};

/// parley.v1.Asr/Recognize and parley.v1.Tts/Synthesize on one endpoint of the real transport.
class FakeSpeechServer {
 public:
  static Result<std::unique_ptr<FakeSpeechServer>> start(FakeSpeechOptions options);
  ~FakeSpeechServer();
  const std::string& endpoint() const { return endpoint_; }

  std::atomic<int> recognize_calls{0}, recognize_cancelled{0};
  std::atomic<int> synthesize_calls{0}, synthesize_cancelled{0}, synthesize_done{0};
  std::atomic<std::int64_t> audio_bytes_in{0};
  /// Answer new calls with UNAVAILABLE (a broken dependency).
  std::atomic<bool> asr_failing{false}, tts_failing{false};
  /// The texts synthesized, in order (thread-safe copy).
  std::vector<std::string> synthesized() const;

  struct Impl;

 private:
  FakeSpeechServer() = default;
  std::unique_ptr<Impl> impl_;
  std::string endpoint_;
};

}  // namespace parley::dialog::testing
