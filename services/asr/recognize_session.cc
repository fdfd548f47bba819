// RecognizeSession (see recognize_session.h).
// Partials by local agreement: each re-decode of the open utterance is compared word by word
// with the previous one; the common prefix is stable and only ever grows (a partial never takes
// back text), so clients see steady text instead of a flickering tail.
// Depends on recognize_session.h, shared/audio/pcm.h.
#include "services/asr/recognize_session.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "shared/audio/pcm.h"

namespace parley::asr {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kRate = whisper::kSampleRate;

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> w;
  std::stringstream ss(s);
  std::string x;
  while (ss >> x) w.push_back(x);
  return w;
}

std::string join_words(const std::vector<std::string>& w) {
  std::string s;
  for (const auto& x : w) s += (s.empty() ? "" : " ") + x;
  return s;
}

// Words equal up to case and surrounding punctuation ("Do." == "do").
bool same_word(const std::string& a, const std::string& b) {
  auto core = [](const std::string& w) {
    std::string c;
    for (char ch : w) {
      if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '\'' || static_cast<unsigned char>(ch) >= 0x80) {
        c += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      }
    }
    return c;
  };
  return core(a) == core(b);
}

v1::RecognizeResponse event(v1::RecognizeResponse::SpeechEvent e) {
  v1::RecognizeResponse r;
  r.set_speech_event(e);
  return r;
}

std::int64_t to_ms(std::int64_t samples) { return samples * 1000 / kRate; }

}  // namespace

void add_word_times(const whisper::WindowResult& w, std::int64_t start_ms, v1::RecognitionAlternative& alt) {
  // Each timestamp segment's duration is shared among its words by their length.
  for (const auto& seg : w.segments) {
    const auto words = split_words(seg.text);
    std::size_t chars = 0;
    for (const auto& x : words) chars += x.size();
    double t = seg.start;
    const double dur = std::max(0.0, seg.end - seg.start);
    for (const auto& x : words) {
      const double d = chars > 0 ? dur * static_cast<double>(x.size()) / static_cast<double>(chars) : 0.0;
      auto* wi = alt.add_words();
      wi->set_word(x);
      wi->set_start_ms(start_ms + static_cast<std::int64_t>(t * 1000));
      wi->set_end_ms(start_ms + static_cast<std::int64_t>((t + d) * 1000));
      t += d;
    }
  }
}

RecognizeSession::RecognizeSession(AsrEngine& engine, SessionOptions options, AsrMetrics* metrics, const TurnEndClassifier* turn_end)
    : engine_(engine), o_(options), metrics_(metrics), turn_end_(turn_end), endpointer_(options.endpoint) {
  if (metrics_ != nullptr) metrics_->active_streams.inc();
}

RecognizeSession::~RecognizeSession() {
  cancelled_->store(true);
  if (metrics_ != nullptr) metrics_->active_streams.dec();
}

Status RecognizeSession::configure(const v1::RecognitionConfig& c) {
  if (configured_) return invalid_argument("Recognize: config sent twice");
  const auto& f = c.format();
  if (f.encoding() == v1::AudioFormat::PCM16) {
    float_ = false;
  } else if (f.encoding() == v1::AudioFormat::FLOAT32) {
    float_ = true;
  } else {
    return invalid_argument("Recognize: config.format.encoding must be PCM16 or FLOAT32");
  }
  if (f.sample_rate_hz() < o_.min_sample_rate || f.sample_rate_hz() > o_.max_sample_rate) {
    return invalid_argument("Recognize: sample rate " + std::to_string(f.sample_rate_hz()) + " Hz is outside [" +
                            std::to_string(o_.min_sample_rate) + ", " + std::to_string(o_.max_sample_rate) + "]");
  }
  if (f.channels() > 1) return invalid_argument("Recognize: only mono audio is accepted (channels " + std::to_string(f.channels()) + ")");
  if (!c.language().empty() && c.language().rfind("en", 0) != 0) {
    return invalid_argument("Recognize: language '" + c.language() + "' is not served by this English-only model");
  }
  rate_ = f.sample_rate_hz();
  if (rate_ != kRate) {
    auto r = audio::Resampler::create(rate_, kRate);
    if (!r.ok()) return r.status();
    resampler_.emplace(std::move(*r));
  }
  interim_ = c.interim_results();
  configured_ = true;
  return Status::ok();
}

