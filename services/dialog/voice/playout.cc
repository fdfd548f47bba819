// Pacing the bot's audio and estimating what was played (see playout.h). Depends on playout.h.
#include "services/dialog/voice/playout.h"

#include <algorithm>

namespace parley::dialog::voice {

Playout::Playout(std::chrono::milliseconds lead, std::chrono::milliseconds frame) : lead_(lead), frame_(frame) {}

std::size_t Playout::add_segment(std::string text) {
  segs_.push_back(Segment{std::move(text)});
  return segs_.size() - 1;
}

bool Playout::add_audio(std::size_t seg, int sample_rate, std::string_view pcm16, int text_begin, int text_end) {
  if (seg >= segs_.size()) return false;
  if (sample_rate > 0) {
    if (rate_ == 0) rate_ = sample_rate;
    if (sample_rate != rate_) return false;
  }
  if (rate_ == 0) return false;  // audio before any rate is known cannot be timed
  Segment& s = segs_[seg];
  const std::size_t whole = pcm16.size() & ~std::size_t{1};
  s.audio.append(pcm16.substr(0, whole));
  const auto n = static_cast<std::int64_t>(whole / 2);
  if (text_begin >= 0 && text_end >= text_begin && static_cast<std::size_t>(text_end) <= s.text.size()) {
    s.ranges.push_back(TextRange{s.received, n, text_begin, text_end});
  }
  s.received += n;
  return true;
}

void Playout::end_segment(std::size_t seg) {
  if (seg < segs_.size()) segs_[seg].ended = true;
}

std::int64_t Playout::buffered(TimePoint now) const {
  if (rate_ == 0 || play_end_ <= now) return 0;
  const auto left = std::chrono::duration<double>(play_end_ - now).count();
  return std::min<std::int64_t>(sent_, static_cast<std::int64_t>(left * rate_));
}

std::vector<std::string> Playout::due(TimePoint now) {
  std::vector<std::string> out;
  if (rate_ == 0) return out;
  const std::int64_t lead = std::max<std::int64_t>(1, lead_.count() * rate_ / 1000);
  const std::int64_t frame = std::max<std::int64_t>(1, frame_.count() * rate_ / 1000);
  while (current_ < segs_.size()) {
    Segment& s = segs_[current_];
    const std::int64_t avail = static_cast<std::int64_t>(s.audio.size() / 2);
    if (avail == 0) {
      if (!s.ended) break;  // waiting for its audio
      ++current_;
      continue;
    }
    // A whole frame, or what is left of an ended segment (never a partial frame mid-stream
    // unless the segment is complete); never more than `lead` unplayed at the client (but at
    // least one frame when it holds nothing, whatever the lead).
    std::int64_t n = std::min(frame, avail);
    if (n < frame && !s.ended) break;
    const std::int64_t held = buffered(now);
    if (held > 0 && held + n > lead) break;
    if (s.start < 0) s.start = sent_;
    out.emplace_back(s.audio.substr(0, static_cast<std::size_t>(n * 2)));
    s.audio.erase(0, static_cast<std::size_t>(n * 2));
    s.sent += n;
    sent_ += n;
    const auto d = std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(
        static_cast<double>(n) / rate_));
    play_end_ = std::max(play_end_, now) + d;
  }
  return out;
}

bool Playout::all_sent() const {
  for (std::size_t i = current_; i < segs_.size(); ++i) {
    if (!segs_[i].ended || !segs_[i].audio.empty()) return false;
  }
  return true;
}

std::size_t Playout::open_segments() const {
  std::size_t n = 0;
  for (const auto& s : segs_) n += s.ended ? 0 : 1;
  return n;
}

std::chrono::milliseconds Playout::played(TimePoint now) const {
  if (rate_ == 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(played_samples(now) * 1000 / rate_);
}

std::string Playout::played_text(TimePoint now) const {
  const std::int64_t played = played_samples(now);
  std::string out;
  for (const auto& s : segs_) {
    if (s.start < 0 || played <= s.start) break;
    const std::int64_t heard = played - s.start;
    // Its length: all its audio once it ended, else what arrived so far (an over-estimate of the
    // part heard is avoided by never counting more than was sent).
    const std::int64_t total = std::max<std::int64_t>(1, s.received);
    std::string part;
    if (s.ended && heard >= total) {
      part = s.text;
    } else {
      // Where in the text: within the chunk being heard when the synthesizer said which text it
      // speaks, else over the whole segment, in proportion to the audio heard.
      std::size_t k = static_cast<std::size_t>(std::min(1.0, static_cast<double>(heard) / static_cast<double>(total)) *
                                               static_cast<double>(s.text.size()));
      for (const auto& r : s.ranges) {
        if (heard < r.first_sample || heard >= r.first_sample + r.samples) continue;
        const double f = static_cast<double>(heard - r.first_sample) / static_cast<double>(std::max<std::int64_t>(1, r.samples));
        k = static_cast<std::size_t>(r.begin + f * (r.end - r.begin));
        break;
      }
      if (k < s.text.size() && s.text[k] != ' ') {
        while (k > 0 && s.text[k - 1] != ' ') --k;  // the word it is in was not heard whole
      }
      part = s.text.substr(0, k);
      while (!part.empty() && part.back() == ' ') part.pop_back();
    }
    if (!part.empty()) out += (out.empty() ? "" : " ") + part;
    if (!(s.ended && heard >= total)) break;
  }
  return out;
}

}  // namespace parley::dialog::voice
