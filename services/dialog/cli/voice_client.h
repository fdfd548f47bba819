// A client of the voice WebSocket (GET /v1/sessions/{id}/voice): connects (HTTP upgrade, bearer
// key), sends audio frames and control messages, and hands back events and bot audio as they
// arrive. Exists for `parley talk`, the voice tests and the latency benchmark, so all three speak
// the protocol through one implementation. Depends on dialog.proto, Boost.Beast (in the .cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "parley/v1/dialog.pb.h"
#include "shared/common/status.h"

namespace parley::dialog {

struct VoiceClientOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string session_id;
  std::string key;             ///< bearer key ("" = none)
  bool key_in_query = false;   ///< send it as ?access_token= (as browsers must)
  int sample_rate = 16000;     ///< of the audio this client sends
  int output_sample_rate = 0;  ///< asked of the bot's voice; 0 = its own rate
  bool text_only = false;
  std::string extra_query;     ///< appended to the query ("language=en-GB")
  /// SO_RCVBUF of the socket; 0 = the OS default (tests shrink it to play a slow reader).
  int receive_buffer_bytes = 0;
  std::chrono::milliseconds connect_timeout{5000};
};

/// One connection. Thread-safe: send from one thread while another reads.
///
///   auto c = VoiceClient::connect({.port = 8080, .session_id = id});
///   (*c)->send_audio(pcm16);             // binary frame
///   (*c)->send_end();                    // {"type":"end"}
///   while (auto m = (*c)->next(5s)) { if (m->audio) ...; else if (m->event.type() == "turn") ...; }
///   // next() returns nullopt at the close (close_code()) or the timeout (timed_out()).
class VoiceClient {
 public:
  struct Message {
    bool audio = false;
    std::string data;     ///< the bot's PCM16 audio (audio) or the event's JSON text
    v1::VoiceEvent event; ///< parsed (events only)
    std::chrono::steady_clock::time_point at;  ///< when it arrived
  };

  /// Connects and upgrades. A refused upgrade is a Status with the HTTP status and body
  /// ("HTTP 404: {...}"): NOT_FOUND, UNAUTHENTICATED, INVALID_ARGUMENT, UNAVAILABLE, ...
  static Result<std::unique_ptr<VoiceClient>> connect(const VoiceClientOptions& options);
  ~VoiceClient();
  VoiceClient(const VoiceClient&) = delete;
  VoiceClient& operator=(const VoiceClient&) = delete;

  Status send_audio(std::string_view pcm16);
  Status send_text(std::string_view text);  ///< {"type":"text","text":...}
  Status send_interrupt();
  Status send_end();
  /// A raw frame (tests of bad input).
  Status send_raw(std::string_view data, bool binary);

  /// The next message, or nullopt when the connection closed (see close_code()) or `timeout`
  /// passed (timed_out()).
  std::optional<Message> next(std::chrono::milliseconds timeout);
  bool timed_out() const;
  /// 0 while open; the close code once closed (1006 when it dropped).
  std::uint16_t close_code() const;
  std::string close_reason() const;
  /// Stops / resumes reading from the socket (a slow or stuck client).
  void pause_reading(bool paused);
  /// Closes with 1000 (waits briefly for the server's answer).
  void close();
  /// Drops the TCP connection without a close frame (a vanished client).
  void drop();

  struct Impl;

 private:
  explicit VoiceClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::dialog
