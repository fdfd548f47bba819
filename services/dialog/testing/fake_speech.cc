// Fake speech recognition and synthesis (see fake_speech.h).
// Depends on fake_speech.h, shared/transport/server.h.
#include "services/dialog/testing/fake_speech.h"

#include <cmath>
#include <condition_variable>
#include <cstring>
#include <map>
#include <sstream>
#include <thread>

#include "shared/transport/server.h"

namespace parley::dialog::testing {
namespace {

constexpr double kPi = 3.14159265358979323846;

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

std::string first_words(const std::string& text, int n) {
  auto words = split_words(text);
  std::string out;
  for (int i = 0; i < n && i < static_cast<int>(words.size()); ++i) out += (out.empty() ? "" : " ") + words[i];
  return out;
}

v1::RecognitionResult* add_result(v1::RecognizeResponse& r, const std::string& text, bool final_result) {
  auto* res = r.add_results();
  res->set_is_final(final_result);
  auto* alt = res->add_alternatives();
  alt->set_transcript(text);
  alt->set_confidence(final_result ? 0.9f : 0.5f);
  return res;
}

}  // namespace

std::string tone_pcm16(int sample_rate, double hz, int ms, double amplitude) {
  const std::int64_t n = static_cast<std::int64_t>(sample_rate) * ms / 1000;
  std::string out(static_cast<std::size_t>(n * 2), '\0');
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = amplitude * 32767.0 * std::sin(2 * kPi * hz * static_cast<double>(i) / sample_rate);
    const auto s = static_cast<std::int16_t>(std::lround(v));
    std::memcpy(&out[static_cast<std::size_t>(i * 2)], &s, 2);  // little-endian hosts
  }
  return out;
}

std::string silence_pcm16(int sample_rate, int ms) {
  return std::string(static_cast<std::size_t>(static_cast<std::int64_t>(sample_rate) * ms / 1000 * 2), '\0');
}

// ---- ScriptedAsr / ScriptedTts ----------------------------------------------------------------

namespace {
class ScriptedAsrStream final : public voice::AsrStream {
 public:
  explicit ScriptedAsrStream(std::shared_ptr<ScriptedAsr::Stream> s) : s_(std::move(s)) {}
  bool send_audio(std::string pcm16) override {
    if (s_->ended || s_->finished) return false;
    s_->audio += pcm16;
    return true;
  }
  void finish() override { s_->finished = true; }
  void cancel() override {
    if (s_->ended) return;
    s_->cancelled = true;
    s_->end(cancelled("cancelled by the client"));
  }

 private:
  std::shared_ptr<ScriptedAsr::Stream> s_;
};

class ScriptedTtsCall final : public voice::TtsCall {
 public:
  explicit ScriptedTtsCall(std::shared_ptr<ScriptedTts::Call> c) : c_(std::move(c)) {}
  void cancel() override {
    if (c_->ended) return;
    c_->cancelled = true;
    c_->end(cancelled("cancelled by the client"));
  }

 private:
  std::shared_ptr<ScriptedTts::Call> c_;
};
}  // namespace

std::unique_ptr<voice::AsrStream> ScriptedAsr::recognize(const v1::RecognitionConfig& config, const CallMeta&,
                                                        voice::AsrHandlers handlers) {
  auto s = std::make_shared<Stream>();
  s->config = config;
  s->handlers = std::move(handlers);
  streams.push_back(s);
  if (down) s->end(unavailable("no live replica of asr"));
  return std::make_unique<ScriptedAsrStream>(s);
}

v1::RecognizeResponse ScriptedAsr::start_of_speech(int audio_ms) {
  v1::RecognizeResponse r;
  r.set_speech_event(v1::RecognizeResponse::START_OF_SPEECH);
  r.add_results()->set_audio_start_ms(audio_ms);  // timing only: no alternatives
  return r;
}

v1::RecognizeResponse ScriptedAsr::end_of_speech(int audio_ms) {
  v1::RecognizeResponse r;
  r.set_speech_event(v1::RecognizeResponse::END_OF_SPEECH);
  r.add_results()->set_audio_end_ms(audio_ms);  // timing only: no alternatives
  return r;
}

v1::RecognizeResponse ScriptedAsr::partial(const std::string& text) {
  v1::RecognizeResponse r;
  add_result(r, text, false);
  return r;
}

