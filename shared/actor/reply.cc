// Completion of one request: first completion wins, the deadline timer is cancelled, and an
// unanswered handle fails with the status of the thread's current DropScope.
// Depends on reply.h, cell.h (SystemCore timers), shared/common (check, log).
#include "shared/actor/reply.h"

#include <optional>

#include "shared/actor/ask.h"
#include "shared/actor/cell.h"
#include "shared/common/check.h"
#include "shared/common/log.h"

namespace parley::actor::detail {
namespace {
thread_local const DropScope* t_drop_scope = nullptr;
}  // namespace

DropScope::DropScope(Status status) : status_(std::move(status)), previous_(t_drop_scope) {
  t_drop_scope = this;
}

DropScope::~DropScope() { t_drop_scope = previous_; }

bool ReplyStateBase::claim() {
  if (done_.exchange(true, std::memory_order_acq_rel)) return false;
  const TimerId timer = timer_.exchange(kNoTimer, std::memory_order_acq_rel);
  if (timer != kNoTimer) {
    if (auto core = core_.lock()) core->cancel_timer(timer);
  }
  return true;
}

bool ReplyStateBase::fail(Status status) {
  if (status.is_ok()) status = internal_error("a request was failed with an OK status");
  if (!claim()) return false;
  deliver_error(std::move(status));
  return true;
}

void ReplyStateBase::abandon() {
  if (!claim()) return;
  if (t_drop_scope != nullptr) {
    deliver_error(t_drop_scope->status());
    return;
  }
  PARLEY_BUG() << "a reply handle was destroyed without an answer (the handler neither replied nor "
                  "kept it)";
  deliver_error(internal_error("the handler dropped the request without answering"));
}

void invoke_callback_guarded(const std::function<void()>& call) {
  try {
    call();
  } catch (const std::exception& e) {
    PARLEY_BUG() << "a reply callback threw: " << e.what();
  } catch (...) {
    PARLEY_BUG() << "a reply callback threw a non-standard exception";
  }
}

}  // namespace parley::actor::detail

namespace parley::actor::detail {

bool arm_deadline(const std::shared_ptr<SystemCore>& core, const std::shared_ptr<ReplyStateBase>& state,
                  std::optional<TimePoint> deadline, Duration timeout) {
  if (!core) {
    state->fail(unavailable("the target is not a live actor"));
    return false;
  }
  const std::optional<TimePoint> now = core->now();
  if (!now) {
    state->fail(unavailable("the actor system has shut down"));
    return false;
  }
  TimePoint when = TimePoint::max();
  if (deadline) {
    when = *deadline;
  } else if (timeout < TimePoint::max() - *now) {
    when = *now + timeout;
  }
  state->set_deadline(when);
  if (when <= *now) {
    state->fail(deadline_exceeded("the deadline passed before the request was sent"));
    return false;
  }
  state->set_core(core);
  if (when == TimePoint::max()) return true;  // no deadline: no timer
  std::weak_ptr<ReplyStateBase> weak = state;
  const TimerId id = core->schedule_timer(when, [weak] {
    if (auto s = weak.lock()) s->fail(deadline_exceeded("no reply before the deadline"));
  });
  if (id == kNoTimer) {
    state->fail(unavailable("the actor system has shut down"));
    return false;
  }
  state->set_timer(id);
  return true;
}

}  // namespace parley::actor::detail
