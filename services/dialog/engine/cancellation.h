// A one-shot cancellation signal shared by whoever started some work and the calls doing it: a
// voice barge-in cancels the turn's LM generation (and with it the LM's KV pages) through it.
// Exists so the Services interface can stop a call without handing out transport handles.
// Depends on nothing but the standard library.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

namespace parley::dialog {

/// Thread-safe. cancel() runs every registered callback once, on the cancelling thread.
class Cancellation {
 public:
  void cancel() {
    std::vector<std::function<void()>> fns;
    {
      std::lock_guard lock(mu_);
      if (cancelled_) return;
      cancelled_ = true;
      fns.swap(fns_);
    }
    for (auto& fn : fns) fn();
  }
  bool cancelled() const {
    std::lock_guard lock(mu_);
    return cancelled_;
  }
  /// Runs `fn` at cancel(); at once (on this thread) when already cancelled. Callbacks must not
  /// block; one registered for a call that has since ended should do nothing.
  void on_cancel(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      if (!cancelled_) {
        fns_.push_back(std::move(fn));
        return;
      }
    }
    fn();
  }

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;                  // guarded by mu_
  std::vector<std::function<void()>> fns_;  // guarded by mu_
};

}  // namespace parley::dialog
