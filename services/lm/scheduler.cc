// Scheduler implementation (see scheduler.h). One step:
//   1. expire deadlines; 2. make room for every decode (grow block tables, preempting the newest
//   sequences when the pool is dry); 3. admit waiting requests FIFO while the batch has room and
//   the pool has the prompt's pages plus headroom; 4. one forward: every decode plus prefill
//   chunks within the token budget, oldest first; 5. sample, stop, stream.
// Depends on scheduler.h, sampling.h, shared/common/check.h.
#include "services/lm/scheduler.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "shared/common/check.h"
#include "shared/common/log.h"

namespace parley::lm {

std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kDeadline: return "deadline";
    case FinishReason::kError: return "error";
  }
  return "error";
}

struct Scheduler::Sequence {
  RequestId id = 0;
  GenerationRequest req;
  std::vector<std::int32_t> tokens;  // context: prompt, then generated tokens
  std::size_t prompt_len = 0;
  std::int64_t cached = 0;           // positions whose K/V are in the cache
  BlockTable table;
  std::int32_t generated = 0;        // tokens sampled (end-of-generation included)
  std::unique_ptr<TokenTextStream> text;
  StopMatcher stops;
  Clock::time_point arrival;
  Clock::time_point first_token;
  Clock::time_point last_token;
  bool has_first = false;
  bool counted_queued = false;
  bool done = false;
  std::int32_t preemptions = 0;
  std::uint64_t admit_order = 0;

  std::int64_t pending() const { return static_cast<std::int64_t>(tokens.size()) - cached; }
};

Scheduler::Scheduler(StepModel& model, KvPageAllocator& pages, TextStreamFactory text, SchedulerOptions options,
                     ClockFn clock, LmMetrics* metrics)
    : model_(model),
      pages_(pages),
      text_(std::move(text)),
      options_(std::move(options)),
      clock_(std::move(clock)),
      metrics_(metrics) {
  options_.max_batch = std::max(options_.max_batch, 1);
  options_.prefill_chunk_tokens = std::max<std::int64_t>(options_.prefill_chunk_tokens, 1);
  max_context_ = options_.max_context > 0 ? options_.max_context : model_.max_context();
  if (model_.max_context() > 0) max_context_ = std::min(max_context_, model_.max_context());
  if (max_context_ <= 0) max_context_ = std::numeric_limits<std::int32_t>::max();
  eog_.insert(options_.eog_tokens.begin(), options_.eog_tokens.end());
  update_gauges();
}

Scheduler::~Scheduler() = default;

Status Scheduler::validate(const GenerationRequest& r) const {
  if (r.prompt.empty()) return invalid_argument("the prompt is empty (no tokens)");
  const std::int64_t vocab = model_.vocab_size();
  for (std::size_t i = 0; i < r.prompt.size(); ++i) {
    if (r.prompt[i] < 0 || r.prompt[i] >= vocab) {
      return invalid_argument("prompt token " + std::to_string(i) + " is " + std::to_string(r.prompt[i]) +
                              ", outside the vocabulary [0, " + std::to_string(vocab) + ")");
    }
  }
  if (r.max_tokens <= 0) return invalid_argument("max_tokens must be > 0, got " + std::to_string(r.max_tokens));
  PARLEY_RETURN_IF_ERROR(lm::validate(r.sampling));
  const std::int64_t total = static_cast<std::int64_t>(r.prompt.size()) + r.max_tokens;
  if (total > max_context_) {
    return resource_exhausted("prompt (" + std::to_string(r.prompt.size()) + " tokens) + max_tokens (" +
                              std::to_string(r.max_tokens) + ") exceeds the context length " +
                              std::to_string(max_context_));
  }
  if (pages_.pages_for(total) > pages_.num_pages()) {
    return resource_exhausted("prompt + max_tokens (" + std::to_string(total) + " tokens) needs " +
                              std::to_string(pages_.pages_for(total)) + " KV pages; the cache has " +
                              std::to_string(pages_.num_pages()) + " (raise lm.kv_pages)");
  }
  return Status::ok();
}

