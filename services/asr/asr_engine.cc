// AsrEngine (see asr_engine.h): model loading and the batch function (mel -> batched encoder ->
// lockstep greedy decoding). Each batch worker thread keeps its own WhisperRunner.
// Depends on asr_engine.h, zlib (the compression-ratio rule).
#include "services/asr/asr_engine.h"

#include <zlib.h>

#include <algorithm>
#include <future>

namespace parley::asr {

namespace {
using Clock = std::chrono::steady_clock;
}

Result<std::unique_ptr<AsrEngine>> AsrEngine::create(const EngineOptions& options, AsrMetrics* metrics) {
  std::unique_ptr<AsrEngine> e(new AsrEngine());
  e->options_ = options;
  e->metrics_ = metrics;
  whisper::WhisperLoadOptions lo;
  lo.precision = options.precision;
  lo.device = options.device;
  PARLEY_ASSIGN_OR_RETURN(e->model_, whisper::WhisperModel::load(options.model_dir, lo));
  e->mel_ = whisper::LogMel(e->model_->config().n_mels);
  PARLEY_ASSIGN_OR_RETURN(e->vad_, vad::SileroVad::load(options.vad_path));
  batching::DynamicBatcherOptions bo;
  bo.name = "asr-windows";
  bo.max_batch_size = options.max_batch;
  bo.max_queue_delay = options.max_queue_delay;
  bo.queue_capacity = options.queue_capacity;
  bo.workers = options.workers;
  AsrEngine* self = e.get();
  PARLEY_ASSIGN_OR_RETURN(e->batcher_, (batching::DynamicBatcher<WindowJob, WindowOutput>::create(
                                           bo, [self](std::vector<WindowJob>& jobs) { return self->run_batch(jobs); })));
  return e;
}

AsrEngine::~AsrEngine() {
  if (batcher_) batcher_->stop();
}

double compression_ratio(const std::string& text) {
  if (text.empty()) return 0.0;
  uLongf size = compressBound(static_cast<uLong>(text.size()));
  std::vector<Bytef> buf(size);
  if (compress2(buf.data(), &size, reinterpret_cast<const Bytef*>(text.data()), static_cast<uLong>(text.size()),
                Z_DEFAULT_COMPRESSION) != Z_OK || size == 0) {
    return 0.0;
  }
  return static_cast<double>(text.size()) / static_cast<double>(size);
}

bool degenerate_result(const whisper::WindowResult& r, int max_new_tokens) {
  if (r.silence) return false;
  if (max_new_tokens > 0 && static_cast<int>(r.tokens.size()) >= max_new_tokens) return true;
  return compression_ratio(r.text) > 2.4 || r.avg_logprob < -1.0;
}

void AsrEngine::run_windows(whisper::WhisperRunner& runner, const std::vector<WindowJob>& jobs,
                            const std::vector<std::size_t>& candidates, bool ts, bool trunc,
                            std::vector<Result<WindowOutput>>& out) {
  int frames = whisper::kWindowFrames;
  if (trunc) {
    std::size_t longest = 0;
    int floor = 0;
    for (std::size_t i : candidates) {
      longest = std::max(longest, jobs[i].audio.size());
      floor = std::max(floor, jobs[i].min_frames);
    }
    // The audio's frames plus 1 s of padding, rounded up to 0.2 s (fewer distinct shapes).
    frames = std::max(floor, (static_cast<int>(longest / whisper::kHop) + 100 + 19) / 20 * 20);
    frames = std::min<int>(whisper::kWindowFrames, frames);
  }
  std::vector<std::size_t> idx;
  std::vector<std::vector<float>> mels;
  for (std::size_t i : candidates) {
    auto m = mel_.window(jobs[i].audio);
    if (!m.ok()) {
      out[i] = m.status();
      continue;
    }
    if (frames < whisper::kWindowFrames) {  // keep the first `frames` columns of each mel row
      const int n_mels = mel_.n_mels();
      std::vector<float> cut(static_cast<std::size_t>(n_mels) * frames);
      for (int r = 0; r < n_mels; ++r) {
        std::copy_n(m->begin() + static_cast<std::ptrdiff_t>(r) * whisper::kWindowFrames, frames,
                    cut.begin() + static_cast<std::ptrdiff_t>(r) * frames);
      }
      *m = std::move(cut);
    }
    idx.push_back(i);
    mels.push_back(std::move(*m));
  }
  if (idx.empty()) return;
  std::vector<std::span<const float>> spans(mels.begin(), mels.end());
  Status s = runner.encode(spans, frames);
  if (!s.is_ok()) {
    for (std::size_t i : idx) out[i] = s;
    return;
  }
  whisper::DecodeOptions dopt;
  dopt.timestamps = ts;
  for (std::size_t i : idx) dopt.languages.push_back(jobs[i].language);
  // At most 12 tokens per second of the longest audio (+16; speech is 3-6): a window that falls
  // into Whisper's repetition loop ("Go forward 10 meters. Go forward 10 meters. ...", seen on
  // truncated-context partials) stops there instead of running 224 decoder steps (seconds on
  // 2 cores, which delayed the endpoint of a 3 s clip by 4 s).
  std::size_t longest_audio = 0;
  for (std::size_t i : idx) longest_audio = std::max(longest_audio, jobs[i].audio.size());
  dopt.max_new_tokens = std::min(dopt.max_new_tokens, static_cast<int>(12 * longest_audio / whisper::kSampleRate) + 16);
  auto res = whisper::greedy_decode(runner, static_cast<int>(idx.size()), dopt);
  if (!res.ok()) {
    for (std::size_t i : idx) out[i] = res.status();
    return;
  }
  for (std::size_t k = 0; k < idx.size(); ++k) {
    WindowOutput w;
    w.result = std::move((*res)[k]);
    w.audio_seconds = static_cast<double>(jobs[idx[k]].audio.size()) / whisper::kSampleRate;
    w.token_cap = dopt.max_new_tokens;
    out[idx[k]] = std::move(w);
  }
  if (metrics_ != nullptr) metrics_->batch_size.observe(static_cast<double>(idx.size()));
}

std::vector<Result<WindowOutput>> AsrEngine::run_batch(std::vector<WindowJob>& jobs) {
  thread_local std::unique_ptr<whisper::WhisperRunner> runner;
  thread_local const whisper::WhisperModel* runner_model = nullptr;
  if (!runner || runner_model != model_.get()) {
    runner = std::make_unique<whisper::WhisperRunner>(model_);
    runner_model = model_.get();
  }
  const auto start = Clock::now();
  std::vector<Result<WindowOutput>> out(jobs.size(), Result<WindowOutput>(cancelled("window cancelled before it ran")));
  // Drop windows whose stream went away; the rest form one batch per shape (timestamps on/off x
  // full/truncated x context floor), each one encoder call and one lockstep decode.
  std::vector<std::size_t> live;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (!(jobs[i].cancelled && jobs[i].cancelled->load())) live.push_back(i);
  }
  std::vector<bool> taken(jobs.size(), false);
  for (std::size_t a : live) {
    if (taken[a]) continue;
    std::vector<std::size_t> idx;
    for (std::size_t i : live) {
      if (!taken[i] && jobs[i].timestamps == jobs[a].timestamps && jobs[i].truncate == jobs[a].truncate &&
          jobs[i].min_frames == jobs[a].min_frames) {
        idx.push_back(i);
        taken[i] = true;
      }
    }
    run_windows(*runner, jobs, idx, jobs[a].timestamps, jobs[a].truncate, out);
  }
  // Short-context windows that came out degenerate run again on the full window.
  for (const bool ts : {true, false}) {
    std::vector<std::size_t> again;
    for (std::size_t i : live) {
      if (jobs[i].truncate && jobs[i].fallback_full && jobs[i].timestamps == ts && out[i].ok() &&
          degenerate_result(out[i]->result, out[i]->token_cap)) {
        again.push_back(i);
      }
    }
    if (again.empty()) continue;
    run_windows(*runner, jobs, again, ts, /*truncate=*/false, out);
    for (std::size_t i : again) {
      if (out[i].ok()) out[i]->fell_back = true;
    }
    if (metrics_ != nullptr) metrics_->context_fallbacks.inc(static_cast<double>(again.size()));
  }
  // Each window's share of the batch's wall time; RTF per batch (compute / audio).
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  double audio = 0;
  std::size_t ran = 0;
  for (auto& r : out) {
    if (r.ok()) {
      audio += r->audio_seconds;
      ++ran;
    }
  }
  for (auto& r : out) {
    if (r.ok()) r->compute_seconds = wall / static_cast<double>(ran);
  }
  if (metrics_ != nullptr && audio > 0) {
    metrics_->real_time_factor.observe(wall / audio);
    metrics_->audio_seconds.inc(audio);
  }
  return out;
}

