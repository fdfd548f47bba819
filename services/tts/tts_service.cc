// TtsService: request checks, planning, per-piece phonemize + synthesize + stream. Why: see
// tts_service.h. Depends on tts_service.h, ssml.h, text_normalizer.h, shared/audio,
// shared/text/unicode.h.
#include "services/tts/tts_service.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

#include "services/tts/ssml.h"
#include "services/tts/text_normalizer.h"
#include "shared/audio/pcm.h"
#include "shared/audio/resampler.h"
#include "kernels/cpu/thread_pool.h"
#include "shared/text/unicode.h"

namespace parley::tts {

struct TtsService::Engine {
  kernels::ThreadPool single{1};  // everything inline: used while other syntheses run
  std::map<std::string, std::unique_ptr<Synthesizer>> synth;             // by voice name
  std::map<std::string, std::unique_ptr<PhonemizerClient>> phonemizers;  // by espeak voice
};

namespace {

using Clock = std::chrono::steady_clock;

std::string hex_cp(char32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

// Phonemes of one piece, Piper style: clause phonemes + its terminator (+ a space after , ; :).
Result<std::string> piece_phonemes(PhonemizerClient& ph, std::string_view text, const TextPiece& piece) {
  std::string out;
  for (const Clause& c : piece.clauses) {
    const std::string words = normalize_for_speech(text.substr(c.begin, c.body_end - c.begin));
    if (!words.empty()) {
      PARLEY_ASSIGN_OR_RETURN(std::string p, ph.phonemize(words));
      out += p;
    }
    if (c.terminator != 0) {
      out += c.terminator;
      if (c.terminator == ',' || c.terminator == ';' || c.terminator == ':') out += ' ';
    } else if (!c.end_of_sentence) {
      out += ' ';
    }
  }
  return out;
}

}  // namespace

TtsService::TtsService(TtsOptions options) : options_(std::move(options)) {}

TtsService::~TtsService() = default;

Result<std::unique_ptr<TtsService>> TtsService::create(TtsOptions options, metrics::Registry* registry) {
  if (options.voice_paths.empty()) return invalid_argument("no voice configured (tts.voice)");
  if (options.engines < 1) return invalid_argument("tts.engines must be >= 1");
  std::unique_ptr<TtsService> s(new TtsService(std::move(options)));
  for (const std::string& path : s->options_.voice_paths) {
    PARLEY_ASSIGN_OR_RETURN(auto voice, PiperVoice::load(path));
    for (const auto& v : s->voices_) {
      if (v->config().name == voice->config().name) return invalid_argument("voice '" + v->config().name + "' is configured twice");
    }
    s->voices_.push_back(std::move(voice));
  }
  if (registry == nullptr) {
    s->own_registry_ = std::make_unique<metrics::Registry>();
    registry = s->own_registry_.get();
  }
  s->metrics_ = std::make_unique<TtsMetrics>(*registry);
  for (int i = 0; i < s->options_.engines; ++i) {
    auto e = std::make_unique<Engine>();
    for (const auto& v : s->voices_) {
      e->synth[v->config().name] = std::make_unique<Synthesizer>(v, s->options_.seed + static_cast<std::uint64_t>(i), s->options_.bf16);
      const std::string& ev = v->config().espeak_voice;
      if (!e->phonemizers.count(ev)) {
        PhonemizerOptions po = s->options_.phonemizer;
        po.voice = ev;
        auto client = std::make_unique<PhonemizerClient>(po);
        PARLEY_RETURN_IF_ERROR(client->start());
        e->phonemizers[ev] = std::move(client);
      }
    }
    s->idle_.push_back(std::move(e));
  }
  return s;
}

std::vector<std::string> TtsService::voices() const {
  std::vector<std::string> out;
  for (const auto& v : voices_) out.push_back(v->config().name);
  return out;
}

std::unique_ptr<TtsService::Engine> TtsService::borrow() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !idle_.empty(); });
  auto e = std::move(idle_.back());
  idle_.pop_back();
  return e;
}

void TtsService::give_back(std::unique_ptr<Engine> e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(std::move(e));
  }
  cv_.notify_one();
}