v1::RecognizeResponse ScriptedAsr::final_result(const std::string& text, int start_ms, int end_ms) {
  v1::RecognizeResponse r;
  auto* res = add_result(r, text, true);
  res->set_audio_start_ms(start_ms);
  res->set_audio_end_ms(end_ms);
  return r;
}

void ScriptedTts::Call::audio(const std::string& pcm16, int sample_rate) {
  if (ended) return;
  v1::SynthesizeResponse chunk;
  chunk.mutable_audio()->mutable_format()->set_encoding(v1::AudioFormat::PCM16);
  chunk.mutable_audio()->mutable_format()->set_sample_rate_hz(sample_rate);
  chunk.mutable_audio()->mutable_format()->set_channels(1);
  chunk.mutable_audio()->set_data(pcm16);
  handlers.on_audio(std::move(chunk));
}

std::unique_ptr<voice::TtsCall> ScriptedTts::synthesize(const v1::SynthesizeRequest& request, const CallMeta&,
                                                       voice::TtsHandlers handlers) {
  auto c = std::make_shared<Call>();
  c->request = request;
  c->handlers = std::move(handlers);
  calls.push_back(c);
  if (down) {
    c->end(unavailable("no live replica of tts"));
  } else if (auto_reply) {
    const int rate = request.sample_rate_hz() > 0 ? request.sample_rate_hz() : 16000;
    c->audio(tone_pcm16(rate, 220, ms_per_char * static_cast<int>(request.text().size())), rate);
    c->end(Status::ok());
  }
  return std::make_unique<ScriptedTtsCall>(c);
}

// ---- ToneRecognizer ---------------------------------------------------------------------------

ToneRecognizer::ToneRecognizer(int sample_rate, ToneScript script, int hangover_ms, int word_ms, double threshold)
    : rate_(sample_rate),
      frame_(std::max(1, sample_rate / 50)),
      hangover_frames_(std::max(1, hangover_ms / 20)),
      word_ms_(word_ms),
      threshold_(threshold),
      script_(std::move(script)) {}

std::string ToneRecognizer::text_now() const {
  if (loud_frames_ == 0) return script_.default_text;
  const double seconds = static_cast<double>(loud_frames_ * frame_) / rate_;
  const double hz = static_cast<double>(crossings_) / (2.0 * seconds);
  const std::string* best = nullptr;
  double best_err = 0.05;
  for (const auto& [tone, text] : script_.tones) {
    const double err = std::abs(hz - tone) / tone;
    if (err <= best_err) {
      best_err = err;
      best = &text;
    }
  }
  return best ? *best : script_.default_text;
}

std::vector<v1::RecognizeResponse> ToneRecognizer::feed(std::string_view pcm16) {
  std::vector<v1::RecognizeResponse> out;
  carry_.append(pcm16);
  const std::size_t bytes = static_cast<std::size_t>(frame_) * 2;
  std::size_t off = 0;
  std::vector<std::int16_t> samples(static_cast<std::size_t>(frame_));
  while (carry_.size() - off >= bytes) {
    std::memcpy(samples.data(), carry_.data() + off, bytes);
    frame(samples.data(), out);
    off += bytes;
  }
  carry_.erase(0, off);
  return out;
}

void ToneRecognizer::frame(const std::int16_t* s, std::vector<v1::RecognizeResponse>& out) {
  double energy = 0;
  int crossings = 0;
  for (int i = 0; i < frame_; ++i) {
    energy += static_cast<double>(s[i]) * s[i];
    if ((s[i] >= 0) != (last_sample_ >= 0)) ++crossings;
    last_sample_ = s[i];
  }
  const bool loud = std::sqrt(energy / frame_) > threshold_;
  ++frames_;
  if (loud) {
    ++loud_run_;
    quiet_run_ = 0;
  } else {
    ++quiet_run_;
    loud_run_ = 0;
  }
  if (!in_speech_) {
    if (loud_run_ >= 3) {
      in_speech_ = true;
      start_frame_ = frames_ - 3;
      last_loud_frame_ = frames_;
      crossings_ = crossings;
      loud_frames_ = 1;
      words_shown_ = 0;
      v1::RecognizeResponse r;
      r.set_speech_event(v1::RecognizeResponse::START_OF_SPEECH);
      auto* res = r.add_results();
      res->set_audio_start_ms(start_frame_ * 20);
      res->set_is_final(false);
      out.push_back(std::move(r));
    }
    return;
  }
  if (loud) {
    crossings_ += crossings;
    ++loud_frames_;
    last_loud_frame_ = frames_;
    // One more word of the text every word_ms of speech.
    const std::int64_t speech_ms = (frames_ - start_frame_) * 20;
    const int words = static_cast<int>(speech_ms / word_ms_);
    const std::string text = text_now();
    const int total = static_cast<int>(split_words(text).size());
    if (words > words_shown_ && words_shown_ < total) {
      words_shown_ = std::min(words, total);
      v1::RecognizeResponse r;
      add_result(r, first_words(text, words_shown_), false)->set_audio_start_ms(start_frame_ * 20);
      out.push_back(std::move(r));
    }
  } else if (quiet_run_ >= hangover_frames_) {
    end_utterance(out);
  }
}