Status Scheduler::submit(RequestId id, GenerationRequest request) {
  PARLEY_RETURN_IF_ERROR(validate(request));
  auto seq = std::make_unique<Sequence>();
  seq->id = id;
  seq->tokens = request.prompt;
  seq->prompt_len = request.prompt.size();
  seq->stops = StopMatcher(request.stop);
  seq->text = text_ ? text_() : nullptr;
  seq->arrival = clock_();
  seq->req = std::move(request);
  waiting_.push_back(std::move(seq));
  update_gauges();
  return Status::ok();
}

bool Scheduler::cancel(RequestId id) {
  for (auto& s : running_) {
    if (s->id == id && !s->done) {
      finish(*s, FinishReason::kCancelled, cancelled("generation cancelled"));
      remove_finished();
      update_gauges();
      return true;
    }
  }
  for (auto& s : waiting_) {
    if (s->id == id && !s->done) {
      finish(*s, FinishReason::kCancelled, cancelled("generation cancelled"));
      remove_finished();
      update_gauges();
      return true;
    }
  }
  return false;
}

void Scheduler::fail_all(const Status& status, FinishReason reason) {
  for (auto& s : running_) finish(*s, reason, status);
  for (auto& s : waiting_) finish(*s, reason, status);
  remove_finished();
  update_gauges();
}

void Scheduler::expire_deadlines(Clock::time_point now) {
  auto expire = [&](Sequence& s) {
    if (!s.done && now >= s.req.deadline) {
      finish(s, FinishReason::kDeadline,
             deadline_exceeded("deadline passed after " + std::to_string(s.tokens.size() - s.prompt_len) +
                               " generated tokens"));
    }
  };
  for (auto& s : running_) expire(*s);
  for (auto& s : waiting_) expire(*s);
}

bool Scheduler::make_decode_room(StepReport& report) {
  for (std::size_t i = 0; i < running_.size(); ++i) {
    if (running_[i] == nullptr) continue;  // preempted earlier in this loop
    Sequence& seq = *running_[i];
    if (seq.done || seq.pending() != 1) continue;
    while (!pages_.reserve(seq.table, seq.cached + 1)) {
      // Evict the newest sequence (recompute later): the oldest keep their progress (FIFO fairness).
      Sequence* victim = nullptr;
      for (auto it = running_.rbegin(); it != running_.rend(); ++it) {
        if (*it != nullptr && !(*it)->done) {
          victim = it->get();
          break;
        }
      }
      if (victim == nullptr) return false;
      preempt(*victim);
      ++report.preempted;
      if (victim == &seq) break;
    }
  }
  // Preempted sequences went back to the waiting queue: drop their running slots.
  running_.erase(std::remove_if(running_.begin(), running_.end(), [](const SeqPtr& s) { return s == nullptr; }),
                 running_.end());
  return true;
}

void Scheduler::preempt(Sequence& seq) {
  pages_.release(seq.table);
  seq.cached = 0;
  ++seq.preemptions;
  if (metrics_ != nullptr) metrics_->preemptions.inc();
  for (auto& slot : running_) {
    if (slot.get() == &seq) {
      waiting_.push_front(std::move(slot));  // slot left null; erased by the caller
      break;
    }
  }
}

void Scheduler::admit(StepReport& report) {
  while (!waiting_.empty() && static_cast<std::int32_t>(running_.size()) < options_.max_batch) {
    Sequence& head = *waiting_.front();
    const std::int64_t need = pages_.pages_missing(head.table, static_cast<std::int64_t>(head.tokens.size()));
    // Headroom: one page per running sequence, so admission does not force the next decode
    // step to preempt what was just admitted. An empty batch takes anything that fits.
    const std::int64_t headroom = static_cast<std::int64_t>(running_.size());
    if (need + headroom > pages_.pages_free()) break;  // FIFO: later requests do not jump the head
    if (!pages_.reserve(head.table, static_cast<std::int64_t>(head.tokens.size()))) break;
    head.admit_order = admit_counter_++;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
    ++report.admitted;
  }
  for (auto& s : waiting_) {
    if (!s->counted_queued) {
      s->counted_queued = true;
      if (metrics_ != nullptr) metrics_->requests_queued.inc();
    }
  }
}