Status TtsService::validate(const v1::SynthesizeRequest& r) const {
  const std::string& t = r.text();
  if (t.size() > options_.max_text_bytes) {
    return invalid_argument("text is " + std::to_string(t.size()) + " bytes; the limit is " + std::to_string(options_.max_text_bytes) +
                            " (tts.max_text_bytes)");
  }
  bool any = false;
  for (std::size_t i = 0; i < t.size();) {
    const auto d = text::unicode::decode_utf8(t, i);
    if (!d.valid) return invalid_argument("text is not valid UTF-8 at byte " + std::to_string(i));
    const bool allowed_space = d.cp == '\t' || d.cp == '\n' || d.cp == '\r';
    if (!allowed_space && (d.cp < 0x20 || (d.cp >= 0x7F && d.cp < 0xA0))) {
      return invalid_argument("text has the control character " + hex_cp(d.cp) + " at byte " + std::to_string(i));
    }
    if (!text::unicode::is_whitespace(d.cp)) any = true;
    i += d.len;
  }
  if (!any) return invalid_argument("text is empty");
  if (!r.voice().empty()) {
    bool found = false;
    for (const auto& v : voices_) found |= v->config().name == r.voice();
    if (!found) {
      std::string names;
      for (const auto& v : voices_) {
        if (!names.empty()) names += ", ";
        names += v->config().name;
      }
      return not_found("unknown voice '" + r.voice() + "' (available: " + names + ")");
    }
  }
  if (r.sample_rate_hz() != 0 && (r.sample_rate_hz() < options_.min_sample_rate || r.sample_rate_hz() > options_.max_sample_rate)) {
    return invalid_argument("sample_rate_hz " + std::to_string(r.sample_rate_hz()) + " is outside [" +
                            std::to_string(options_.min_sample_rate) + ", " + std::to_string(options_.max_sample_rate) + "] (0 = the voice's rate)");
  }
  const float rate = r.speaking_rate();
  if (rate != 0.0f && !(rate >= 0.25f && rate <= 4.0f)) {
    return invalid_argument("speaking_rate " + std::to_string(rate) + " is outside [0.25, 4] (0 = 1.0)");
  }
  return Status::ok();
}

