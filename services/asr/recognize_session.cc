// RecognizeSession (see recognize_session.h).
// Partials by local agreement: each re-decode of the open utterance is compared word by word
// with the previous one; the common prefix is stable and only ever grows (a partial never takes
// back text), so clients see steady text instead of a flickering tail.
// The state machine: drive() runs the VAD over the received audio one 32 ms chunk at a time;
// a chunk may start a partial (at most one window in flight; audio goes on behind it), or queue
// a blocking job (a decision that needs text, a final): audio then waits until it is done.
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

RecognizeSession::RecognizeSession(const vad::SileroVad& vad, WindowRunner& runner, SessionOptions options, AsrMetrics* metrics,
                                   const TurnEndClassifier* turn_end)
    : vad_(vad), runner_(runner), o_(options), metrics_(metrics), turn_end_(turn_end), endpointer_(options.endpoint) {
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
  if (o_.model != nullptr) {
    auto lang = language_token(*o_.model, c.language());
    if (!lang.ok()) return lang.status().with_context("Recognize");
    language_ = *lang;
  } else if (!c.language().empty() && c.language().rfind("en", 0) != 0) {
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
  if (finishing_) return invalid_argument("Recognize: audio after the end of the stream");
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
  std::vector<float> s16;
  if (resampler_) resampler_->process(*samples, s16);
  const std::vector<float>& s = resampler_ ? s16 : *samples;
  if (static_cast<double>(received_ + static_cast<std::int64_t>(s.size())) > o_.max_stream_seconds * kRate) {
    return resource_exhausted("Recognize: the stream is over its limit of " + std::to_string(o_.max_stream_seconds) + " s of audio");
  }
  if (metrics_ != nullptr) metrics_->stream_audio_seconds.inc(static_cast<double>(samples->size()) / rate_);
  audio_.insert(audio_.end(), s.begin(), s.end());
  received_ += static_cast<std::int64_t>(s.size());
  vad_pending_.insert(vad_pending_.end(), s.begin(), s.end());
  return drive(out);
}

Status RecognizeSession::finish(std::vector<v1::RecognizeResponse>& out) {
  if (!configured_) return invalid_argument("Recognize: the stream ended before any config");
  if (finishing_) return Status::ok();
  finishing_ = true;
  if (resampler_) {
    std::vector<float> tail;
    resampler_->flush(tail);
    audio_.insert(audio_.end(), tail.begin(), tail.end());
    received_ += static_cast<std::int64_t>(tail.size());
    vad_pending_.insert(vad_pending_.end(), tail.begin(), tail.end());
  }
  return drive(out);
}

Status RecognizeSession::on_window(std::uint64_t ticket, Result<WindowOutput> result, std::vector<v1::RecognizeResponse>& out) {
  if (!inflight_ || inflight_->ticket != ticket || ready_) return Status::ok();  // stale
  ready_ = std::move(result);
  return drive(out);
}

Status RecognizeSession::drive(std::vector<v1::RecognizeResponse>& out) {
  while (true) {
    if (inflight_ && ready_) {
      Job job = std::move(*inflight_);
      Result<WindowOutput> r = std::move(*ready_);
      inflight_.reset();
      ready_.reset();
      PARLEY_RETURN_IF_ERROR(complete(std::move(job), std::move(r), out));
      continue;
    }
    // Audio waits for a decision or a final (not for a partial or a speculative final).
    if (inflight_ && inflight_->kind != JobKind::kPartial && !inflight_->speculative) break;
    if (!blocking_.empty()) {
      if (inflight_) break;  // the window in flight first: one window per stream at a time
      Job next = std::move(blocking_.front());
      blocking_.pop_front();
      start(std::move(next));
      continue;
    }
    if (speculative_waiting_ && !inflight_) {
      Job next = std::move(*speculative_waiting_);
      speculative_waiting_.reset();
      if (next.utterance == utterance_id_) {
        start(std::move(next));
        ++speculative_started_;
        if (metrics_ != nullptr) metrics_->speculative_started.inc();
      }
      continue;
    }
    if (vad_pending_.size() - vad_used_ >= static_cast<std::size_t>(vad::kChunk)) {
      PARLEY_RETURN_IF_ERROR(vad_step(out));
      continue;
    }
    // Everything received is through the VAD. At the end of the stream: finalize an open
    // utterance, then we are done once nothing is left in flight.
    if (finishing_ && !inflight_) {
      if (!final_queued_ && endpointer_.in_speech()) {
        out.push_back(event(v1::RecognizeResponse::END_OF_SPEECH));
        queue_final(received_, /*after_endpoint=*/false);
        endpointer_.end_utterance();
        ++utterance_id_;
        final_queued_ = true;
        continue;
      }
      finished_ = true;
    }
    break;
  }
  trim();
  return Status::ok();
}

void RecognizeSession::trim() {
  vad_pending_.erase(vad_pending_.begin(), vad_pending_.begin() + static_cast<std::ptrdiff_t>(vad_used_));
  vad_used_ = 0;
  // Keep the open utterance while speaking, else only the pre-roll (and what the VAD has not
  // seen): memory stays bounded by max_utterance_ms however long the stream runs. Queued jobs
  // hold their own copy of their audio.
  const std::int64_t keep_from =
      endpointer_.in_speech()
          ? endpointer_.utterance_start()
          : std::max<std::int64_t>(0, vad_done_ - static_cast<std::int64_t>(o_.endpoint.pre_roll_ms) * 16 - vad::kChunk * 8);
  if (keep_from > base_ + kRate) {
    audio_.erase(audio_.begin(), audio_.begin() + (keep_from - base_));
    base_ = keep_from;
  }
}

std::span<const float> RecognizeSession::utterance(std::int64_t end) const {
  const std::int64_t from = std::max(endpointer_.utterance_start(), base_);
  const std::int64_t to = std::min(end, received_);
  if (to <= from) return {};
  return std::span<const float>(audio_).subspan(static_cast<std::size_t>(from - base_), static_cast<std::size_t>(to - from));
}

RecognizeSession::Job RecognizeSession::window_job(JobKind kind, std::span<const float> a, bool truncate) {
  Job j;
  j.kind = kind;
  j.utterance = utterance_id_;
  j.window.audio.assign(a.begin(), a.end());
  j.window.cancelled = cancelled_;
  j.window.truncate = truncate;
  j.window.language = language_;
  return j;
}

void RecognizeSession::start(Job job) {
  job.ticket = next_ticket_++;
  WindowJob w = std::move(job.window);
  inflight_ = std::move(job);
  auto r = runner_.run(std::move(w), inflight_->ticket);
  if (r.has_value()) ready_ = std::move(*r);
}

Status RecognizeSession::vad_step(std::vector<v1::RecognizeResponse>& out) {
  const float p = vad_.chunk(vad_state_, std::span<const float, vad::kChunk>(vad_pending_.data() + vad_used_, vad::kChunk));
  vad_used_ += vad::kChunk;
  vad_done_ += vad::kChunk;
  const std::int64_t end = vad_done_;
  switch (endpointer_.on_chunk(p, end)) {
    case Endpointer::Event::kNone: break;
    case Endpointer::Event::kSpeechStart:
      out.push_back(event(v1::RecognizeResponse::START_OF_SPEECH));
      ++utterance_id_;
      last_partial_at_ = 0;
      hypothesis_.clear();
      hypothesis_end_ = -1;
      previous_words_.clear();
      committed_.clear();
      break;
    case Endpointer::Event::kPause: PARLEY_RETURN_IF_ERROR(pause(out)); break;
    case Endpointer::Event::kEndpoint: PARLEY_RETURN_IF_ERROR(endpoint(out)); break;
    case Endpointer::Event::kForcedCut:
      queue_final(end, /*after_endpoint=*/false);
      endpointer_.restart_utterance(end);
      ++utterance_id_;
      last_partial_at_ = 0;
      previous_words_.clear();
      committed_.clear();
      hypothesis_.clear();
      hypothesis_end_ = -1;
      break;
  }
  // A partial every partial_interval of new speech (not during pauses), when no window of this
  // stream is in flight or waiting (then the next chunk asks again).
  if (interim_ && endpointer_.in_speech() && endpointer_.silence_ms() == 0 && !inflight_ && blocking_.empty()) {
    const std::int64_t len = end - endpointer_.utterance_start();
    if (len - last_partial_at_ >= static_cast<std::int64_t>(o_.partial_interval_ms) * 16) {
      auto span = utterance(end);
      if (!span.empty()) {
        if (span.size() > static_cast<std::size_t>(whisper::kWindowSamples)) span = span.last(whisper::kWindowSamples);
        last_partial_at_ = len;
        Job j = window_job(JobKind::kPartial, span, o_.fast_partials);
        j.end = end;
        j.since = chunk_arrival_;
        start(std::move(j));
      }
    }
  }
  return Status::ok();
}

Status RecognizeSession::pause(std::vector<v1::RecognizeResponse>& out) {
  if (turn_end_ == nullptr) return Status::ok();
  // A classifier that reads the text needs a hypothesis covering the last speech: decode the
  // utterance first (a blocking job: the audio behind waits, so the decision is the same as if
  // it had been made right here).
  if (turn_end_->needs_text() && hypothesis_end_ < endpointer_.last_speech_end()) {
    auto span = utterance(vad_done_);
    if (span.size() > static_cast<std::size_t>(whisper::kWindowSamples)) span = span.last(whisper::kWindowSamples);
    if (!span.empty()) {
      Job j = window_job(JobKind::kDecision, span, o_.fast_partials);
      j.end = vad_done_;
      j.silence_ms = endpointer_.silence_ms();
      j.since = chunk_arrival_;
      blocking_.push_back(std::move(j));
      return Status::ok();
    }
  }
  if (o_.speculative_finals) speculate();  // runs on the engine while the classifier runs here
  const auto t0 = Clock::now();
  Result<float> p = turn_end_->turn_end_probability(TurnContext{utterance(vad_done_), hypothesis_, endpointer_.silence_ms()});
  ++classifier_calls_;
  classifier_seconds_ += std::chrono::duration<double>(Clock::now() - t0).count();
  if (!p.ok()) return p.status().with_context(std::string("turn-end classifier ") + std::string(turn_end_->name()));
  return decide(*p, out);
}

Status RecognizeSession::decide(float probability, std::vector<v1::RecognizeResponse>& out) {
  if (!endpointer_.decide(probability)) return Status::ok();
  return endpoint(out);
}

Status RecognizeSession::endpoint(std::vector<v1::RecognizeResponse>& out) {
  const std::int64_t end = vad_done_;
  out.push_back(event(v1::RecognizeResponse::END_OF_SPEECH));
  endpoint_latency_ms_.push_back(static_cast<int>(to_ms(end - endpointer_.last_speech_end())));
  if (metrics_ != nullptr) metrics_->endpoint_latency.observe(static_cast<double>(end - endpointer_.last_speech_end()) / kRate);
  PARLEY_RETURN_IF_ERROR(
      promote_or_queue_final(endpointer_.last_speech_end() + static_cast<std::int64_t>(o_.endpoint.trailing_ms) * 16, out));
  endpointer_.end_utterance();
  ++utterance_id_;
  return Status::ok();
}

std::optional<RecognizeSession::Job> RecognizeSession::final_job(std::int64_t end, bool after_endpoint) {
  auto span = utterance(end);
  if (span.empty()) return std::nullopt;
  if (span.size() > static_cast<std::size_t>(whisper::kWindowSamples)) span = span.first(whisper::kWindowSamples);
  const bool shorter = o_.final_context_seconds < static_cast<double>(whisper::kWindowSamples) / whisper::kSampleRate;
  Job j = window_job(JobKind::kFinal, span, shorter);
  if (shorter) {
    j.window.min_frames = static_cast<int>(o_.final_context_seconds * 100.0);  // 100 mel frames per second
    j.window.fallback_full = true;
  }
  j.end = end;
  j.start = std::max(endpointer_.utterance_start(), base_);
  j.samples = static_cast<std::int64_t>(span.size());
  j.after_endpoint = after_endpoint;
  j.since = Clock::now();
  return j;
}

void RecognizeSession::queue_final(std::int64_t end, bool after_endpoint) {
  if (auto j = final_job(end, after_endpoint)) blocking_.push_back(std::move(*j));
}

// At a pause the final's audio (the speech plus trailing_ms of silence) is usually all here:
// decode it now, beside the classifier, so an endpoint finds it done or running. It is the
// same window the endpoint would queue (same start, same end), so the transcript is the same.
void RecognizeSession::speculate() {
  const std::int64_t end = endpointer_.last_speech_end() + static_cast<std::int64_t>(o_.endpoint.trailing_ms) * 16;
  if (end > vad_done_ || !blocking_.empty()) return;  // not all heard yet, or a final is already coming
  auto same = [&](const Job& j) { return j.utterance == utterance_id_ && j.end == end; };
  if ((inflight_ && inflight_->speculative && same(*inflight_)) || (speculative_waiting_ && same(*speculative_waiting_)) ||
      (speculative_done_ && same(speculative_done_->job))) {
    return;  // asked again in the same pause: already decoding (or decoded) this audio
  }
  speculative_done_.reset();
  auto j = final_job(end, /*after_endpoint=*/false);
  if (!j) return;
  j->speculative = true;
  if (!inflight_) {
    start(std::move(*j));
    ++speculative_started_;
    if (metrics_ != nullptr) metrics_->speculative_started.inc();
  } else {
    speculative_waiting_ = std::move(*j);  // after the partial in flight (drive starts it)
  }
}

Status RecognizeSession::promote_or_queue_final(std::int64_t end, std::vector<v1::RecognizeResponse>& out) {
  auto same = [&](const Job& j) { return j.utterance == utterance_id_ && j.end == end; };
  std::optional<Decoded> done = std::move(speculative_done_);
  speculative_done_.reset();
  std::optional<Job> waiting = std::move(speculative_waiting_);
  speculative_waiting_.reset();
  if (blocking_.empty()) {
    if (inflight_ && inflight_->speculative && same(*inflight_)) {
      // Running (or its result is posted): it completes as this final, and audio waits for it.
      inflight_->speculative = false;
      inflight_->after_endpoint = true;
      inflight_->since = Clock::now();
      ++speculative_used_;
      if (metrics_ != nullptr) metrics_->speculative_used.inc();
      return Status::ok();
    }
    if (done && same(done->job)) {
      done->job.speculative = false;
      done->job.after_endpoint = true;
      done->job.since = Clock::now();
      ++speculative_used_;
      if (metrics_ != nullptr) metrics_->speculative_used.inc();
      return complete(std::move(done->job), std::move(done->result), out);
    }
  }
  if (waiting && same(*waiting)) {
    waiting->speculative = false;
    waiting->after_endpoint = true;
    waiting->since = Clock::now();
    blocking_.push_back(std::move(*waiting));
    return Status::ok();
  }
  queue_final(end, /*after_endpoint=*/true);
  return Status::ok();
}

Status RecognizeSession::complete(Job job, Result<WindowOutput> r, std::vector<v1::RecognizeResponse>& out) {
  switch (job.kind) {
    case JobKind::kPartial:
      if (!r.ok()) {
        // A partial is optional output: when the engine is saturated, skip it (the next one
        // comes with more speech); other failures end the stream.
        if (r.status().code() == StatusCode::kResourceExhausted) return Status::ok();
        return r.status().with_context("Recognize: partial");
      }
      if (job.utterance != utterance_id_) return Status::ok();  // that utterance has ended: stale
      apply_hypothesis(r->result, job.end, job.since, out);
      return Status::ok();
    case JobKind::kDecision: {
      if (!r.ok()) return r.status().with_context("Recognize: turn-end decode");
      apply_hypothesis(r->result, job.end, job.since, out);
      const auto t0 = Clock::now();
      Result<float> p = turn_end_->turn_end_probability(TurnContext{utterance(job.end), hypothesis_, job.silence_ms});
      ++classifier_calls_;
      classifier_seconds_ += std::chrono::duration<double>(Clock::now() - t0).count();
      if (!p.ok()) return p.status().with_context(std::string("turn-end classifier ") + std::string(turn_end_->name()));
      return decide(*p, out);
    }
    case JobKind::kFinal: {
      if (job.speculative) {
        // Not (yet) the final: keep it for the endpoint of this pause. A failure is forgotten:
        // the endpoint then queues the final itself.
        if (r.ok() && job.utterance == utterance_id_) speculative_done_ = Decoded{std::move(job), std::move(r)};
        return Status::ok();
      }
      if (!r.ok()) return r.status().with_context("Recognize: final");
      if (metrics_ != nullptr) metrics_->utterances.inc();
      v1::RecognizeResponse resp;
      auto* res = resp.add_results();
      res->set_is_final(true);
      res->set_stability(1.0f);
      res->set_audio_start_ms(to_ms(job.start));
      res->set_audio_end_ms(to_ms(job.start + job.samples));
      auto* alt = res->add_alternatives();
      alt->set_transcript(r->result.text);
      alt->set_confidence(static_cast<float>(std::exp(std::max(-10.0, r->result.avg_logprob))));
      add_word_times(r->result, to_ms(job.start), *alt);
      out.push_back(std::move(resp));
      if (metrics_ != nullptr && job.after_endpoint) metrics_->final_latency.observe_since(job.since);
      return Status::ok();
    }
  }
  return Status::ok();
}

void RecognizeSession::apply_hypothesis(const whisper::WindowResult& w, std::int64_t end, Clock::time_point since,
                                        std::vector<v1::RecognizeResponse>& out) {
  hypothesis_ = w.text;
  hypothesis_end_ = end;
  // Local agreement: the words this hypothesis shares with the previous one (compared without
  // case and punctuation) are stable; the stable prefix only grows, and only when the new
  // hypothesis still starts with what was already sent.
  std::vector<std::string> words = split_words(hypothesis_);
  std::size_t agree = 0;
  while (agree < words.size() && agree < previous_words_.size() && same_word(words[agree], previous_words_[agree])) ++agree;
  previous_words_ = words;
  if (agree <= committed_.size()) return;  // nothing newly stable
  for (std::size_t i = 0; i < committed_.size(); ++i) {
    if (!same_word(words[i], committed_[i])) return;  // the sent text is never taken back
  }
  committed_.insert(committed_.end(), words.begin() + static_cast<std::ptrdiff_t>(committed_.size()),
                    words.begin() + static_cast<std::ptrdiff_t>(agree));
  std::string& last = committed_.back();
  while (!last.empty() && (last.back() == '.' || last.back() == ',' || last.back() == '!' || last.back() == '?')) last.pop_back();
  if (!interim_) return;
  v1::RecognizeResponse r;
  auto* res = r.add_results();
  res->set_is_final(false);
  res->set_stability(1.0f);
  res->set_audio_start_ms(to_ms(endpointer_.utterance_start()));
  res->set_audio_end_ms(to_ms(end));
  res->add_alternatives()->set_transcript(join_words(committed_));
  out.push_back(std::move(r));
  if (metrics_ != nullptr) metrics_->partial_latency.observe_since(since);
}

}  // namespace parley::asr