StepReport Scheduler::step() {
  StepReport report;
  expire_deadlines(clock_());
  remove_finished();
  make_decode_room(report);
  admit(report);

  // The batch: every decode, then prefill chunks oldest first within the token budget.
  BatchInput batch;
  batch_seqs_.clear();
  std::int64_t budget = options_.prefill_chunk_tokens;
  std::int64_t rows = 0;
  for (auto& sp : running_) {
    Sequence& s = *sp;
    const std::int64_t pending = s.pending();
    if (pending <= 0) {
      PARLEY_BUG() << "sequence " << s.id << " has nothing to run";
      continue;
    }
    std::int64_t n = pending;
    if (pending > 1) {
      n = std::min(pending, budget);
      if (n <= 0) continue;
      budget -= n;
      report.prefill_tokens += n;
    } else {
      ++report.decode_sequences;
    }
    SequenceInput in;
    in.tokens = std::span<const std::int32_t>(s.tokens).subspan(static_cast<std::size_t>(s.cached),
                                                                 static_cast<std::size_t>(n));
    in.start_pos = s.cached;
    in.block_table = s.table;
    in.logits = s.cached + n == static_cast<std::int64_t>(s.tokens.size()) ? LogitsMode::kLast : LogitsMode::kNone;
    if (in.logits == LogitsMode::kLast) ++rows;
    batch.sequences.push_back(in);
    batch_seqs_.push_back(&s);
  }
  if (batch.sequences.empty()) {
    update_gauges();
    return report;
  }

  const std::int64_t vocab = model_.vocab_size();
  logits_.resize(static_cast<std::size_t>(rows * vocab));
  report.ran_forward = true;
  report.sequences = static_cast<int>(batch.sequences.size());
  if (metrics_ != nullptr) {
    metrics_->batch_size.observe(static_cast<double>(report.sequences));
    metrics_->step_tokens.observe(static_cast<double>(report.prefill_tokens + report.decode_sequences));
    metrics_->prompt_tokens.inc(static_cast<double>(report.prefill_tokens));
  }
  Status st = model_.step(batch, logits_);
  if (!st.is_ok()) {
    PARLEY_LOG(kError) << "LM forward failed: " << st.to_string();
    for (Sequence* s : batch_seqs_) {
      finish(*s, FinishReason::kError, internal_error("model forward failed: " + st.message()));
      ++report.finished;
    }
    remove_finished();
    update_gauges();
    return report;
  }

  const Clock::time_point now = clock_();
  std::int64_t row = 0;
  for (std::size_t i = 0; i < batch_seqs_.size(); ++i) {
    Sequence& s = *batch_seqs_[i];
    const SequenceInput& in = batch.sequences[i];
    s.cached += static_cast<std::int64_t>(in.tokens.size());
    if (in.logits != LogitsMode::kLast) continue;
    std::span<float> logit_row(logits_.data() + row * vocab, static_cast<std::size_t>(vocab));
    ++row;
    Result<std::int32_t> tok = sample_token(logit_row, s.tokens, s.req.sampling, static_cast<std::uint64_t>(s.generated));
    if (!tok.ok()) {
      finish(s, FinishReason::kError, tok.status());
      continue;
    }
    handle_token(s, *tok, now, report);
  }
  for (Sequence* s : batch_seqs_) {
    if (s->done) ++report.finished;
  }
  remove_finished();
  update_gauges();
  return report;
}