Status TtsService::synthesize(const v1::SynthesizeRequest& r, service::StreamWriter<v1::SynthesizeResponse>& out,
                              service::CallContext& ctx) {
  const auto start = Clock::now();
  Status s = validate(r);
  if (!s.is_ok()) {
    metrics_->finished.labels({"invalid"}).inc();
    return s;
  }
  SpeechPlan plan;
  if (r.ssml()) {
    auto p = parse_ssml(r.text(), options_.max_break_ms);
    if (!p.ok()) {
      metrics_->finished.labels({"invalid"}).inc();
      return p.status();
    }
    plan = std::move(*p);
  } else {
    plan = plain_plan(r.text());
  }
  const PiperVoice* voice = voices_.front().get();
  for (const auto& v : voices_) {
    if (v->config().name == r.voice()) voice = v.get();
  }
  const VoiceConfig& vc = voice->config();
  const int out_rate = r.sample_rate_hz() == 0 ? vc.sample_rate : r.sample_rate_hz();
  std::optional<audio::Resampler> resampler;
  if (out_rate != vc.sample_rate) {
    PARLEY_ASSIGN_OR_RETURN(audio::Resampler rs, audio::Resampler::create(vc.sample_rate, out_rate));
    resampler.emplace(std::move(rs));
  }
  const float base_rate = r.speaking_rate() == 0.0f ? 1.0f : r.speaking_rate();
  metrics_->characters.inc(static_cast<double>(r.text().size()));
  metrics_->active_streams.inc();
  struct Active {
    TtsMetrics& m;
    ~Active() { m.active_streams.dec(); }
  } active{*metrics_};

  std::unique_ptr<Engine> engine = borrow();
  struct Return {
    TtsService& s;
    std::unique_ptr<Engine>& e;
    ~Return() { s.give_back(std::move(e)); }
  } back{*this, engine};
  Synthesizer& synth = *engine->synth.at(vc.name);
  // One synthesis alone gets every core (the process pool); several at once each run on their own
  // thread, so they do not contend for the pool's spinning workers.
  const int running = active_.fetch_add(1) + 1;
  struct Running {
    std::atomic<int>& n;
    ~Running() { n.fetch_sub(1); }
  } running_guard{active_};
  synth.set_threads(running > 1 ? &engine->single : nullptr);
  PhonemizerClient& phon = *engine->phonemizers.at(vc.espeak_voice);

  std::int64_t next_sample = 0;
  int piece_index = 0;
  bool first = true;
  auto is_cancelled = [&ctx] { return ctx.cancelled(); };
  int piece_no = 0;
  auto emit = [&](std::vector<float> samples, std::size_t begin, std::size_t end) -> Status {
    std::vector<float> res;
    if (resampler) {
      resampler->process(samples, res);
      samples.swap(res);
    }
    v1::SynthesizeResponse reply;
    auto* a = reply.mutable_audio();
    if (first) {
      a->mutable_format()->set_encoding(v1::AudioFormat::PCM16);
      a->mutable_format()->set_sample_rate_hz(out_rate);
      a->mutable_format()->set_channels(1);
    }
    std::string bytes;
    audio::encode_pcm16_le(samples, bytes);
    a->set_data(std::move(bytes));
    a->set_start_sample(next_sample);
    next_sample += static_cast<std::int64_t>(samples.size());
    reply.set_text_begin(static_cast<std::int32_t>(begin));
    reply.set_text_end(static_cast<std::int32_t>(end));
    reply.set_piece_index(piece_no);
    ++piece_index;
    if (first) {
      const auto ttfa = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
      reply.set_time_to_first_audio_us(ttfa.count());
      metrics_->time_to_first_audio.observe(std::chrono::duration<double>(ttfa).count());
      ctx.add_timing("first_audio", ttfa);
      first = false;
    }
    if (!out.write(reply)) return parley::cancelled("synthesis cancelled: the client went away or the deadline passed");
    return Status::ok();
  };
  (void)emit;

  for (const SpeechItem& item : plan.items) {
    if (ctx.cancelled()) break;
    if (item.kind == SpeechItem::Kind::kBreak) {
      if (item.break_ms > 0) {
        std::vector<float> silence(static_cast<std::size_t>(static_cast<std::int64_t>(vc.sample_rate) * item.break_ms / 1000), 0.0f);
        PARLEY_RETURN_IF_ERROR(emit(std::move(silence), item.begin, item.end));
        ++piece_no;
      }
      continue;
    }
    const std::string_view seg = std::string_view(plan.text).substr(item.begin, item.end - item.begin);
    for (TextPiece piece : split_pieces(seg, options_.split)) {
      if (ctx.cancelled()) break;
      const auto t0 = Clock::now();
      PARLEY_ASSIGN_OR_RETURN(std::string phonemes, piece_phonemes(phon, seg, piece));
      int unknown = 0;
      const std::vector<std::int64_t> ids = phonemes_to_ids(vc, phonemes, &unknown);
      if (unknown > 0) metrics_->unknown_phonemes.inc(unknown);
      if (ids.size() <= 3) continue;  // nothing speakable (punctuation only)
      SynthesisParams p;
      p.noise_scale = options_.noise_scale >= 0 ? options_.noise_scale : vc.noise_scale;
      p.noise_w = options_.noise_w >= 0 ? options_.noise_w : vc.noise_w;
      p.length_scale = vc.length_scale / (base_rate * item.rate);
      const std::size_t begin = item.begin + piece.begin, end = item.begin + piece.end;
      if (piece_index == 0 && options_.stream_first_piece && !voice->latent_name().empty()) {
        // First piece: decoder windows, each sent as soon as it is ready.
        double audio_secs = 0;
        Status emitted;
        Status s = synth.synthesize_windows(
            ids, p, options_.windows,
            [&](std::vector<float> w) {
              for (float& v : w) v = std::clamp(v * options_.stream_gain, -1.0f, 1.0f);
              audio_secs += static_cast<double>(w.size()) / vc.sample_rate;
              emitted = emit(std::move(w), begin, end);
              return emitted.is_ok();
            },
            is_cancelled);
        if (!emitted.is_ok()) return emitted;
        if (!s.is_ok()) {
          if (s.code() == StatusCode::kCancelled) break;
          metrics_->finished.labels({"error"}).inc();
          return s.with_context("synthesis of text bytes [" + std::to_string(begin) + ", " + std::to_string(end) + ")");
        }
        const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        metrics_->piece_seconds.observe(secs);
        if (audio_secs > 0) metrics_->real_time_factor.observe(secs / audio_secs);
        metrics_->audio_seconds.inc(audio_secs);
        metrics_->pieces.inc();
        ++piece_no;
        continue;
      }
      auto audio_or = synth.synthesize(ids, p, is_cancelled);
      if (!audio_or.ok()) {
        if (audio_or.status().code() == StatusCode::kCancelled) break;
        metrics_->finished.labels({"error"}).inc();
        return audio_or.status().with_context("synthesis of text bytes [" + std::to_string(begin) + ", " + std::to_string(end) + ")");
      }
      std::vector<float> audio = std::move(*audio_or);
      if (options_.normalize_audio) {
        float peak = 0;
        for (float v : audio) peak = std::max(peak, std::fabs(v));
        if (peak > 1e-8f) {
          for (float& v : audio) v /= peak;
        }
      }
      const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      const double audio_secs = static_cast<double>(audio.size()) / vc.sample_rate;
      metrics_->piece_seconds.observe(secs);
      if (audio_secs > 0) metrics_->real_time_factor.observe(secs / audio_secs);
      metrics_->audio_seconds.inc(audio_secs);
      metrics_->pieces.inc();
      PARLEY_RETURN_IF_ERROR(emit(std::move(audio), begin, end));
      ++piece_no;
    }
  }
  if (ctx.cancelled()) {
    metrics_->finished.labels({"cancelled"}).inc();
    return parley::cancelled("synthesis cancelled: the client went away or the deadline passed");
  }
  if (piece_index == 0) {
    metrics_->finished.labels({"invalid"}).inc();
    return invalid_argument("text has nothing to speak (only punctuation or symbols the voice cannot say)");
  }
  if (resampler) {
    std::vector<float> tail;
    resampler->flush(tail);
    if (!tail.empty()) {
      resampler.reset();  // flushed samples go out as they are
      PARLEY_RETURN_IF_ERROR(emit(std::move(tail), r.text().size(), r.text().size()));
    }
  }
  metrics_->finished.labels({"ok"}).inc();
  return Status::ok();
}

}  // namespace parley::tts