Status RecognizeSession::audio(const v1::AudioChunk& chunk, std::vector<v1::RecognizeResponse>& out) {
  if (!configured_) return invalid_argument("Recognize: the first message must carry config");
  if (chunk.data().size() > o_.max_chunk_bytes) {
    return invalid_argument("Recognize: audio chunk of " + std::to_string(chunk.data().size()) + " bytes is over the limit of " +
                            std::to_string(o_.max_chunk_bytes));
  }
  if (chunk.has_format()) {
    const auto& f = chunk.format();
    const bool is_float = f.encoding() == v1::AudioFormat::FLOAT32;
    if ((f.encoding() != v1::AudioFormat::ENCODING_UNSPECIFIED && is_float != float_) ||
        (f.sample_rate_hz() != 0 && f.sample_rate_hz() != rate_)) {
      return invalid_argument("Recognize: the audio format changed mid-stream");
    }
  }
  chunk_arrival_ = Clock::now();
  auto samples = float_ ? audio::decode_f32_le(chunk.data()) : audio::decode_pcm16_le(chunk.data());
  if (!samples.ok()) return samples.status().with_context("Recognize");
  if (const std::int64_t bad = audio::first_non_finite(*samples); bad >= 0) {
    return invalid_argument("Recognize: sample " + std::to_string(bad) + " of the chunk is NaN or infinite");
  }
  if (metrics_ != nullptr) metrics_->stream_audio_seconds.inc(static_cast<double>(samples->size()) / rate_);
  if (!resampler_) return process(*samples, out);
  std::vector<float> s16;
  resampler_->process(*samples, s16);
  return process(s16, out);
}

Status RecognizeSession::finish(std::vector<v1::RecognizeResponse>& out) {
  if (!configured_) return invalid_argument("Recognize: the stream ended before any config");
  if (resampler_) {
    std::vector<float> tail;
    resampler_->flush(tail);
    PARLEY_RETURN_IF_ERROR(process(tail, out));
  }
  if (endpointer_.in_speech()) {
    out.push_back(event(v1::RecognizeResponse::END_OF_SPEECH));
    PARLEY_RETURN_IF_ERROR(final_result(received_, out));
    endpointer_.end_utterance();
  }
  return Status::ok();
}

Status RecognizeSession::process(std::span<const float> s, std::vector<v1::RecognizeResponse>& out) {
  if (static_cast<double>(received_ + static_cast<std::int64_t>(s.size())) > o_.max_stream_seconds * kRate) {
    return resource_exhausted("Recognize: the stream is over its limit of " + std::to_string(o_.max_stream_seconds) + " s of audio");
  }
  audio_.insert(audio_.end(), s.begin(), s.end());
  received_ += static_cast<std::int64_t>(s.size());
  vad_pending_.insert(vad_pending_.end(), s.begin(), s.end());
  std::size_t used = 0;
  while (vad_pending_.size() - used >= static_cast<std::size_t>(vad::kChunk)) {
    const float p = engine_.vad()->chunk(vad_state_, std::span<const float, vad::kChunk>(vad_pending_.data() + used, vad::kChunk));
    used += vad::kChunk;
    vad_done_ += vad::kChunk;
    PARLEY_RETURN_IF_ERROR(on_probability(p, out));
  }
  vad_pending_.erase(vad_pending_.begin(), vad_pending_.begin() + static_cast<std::ptrdiff_t>(used));
  // Keep the open utterance while speaking, else only the pre-roll (and what the VAD has not
  // seen): memory stays bounded by max_utterance_ms however long the stream runs.
  const std::int64_t keep_from =
      endpointer_.in_speech()
          ? endpointer_.utterance_start()
          : std::max<std::int64_t>(0, vad_done_ - static_cast<std::int64_t>(o_.endpoint.pre_roll_ms) * 16 - vad::kChunk * 8);
  if (keep_from > base_ + kRate) {
    audio_.erase(audio_.begin(), audio_.begin() + (keep_from - base_));
    base_ = keep_from;
  }
  return Status::ok();
}

std::span<const float> RecognizeSession::utterance(std::int64_t end) const {
  const std::int64_t from = std::max(endpointer_.utterance_start(), base_);
  const std::int64_t to = std::min(end, received_);
  if (to <= from) return {};
  return std::span<const float>(audio_).subspan(static_cast<std::size_t>(from - base_), static_cast<std::size_t>(to - from));
}

Result<WindowOutput> RecognizeSession::run(std::span<const float> a, bool partial) {
  WindowJob job;
  job.audio.assign(a.begin(), a.end());
  job.cancelled = cancelled_;
  job.truncate = partial && o_.fast_partials;
  return engine_.transcribe(std::move(job), Clock::now() + o_.window_timeout);
}

