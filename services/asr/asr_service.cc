// AsrService (see asr_service.h).
// Depends on asr_service.h, shared/audio (wav, pcm, resampler).
#include "services/asr/asr_service.h"

#include "shared/audio/pcm.h"
#include "shared/audio/resampler.h"
#include "shared/audio/wav.h"

namespace parley::asr {

namespace {
using Clock = std::chrono::steady_clock;
constexpr int kRate = whisper::kSampleRate;

const char* reason_of(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kCancelled: return "cancelled";
    case StatusCode::kDeadlineExceeded: return "timeout";
    case StatusCode::kInvalidArgument: return "invalid";
    case StatusCode::kResourceExhausted: return "limit";
    default: return "error";
  }
}
}  // namespace

AsrService::AsrService(AsrEngine& engine, ServiceOptions options, AsrMetrics* metrics, const TurnEndClassifier* turn_end)
    : engine_(engine), o_(std::move(options)), metrics_(metrics), turn_end_(turn_end) {
  o_.session.model = &engine_.model();  // the languages config.language may name
}

/// One Recognize call: the session, its Whisper windows queued on the engine (their results come
/// back as WindowDone events), the replies written as they are produced.
class RecognizeStream final : public RecognizeHandler, public WindowRunner {
 public:
  RecognizeStream(AsrService& svc, RecognizeCall& call)
      : svc_(svc), call_(call), sink_(call.sink()),
        session_(*svc.engine_.vad(), *this, svc.o_.session, svc.metrics_, svc.turn_end_) {
    if (svc_.active_.fetch_add(1) >= svc_.o_.max_streams) {
      end(resource_exhausted("Recognize: " + std::to_string(svc_.o_.max_streams) + " streams are open (asr.max_streams)"));
    }
  }
  ~RecognizeStream() override {
    session_.cancel();
    svc_.active_.fetch_sub(1);
  }

  void on_request(v1::RecognizeRequest& req) override {
    if (ended_) return;
    if (first_) {
      first_ = false;
      if (!req.has_config()) return end(invalid_argument("Recognize: the first message must carry config"));
      return step(session_.configure(req.config()));
    }
    if (req.has_config()) return end(invalid_argument("Recognize: config sent twice"));
    step(session_.audio(req.audio(), out_));
  }
  void on_end_of_stream() override {
    if (ended_) return;
    if (first_) return end(invalid_argument("Recognize: the stream ended before any config"));
    step(session_.finish(out_));
  }
  void on_event(WindowDone& d) override {
    if (ended_) return;
    step(session_.on_window(d.ticket, std::move(d.result), out_));
  }
  void on_cancelled(const Status& why) override {
    session_.cancel();
    if (!ended_ && svc_.metrics_ != nullptr) svc_.metrics_->streams_ended.labels({reason_of(why)}).inc();
    ended_ = true;
  }

  // WindowRunner: queue on the engine; the result is posted back to this call.
  std::optional<Result<WindowOutput>> run(WindowJob job, std::uint64_t ticket) override {
    const auto deadline = std::min(Clock::now() + svc_.o_.session.window_timeout, call_.context().deadline());
    Status queued = svc_.engine_.submit(std::move(job), deadline, [sink = sink_, ticket](Result<WindowOutput> r) {
      (void)sink.post(WindowDone{ticket, std::move(r)});  // UNAVAILABLE once the call is over: nobody waits
    });
    if (!queued.is_ok()) return Result<WindowOutput>(queued);
    return std::nullopt;
  }

 private:
  // After each session step: send what it produced, end the call on an error or when done.
  void step(const Status& s) {
    for (const auto& r : out_) {
      if (!call_.write(r)) break;  // the client is gone: the host tells on_cancelled
    }
    out_.clear();
    if (!s.is_ok()) return end(s);
    if (session_.done()) end(Status::ok());
  }
  void end(const Status& s) {
    if (ended_) return;
    ended_ = true;
    session_.cancel();
    if (svc_.metrics_ != nullptr) svc_.metrics_->streams_ended.labels({reason_of(s)}).inc();
    call_.finish(s);
  }

  AsrService& svc_;
  RecognizeCall& call_;
  service::EventSink<WindowDone> sink_;
  RecognizeSession session_;
  std::vector<v1::RecognizeResponse> out_;
  bool first_ = true, ended_ = false;
};

std::unique_ptr<RecognizeHandler> AsrService::open(RecognizeCall& call) { return std::make_unique<RecognizeStream>(*this, call); }

std::vector<std::pair<std::int64_t, std::int64_t>> split_at_pauses(std::span<const float> audio, const vad::SileroVad& vad,
                                                                   std::int64_t max_samples) {
  const std::int64_t n = static_cast<std::int64_t>(audio.size());
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  if (n <= max_samples) {
    if (n > 0) out.emplace_back(0, n);
    return out;
  }
  // Speech probability per 512-sample chunk.
  std::vector<float> p;
  vad::VadState st;
  for (std::int64_t i = 0; i + vad::kChunk <= n; i += vad::kChunk) {
    p.push_back(vad.chunk(st, std::span<const float, vad::kChunk>(audio.data() + i, vad::kChunk)));
  }
  std::int64_t start = 0;
  while (n - start > max_samples) {
    // The longest run of p < 0.35 whose middle lies in [start + 2/3 max, start + max).
    const std::int64_t lo = (start + max_samples * 2 / 3) / vad::kChunk, hi = (start + max_samples) / vad::kChunk;
    std::int64_t best_mid = -1, best_len = 0, run = 0;
    for (std::int64_t c = lo; c < hi && c < static_cast<std::int64_t>(p.size()); ++c) {
      run = p[static_cast<std::size_t>(c)] < 0.35f ? run + 1 : 0;
      if (run > best_len) {
        best_len = run;
        best_mid = c - run / 2;
      }
    }
    const std::int64_t cut = best_mid > 0 ? best_mid * vad::kChunk : start + max_samples;
    out.emplace_back(start, cut);
    start = cut;
  }
  out.emplace_back(start, n);
  return out;
}