void Scheduler::handle_token(Sequence& s, std::int32_t token, Clock::time_point now, StepReport& /*report*/) {
  if (!s.has_first) {
    s.has_first = true;
    s.first_token = now;
    if (metrics_ != nullptr) metrics_->time_to_first_token.observe(now - s.arrival);
  } else if (metrics_ != nullptr) {
    metrics_->inter_token_latency.observe(now - s.last_token);
  }
  s.last_token = now;
  ++s.generated;
  if (metrics_ != nullptr) metrics_->tokens_generated.inc();

  GenerationEvent ev;
  auto drain_text = [&](GenerationEvent& e) {
    // The stream ends: release the detokenizer's and the stop matcher's held-back text.
    if (s.text) {
      StopMatcher::Output out = s.stops.push(s.text->finish());
      e.text += out.text;
      if (out.stopped) return;
    }
    e.text += s.stops.flush();
  };
  const bool eog = !s.req.ignore_eos &&
                   (eog_.count(token) != 0 ||
                    std::find(s.req.stop_tokens.begin(), s.req.stop_tokens.end(), token) != s.req.stop_tokens.end());
  if (eog) {
    drain_text(ev);
    finish(s, FinishReason::kStop, Status::ok(), std::move(ev.text));
    return;
  }
  s.tokens.push_back(token);
  ev.tokens.push_back(token);
  if (s.text) {
    StopMatcher::Output out = s.stops.push(s.text->push(token));
    ev.text = std::move(out.text);
    if (out.stopped) {
      // Text stops before the stop string; the token ids still say what was generated.
      GenerationEvent last = std::move(ev);
      last.finished = true;
      last.reason = FinishReason::kStop;
      emit(s, std::move(last));
      return;
    }
  }
  const std::int32_t completion = static_cast<std::int32_t>(s.tokens.size() - s.prompt_len);
  if (completion >= s.req.max_tokens || static_cast<std::int64_t>(s.tokens.size()) >= max_context_) {
    drain_text(ev);
    GenerationEvent last = std::move(ev);
    last.finished = true;
    last.reason = FinishReason::kLength;
    emit(s, std::move(last));
    return;
  }
  if (!ev.text.empty() || !ev.tokens.empty()) emit(s, std::move(ev));
}

void Scheduler::finish(Sequence& s, FinishReason reason, Status status, std::string tail_text) {
  GenerationEvent ev;
  ev.text = std::move(tail_text);
  ev.finished = true;
  ev.reason = reason;
  ev.status = std::move(status);
  emit(s, std::move(ev));
}

void Scheduler::emit(Sequence& s, GenerationEvent&& ev) {
  if (s.done) return;
  if (ev.finished) {
    s.done = true;
    pages_.release(s.table);  // at once: the next admission can use them
    const Clock::time_point now = clock_();
    ev.usage.prompt_tokens = static_cast<std::int32_t>(s.prompt_len);
    ev.usage.completion_tokens = static_cast<std::int32_t>(s.tokens.size() - s.prompt_len);
    ev.usage.time_to_first_token_us =
        s.has_first ? std::chrono::duration_cast<std::chrono::microseconds>(s.first_token - s.arrival).count() : 0;
    ev.usage.total_us = std::chrono::duration_cast<std::chrono::microseconds>(now - s.arrival).count();
    ev.usage.preemptions = s.preemptions;
    if (metrics_ != nullptr) metrics_->finished.labels({finish_reason_name(ev.reason)}).inc();
  }
  if (s.req.sink) s.req.sink(std::move(ev));
}

void Scheduler::remove_finished() {
  auto done = [](const SeqPtr& s) { return s == nullptr || s->done; };
  running_.erase(std::remove_if(running_.begin(), running_.end(), done), running_.end());
  waiting_.erase(std::remove_if(waiting_.begin(), waiting_.end(), done), waiting_.end());
}

void Scheduler::update_gauges() {
  if (metrics_ == nullptr) return;
  metrics_->requests_waiting.set(static_cast<double>(waiting_.size()));
  metrics_->requests_running.set(static_cast<double>(running_.size()));
  metrics_->kv_pages_used.set(static_cast<double>(pages_.pages_used()));
  metrics_->kv_pages_free.set(static_cast<double>(pages_.pages_free()));
}

}  // namespace parley::lm