void ToneRecognizer::end_utterance(std::vector<v1::RecognizeResponse>& out) {
  if (!in_speech_) return;
  in_speech_ = false;
  v1::RecognizeResponse end;
  end.set_speech_event(v1::RecognizeResponse::END_OF_SPEECH);
  auto* res = add_result(end, text_now(), true);
  res->set_audio_start_ms(start_frame_ * 20);
  res->set_audio_end_ms(last_loud_frame_ * 20);
  out.push_back(std::move(end));
}

std::vector<v1::RecognizeResponse> ToneRecognizer::flush() {
  std::vector<v1::RecognizeResponse> out;
  end_utterance(out);
  return out;
}

// ---- FakeSpeechServer -------------------------------------------------------------------------

struct FakeSpeechServer::Impl {
  FakeSpeechOptions options;
  std::unique_ptr<transport::Server> server;
  FakeSpeechServer* owner = nullptr;

  // Synthesis jobs, produced chunk by chunk on one scheduler thread.
  struct Job {
    std::shared_ptr<transport::ServerCall> call;
    std::string audio;      // the whole utterance
    std::size_t sent = 0;   // bytes sent
    std::size_t chunk = 0;  // bytes per chunk
    int rate = 0;
    std::chrono::microseconds interval{0};
  };
  std::mutex mu;
  std::condition_variable cv;
  std::multimap<transport::Clock::time_point, std::shared_ptr<Job>> due;  // guarded by mu
  bool stopping = false;                                                  // guarded by mu
  std::thread scheduler;
  mutable std::mutex texts_mu;
  std::vector<std::string> texts;

  void on_call(const std::shared_ptr<transport::ServerCall>& call);
  void recognize(const std::shared_ptr<transport::ServerCall>& call);
  void synthesize(const std::shared_ptr<transport::ServerCall>& call);
  void run_scheduler();
};

void FakeSpeechServer::Impl::on_call(const std::shared_ptr<transport::ServerCall>& call) {
  if (call->method() == voice::kRecognizeMethod && options.serve_asr) return recognize(call);
  if (call->method() == voice::kSynthesizeMethod && options.serve_tts) return synthesize(call);
  call->finish(unimplemented("fake speech does not serve " + std::string(call->method())));
}

void FakeSpeechServer::Impl::recognize(const std::shared_ptr<transport::ServerCall>& call) {
  ++owner->recognize_calls;
  if (owner->asr_failing) {
    call->finish(unavailable("fake asr is failing"));
    return;
  }
  v1::RecognizeRequest req;
  if (!call->request().payload().UnpackTo(&req) || !req.has_config()) {
    call->finish(invalid_argument("the first message of Recognize must carry a RecognitionConfig"));
    return;
  }
  const int rate = req.config().format().sample_rate_hz() > 0 ? req.config().format().sample_rate_hz() : 16000;
  auto recognizer = std::make_shared<ToneRecognizer>(rate, options.script, options.hangover_ms, 150, options.threshold);
  auto send_all = [call](std::vector<v1::RecognizeResponse> events) {
    for (auto& ev : events) {
      transport::Envelope e;
      e.mutable_payload()->PackFrom(ev);
      call->send(std::move(e));
    }
  };
  FakeSpeechServer* owner_ptr = owner;
  call->on_cancel([owner_ptr](const Status&) { ++owner_ptr->recognize_cancelled; });
  // Runs on the transport's I/O thread: the recognizer's work per 20 ms frame is a few hundred
  // multiplications.
  call->on_stream_data([call, recognizer, send_all, owner_ptr](transport::Envelope env) {
    if (env.has_payload()) {
      v1::RecognizeRequest data;
      if (!env.payload().UnpackTo(&data) || !data.has_audio()) {
        call->finish(invalid_argument("Recognize stream data must carry audio"));
        return;
      }
      owner_ptr->audio_bytes_in += static_cast<std::int64_t>(data.audio().data().size());
      send_all(recognizer->feed(data.audio().data()));
    }
    if (env.end_of_stream()) {
      send_all(recognizer->flush());
      call->finish(Status::ok());
    }
  });
}