Result<v1::TranscribeResponse> AsrService::transcribe(const v1::TranscribeRequest& req, service::CallContext& ctx) {
  const auto t0 = Clock::now();
  std::vector<float> samples;
  int rate = 0;
  if (!req.wav().empty()) {
    if (req.wav().size() > o_.max_transcribe_bytes) {
      return invalid_argument("Transcribe: " + std::to_string(req.wav().size()) + " bytes, over the limit of " +
                              std::to_string(o_.max_transcribe_bytes));
    }
    audio::WavLimits lim;
    lim.min_sample_rate = o_.session.min_sample_rate;
    lim.max_sample_rate = o_.session.max_sample_rate;
    auto wav = audio::parse_wav(req.wav(), lim);
    if (!wav.ok()) return wav.status().with_context("Transcribe");
    samples = wav->mono();
    rate = wav->sample_rate;
  } else {
    const auto& f = req.config().format();
    if (req.audio().size() > o_.max_transcribe_bytes) {
      return invalid_argument("Transcribe: " + std::to_string(req.audio().size()) + " bytes, over the limit of " +
                              std::to_string(o_.max_transcribe_bytes));
    }
    if (f.sample_rate_hz() < o_.session.min_sample_rate || f.sample_rate_hz() > o_.session.max_sample_rate) {
      return invalid_argument("Transcribe: sample rate " + std::to_string(f.sample_rate_hz()) + " Hz is outside [" +
                              std::to_string(o_.session.min_sample_rate) + ", " + std::to_string(o_.session.max_sample_rate) + "]");
    }
    if (f.channels() > 1) return invalid_argument("Transcribe: raw audio must be mono (send a WAV file for stereo)");
    Result<std::vector<float>> s = f.encoding() == v1::AudioFormat::PCM16     ? audio::decode_pcm16_le(req.audio())
                                   : f.encoding() == v1::AudioFormat::FLOAT32 ? audio::decode_f32_le(req.audio())
                                                                              : Result<std::vector<float>>(invalid_argument(
                                                                                    "config.format.encoding must be PCM16 or FLOAT32"));
    if (!s.ok()) return s.status().with_context("Transcribe");
    samples = std::move(*s);
    rate = f.sample_rate_hz();
  }
  if (samples.empty()) return invalid_argument("Transcribe: no audio");
  if (const std::int64_t bad = audio::first_non_finite(samples); bad >= 0) {
    return invalid_argument("Transcribe: sample " + std::to_string(bad) + " is NaN or infinite");
  }
  const double seconds = static_cast<double>(samples.size()) / rate;
  if (seconds > o_.max_transcribe_seconds) {
    return invalid_argument("Transcribe: " + std::to_string(seconds) + " s of audio, over the limit of " +
                            std::to_string(o_.max_transcribe_seconds) + " s");
  }
  if (rate != kRate) {
    auto r = audio::Resampler::resample(samples, rate, kRate);
    if (!r.ok()) return r.status();
    samples = std::move(*r);
  }
  auto language = language_token(engine_.model(), req.has_config() ? req.config().language() : std::string());
  if (!language.ok()) return language.status().with_context("Transcribe");
  const auto pieces = split_at_pauses(samples, *engine_.vad(), whisper::kWindowSamples);
  std::vector<WindowJob> jobs;
  for (auto [a, b] : pieces) {
    WindowJob j;
    j.language = *language;
    j.audio.assign(samples.begin() + a, samples.begin() + b);
    jobs.push_back(std::move(j));
  }
  PARLEY_ASSIGN_OR_RETURN(auto outs, engine_.transcribe_all(std::move(jobs), ctx.deadline()));
  v1::TranscribeResponse resp;
  std::string text;
  for (std::size_t i = 0; i < outs.size(); ++i) {
    const auto& w = outs[i].result;
    if (w.text.empty()) continue;
    auto* res = resp.add_results();
    res->set_is_final(true);
    res->set_stability(1.0f);
    res->set_audio_start_ms(pieces[i].first * 1000 / kRate);
    res->set_audio_end_ms(pieces[i].second * 1000 / kRate);
    auto* alt = res->add_alternatives();
    alt->set_transcript(w.text);
    add_word_times(w, res->audio_start_ms(), *alt);
    text += (text.empty() ? "" : " ") + w.text;
  }
  resp.set_text(text);
  resp.set_audio_seconds(seconds);
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  resp.set_real_time_factor(static_cast<float>(wall / seconds));
  ctx.add_timing("transcribe", std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0));
  return resp;
}

}  // namespace parley::asr
