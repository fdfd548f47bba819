// The bot's speech for one reply, as the client hears it: segments (one per synthesized piece
// of text) whose audio arrives from the TTS, sent to the client in order and in real time with a
// small lead, and — at any moment — how much has been played and which text that was (what a
// barge-in leaves in the history). Exists apart from the session so pacing and the played-text
// estimate are tested with a manual clock. Depends on the standard library.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley::dialog::voice {

/// Not thread-safe: owned by one voice session actor.
class Playout {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  /// `lead`: unplayed audio the client may hold (sending stops beyond it); `frame`: the size of
  /// the audio messages sent.
  Playout(std::chrono::milliseconds lead, std::chrono::milliseconds frame);

  /// A new piece of text to be spoken after the previous ones; returns its index.
  std::size_t add_segment(std::string text);
  /// Audio (PCM16 mono) of segment `seg`, in order. The first audio fixes the sample rate; a
  /// chunk at another rate is refused (false) — the caller drops that segment. When the
  /// synthesizer says which bytes [text_begin, text_end) of the segment's text the chunk speaks,
  /// the played-text estimate uses them (else the segment's audio is spread over its text).
  bool add_audio(std::size_t seg, int sample_rate, std::string_view pcm16, int text_begin = -1, int text_end = -1);
  /// All of segment `seg`'s audio arrived.
  void end_segment(std::size_t seg);
  /// Segment `seg` will get no (more) audio: it is skipped (what it had is still played).
  void fail_segment(std::size_t seg) { end_segment(seg); }

  /// The frames due at `now`: audio is sent while the client would then hold at most `lead` of
  /// unplayed audio. Segments go out in order; a segment still waiting for its audio holds the next ones
  /// back (the client plays silence meanwhile).
  std::vector<std::string> due(TimePoint now);

  int sample_rate() const { return rate_; }
  bool started() const { return sent_ > 0; }
  /// Every segment ended and all their audio was sent.
  bool all_sent() const;
  /// all_sent() and the client has played it all by `now`.
  bool finished(TimePoint now) const { return all_sent() && buffered(now) == 0; }
  /// Samples sent / played by the client at `now` (sent minus what it still holds).
  std::int64_t sent_samples() const { return sent_; }
  std::int64_t played_samples(TimePoint now) const { return sent_ - buffered(now); }
  std::chrono::milliseconds played(TimePoint now) const;
  /// The text played by `now`: whole segments, then the words of the segment it is in, in
  /// proportion to that segment's audio played, rounded down to a whole word.
  std::string played_text(TimePoint now) const;
  std::size_t segments() const { return segs_.size(); }
  const std::string& text(std::size_t seg) const { return segs_.at(seg).text; }
  /// Pending segments (not yet ended).
  std::size_t open_segments() const;

 private:
  struct TextRange {
    std::int64_t first_sample;  // of the segment's audio
    std::int64_t samples;
    int begin, end;             // bytes of the segment's text
  };
  struct Segment {
    std::string text;
    std::vector<TextRange> ranges;  // when the synthesizer gave them
    std::string audio;            // received, not yet sent
    std::int64_t received = 0;    // samples received
    std::int64_t start = -1;      // index of its first sample in the sent stream (-1: none sent)
    std::int64_t sent = 0;        // samples sent
    bool ended = false;
  };
  std::int64_t buffered(TimePoint now) const;

  std::chrono::milliseconds lead_, frame_;
  std::vector<Segment> segs_;
  std::size_t current_ = 0;  // the segment being sent
  int rate_ = 0;
  std::int64_t sent_ = 0;
  TimePoint play_end_{};     // when the client finishes what was sent (it plays without gaps)
};

}  // namespace parley::dialog::voice
