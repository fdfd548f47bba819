// Mailbox<T>: the thread-safe hand-off into a transport I/O thread (queue + eventfd wake-up).
// Exists because ZeroMQ sockets belong to one thread: every other thread reaches them by posting
// here; the I/O thread polls fd() beside its sockets' ZMQ_FDs, so it sleeps without a timeout
// loop and wakes within microseconds. Depends on Linux eventfd, shared/common.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "shared/common/check.h"

namespace parley::transport {

/// Multi-producer, single-consumer queue with a pollable wake-up descriptor.
///
///   Mailbox<Cmd> box;                  // owner (I/O) thread calls set_owner() once it runs
///   box.push(cmd);                     // any thread
///   // I/O thread: poll({box.fd(), POLLIN}, ...); box.drain(batch, revents & POLLIN);
///
/// Threading: push() and close() from any thread; drain(), has_items() and set_owner() from the
/// owner only. A push from the owner thread itself writes no wake-up (the owner checks
/// has_items() before it sleeps), which keeps re-entrant posts from callbacks cheap.
template <typename T>
class Mailbox {
 public:
  Mailbox() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    PARLEY_CHECK(fd_ >= 0) << "eventfd: " << std::strerror(errno);
  }
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;
  ~Mailbox() { ::close(fd_); }

  int fd() const { return fd_; }
  void set_owner(std::thread::id id) { owner_.store(id); }
  bool on_owner_thread() const { return std::this_thread::get_id() == owner_.load(); }

  /// Queues `item`; false (item dropped) once closed.
  bool push(T&& item) {
    {
      std::lock_guard lock(mu_);
      if (closed_) return false;
      items_.push_back(std::move(item));
    }
    if (on_owner_thread()) return true;
    // Only the first push after a drain pays for the write(2).
    if (!armed_.exchange(true, std::memory_order_acq_rel)) {
      std::uint64_t one = 1;
      ssize_t n = ::write(fd_, &one, sizeof(one));
      (void)n;  // EAGAIN only if the counter is saturated: the fd is readable anyway
    }
    return true;
  }

  /// Appends everything queued to `out`. `signaled`: poll(2) reported fd() readable.
  void drain(std::vector<T>& out, bool signaled) {
    // Consume the wake-up when poll saw it or a producer armed it (it wrote, or is about to: a
    // write landing after our read only costs one spurious wake, which is then read here).
    // Leaving an armed wake-up unread would make the next poll return at once for nothing.
    if (armed_.exchange(false, std::memory_order_acq_rel) || signaled) {
      std::uint64_t value = 0;
      ssize_t n = ::read(fd_, &value, sizeof(value));
      (void)n;
    }
    std::lock_guard lock(mu_);
    if (out.empty()) {
      out.swap(items_);
    } else {
      for (auto& item : items_) out.push_back(std::move(item));
      items_.clear();
    }
  }

  bool has_items() const {
    std::lock_guard lock(mu_);
    return !items_.empty();
  }

  /// Refuses further pushes; items already queued stay for a last drain().
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }

  /// Wakes the owner without an item (e.g. to notice a stop flag).
  void wake() {
    std::uint64_t one = 1;
    ssize_t n = ::write(fd_, &one, sizeof(one));
    (void)n;
  }

 private:
  int fd_;
  std::atomic<std::thread::id> owner_{};
  std::atomic<bool> armed_{false};
  mutable std::mutex mu_;
  std::vector<T> items_;  // guarded by mu_
  bool closed_ = false;   // guarded by mu_
};

}  // namespace parley::transport