Status RecognizeSession::on_probability(float p, std::vector<v1::RecognizeResponse>& out) {
  const std::int64_t end = vad_done_;
  const Endpointer::Event e = endpointer_.on_chunk(p, end);
  switch (e) {
    case Endpointer::Event::kNone: break;
    case Endpointer::Event::kSpeechStart:
      out.push_back(event(v1::RecognizeResponse::START_OF_SPEECH));
      last_partial_at_ = 0;
      hypothesis_.clear();
      hypothesis_end_ = -1;
      previous_words_.clear();
      committed_.clear();
      break;
    case Endpointer::Event::kPause: {
      bool ends = false;
      if (turn_end_ != nullptr) {
        // The classifier reads the text up to the pause: decode it unless the latest
        // hypothesis already covers the last speech.
        if (turn_end_->needs_text() && hypothesis_end_ < endpointer_.last_speech_end()) PARLEY_RETURN_IF_ERROR(partial(out));
        TurnContext ctx{utterance(end), hypothesis_, endpointer_.silence_ms()};
        ends = endpointer_.decide(turn_end_->turn_end_probability(ctx));
      }
      if (!ends) break;
      [[fallthrough]];
    }
    case Endpointer::Event::kEndpoint: {
      out.push_back(event(v1::RecognizeResponse::END_OF_SPEECH));
      endpoint_latency_ms_.push_back(static_cast<int>(to_ms(end - endpointer_.last_speech_end())));
      if (metrics_ != nullptr) metrics_->endpoint_latency.observe(static_cast<double>(end - endpointer_.last_speech_end()) / kRate);
      const auto t0 = Clock::now();
      PARLEY_RETURN_IF_ERROR(final_result(endpointer_.last_speech_end() + static_cast<std::int64_t>(o_.endpoint.trailing_ms) * 16, out));
      if (metrics_ != nullptr) metrics_->final_latency.observe_since(t0);
      endpointer_.end_utterance();
      break;
    }
    case Endpointer::Event::kForcedCut:
      PARLEY_RETURN_IF_ERROR(final_result(end, out));
      endpointer_.restart_utterance(end);
      last_partial_at_ = 0;
      previous_words_.clear();
      committed_.clear();
      hypothesis_.clear();
      break;
  }
  // A partial every partial_interval of new speech (not during pauses).
  if (interim_ && endpointer_.in_speech() && endpointer_.silence_ms() == 0) {
    const std::int64_t len = end - endpointer_.utterance_start();
    if (len - last_partial_at_ >= static_cast<std::int64_t>(o_.partial_interval_ms) * 16) PARLEY_RETURN_IF_ERROR(partial(out));
  }
  return Status::ok();
}

Status RecognizeSession::partial(std::vector<v1::RecognizeResponse>& out) {
  const std::int64_t end = vad_done_;
  auto span = utterance(end);
  if (span.empty()) return Status::ok();
  if (span.size() > static_cast<std::size_t>(whisper::kWindowSamples)) span = span.last(whisper::kWindowSamples);
  last_partial_at_ = end - endpointer_.utterance_start();
  PARLEY_ASSIGN_OR_RETURN(WindowOutput w, run(span, /*partial=*/true));
  hypothesis_ = w.result.text;
  hypothesis_end_ = end;
  // Local agreement: the words this hypothesis shares with the previous one (compared without
  // case and punctuation) are stable; the stable prefix only grows, and only when the new
  // hypothesis still starts with what was already sent.
  std::vector<std::string> words = split_words(hypothesis_);
  std::size_t agree = 0;
  while (agree < words.size() && agree < previous_words_.size() && same_word(words[agree], previous_words_[agree])) ++agree;
  previous_words_ = words;
  if (agree <= committed_.size()) return Status::ok();  // nothing newly stable
  for (std::size_t i = 0; i < committed_.size(); ++i) {
    if (!same_word(words[i], committed_[i])) return Status::ok();  // the sent text is never taken back
  }
  committed_.insert(committed_.end(), words.begin() + static_cast<std::ptrdiff_t>(committed_.size()),
                    words.begin() + static_cast<std::ptrdiff_t>(agree));
  std::string& last = committed_.back();
  while (!last.empty() && (last.back() == '.' || last.back() == ',' || last.back() == '!' || last.back() == '?')) last.pop_back();
  if (!interim_) return Status::ok();
  v1::RecognizeResponse r;
  auto* res = r.add_results();
  res->set_is_final(false);
  res->set_stability(1.0f);
  res->set_audio_start_ms(to_ms(endpointer_.utterance_start()));
  res->set_audio_end_ms(to_ms(end));
  res->add_alternatives()->set_transcript(join_words(committed_));
  out.push_back(std::move(r));
  if (metrics_ != nullptr) metrics_->partial_latency.observe_since(chunk_arrival_);
  return Status::ok();
}

Status RecognizeSession::final_result(std::int64_t end, std::vector<v1::RecognizeResponse>& out) {
  auto span = utterance(end);
  if (span.empty()) return Status::ok();
  if (span.size() > static_cast<std::size_t>(whisper::kWindowSamples)) span = span.first(whisper::kWindowSamples);
  const std::int64_t start = std::max(endpointer_.utterance_start(), base_);
  PARLEY_ASSIGN_OR_RETURN(WindowOutput w, run(span, /*partial=*/false));
  if (metrics_ != nullptr) metrics_->utterances.inc();
  v1::RecognizeResponse r;
  auto* res = r.add_results();
  res->set_is_final(true);
  res->set_stability(1.0f);
  res->set_audio_start_ms(to_ms(start));
  res->set_audio_end_ms(to_ms(start + static_cast<std::int64_t>(span.size())));
  auto* alt = res->add_alternatives();
  alt->set_transcript(w.result.text);
  alt->set_confidence(static_cast<float>(std::exp(std::max(-10.0, w.result.avg_logprob))));
  add_word_times(w.result, to_ms(start), *alt);
  out.push_back(std::move(r));
  return Status::ok();
}

}  // namespace parley::asr
