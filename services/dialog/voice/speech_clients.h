// The voice session's view of speech recognition and synthesis: a recognition stream (audio in,
// RecognizeResponse events out) and a synthesis call (text in, audio chunks out), each
// cancellable. Exists so the voice session is tested with in-process fakes and runs against
// parley.v1.Asr/Recognize and parley.v1.Tts/Synthesize on the transport unchanged
// (transport_speech.h). Depends on asr.proto, tts.proto, engine/services.h (CallMeta).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "parley/v1/asr.pb.h"
#include "parley/v1/tts.pb.h"
#include "services/dialog/engine/services.h"
#include "shared/common/status.h"

namespace parley::dialog::voice {

/// The wire methods (proto/parley/v1/asr.proto, tts.proto).
inline constexpr const char* kRecognizeMethod = "parley.v1.Asr/Recognize";
inline constexpr const char* kSynthesizeMethod = "parley.v1.Tts/Synthesize";

/// One open recognition stream. Thread-safe; never blocks. Destroying it does not end the call:
/// finish() or cancel() does.
class AsrStream {
 public:
  virtual ~AsrStream() = default;
  /// Queues PCM16 mono audio at the stream's rate. False once the stream is over.
  virtual bool send_audio(std::string pcm16) = 0;
  /// No more audio: the recognizer finishes what it heard (final results), then ends the stream.
  virtual void finish() = 0;
  /// Stops now; the service is told (its work stops) and on_end gets CANCELLED.
  virtual void cancel() = 0;
};

/// Callbacks of a recognition stream: any thread, in order, never after on_end.
struct AsrHandlers {
  std::function<void(v1::RecognizeResponse)> on_event;
  /// Exactly once: OK when the service ended the stream, else why it failed.
  std::function<void(Status)> on_end;
};

class AsrClient {
 public:
  virtual ~AsrClient() = default;
  /// Opens a stream with `config` (format, language, interim results, VAD). Failures (service
  /// down) arrive in on_end.
  virtual std::unique_ptr<AsrStream> recognize(const v1::RecognitionConfig& config, const CallMeta& meta,
                                               AsrHandlers handlers) = 0;
};

/// One synthesis call in flight. Thread-safe.
class TtsCall {
 public:
  virtual ~TtsCall() = default;
  /// Stops the synthesis (the service stops working on it); on_end gets CANCELLED.
  virtual void cancel() = 0;
};

/// Callbacks of a synthesis call: any thread, in order, never after on_end.
struct TtsHandlers {
  std::function<void(v1::SynthesizeResponse)> on_audio;
  /// Exactly once: OK after the last chunk, else why it failed.
  std::function<void(Status)> on_end;
};

class TtsClient {
 public:
  virtual ~TtsClient() = default;
  virtual std::unique_ptr<TtsCall> synthesize(const v1::SynthesizeRequest& request, const CallMeta& meta,
                                              TtsHandlers handlers) = 0;
};

}  // namespace parley::dialog::voice