void FakeSpeechServer::Impl::synthesize(const std::shared_ptr<transport::ServerCall>& call) {
  ++owner->synthesize_calls;
  if (owner->tts_failing) {
    call->finish(unavailable("fake tts is failing"));
    return;
  }
  v1::SynthesizeRequest req;
  if (!call->request().payload().UnpackTo(&req) || req.text().empty()) {
    call->finish(invalid_argument("Synthesize needs text"));
    return;
  }
  {
    std::lock_guard lock(texts_mu);
    texts.push_back(req.text());
  }
  auto job = std::make_shared<Job>();
  job->call = call;
  job->rate = req.sample_rate_hz() > 0 ? req.sample_rate_hz() : options.default_rate;
  const int ms = std::max(200, options.ms_per_char * static_cast<int>(req.text().size()));
  job->audio = tone_pcm16(job->rate, options.tts_hz, ms, 0.2);
  job->chunk = static_cast<std::size_t>(job->rate) * options.chunk_ms / 1000 * 2;
  job->interval = std::chrono::microseconds(static_cast<std::int64_t>(options.chunk_ms * 1000 / options.speed));
  FakeSpeechServer* owner_ptr = owner;
  call->on_cancel([owner_ptr](const Status&) { ++owner_ptr->synthesize_cancelled; });
  std::lock_guard lock(mu);
  due.emplace(transport::Clock::now() + std::chrono::milliseconds(options.first_chunk_ms), job);
  cv.notify_one();
}

void FakeSpeechServer::Impl::run_scheduler() {
  std::unique_lock lock(mu);
  while (!stopping) {
    if (due.empty()) {
      cv.wait(lock);
      continue;
    }
    auto it = due.begin();
    if (it->first > transport::Clock::now()) {
      cv.wait_until(lock, it->first);
      continue;
    }
    auto job = it->second;
    due.erase(it);
    lock.unlock();
    bool more = false;
    if (!job->call->cancelled()) {
      const std::size_t n = std::min(job->chunk, job->audio.size() - job->sent);
      v1::SynthesizeResponse chunk;
      auto* audio = chunk.mutable_audio();
      if (job->sent == 0) {
        audio->mutable_format()->set_encoding(v1::AudioFormat::PCM16);
        audio->mutable_format()->set_sample_rate_hz(job->rate);
        audio->mutable_format()->set_channels(1);
      }
      audio->set_start_sample(static_cast<std::int64_t>(job->sent / 2));
      audio->set_data(job->audio.substr(job->sent, n));
      job->sent += n;
      transport::Envelope e;
      e.mutable_payload()->PackFrom(chunk);
      job->call->send(std::move(e));
      if (job->sent < job->audio.size()) {
        more = true;
      } else {
        job->call->finish(Status::ok());
        ++owner->synthesize_done;
      }
    }
    lock.lock();
    if (more) due.emplace(transport::Clock::now() + job->interval, job);
  }
}

Result<std::unique_ptr<FakeSpeechServer>> FakeSpeechServer::start(FakeSpeechOptions options) {
  std::unique_ptr<FakeSpeechServer> self(new FakeSpeechServer());
  self->impl_ = std::make_unique<Impl>();
  Impl* impl = self->impl_.get();
  impl->options = std::move(options);
  impl->owner = self.get();
  transport::ServerOptions so;
  so.endpoints = {impl->options.endpoint};
  auto server = transport::Server::start(
      so, transport::make_handler([impl](std::shared_ptr<transport::ServerCall> call) { impl->on_call(call); }));
  if (!server.ok()) return server.status();
  impl->server = std::move(*server);
  self->endpoint_ = impl->server->endpoints()[0];
  impl->scheduler = std::thread([impl] { impl->run_scheduler(); });
  return self;
}

FakeSpeechServer::~FakeSpeechServer() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    impl_->due.clear();
    impl_->cv.notify_all();
  }
  impl_->scheduler.join();
  impl_->server->stop();
}

std::vector<std::string> FakeSpeechServer::synthesized() const {
  std::lock_guard lock(impl_->texts_mu);
  return impl_->texts;
}

}  // namespace parley::dialog::testing
