// Engine implementation (see engine.h): a mutex-guarded inbox drained between steps, so
// admission and cancellation happen at iteration boundaries and never during a forward.
// Depends on engine.h, shared/common/log.h.
#include "services/lm/engine.h"

#include "shared/common/log.h"

namespace parley::lm {

Engine::Engine(std::unique_ptr<StepModel> model, TextStreamFactory text, EngineOptions options, LmMetrics* metrics)
    : model_(std::move(model)),
      options_(std::move(options)),
      pages_(options_.kv_pages, options_.page_size),
      scheduler_(*model_, pages_, std::move(text), options_.scheduler, [] { return Clock::now(); }, metrics) {}

Engine::~Engine() { stop(); }

void Engine::start() {
  std::lock_guard lock(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { loop(); });
}

void Engine::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Never started (or the loop is gone): end whatever is still queued here.
  std::vector<std::pair<RequestId, GenerationRequest>> left;
  {
    std::lock_guard lock(mu_);
    left.swap(inbox_);
  }
  for (auto& [id, req] : left) {
    (void)id;
    GenerationEvent ev;
    ev.finished = true;
    ev.reason = FinishReason::kCancelled;
    ev.status = unavailable("LM engine stopped");
    if (req.sink) req.sink(std::move(ev));  // the wrapper counts it out of in_flight_
  }
  scheduler_.fail_all(unavailable("LM engine stopped"), FinishReason::kCancelled);
}

Result<RequestId> Engine::submit(GenerationRequest request) {
  PARLEY_RETURN_IF_ERROR(scheduler_.validate(request));
  const RequestId id = next_id_.fetch_add(1);
  // Count the request as in flight until its finished event went out.
  EventSink inner = std::move(request.sink);
  request.sink = [this, inner = std::move(inner)](GenerationEvent&& ev) {
    const bool finished = ev.finished;
    if (inner) inner(std::move(ev));
    if (finished) in_flight_.fetch_sub(1);
  };
  {
    std::lock_guard lock(mu_);
    if (stopping_) return unavailable("LM engine stopped");
    in_flight_.fetch_add(1);
    inbox_.emplace_back(id, std::move(request));
  }
  cv_.notify_one();
  return id;
}

void Engine::cancel(RequestId id) {
  {
    std::lock_guard lock(mu_);
    cancels_.push_back(id);
  }
  cv_.notify_one();
}

void Engine::loop() {
  std::vector<std::pair<RequestId, GenerationRequest>> inbox;
  std::vector<RequestId> cancels;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !inbox_.empty() || !cancels_.empty() || !scheduler_.idle(); });
      if (stopping_) break;
      inbox.swap(inbox_);
      cancels.swap(cancels_);
    }
    for (auto& [id, req] : inbox) {
      EventSink sink = req.sink;
      Status st = scheduler_.submit(id, std::move(req));
      if (!st.is_ok() && sink) {  // validated at submit(); only a bug lands here
        GenerationEvent ev;
        ev.finished = true;
        ev.reason = FinishReason::kError;
        ev.status = st;
        sink(std::move(ev));
      }
    }
    inbox.clear();
    for (RequestId id : cancels) scheduler_.cancel(id);
    cancels.clear();
    if (!scheduler_.idle()) {
      scheduler_.step();
      steps_.fetch_add(1);
    }
  }
}

}  // namespace parley::lm