Result<int> language_token(const whisper::WhisperModel& model, std::string_view language) {
  if (language.empty() || (language.size() >= 2 && (language[0] == 'e' || language[0] == 'E') &&
                           (language[1] == 'n' || language[1] == 'N') && (language.size() == 2 || language[2] == '-' || language[2] == '_'))) {
    return -1;
  }
  // The caller's text goes into the error, cut to 32 bytes: a language code is a few letters.
  const std::string shown = language.size() > 32 ? std::string(language.substr(0, 32)) + "..." : std::string(language);
  if (!model.multilingual()) {
    return invalid_argument("language '" + shown + "' is not served by this English-only model (a multilingual one, e.g. whisper-base, serves 99)");
  }
  const int id = model.tokenizer().language_token(language);
  if (id < 0) return invalid_argument("language '" + shown + "' is not one of this model's languages (ISO 639-1 codes such as de, fr, pt-BR)");
  return id;
}

Result<WindowOutput> AsrEngine::transcribe(WindowJob job, Clock::time_point deadline) {
  return batcher_->call(std::move(job), deadline);
}

Status AsrEngine::submit(WindowJob job, Clock::time_point deadline, std::function<void(Result<WindowOutput>)> done) {
  return batcher_->enqueue(std::move(job), deadline, std::move(done));
}

Result<std::vector<WindowOutput>> AsrEngine::transcribe_all(std::vector<WindowJob> jobs, Clock::time_point deadline) {
  std::vector<std::future<Result<WindowOutput>>> futures;
  futures.reserve(jobs.size());
  for (auto& j : jobs) {
    auto p = std::make_shared<std::promise<Result<WindowOutput>>>();
    futures.push_back(p->get_future());
    PARLEY_RETURN_IF_ERROR(batcher_->enqueue(std::move(j), deadline, [p](Result<WindowOutput> r) { p->set_value(std::move(r)); }));
  }
  std::vector<WindowOutput> out;
  out.reserve(futures.size());
  for (auto& f : futures) {
    Result<WindowOutput> r = f.get();
    if (!r.ok()) return r.status();
    out.push_back(std::move(*r));
  }
  return out;
}

}  // namespace parley::asr
